"""`stamp`: compute (or reuse) a model's DNA and write it to the card, the companion dataset
repo and the registry.

Each destination is written in one atomic step (one Hub commit, or one file replace), so a
failure leaves that destination as it was; the result says what happened to each one.
Everything is prepared and validated before the first write.

Two steps, so that a batch can run the first anywhere (`hf_dna.batch`): `compute` (resolve,
reuse the card's DNA or run the model) returns a picklable `Computed`; `write` writes it. The
registry also receives the run's evidence (answers and raw likelihood profile, see
`hf_dna.evidence`), so that `hf-dna respec` can compute a later spec without the model.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from . import cards, companion, hub
from .dna import DNA
from .errors import CardError, HfDnaError
from .evidence import Evidence
from .extraction import extract_with_evidence, responses_jsonl
from .models import hub_model_info, is_local_ref, resolve
from .probes import load_probes
from .spec import current_spec
from .tail import Tail, record_for

if TYPE_CHECKING:
    from .registry import RegistryRow

Target = Literal["card", "dataset", "registry"]
ALL_TARGETS: tuple[Target, ...] = ("card", "dataset", "registry")


@dataclass
class TargetResult:
    target: Target
    status: Literal["written", "pull-request", "unchanged", "skipped", "would-write", "failed"]
    where: str | None = None
    message: str | None = None


@dataclass
class StampResult:
    dna: DNA
    reused: bool  # the DNA came from a current card block: the model was not run
    targets: list[TargetResult] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(t.status != "failed" for t in self.targets)


@dataclass
class Computed:
    """A model's DNA and everything its writers need. Made by `compute` (on any machine: it
    pickles), written by `write`."""

    dna: DNA
    reused: bool  # the DNA came from a current card block: the model was not run
    card_data: dict = field(default_factory=dict)
    evidence: Evidence | None = None  # answers and likelihood profile, for `respec`
    responses: bytes | None = None  # responses.jsonl, for the companion repo
    head: str | None = None  # the Hub commit the model was resolved at (the card commit's parent)
    local_path: str | None = None  # a local model folder: its README.md is the card
    tail: Tail | None = None  # the inheritance record of a reused DNA (a computed one is in `evidence`)


def declared_parents(card_data: dict | None) -> list[str]:
    """The card's `base_model` as a list (it may be a string or a list)."""
    base = (card_data or {}).get("base_model")
    if isinstance(base, str):
        return [base]
    return [b for b in base if isinstance(b, str)] if isinstance(base, list) else []


def stamp(model: str, revision: str | None = None, *, registry: str | None = None,
          to: tuple[Target, ...] | list[Target] = ALL_TARGETS, write_mode: hub.WriteMode = "auto",
          dry_run: bool = False, companion_repo: str | None = None, model_id: str | None = None,
          token: str | None = None, recompute: bool = False, progress: bool = True, **extract_kwargs) -> StampResult:
    """Stamp a Hub model (`org/name`, optional `revision`) or a local model folder."""
    from huggingface_hub import get_token

    token = token or get_token()
    computed = compute(model, revision, token=token, recompute=recompute, progress=progress, model_id=model_id,
                       record="registry" in to, **extract_kwargs)
    targets = write(computed, to=to, registry=registry, write_mode=write_mode, dry_run=dry_run,
                    companion_repo=companion_repo, token=token)
    return StampResult(dna=computed.dna, reused=computed.reused, targets=targets)


def compute(model: str, revision: str | None = None, *, token: str | None = None, recompute: bool = False,
            progress: bool = True, model_id: str | None = None, record: bool = True, **extract_kwargs) -> Computed:
    """The DNA to stamp: the card's, when it is current (same spec, same weights), else computed.
    `record`: give a reused DNA its record too (the model is loaded and answers the probes; no
    encoder runs), so that a registry row never lacks one; stamping only a card does not need it."""
    spec = extract_kwargs.get("spec") or current_spec()
    record_kwargs = {**extract_kwargs, "spec": spec, "token": token}
    if is_local_ref(model):
        path = Path(model).expanduser()
        resolved = resolve(str(path), model_id=model_id)
        block = cards.read_block(resolved.card_data)
        if block and not recompute and block.spec == spec.id and block.revision == resolved.revision:
            tail = record_for(resolved, **record_kwargs) if record and spec.tail else None
            return Computed(block.to_dna(resolved.model_id), True, resolved.card_data, local_path=str(path), tail=tail)
        dna, evidence = extract_with_evidence(str(path), model_id=resolved.model_id, progress=progress, **extract_kwargs)
        return Computed(dna, False, resolved.card_data, evidence, local_path=str(path))
    info = hub_model_info(model, revision, token)
    card_data = info.card_data.to_dict() if info.card_data else {}
    current = None if recompute else current_card_dna(card_data, info.id, info.sha, token, spec)
    computed = Computed(current, True, card_data, head=info.sha) if current else \
        _compute(info.id, info.sha, card_data, token, progress, extract_kwargs)
    if computed.reused and record and spec.tail:
        resolved = resolve(info.id, current.revision, token=token, allow_pickle=extract_kwargs.get("allow_pickle", False))
        computed.tail = record_for(resolved, **record_kwargs)
    if info.created_at and not computed.dna.created_at:
        computed.dna.created_at = info.created_at.isoformat().replace("+00:00", "Z")
    if computed.evidence is not None:
        computed.evidence.created_at = computed.dna.created_at
    return computed


def write(computed: Computed, *, to: tuple[Target, ...] | list[Target] = ALL_TARGETS, registry: str | None = None,
          write_mode: hub.WriteMode = "auto", dry_run: bool = False, companion_repo: str | None = None,
          token: str | None = None) -> list[TargetResult]:
    """Write a computed DNA to the targets in `to` (companion dataset, registry, card, in that order)."""
    from huggingface_hub import constants

    dna, user = computed.dna, hub.username(token)
    if computed.local_path is not None:
        plans = {
            "dataset": lambda: TargetResult("dataset", "skipped", message="a local folder has no companion repo"),
            "card": lambda: _write_local_card(Path(computed.local_path) / "README.md", dna, dry_run),
        }
    else:
        plans = {
            "dataset": lambda: _write_companion(dna, computed.responses, companion_repo or companion.default_repo(
                dna.model, user, hub.owns(dna.model, token)), token, constants.ENDPOINT, dry_run),
            "card": lambda: _write_hub_card(dna.model, computed.head, dna, token, write_mode, dry_run),
        }
    plans["registry"] = lambda: _write_registry(computed, registry, token, user, write_mode, dry_run)
    return [_run_target(t, plans[t]) for t in ("dataset", "registry", "card") if t in to]


def registry_row(computed: Computed, user: str | None, source: str = "stamp") -> RegistryRow:
    """The registry row of a stamped DNA, with the lineage its card declares."""
    from .registry import RegistryRow

    card = computed.card_data or {}
    return RegistryRow.from_dna(computed.dna, declared_parents=declared_parents(card),
                                relation=card.get("base_model_relation"), stamped_by=user, source=source)


def current_card_dna(card_data: dict, repo_id: str, sha: str, token: str | None, spec) -> DNA | None:
    """The card's DNA when it was made under `spec` on the same weights as `sha` (a later
    commit that only edited the card does not make it stale)."""
    block = cards.read_block(card_data)
    if block is None or block.spec != spec.id:
        return None
    if block.revision != sha and hub.weights_fingerprint(repo_id, block.revision, token) != hub.weights_fingerprint(repo_id, sha, token):
        return None
    return block.to_dna(repo_id)


def _compute(repo_id, sha, card_data, token, progress, extract_kwargs) -> Computed:
    dna, evidence = extract_with_evidence(repo_id, revision=sha, token=token, progress=progress, **extract_kwargs)
    prompts = load_probes(extract_kwargs.get("spec") or current_spec(), extract_kwargs.get("probes"), token)
    return Computed(dna, False, card_data, evidence, responses_jsonl(prompts, evidence.answers, dna).encode(), head=sha)


def _run_target(target: Target, plan) -> TargetResult:
    try:
        return plan()
    except CardError as exc:
        return TargetResult(target, "skipped", message=f"card left untouched: {exc}")
    except HfDnaError as exc:
        return TargetResult(target, "failed", message=str(exc))


def _write_hub_card(repo_id, sha, dna, token, write_mode, dry_run) -> TargetResult:
    from huggingface_hub import hf_hub_download
    from huggingface_hub.errors import EntryNotFoundError

    try:
        text = Path(hf_hub_download(repo_id, "README.md", revision=sha, token=token)).read_text(encoding="utf-8")
    except EntryNotFoundError:
        text = ""
    new_text = cards.with_block(text, cards.CardBlock.from_dna(dna))
    if new_text == text:
        return TargetResult("card", "unchanged", repo_id)
    if dry_run:
        return TargetResult("card", "would-write", repo_id)
    done = hub.commit_files(repo_id, {"README.md": new_text.encode()}, f"Add hf-dna DNA ({dna.spec})",
                            token=token, mode=write_mode, parent=sha)
    return TargetResult("card", "pull-request" if done.pr_url else "written", done.where)


def _write_local_card(readme: Path, dna: DNA, dry_run: bool) -> TargetResult:
    text = readme.read_text(encoding="utf-8") if readme.is_file() else ""
    new_text = cards.with_block(text, cards.CardBlock.from_dna(dna))
    if new_text == text:
        return TargetResult("card", "unchanged", str(readme))
    if dry_run:
        return TargetResult("card", "would-write", str(readme))
    _atomic_write(readme, new_text)
    return TargetResult("card", "written", str(readme))


def _atomic_write(path: Path, text: str) -> None:
    """Replace `path` in one step; the card keeps its permissions (mkstemp's file is 0600)."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".hf-dna-", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
            fh.write(text)
        if path.exists():
            mode = path.stat().st_mode & 0o7777
        else:  # a new card: what open() would have made under the user's umask
            umask = os.umask(0)
            os.umask(umask)
            mode = 0o666 & ~umask
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def _write_companion(dna, responses, repo_id, token, endpoint, dry_run) -> TargetResult:
    from huggingface_hub import file_exists

    if file_exists(repo_id, companion.record_path(dna), repo_type="dataset", token=token):
        return TargetResult("dataset", "unchanged", repo_id)
    if dry_run:
        return TargetResult("dataset", "would-write", repo_id)
    done = hub.commit_files(repo_id, companion.companion_files(dna, responses, endpoint),
                            f"DNA of {dna.model}@{dna.revision[:12]} ({dna.spec})",
                            token=token, repo_type="dataset", create=True)
    return TargetResult("dataset", "pull-request" if done.pr_url else "written", done.where)


def _write_registry(computed: Computed, registry, token, user, write_mode, dry_run) -> TargetResult:
    from .registry import open_registry

    dna = computed.dna
    reg = open_registry(registry, token=token, write_mode=write_mode)
    if reg.find(dna.model, dna.revision, dna.spec) is not None:
        return TargetResult("registry", "unchanged", reg.uri)
    if dry_run:
        return TargetResult("registry", "would-write", reg.uri)
    reg.add([registry_row(computed, user)], evidence=[computed.evidence] if computed.evidence else [],
            tails=[computed.tail] if computed.tail else [])
    if reg.pull_request:  # a shared registry that is not the user's: its owner merges the row
        return TargetResult("registry", "pull-request", reg.pull_request)
    return TargetResult("registry", "written", reg.uri)
