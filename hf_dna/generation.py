"""Batched greedy decoding of the probe prompts.

Prompts are sorted by token length and batched with left padding, so a batch wastes little
compute on padding and every answer starts right after its prompt. Greedy decoding with
attention masks makes an answer independent of its batch-mates up to float rounding; the
test suite checks the DNA does not depend on the batch size.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass

import torch
from tqdm.auto import tqdm

from .spec import GenerationSpec


@dataclass
class Answers:
    texts: list[str]  # in prompt order
    new_tokens: int  # tokens generated in all, for throughput figures


def generate_answers(model, tokenizer, prompts: list[str], settings: GenerationSpec, *,
                     batch_size: int = 32, progress: bool = True) -> Answers:
    """Answer every prompt greedily; returns the answers in the order of `prompts`."""
    encoded = [_encode_prompt(tokenizer, p, model, settings.max_new_tokens) for p in prompts]
    order = sorted(range(len(prompts)), key=lambda i: (len(encoded[i]), i))
    texts: list[str] = [""] * len(prompts)
    total_new = 0
    batches = [order[i:i + batch_size] for i in range(0, len(order), batch_size)]
    for batch in tqdm(batches, desc="generate", unit="batch", disable=not progress, leave=False):
        outputs = _generate_batch(model, tokenizer, [encoded[i] for i in batch], settings)
        for i, tokens in zip(batch, outputs):
            total_new += len(tokens)
            texts[i] = _decode(tokenizer, tokens, settings)
    return Answers(texts=texts, new_tokens=total_new)


def pad_token_id(tokenizer) -> int:
    """Tokenizers without a pad token are common (GPT-2, Llama): pad with EOS, else id 0.
    Padded positions are masked out, so the choice does not change any answer."""
    for candidate in (tokenizer.pad_token_id, tokenizer.eos_token_id, tokenizer.unk_token_id):
        if candidate is not None:
            return int(candidate)
    return 0


def _encode_prompt(tokenizer, prompt: str, model, max_new_tokens: int) -> list[int]:
    ids = tokenizer(prompt, add_special_tokens=model.config.is_encoder_decoder)["input_ids"]
    if not ids and tokenizer.bos_token_id is not None:
        ids = [tokenizer.bos_token_id]
    limit = _context_limit(model)
    if limit and not model.config.is_encoder_decoder:
        # Keep the end of an over-long prompt: it is what the answer continues.
        ids = ids[-max(1, limit - max_new_tokens):]
    return ids


def _context_limit(model) -> int | None:
    config = model.config
    for name in ("max_position_embeddings", "n_positions", "n_ctx"):
        value = getattr(config, name, None)
        if isinstance(value, int) and value > 0:
            return value
    return None


def _generate_batch(model, tokenizer, batch: list[list[int]], settings: GenerationSpec) -> list[list[int]]:
    input_ids, attention = _left_padded(batch, pad_token_id(tokenizer))
    if model.config.is_encoder_decoder:
        return _seq2seq_generate(model, tokenizer, input_ids, attention, settings)
    return _greedy_decode(model, input_ids.to(model.device), attention.to(model.device),
                          settings.max_new_tokens, tokenizer.eos_token_id)


def _left_padded(batch: list[list[int]], pad: int) -> tuple[torch.Tensor, torch.Tensor]:
    width = max(len(ids) for ids in batch)
    input_ids = torch.full((len(batch), width), pad, dtype=torch.long)
    attention = torch.zeros((len(batch), width), dtype=torch.long)
    for row, ids in enumerate(batch):  # left padding: answers start at the same column
        input_ids[row, width - len(ids):] = torch.tensor(ids, dtype=torch.long)
        attention[row, width - len(ids):] = 1
    return input_ids, attention


@torch.inference_mode()
def _greedy_decode(model, input_ids: torch.Tensor, attention: torch.Tensor, max_new_tokens: int,
                   eos: int | None) -> list[list[int]]:
    """Greedy decoding that drops a row from the batch, and its KV cache, once it has
    answered. `generate()` keeps finished rows and computes them to the end: with answers of
    mixed lengths most of a batch's work went to rows already done (5.0 -> 2.4 s on the
    extract_speed benchmark). Greedy means the argmax over the whole vocabulary; the model's
    own generation_config (sampling, penalties, suppressed tokens) is not the spec's and is
    ignored. Answers stop at EOS, which is not part of the answer."""
    from transformers import DynamicCache

    answers: list[list[int]] = [[] for _ in range(input_ids.shape[0])]
    if max_new_tokens <= 0:
        return answers
    rows = torch.arange(input_ids.shape[0])  # the answers[] index of each row still running
    # Positions count real tokens only, as generate() does for left-padded batches.
    positions = (attention.cumsum(-1) - 1).clamp(min=0)
    cache = DynamicCache(config=model.config)
    params = inspect.signature(model.forward).parameters
    # transformers 5.x renames past_key_values to cache (the old name warns, then goes in 5.40).
    cache_arg = {"cache" if "cache" in params else "past_key_values": cache}
    # Only the last position's logits are needed: skip the vocabulary projection of the prompt.
    last_only = {"logits_to_keep": 1} if "logits_to_keep" in params else {}
    out = model(input_ids=input_ids, attention_mask=attention, position_ids=positions,
                use_cache=True, **cache_arg, **last_only)
    next_pos = positions[:, -1:] + 1
    for step in range(max_new_tokens):
        tokens = out.logits[:, -1, :].argmax(-1)
        done = tokens == eos if eos is not None else torch.zeros_like(tokens, dtype=torch.bool)
        for row, token in zip(rows.tolist(), tokens.tolist()):
            if token != eos:
                answers[row].append(token)
        if step == max_new_tokens - 1:
            break
        if done.any():
            keep = (~done).nonzero().squeeze(1)
            if keep.numel() == 0:
                break
            cache.batch_select_indices(keep)
            rows, tokens, attention, next_pos = rows[keep.cpu()], tokens[keep], attention[keep], next_pos[keep]
        attention = torch.cat([attention, attention.new_ones((attention.shape[0], 1))], dim=1)
        out = model(input_ids=tokens[:, None], attention_mask=attention, position_ids=next_pos,
                    use_cache=True, **cache_arg, **last_only)
        next_pos = next_pos + 1
    return answers


@torch.inference_mode()
def _seq2seq_generate(model, tokenizer, input_ids, attention, settings: GenerationSpec) -> list[list[int]]:
    pad = pad_token_id(tokenizer)
    out = model.generate(
        input_ids=input_ids.to(model.device), attention_mask=attention.to(model.device),
        do_sample=False, num_beams=1, max_new_tokens=settings.max_new_tokens,
        pad_token_id=pad, eos_token_id=tokenizer.eos_token_id,
        # The spec fixes max_new_tokens; a model's own generation_config must not change it.
        min_new_tokens=0, repetition_penalty=1.0, no_repeat_ngram_size=0,
    )
    # The output begins with the decoder-start token (EOS itself for BART): skip it.
    return [_cut_at_eos(row[1:].tolist(), tokenizer.eos_token_id) for row in out]


def _cut_at_eos(tokens: list[int], eos: int | None) -> list[int]:
    if eos is not None and eos in tokens:
        return tokens[: tokens.index(eos)]
    return tokens


def _decode(tokenizer, tokens: list[int], settings: GenerationSpec) -> str:
    text = tokenizer.decode(tokens, skip_special_tokens=settings.strip_special_tokens)
    return text.strip() if settings.strip_whitespace else text
