"""`respec`: compute a registry's DNAs under another spec from the stored evidence, never
running a model (`hf-dna respec --registry URI --spec NEW`).

`stamp` keeps each model's answers and raw likelihood profile in the registry (format in
`hf_dna.evidence`). A spec that keeps the probe set and the generation settings (and, when it
has a likelihood channel, the way the profile is scored) only changes steps that need no model
(encoder, normalisation, projection): those are redone here, and the new rows are added in one
commit. A model whose evidence does not fit the new spec is reported with the reason.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Literal, get_args

import numpy as np
from tqdm.auto import tqdm

from . import hub
from .errors import RespecError
from .evidence import Evidence
from .spec import Spec, find_spec

Status = Literal["written", "would-write", "skipped", "failed"]


@dataclass
class RespecItem:
    model: str
    revision: str
    status: Status
    message: str | None = None


@dataclass
class RespecResult:
    spec: str
    registry: str
    items: list[RespecItem] = field(default_factory=list)
    written: str | None = None  # the registry file(s) added
    pull_request: str | None = None  # set when they went to a pull request (a registry not the user's)

    def count(self, status: Status) -> int:
        return sum(1 for item in self.items if item.status == status)

    @property
    def ok(self) -> bool:
        return self.count("failed") == 0

    def to_dict(self) -> dict:
        return {"spec": self.spec, "registry": self.registry, "ok": self.ok, "file": self.written,
                "pull_request": self.pull_request, "counts": {s: self.count(s) for s in get_args(Status)},
                "models": [asdict(item) for item in self.items]}


def respec(registry: str | None, spec: str | Spec, *, token: str | None = None, device: str = "cpu",
           dry_run: bool = False, progress: bool = False) -> RespecResult:
    """Add rows under `spec` (an id like `dna-1/088e259d`, or a name like `dna-1`) for every
    model whose stored evidence fits it; models already held under `spec` are skipped."""
    import transformers

    from .registry import open_registry

    transformers.utils.logging.disable_progress_bar()  # the encoder's loading bar; respec shows its own
    target = spec if isinstance(spec, Spec) else find_spec(spec)
    reg = open_registry(registry, token=token)
    result = RespecResult(target.id, reg.uri)
    evidence = reg.evidence()
    if not evidence:
        raise RespecError(f"The registry {reg.uri} holds no stored answers to re-spec: stamp models with this "
                          "hf-dna (`hf-dna stamp`), which keeps them beside each DNA.")
    rows = reg.rows()
    held = {(r.model_id, r.revision) for r in rows if r.spec == target.id}
    lineage = {(r.model_id, r.revision): r for r in rows}  # any spec's row: declared parents, relation
    user = hub.username(token)
    new_rows = []
    for (model, revision), records in tqdm(_by_model(evidence).items(), desc="respec", unit="model",
                                           disable=not progress):
        if (model, revision) in held:
            result.items.append(RespecItem(model, revision, "skipped", f"already in the registry under {target.id}"))
            continue
        record, why = _usable(records, target)
        if record is None:
            result.items.append(RespecItem(model, revision, "failed", why))
            continue
        new_rows.append(_row(record, target, lineage.get((model, revision)), user, device))
        result.items.append(RespecItem(model, revision, "would-write" if dry_run else "written"))
    if target.tail is not None and new_rows:
        _note_missing_records(reg, target, result)
    if new_rows and not dry_run:
        result.written = reg.add(new_rows)
        result.pull_request = reg.pull_request
    return result


def _note_missing_records(reg, target: Spec, result: RespecResult) -> None:
    """An inheritance record needs the model: say which models `whois` will read by DNA alone."""
    from .tail import tail_key

    new = [item for item in result.items if item.status in ("written", "would-write")]
    held = reg.tails([(item.model, item.revision) for item in new], tail_key(target.tail))
    for item in new:
        if (item.model, item.revision) not in held:
            item.message = ("no inheritance record (it needs the model): whois reads this model by its DNA alone "
                            "until it is stamped again")


def dna_from_evidence(record: Evidence, spec: Spec, device: str = "cpu"):
    """The DNA of `record`'s model under `spec` (which it must fit: `Evidence.unusable_for`)."""
    from .extraction import dna_from_answers
    from .likelihood import normalise_per_text
    from .models import ResolvedModel

    profile = None
    if spec.likelihood is not None:
        profile = normalise_per_text(np.asarray(record.char_nll, np.float64), _text_lengths(spec))
    resolved = ResolvedModel(model_id=record.model_id, revision=record.revision, local_dir=Path(),
                             created_at=record.created_at)
    return dna_from_answers(record.answers, spec, resolved, profile=profile, device=device)


def _row(record: Evidence, spec: Spec, known, user: str | None, device: str):
    from .registry import RegistryRow

    dna = dna_from_evidence(record, spec, device)
    dna.runtime = {**record.runtime, "respec_from": record.spec}
    return RegistryRow.from_dna(dna, declared_parents=known.declared_parents if known else [],
                                relation=known.relation if known else None,
                                stamped_by=user, source="respec")


def _text_lengths(spec: Spec) -> list[int]:
    from .likelihood import likelihood_texts
    from .probes import load_probes

    return [len(t) for t in likelihood_texts(spec.likelihood, [p.text for p in load_probes(spec)])]


def _by_model(evidence: list[Evidence]) -> dict[tuple[str, str], list[Evidence]]:
    groups: dict[tuple[str, str], list[Evidence]] = {}
    for record in evidence:
        groups.setdefault((record.model_id, record.revision), []).append(record)
    return groups


def _usable(records: list[Evidence], spec: Spec) -> tuple[Evidence | None, str | None]:
    """The newest record that fits `spec`, or None and why none does."""
    reasons = []
    for record in sorted(records, key=lambda r: r.stored_at, reverse=True):
        why = record.unusable_for(spec)
        if why is None:
            return record, None
        reasons.append(why)
    return None, reasons[0]
