"""`stamp`: compute (or reuse) a model's DNA and write it to the card, the companion dataset
repo and the registry.

Each destination is written in one atomic step (one Hub commit, or one file replace), so a
failure leaves that destination as it was; the result says what happened to each one.
Everything is prepared and validated before the first write.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from . import cards, companion, hub
from .dna import DNA
from .errors import CardError, HfDnaError
from .extraction import extract
from .models import hub_model_info, is_local_ref, resolve
from .spec import current_spec

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
    if is_local_ref(model):
        return _stamp_local(Path(model).expanduser(), to, registry, dry_run, model_id, token, recompute, progress, extract_kwargs)
    return _stamp_hub(model, revision, to, registry, write_mode, dry_run, companion_repo, token, recompute,
                      progress, extract_kwargs)


def _stamp_hub(repo_id, revision, to, registry, write_mode, dry_run, companion_repo, token, recompute,
               progress, extract_kwargs) -> StampResult:
    from huggingface_hub import constants

    info = hub_model_info(repo_id, revision, token)
    card_data = info.card_data.to_dict() if info.card_data else {}
    dna, responses = _current_dna(cards.read_block(card_data), info.id, info.sha, token, recompute) or \
        _compute(repo_id, info.sha, token, progress, extract_kwargs)
    reused = responses is None
    if info.created_at and not dna.created_at:
        dna.created_at = info.created_at.isoformat().replace("+00:00", "Z")
    result = StampResult(dna=dna, reused=reused)
    user = hub.username(token)
    plans = {
        "dataset": lambda: _write_companion(dna, responses, companion_repo or companion.default_repo(
            info.id, user, hub.owns(info.id, token)), token, constants.ENDPOINT, dry_run),
        "registry": lambda: _write_registry(dna, card_data, registry, token, user, dry_run),
        "card": lambda: _write_hub_card(info.id, info.sha, dna, token, write_mode, dry_run),
    }
    result.targets = [_run_target(t, plans[t]) for t in ("dataset", "registry", "card") if t in to]
    return result


def _stamp_local(path, to, registry, dry_run, model_id, token, recompute, progress, extract_kwargs) -> StampResult:
    resolved = resolve(str(path), model_id=model_id)
    block = cards.read_block(resolved.card_data)
    reused = bool(block and not recompute and block.spec == current_spec().id and block.revision == resolved.revision)
    if reused:
        dna = block.to_dna(resolved.model_id)
    else:
        dna = extract(str(path), model_id=resolved.model_id, progress=progress, **extract_kwargs)
    result = StampResult(dna=dna, reused=reused)
    plans = {
        "dataset": lambda: TargetResult("dataset", "skipped", message="a local folder has no companion repo"),
        "registry": lambda: _write_registry(dna, resolved.card_data, registry, token, hub.username(token), dry_run),
        "card": lambda: _write_local_card(path / "README.md", dna, dry_run),
    }
    result.targets = [_run_target(t, plans[t]) for t in ("dataset", "registry", "card") if t in to]
    return result


def _current_dna(block, repo_id, sha, token, recompute) -> tuple[DNA, None] | None:
    """The card's DNA when it was made under the current spec on the same weights as `sha`
    (a later commit that only edited the card does not make it stale)."""
    if recompute or block is None or block.spec != current_spec().id:
        return None
    if block.revision != sha and hub.weights_fingerprint(repo_id, block.revision, token) != hub.weights_fingerprint(repo_id, sha, token):
        return None
    return block.to_dna(repo_id), None


def _compute(repo_id, sha, token, progress, extract_kwargs) -> tuple[DNA, bytes]:
    with tempfile.TemporaryDirectory() as tmp:
        answers = Path(tmp) / "responses.jsonl"
        dna = extract(repo_id, revision=sha, token=token, responses_path=answers, progress=progress, **extract_kwargs)
        return dna, answers.read_bytes()


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
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".hf-dna-", suffix=".tmp")
    with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
        fh.write(text)
    os.replace(tmp, path)


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


def _write_registry(dna, card_data, registry, token, user, dry_run) -> TargetResult:
    from .registry import RegistryRow, open_registry

    reg = open_registry(registry, token=token)
    if reg.find(dna.model, dna.revision, dna.spec) is not None:
        return TargetResult("registry", "unchanged", reg.uri)
    if dry_run:
        return TargetResult("registry", "would-write", reg.uri)
    row = RegistryRow.from_dna(dna, declared_parents=declared_parents(card_data),
                               relation=(card_data or {}).get("base_model_relation"), stamped_by=user, source="stamp")
    reg.add([row])
    return TargetResult("registry", "written", reg.uri)
