"""The likelihood channel: how surprised a model is by each character of fixed texts.

The model scores each probe text (no generation). Each token's negative log-likelihood is
spread evenly over the characters the token covers, so the per-character profile does not
depend on the tokenizer: a GPT-2 and a Llama tokenizer cut the text differently but cover
the same characters. Models of one lineage find the same places surprising; the profiles are
compared by correlation. A seq2seq model scores the text as the decoder's target.

The profile is standardised to zero mean and unit length, so that the Euclidean distance
between two profiles is sqrt(2 (1 - correlation)) and survives a Gaussian projection.
"""

from __future__ import annotations

import numpy as np
import torch
from tqdm.auto import tqdm


def char_profile(model, tokenizer, texts: list[str], *, progress: bool = False) -> np.ndarray:
    """Per-character NLL of every text, concatenated in order (float64, length = total chars)."""
    encoded = [tokenizer(t, add_special_tokens=False, return_offsets_mapping=True) for t in texts]
    token_ids = [e["input_ids"] for e in encoded]
    nll = _all_token_nll(model, tokenizer, token_ids, progress)
    return np.concatenate([_spread_over_chars(text, values, e["offset_mapping"])
                           for text, values, e in zip(texts, nll, encoded)])


def normalise_per_text(profile: np.ndarray, lengths: list[int]) -> np.ndarray:
    """z-score within each text, then unit length. Removes how hard a whole text is for the
    model (mostly a matter of its training domain) and keeps where, inside each text, it is
    surprised: the lineage signal (parent top-1 0.90 vs 0.75 globally, benchmarks/RESULTS.md)."""
    parts, start = [], 0
    for length in lengths:
        part = profile[start:start + length] - profile[start:start + length].mean()
        sd = part.std()
        parts.append(part / sd if sd > 0 else part)
        start += length
    return standardise(np.concatenate(parts))


def standardise(profile: np.ndarray) -> np.ndarray:
    """Zero mean, unit norm: Euclidean distance then equals sqrt(2 (1 - Pearson r))."""
    centred = profile - profile.mean()
    norm = np.linalg.norm(centred)
    return centred / norm if norm > 0 else centred


def _spread_over_chars(text: str, nll: np.ndarray, offsets) -> np.ndarray:
    per_char = np.zeros(len(text))
    covered = np.zeros(len(text))
    for value, (start, end) in zip(nll, offsets):
        if end > start and np.isfinite(value):
            per_char[start:end] += value / (end - start)
            covered[start:end] = 1
    # Characters no token covers (or only an unscored first token): the text's mean surprise,
    # so they add nothing to the correlation.
    mean = per_char[covered > 0].mean() if covered.any() else 0.0
    per_char[covered == 0] = mean
    return per_char


# Logits of one batch are (texts x tokens x vocabulary) floats: cap them at ~256 MiB so a
# 128k-token vocabulary does not exhaust memory.
LOGITS_BUDGET = 64 * 2**20


@torch.inference_mode()
def _all_token_nll(model, tokenizer, token_ids: list[list[int]], progress: bool) -> list[np.ndarray]:
    context = tokenizer.bos_token_id if tokenizer.bos_token_id is not None else tokenizer.eos_token_id
    if model.config.is_encoder_decoder or context is None:  # rare shapes: one text at a time
        return [_token_nll(model, tokenizer, ids) for ids in tqdm(token_ids, desc="score", disable=not progress, leave=False)]
    # Decoder-only: right-padded batches of similar length; causal attention means padding
    # after a text cannot change its scores (one forward per batch: 1.27 -> 0.97 s).
    order = sorted(range(len(token_ids)), key=lambda i: (len(token_ids[i]), i))
    result: list[np.ndarray] = [np.zeros(0)] * len(token_ids)
    batches, start = [], 0
    while start < len(order):
        width = len(token_ids[order[min(len(order) - 1, start + 15)]]) + 1
        size = max(1, min(16, LOGITS_BUDGET // max(1, width * model.config.vocab_size)))
        batches.append(order[start:start + size])
        start += size
    for batch in tqdm(batches, desc="score", unit="batch", disable=not progress, leave=False):
        width = max(len(token_ids[i]) for i in batch) + 1
        ids = torch.full((len(batch), width), context, dtype=torch.long)
        mask = torch.zeros((len(batch), width), dtype=torch.long)
        for row, i in enumerate(batch):
            ids[row, 1:len(token_ids[i]) + 1] = torch.tensor(token_ids[i], dtype=torch.long)
            mask[row, :len(token_ids[i]) + 1] = 1
        logits = model(input_ids=ids.to(model.device), attention_mask=mask.to(model.device)).logits
        for row, i in enumerate(batch):
            result[i] = _gather(logits[row, :len(token_ids[i])], token_ids[i])
    return result


@torch.inference_mode()
def _token_nll(model, tokenizer, ids: list[int]) -> np.ndarray:
    """NLL of each token given the ones before it (the first given BOS/EOS as context)."""
    device = model.device
    if model.config.is_encoder_decoder:
        start = model.config.decoder_start_token_id
        encoder = torch.tensor([[tokenizer.eos_token_id if tokenizer.eos_token_id is not None else start]], device=device)
        decoder = torch.tensor([[start] + ids], device=device)
        logits = model(input_ids=encoder, decoder_input_ids=decoder[:, :-1]).logits[0]
        return _gather(logits, ids)
    context = tokenizer.bos_token_id if tokenizer.bos_token_id is not None else tokenizer.eos_token_id
    if context is None:  # nothing to condition the first token on: leave it unscored
        logits = model(input_ids=torch.tensor([ids], device=device)).logits[0, :-1]
        return np.concatenate([[np.nan], _gather(logits, ids[1:])])
    logits = model(input_ids=torch.tensor([[context] + ids], device=device)).logits[0, :-1]
    return _gather(logits, ids)


def _gather(logits: torch.Tensor, targets: list[int]) -> np.ndarray:
    logp = torch.log_softmax(logits.float(), dim=-1)
    index = torch.tensor(targets, device=logits.device).unsqueeze(1)
    return (-logp.gather(1, index).squeeze(1)).cpu().numpy().astype(np.float64)
