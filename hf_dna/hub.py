"""Small helpers over huggingface_hub for writing: who am I, may I write there, and one
atomic commit (direct, or as a pull request when the repo is not mine).

Tokens are passed through to huggingface_hub and never printed, logged or stored.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Literal

from .errors import HubWriteError

WriteMode = Literal["auto", "pr", "direct"]


def api(token: str | None = None):
    from huggingface_hub import HfApi

    return HfApi(token=token)


@functools.lru_cache(maxsize=8)
def _namespaces(token: str | None) -> frozenset[str]:
    from huggingface_hub.errors import HfHubHTTPError

    try:
        me = api(token).whoami()
    except (HfHubHTTPError, OSError):
        return frozenset()  # not logged in: no namespace is ours
    return frozenset([me["name"], *(org["name"] for org in me.get("orgs", []))])


def username(token: str | None) -> str | None:
    from huggingface_hub.errors import HfHubHTTPError

    try:
        return api(token).whoami()["name"]
    except (HfHubHTTPError, OSError):
        return None


def owns(repo_id: str, token: str | None) -> bool:
    """True when the repo's namespace is the user's or one of their organisations."""
    return repo_id.split("/")[0] in _namespaces(token)


@dataclass
class CommitResult:
    repo_id: str
    url: str | None = None
    pr_url: str | None = None
    skipped: bool = False  # nothing to change: no commit was made

    @property
    def where(self) -> str:
        return self.pr_url or self.url or self.repo_id


def commit_files(repo_id: str, files: dict[str, bytes], message: str, *, token: str | None,
                 repo_type: str = "model", mode: WriteMode = "auto", parent: str | None = None,
                 create: bool = False) -> CommitResult:
    """Write `files` in one commit (all or nothing). `mode`: auto = pull request unless the
    user owns the repo; pr = always a pull request; direct = never (fails if not allowed)."""
    from huggingface_hub import CommitOperationAdd
    from huggingface_hub.errors import HfHubHTTPError

    mine = owns(repo_id, token)
    if mode == "direct" and not mine:
        raise HubWriteError(f"You cannot write to {repo_id} directly: it is not yours. Drop --direct to open a pull request instead.")
    create_pr = mode == "pr" or not mine
    client = api(token)
    try:
        if create and mine:
            client.create_repo(repo_id, repo_type=repo_type, exist_ok=True)
        info = client.create_commit(
            repo_id, [CommitOperationAdd(path, data) for path, data in files.items()], commit_message=message,
            repo_type=repo_type, parent_commit=None if create_pr else parent, create_pr=create_pr)
    except HfHubHTTPError as exc:
        raise _write_error(repo_id, exc) from exc
    return CommitResult(repo_id=repo_id, url=info.commit_url, pr_url=info.pr_url)


def _write_error(repo_id: str, exc) -> HubWriteError:
    status = getattr(getattr(exc, "response", None), "status_code", None)
    if status == 412:
        return HubWriteError(f"{repo_id} changed while hf-dna was writing to it; nothing was written. Run the command again.")
    if status in (401, 403):
        return HubWriteError(f"Not allowed to write to {repo_id} (HTTP {status}). Log in with `hf auth login` as a user with write access, or let hf-dna open a pull request.")
    return HubWriteError(f"Writing to {repo_id} failed (HTTP {status or '?'}); nothing was written. Try again later. ({exc})")


def weights_fingerprint(repo_id: str, revision: str, token: str | None) -> dict[str, str]:
    """{file: sha} of the files that decide a model's behaviour (weights, config, tokenizer).
    Two revisions with the same fingerprint have the same DNA, e.g. before and after a
    commit that only edited the model card."""
    info = api(token).model_info(repo_id, revision=revision, files_metadata=True)
    behaviour = (".safetensors", ".bin", "config.json", "tokenizer.json", "tokenizer_config.json", ".model")
    return {s.rfilename: (s.lfs.sha256 if s.lfs else s.blob_id) or "" for s in info.siblings or []
            if s.rfilename.endswith(behaviour)}
