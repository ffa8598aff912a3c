"""Reading DNA back: every DNA recorded for a model (card block, companion repo, registry),
and whether each is current (same weights as the model now, current spec)."""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from . import cards, companion, hub
from .dna import DNA
from .errors import HfDnaError
from .models import hub_model_info, is_local_ref, resolve
from .spec import current_spec


@dataclass
class FoundDNA:
    source: Literal["card", "dataset", "registry"]
    where: str
    dna: DNA
    current_revision: bool  # made on the weights the model has now
    current_spec: bool


@dataclass
class ShowResult:
    model: str
    revision: str  # the model's revision now
    found: list[FoundDNA] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def current(self) -> FoundDNA | None:
        """The first DNA that is current in both senses (card first, then dataset, then registry)."""
        return next((f for f in self.found if f.current_revision and f.current_spec), None)


def show(model: str, revision: str | None = None, *, registry: str | None = None,
         companion_repo: str | None = None, model_id: str | None = None, token: str | None = None) -> ShowResult:
    """Every DNA recorded for `model` (a Hub id or a local folder), newest sources first."""
    from huggingface_hub import get_token

    token = token or get_token()
    if is_local_ref(model):
        resolved = resolve(model, model_id=model_id)
        result = ShowResult(resolved.model_id, resolved.revision)
        same = lambda rev: rev == resolved.revision  # noqa: E731
        _add(result, "card", str(Path(model) / "README.md"), cards.read_block(resolved.card_data), same)
    else:
        info = hub_model_info(model, revision, token)
        result = ShowResult(info.id, info.sha)
        same = _same_weights_as(info.id, info.sha, token)
        _add(result, "card", info.id, cards.read_block(info.card_data.to_dict() if info.card_data else {}), same)
        _add_companion(result, companion_repo or companion.default_repo(info.id, None, True), token, same)
    _add_registry(result, registry, token, same)
    return result


def _same_weights_as(repo_id: str, sha: str, token: str | None):
    @functools.lru_cache(maxsize=None)
    def same(revision: str) -> bool:
        if revision == sha:
            return True
        try:
            return hub.weights_fingerprint(repo_id, revision, token) == hub.weights_fingerprint(repo_id, sha, token)
        except Exception:  # an unknown or deleted revision is simply not current
            return False
    return same


def _found(source, where, dna: DNA, same) -> FoundDNA:
    return FoundDNA(source, where, dna, current_revision=same(dna.revision), current_spec=dna.spec == current_spec().id)


def _add(result: ShowResult, source, where, block, same) -> None:
    if block is not None:
        result.found.append(_found(source, where, block.to_dna(result.model), same))


def _add_companion(result: ShowResult, repo_id: str, token: str | None, same) -> None:
    from huggingface_hub import hf_hub_download
    from huggingface_hub.errors import HfHubHTTPError

    try:
        files = [f for f in hub.api(token).list_repo_files(repo_id, repo_type="dataset")
                 if f.startswith("dna/") and f.endswith(".json")]
        for path in sorted(files, reverse=True):
            text = Path(hf_hub_download(repo_id, path, repo_type="dataset", token=token)).read_text(encoding="utf-8")
            result.found.append(_found("dataset", f"{repo_id}/{path}", DNA.from_dict(json.loads(text)), same))
    except HfHubHTTPError:
        return  # no companion repo (or not readable): nothing recorded there
    except (HfDnaError, ValueError) as exc:
        result.problems.append(f"companion repo {repo_id}: {exc}")


def _add_registry(result: ShowResult, registry: str | None, token: str | None, same) -> None:
    from .registry import open_registry

    try:
        reg = open_registry(registry, token=token)
        rows = [r for r in reg.rows() if r.model_id == result.model]
    except HfDnaError as exc:
        result.problems.append(f"registry: {exc}")
        return
    result.problems.extend(reg.problems)
    for row in sorted(rows, key=lambda r: r.stamped_at, reverse=True):
        result.found.append(_found("registry", reg.uri, row.to_dna(), same))
