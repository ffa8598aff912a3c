"""The probe set: the fixed, ordered prompts every model answers.

The bundled set is the project's own writing (`hf_dna/data/probes.jsonl`). A copy published
as an HF dataset can be used instead (`hf://datasets/ORG/NAME[@rev]`); either way the
prompts are checked against the spec's hash, since a changed prompt changes every DNA.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from importlib import resources

from .errors import ProbeSetError
from .spec import Spec

HF_PREFIX = "hf://datasets/"


@dataclass(frozen=True)
class Probe:
    id: str
    category: str
    lang: str
    text: str


def probe_hash(texts: list[str]) -> str:
    """sha256 of the ordered prompt texts' canonical JSON: order and every byte count."""
    return hashlib.sha256(json.dumps(texts, ensure_ascii=False, separators=(",", ":")).encode()).hexdigest()


def bundled_probes() -> list[Probe]:
    """The probe set shipped inside the package, in spec order."""
    raw = resources.files("hf_dna").joinpath("data/probes.jsonl").read_text(encoding="utf-8")
    return [Probe(**json.loads(line)) for line in raw.splitlines() if line.strip()]


def load_probes(spec: Spec, source: str | None = None, token: str | None = None) -> list[Probe]:
    """The spec's probes from `source` (None: the bundled set), verified against its hash."""
    probes = bundled_probes() if source is None else _probes_from_hub(source, token)
    verify_probes(probes, spec, source or "the bundled probe set")
    return probes


def verify_probes(probes: list[Probe], spec: Spec, where: str) -> None:
    texts = [p.text for p in probes]
    if len(texts) != spec.probes.count or probe_hash(texts) != spec.probes.sha256:
        raise ProbeSetError(
            f"The probes from {where} ({len(texts)} prompts, sha256 {probe_hash(texts)[:12]}…) "
            f"are not the probe set of spec {spec.id} ({spec.probes.count} prompts, sha256 "
            f"{spec.probes.sha256[:12]}…). DNAs made from them would not be comparable; "
            "use the bundled probes (omit --probes) or a dataset published by `hf-dna probes publish`."
        )


def _probes_from_hub(source: str, token: str | None) -> list[Probe]:
    if not source.startswith(HF_PREFIX):
        raise ProbeSetError(f"Probe source {source!r} is not of the form hf://datasets/ORG/NAME[@revision].")
    repo_id, _, revision = source[len(HF_PREFIX):].partition("@")
    import datasets  # imported here: only this optional path needs it

    try:
        table = datasets.load_dataset(repo_id, split="train", revision=revision or None, token=token)
    except Exception as exc:  # datasets raises many types; the message is what matters
        raise ProbeSetError(f"Could not load the probe dataset {source}: {exc}") from exc
    missing = {"id", "category", "lang", "text"} - set(table.column_names)
    if missing:
        raise ProbeSetError(f"The probe dataset {source} lacks the column(s) {sorted(missing)}.")
    return [Probe(id=r["id"], category=r["category"], lang=r["lang"], text=r["text"]) for r in table]


def publish_probes(repo_id: str, spec: Spec, *, token: str | None = None, private: bool = False) -> str:
    """Push the bundled probe set as an HF dataset (parquet + a card giving its hash), in one
    commit; returns the commit URL. `--probes hf://datasets/REPO` then loads it, hash-checked."""
    import io

    import pyarrow as pa
    import pyarrow.parquet as pq
    from huggingface_hub import CommitOperationAdd, HfApi

    probes = bundled_probes()
    verify_probes(probes, spec, "the bundled probe set")
    table = pa.Table.from_pylist([p.__dict__ for p in probes])
    buffer = io.BytesIO()
    pq.write_table(table, buffer)
    card = _probe_card(repo_id, spec)
    api = HfApi(token=token)
    api.create_repo(repo_id, repo_type="dataset", exist_ok=True, private=private)
    info = api.create_commit(repo_id, [CommitOperationAdd("data/train-00000-of-00001.parquet", buffer.getvalue()),
                                       CommitOperationAdd("README.md", card.encode())],
                             commit_message=f"hf-dna probe set {spec.probes.name}", repo_type="dataset")
    return info.commit_url


def _probe_card(repo_id: str, spec: Spec) -> str:
    return f"""---
tags:
- hf-dna
configs:
- config_name: default
  data_files:
  - split: train
    path: data/train-*.parquet
hf_dna_probes:
  name: {spec.probes.name}
  count: {spec.probes.count}
  sha256: {spec.probes.sha256}
  spec: {spec.id}
---

# {spec.probes.name}: the probe prompts of hf-dna spec `{spec.id}`

{spec.probes.count} prompts, in order (columns `id`, `category`, `lang`, `text`). Every model
answers them greedily; the answers, embedded and projected, are the model's DNA.

The sha256 of the ordered texts (JSON list, UTF-8, no spaces) is `{spec.probes.sha256}`;
hf-dna refuses a copy whose hash differs. Use it with:

    hf-dna extract MODEL --probes hf://datasets/{repo_id}
"""
