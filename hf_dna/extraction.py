"""`extract`: from a model reference to a DNA record, one stage after another."""

from __future__ import annotations

import hashlib
import json
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Literal

import numpy as np
import torch

from . import __version__
from .dna import DNA
from .embedding import get_encoder
from .evidence import Evidence
from .generation import generate_answers
from .models import ResolvedModel, load_model, resolve
from .probes import Probe, load_probes
from .likelihood import char_profile, likelihood_texts, normalise_per_text
from .projection import project_dna
from .spec import Spec, current_spec
from .tail import compute_tail

Device = Literal["auto", "cpu", "cuda"]
DType = Literal["auto", "float32", "bfloat16", "float16"]


def pick_device(device: Device) -> str:
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return device


def pick_dtype(dtype: DType, device: str) -> torch.dtype:
    """auto: float32 on CPU (bf16 matmuls are slow there), bfloat16 on CUDA."""
    if dtype == "auto":
        return torch.bfloat16 if device.startswith("cuda") else torch.float32
    return getattr(torch, dtype)


def responses_sha256(answers: list[str]) -> str:
    return hashlib.sha256(json.dumps(answers, ensure_ascii=False, separators=(",", ":")).encode()).hexdigest()


def extract(model: str, revision: str | None = None, *, spec: Spec | None = None,
            probes: str | None = None, device: Device = "auto", dtype: DType = "auto",
            batch_size: int = 32, token: str | None = None, trust_remote_code: bool = False,
            allow_pickle: bool = False, model_id: str | None = None,
            responses_path: str | Path | None = None, progress: bool = True) -> DNA:
    """Compute a model's DNA.

    `model` is a Hub repo id (with `revision`) or a local folder. `probes` is None for the
    bundled set or `hf://datasets/ORG/NAME[@rev]`. Raises an `HfDnaError` subclass on bad input.
    """
    dna, evidence, prompts = _extract(model, revision, spec, probes, device, dtype, batch_size, token,
                                      trust_remote_code, allow_pickle, model_id, progress)
    if responses_path is not None:
        save_responses(responses_path, prompts, evidence.answers, dna)
    return dna


def extract_with_evidence(model: str, revision: str | None = None, *, spec: Spec | None = None,
                          probes: str | None = None, device: Device = "auto", dtype: DType = "auto",
                          batch_size: int = 32, token: str | None = None, trust_remote_code: bool = False,
                          allow_pickle: bool = False, model_id: str | None = None,
                          progress: bool = True) -> tuple[DNA, Evidence]:
    """`extract`, also returning what the model produced (its answers and raw likelihood
    profile): with that evidence a later spec can be computed without the model (`respec`)."""
    dna, evidence, _ = _extract(model, revision, spec, probes, device, dtype, batch_size, token,
                                trust_remote_code, allow_pickle, model_id, progress)
    return dna, evidence


def _extract(model, revision, spec, probes, device, dtype, batch_size, token, trust_remote_code, allow_pickle,
             model_id, progress) -> tuple[DNA, Evidence, list[Probe]]:
    spec = spec or current_spec()
    seconds: dict[str, float] = {}
    with _timed(seconds, "resolve"):
        resolved = resolve(model, revision, token=token, allow_pickle=allow_pickle, model_id=model_id)
        prompts = load_probes(spec, probes, token)
    run_device = pick_device(device)
    run_dtype = pick_dtype(dtype, run_device)
    with _timed(seconds, "load"):
        lm, tokenizer = load_model(resolved, device=run_device, dtype=run_dtype,
                                   trust_remote_code=trust_remote_code, allow_pickle=allow_pickle)
    with _timed(seconds, "generate"):
        answers = generate_answers(lm, tokenizer, [p.text for p in prompts], spec.generation,
                                   batch_size=batch_size, progress=progress)
    raw = profile = None
    if spec.likelihood is not None:
        with _timed(seconds, "likelihood"):
            texts = likelihood_texts(spec.likelihood, [p.text for p in prompts])
            raw = char_profile(lm, tokenizer, texts, progress=progress)
            profile = normalise_per_text(raw, [len(t) for t in texts])
    tail = None
    if spec.tail is not None:
        with _timed(seconds, "tail"):
            tail = compute_tail(lm, tokenizer, spec.tail, model_id=resolved.model_id, revision=resolved.revision,
                                tool=f"hf-dna {__version__}", answers=answers.texts)
    del lm  # free the model's memory before the encoder runs
    dna = dna_from_answers(answers.texts, spec, resolved, profile=profile, device=run_device, seconds=seconds,
                           progress=progress)
    dna.stats["generated_tokens"] = answers.new_tokens
    dna.runtime.update(device=run_device, dtype=str(run_dtype).removeprefix("torch."), batch_size=batch_size)
    evidence = Evidence.from_run(dna, spec, answers.texts, raw)
    evidence.tail = tail
    return dna, evidence, prompts


def dna_from_answers(answers: list[str], spec: Spec, resolved: ResolvedModel, *, profile: np.ndarray | None = None,
                     device: str = "cpu", seconds: dict[str, float] | None = None, progress: bool = False) -> DNA:
    """Embed and project a model's answers (and likelihood profile, when the spec has that
    channel). Also the entry point for re-spec'ing stored answers."""
    seconds = {} if seconds is None else seconds
    with _timed(seconds, "embed"):
        vectors = get_encoder(spec.encoder, device).encode(answers, progress=progress)
    with _timed(seconds, "project"):
        vector = project_dna(vectors, profile, spec)
    import transformers

    return DNA(
        model=resolved.model_id, revision=resolved.revision, spec=spec.id, vector=vector,
        created_at=resolved.created_at, tool=f"hf-dna {__version__}",
        stats={"seconds": {k: round(v, 3) for k, v in seconds.items()},
               "empty_answers": sum(1 for a in answers if not a), "answers": len(answers)},
        responses_sha256=responses_sha256(answers),
        runtime={"torch": torch.__version__, "transformers": transformers.__version__, "numpy": np.__version__},
    )


def save_responses(path: str | Path, prompts: list[Probe], answers: list[str], dna: DNA) -> None:
    """One JSON line per probe: with these a later spec can be computed without the model."""
    with Path(path).open("w", encoding="utf-8") as fh:
        fh.write(responses_jsonl(prompts, answers, dna))


def responses_jsonl(prompts: list[Probe], answers: list[str], dna: DNA) -> str:
    """The raw answers as JSON lines (`responses.jsonl`): model, revision, probe, prompt, answer."""
    return "".join(json.dumps({"model": dna.model, "revision": dna.revision, "probe_id": probe.id,
                               "prompt": probe.text, "answer": answer}, ensure_ascii=False) + "\n"
                   for probe, answer in zip(prompts, answers))


@contextmanager
def _timed(seconds: dict[str, float], stage: str):
    start = time.perf_counter()
    try:
        yield
    finally:
        seconds[stage] = seconds.get(stage, 0.0) + time.perf_counter() - start
