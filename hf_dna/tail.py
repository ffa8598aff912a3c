"""The inheritance check: does a model carry another model's *weights*, or only its habits?

The DNA says how alike two models behave. That cannot tell a fine-tune from a "same-data
twin" — a model trained from scratch on the same text with the same recipe and another seed —
because both learnt the same data (benchmarks/RESULTS.md: the twins were the lineage
benchmark's false flags under every DNA spec). What a fine-tune keeps and a twin cannot have
is the parent's *random initialisation*, and it shows in the deep tail of the next-token
distribution: tokens a model barely saw in training keep their seed-given embeddings, so the
log-probabilities the model gives them are set by its seed, and a fine-tune inherits them.

The record (`Tail`): at the first `positions` positions of fixed texts (the bundled letter
strings), the log-probabilities of a fixed sample of the vocabulary, stored as float16.
Two records are comparable only when the models share the tokenizer (same vocabulary) and the
weight shapes (same architecture and size): a fine-tune, a merge or a half-precision copy does;
a distilled student of another size does not (see below).

The comparison: each matrix (positions x tokens) is double-centred (removing each position's
normaliser and each token's overall frequency) and its `remove_directions` strongest singular
directions are removed: they hold what the training *data* taught (shared by twins); what is
left is seed-given. The correlation of the residuals is the similarity: on the lineage zoo
every ancestor, sibling, merge and copy pair scored 0.14 or more, every twin pair 0.03 or
less (benchmarks/twin_signal.py). A Calibration turns it into P(inherited).

Models that share the tokenizer but not the shapes cannot share weights, but one may have been
*logit-distilled* from the other (trained to match its next-token distributions, as DistilGPT2
was from GPT-2): such a student reproduces its teacher's whole distribution, so their records
are compared directly, by the divergence of the two next-token distributions. Models trained
on the same data from scratch agree on the likeliest tokens but not on the rest: on the zoo
the students that learnt their teachers sat at 0.07-0.18 from them, no unrelated pair nearer
than 0.38 (benchmarks/RESULTS.md).

The record also keeps the model's greedy probe answers (the DNA's own), so that `whois` can
score shared phrases (hf_dna.phrases) from the same per-model file: the registry's evidence
holds them too, but batched per commit, which `whois` would have to list and read whole.
"""

from __future__ import annotations

import hashlib
import io
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import torch
from scipy.special import rel_entr, softmax

from .dna import utc_now
from .spec import Spec, TailSpec

TAILS_DIR = "tails"
# Why two records cannot be compared, when it means the models cannot share weights at all
# (rather than that the records were made differently).
ANOTHER_TOKENIZER = "another tokenizer"
ANOTHER_SHAPE = "another architecture or size"
UNSHAREABLE = (ANOTHER_TOKENIZER, ANOTHER_SHAPE)


@dataclass
class Tail:
    """One model's inheritance record."""

    model_id: str
    revision: str
    settings: str  # tail_key(spec.tail): records of other settings are not comparable
    tokenizer_sha256: str
    shapes_sha256: str
    token_ids: np.ndarray = field(repr=False)  # int64, the vocabulary sample, ascending
    logp: np.ndarray = field(repr=False)  # float16, positions x len(token_ids)
    remove_directions: int = 30  # the spec's: strongest directions dropped before comparing
    answers: tuple[str, ...] = ()  # the spec's greedy probe answers; empty in older records
    tool: str = ""
    stored_at: str = field(default_factory=lambda: utc_now(precise=True))

    def comparable(self, other: "Tail") -> str | None:
        """Why the two records cannot be compared; None when they can."""
        if self.settings != other.settings:
            return "made with other inheritance-check settings"
        if self.tokenizer_sha256 != other.tokenizer_sha256:
            return ANOTHER_TOKENIZER
        if self.shapes_sha256 != other.shapes_sha256:
            return ANOTHER_SHAPE
        if self.logp.shape != other.logp.shape or not np.array_equal(self.token_ids, other.token_ids):
            return "another vocabulary sample"
        return None

    @cached_property
    def _residual_unit(self) -> np.ndarray:
        """The seed-given residual at unit length (computed once per record: an SVD)."""
        residual = seed_residual(self.logp, self.remove_directions)
        return residual / (np.linalg.norm(residual) or 1.0)

    def similarity(self, other: "Tail") -> float | None:
        """Correlation of the seed-given parts of the two tails (1: same weights; ~0:
        independent seeds); None when the records are not comparable."""
        if self.comparable(other) is not None:
            return None
        return float(np.sum(self._residual_unit * other._residual_unit))

    def divergence(self, other: "Tail") -> float | None:
        """How far apart the two models' next-token distributions are, where they share the
        tokenizer (and so the vocabulary sample): the symmetric Kullback-Leibler divergence of
        the distributions restricted to the sample, averaged over positions (0: the same
        model). None where the records cannot be set side by side."""
        if (self.settings != other.settings or self.tokenizer_sha256 != other.tokenizer_sha256
                or self.logp.shape != other.logp.shape or not np.array_equal(self.token_ids, other.token_ids)):
            return None
        p, q = self._sample_distribution, other._sample_distribution
        return float(np.mean(np.sum(rel_entr(p, q) + rel_entr(q, p), axis=1)) / 2)

    @cached_property
    def _sample_distribution(self) -> np.ndarray:
        """Each position's next-token distribution over the vocabulary sample (renormalised)."""
        return softmax(self.logp.astype(np.float64), axis=1)


def tail_key(spec: TailSpec) -> str:
    """A short hash of the settings: only records with the same key are compared."""
    canonical = json.dumps(spec.__dict__, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


def seed_residual(logp: np.ndarray, remove: int) -> np.ndarray:
    """Double-centre the matrix and remove its `remove` strongest singular directions."""
    x = logp.astype(np.float64)
    x = x - x.mean(axis=1, keepdims=True)
    x = x - x.mean(axis=0, keepdims=True)
    r = min(remove, min(x.shape) - 1)
    if r <= 0:
        return x
    u, s, vt = np.linalg.svd(x, full_matrices=False)
    return x - (u[:, :r] * s[:r]) @ vt[:r]


def tokenizer_sha256(tokenizer) -> str:
    """The vocabulary (token -> id), hashed: equal for a fine-tune and its parent."""
    vocab = sorted(tokenizer.get_vocab().items(), key=lambda item: (item[1], item[0]))
    return hashlib.sha256(json.dumps(vocab, ensure_ascii=False).encode()).hexdigest()


def shapes_sha256(model) -> str:
    """Parameter names and shapes, hashed: equal when weights could have been inherited."""
    shapes = sorted((name, list(p.shape)) for name, p in model.state_dict().items())
    return hashlib.sha256(json.dumps(shapes).encode()).hexdigest()


def vocabulary_sample(tokenizer, vocab_size: int, count: int) -> np.ndarray:
    """All ids when the vocabulary is small, else the `count` ids whose token strings have the
    smallest blake2b digests: the same ids for every model with this tokenizer."""
    if vocab_size <= count:
        return np.arange(vocab_size, dtype=np.int64)
    names = tokenizer.convert_ids_to_tokens(list(range(min(vocab_size, len(tokenizer)))))
    names += [f"<unnamed {i}>" for i in range(len(names), vocab_size)]
    digests = [hashlib.blake2b(f"{i}\0{n}".encode(), digest_size=8).digest() for i, n in enumerate(names)]
    return np.sort(np.argsort(digests, kind="stable")[:count]).astype(np.int64)


@torch.inference_mode()
def compute_tail(model, tokenizer, spec: TailSpec, *, model_id: str, revision: str, tool: str = "",
                 answers: Sequence[str] = ()) -> Tail:
    """Score the spec's texts, one at a time, until `spec.positions` positions are collected.
    `answers`: the model's greedy probe answers, kept in the record (see the module's text)."""
    from .likelihood import likelihood_texts

    texts = likelihood_texts(spec, [])  # a bundled set, hash-checked, as the likelihood channel's
    sample = None
    rows: list[np.ndarray] = []
    collected = 0
    for text in texts:
        logits = _text_logits(model, tokenizer, tokenizer(text, add_special_tokens=False)["input_ids"])
        if sample is None:
            sample = vocabulary_sample(tokenizer, logits.shape[-1], spec.tokens)
        logp = torch.log_softmax(logits.float(), dim=-1)[:, torch.from_numpy(sample).to(logits.device)]
        rows.append(logp.cpu().numpy())
        collected += len(rows[-1])
        if collected >= spec.positions:
            break
    logp = np.concatenate(rows)[:spec.positions].astype(np.float16)
    return Tail(model_id, revision, tail_key(spec), tokenizer_sha256(tokenizer), shapes_sha256(model), sample, logp,
                spec.remove_directions, tuple(answers), tool)


def record_for(resolved, *, spec: Spec, device: str = "auto", dtype: str = "auto", batch_size: int = 32,
               probes: str | None = None, token: str | None = None, trust_remote_code: bool = False,
               allow_pickle: bool = False, **_ignored) -> Tail:
    """Load a resolved model (`hf_dna.models.resolve`) and make its record under `spec` (one
    with a tail): for a DNA that was not computed here (reused from a card, or given). Runs the
    probes' greedy generation for the answers, but no encoder. Takes `extract`'s keyword
    arguments and ignores those it does not need."""
    from . import __version__
    from .extraction import pick_device, pick_dtype
    from .generation import generate_answers
    from .models import load_model
    from .probes import load_probes

    prompts = [p.text for p in load_probes(spec, probes, token)]
    run_device = pick_device(device)
    model, tokenizer = load_model(resolved, device=run_device, dtype=pick_dtype(dtype, run_device),
                                  trust_remote_code=trust_remote_code, allow_pickle=allow_pickle)
    answers = generate_answers(model, tokenizer, prompts, spec.generation, batch_size=batch_size, progress=False)
    return compute_tail(model, tokenizer, spec.tail, model_id=resolved.model_id, revision=resolved.revision,
                        tool=f"hf-dna {__version__}", answers=answers.texts)


def _text_logits(model, tokenizer, ids: list[int]) -> torch.Tensor:
    """Next-token logits at every position of a text (the first given BOS/EOS as context)."""
    device = model.device
    if model.config.is_encoder_decoder:  # the text as the decoder's target, as in the likelihood channel
        start = model.config.decoder_start_token_id
        encoder = torch.tensor([[tokenizer.eos_token_id if tokenizer.eos_token_id is not None else start]], device=device)
        return model(input_ids=encoder, decoder_input_ids=torch.tensor([[start] + ids], device=device)).logits[0]
    context = tokenizer.bos_token_id if tokenizer.bos_token_id is not None else tokenizer.eos_token_id
    prefix = [] if context is None else [context]
    return model(input_ids=torch.tensor([prefix + ids], device=device)).logits[0]


# Files: one parquet per model and revision, at a path computed from them, so that `whois`
# fetches only its candidates' records (a registry of a million models is never listed).
_SCHEMA = pa.schema([
    ("model_id", pa.string()), ("revision", pa.string()), ("settings", pa.string()),
    ("tokenizer_sha256", pa.string()), ("shapes_sha256", pa.string()), ("token_ids", pa.list_(pa.int64())),
    ("positions", pa.int32()), ("logp_float16", pa.binary()), ("remove_directions", pa.int32()),
    ("tool", pa.string()), ("stored_at", pa.string()), ("answers", pa.list_(pa.string())),
])


def tail_path(settings: str, model_id: str, revision: str) -> str:
    digest = hashlib.sha256(f"{model_id}\0{revision}".encode()).hexdigest()[:32]
    return f"{TAILS_DIR}/{settings}/{digest[:2]}/{digest}.parquet"


def tail_bytes(tail: Tail) -> bytes:
    table = pa.table({
        "model_id": [tail.model_id], "revision": [tail.revision], "settings": [tail.settings],
        "tokenizer_sha256": [tail.tokenizer_sha256], "shapes_sha256": [tail.shapes_sha256],
        "token_ids": [tail.token_ids.astype(np.int64)], "positions": [int(tail.logp.shape[0])],
        "logp_float16": [np.ascontiguousarray(tail.logp, "<f2").tobytes()],
        "remove_directions": [tail.remove_directions], "tool": [tail.tool],
        "stored_at": [tail.stored_at], "answers": [list(tail.answers)]}, schema=_SCHEMA)
    sink = io.BytesIO()
    pq.write_table(table, sink)
    return sink.getvalue()


def parse_tail(source) -> Tail:
    row = pq.read_table(source).to_pylist()[0]
    ids = np.asarray(row["token_ids"], np.int64)
    logp = np.frombuffer(row["logp_float16"], "<f2").reshape(row["positions"], len(ids))
    return Tail(row["model_id"], row["revision"], row["settings"], row["tokenizer_sha256"], row["shapes_sha256"],
                ids, logp, row["remove_directions"], tuple(row.get("answers") or ()), row.get("tool") or "",
                row.get("stored_at") or "")
