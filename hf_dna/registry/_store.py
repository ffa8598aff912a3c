"""Where registry files live: a local folder or an HF dataset repo, behind one tiny interface
(list files under a prefix, fetch them, commit {adds, deletes})."""

from __future__ import annotations

import os
import uuid
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Protocol

from ..errors import RegistryError, RegistryPermissionError, RegistryWriteError

HUB_PREFIX = "hf://datasets/"


@dataclass
class Head:
    version: str | None  # the Hub commit sha everything is read at (None: a folder, or no repo yet)
    has_card: bool


class Store(Protocol):
    """What a backend does: list, fetch, and commit {adds, deletes} atomically (or in a safe order)."""

    uri: str
    dataset: str  # what `datasets.load_dataset` takes

    def head(self, create: bool = False) -> Head: ...
    def list(self, prefix: str, head: Head) -> list[str]: ...
    def fetch(self, paths: list[str], head: Head) -> dict[str, str | Exception]: ...
    def commit(self, adds: dict[str, bytes], deletes: list[str], message: str, head: Head) -> str | None:
        """One atomic commit; returns the pull request's URL when it opened one instead."""


class _Conflict(Exception):
    """The registry moved since `head` (HTTP 412): re-read and try again."""


class _VanishedFile(Exception):
    """A listed file was deleted (a concurrent compaction) before it could be read: re-list."""


class LocalStore:
    """A folder. Each file is written to a temp name then `os.replace`d: atomic, never half-visible."""

    def __init__(self, root: str | Path):
        self.root = Path(root).expanduser()
        self.uri = self.dataset = str(self.root)

    def head(self, create: bool = False) -> Head:
        return Head(None, (self.root / "README.md").exists())

    def list(self, prefix: str, head: Head) -> list[str]:
        base = self.root / prefix
        found = [p.relative_to(self.root).as_posix() for p in base.rglob("*.parquet") if not p.name.startswith(".")]
        return sorted(found)

    def fetch(self, paths: list[str], head: Head) -> dict[str, str | Exception]:
        return {path: str(self.root / path) for path in paths}

    def commit(self, adds: dict[str, bytes], deletes: list[str], message: str, head: Head) -> None:
        """Writes the files in place (a local folder has no pull requests)."""
        written: list[Path] = []
        try:
            for path, data in adds.items():  # adds first: a reader never sees rows missing
                written.append(self._write(self.root / path, data))
        except OSError as exc:
            for done in written:  # all or nothing, like a Hub commit
                done.unlink(missing_ok=True)
            raise RegistryWriteError(f"Could not write to the registry {self.uri}: {exc}") from exc
        for path in deletes:  # a failed delete only leaves duplicates, which reads deduplicate
            (self.root / path).unlink(missing_ok=True)

    @staticmethod
    def _write(target: Path, data: bytes) -> Path:
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".{target.name}.{uuid.uuid4().hex}.tmp")  # same dir: os.replace is atomic
        try:
            tmp.write_bytes(data)
            os.replace(tmp, target)
        finally:
            tmp.unlink(missing_ok=True)
        return target


class HubStore:
    """An HF dataset repo. Reads are pinned to one commit sha and use `hf_hub_download`: files at
    a full sha are immutable, so its cache answers re-reads with no network call at all
    (HfFileSystem would fetch the bytes again on every open). Writes are one `create_commit`
    with `parent_commit`, so a concurrent commit makes ours fail with 412 instead of racing."""

    def __init__(self, repo_id: str, token: str | None = None, write_mode: str = "auto"):
        from huggingface_hub import HfApi

        # auto: a pull request when the registry is not the user's (a shared community
        # registry), a direct commit when it is; pr / direct force one or the other.
        self.repo_id, self.token, self.write_mode = repo_id, token, write_mode
        self.api = HfApi(token=token)
        self.uri, self.dataset = HUB_PREFIX + repo_id, repo_id

    def head(self, create: bool = False) -> Head:
        from huggingface_hub.errors import RepositoryNotFoundError

        with self._errors("write" if create else "read"):
            try:
                info = self.api.dataset_info(self.repo_id)
            except RepositoryNotFoundError:
                if not create:
                    return Head(None, False)  # no repo yet: an empty registry
                self.api.create_repo(self.repo_id, repo_type="dataset", exist_ok=True)
                info = self.api.dataset_info(self.repo_id)
        return Head(info.sha, any(s.rfilename == "README.md" for s in info.siblings or []))

    def list(self, prefix: str, head: Head) -> list[str]:
        from huggingface_hub import RepoFile
        from huggingface_hub.errors import EntryNotFoundError

        if head.version is None:
            return []
        with self._errors("read"):
            try:
                items = self.api.list_repo_tree(self.repo_id, prefix, recursive=True, revision=head.version,
                                                repo_type="dataset")
                return sorted(i.path for i in items if isinstance(i, RepoFile) and i.path.endswith(".parquet"))
            except EntryNotFoundError:
                return []

    def fetch(self, paths: list[str], head: Head) -> dict[str, str | Exception]:
        from huggingface_hub import hf_hub_download

        def one(path: str) -> str | Exception:
            try:
                return hf_hub_download(self.repo_id, path, repo_type="dataset", revision=head.version, token=self.token)
            except Exception as exc:  # noqa: BLE001 -- one unreadable file must not hide the others
                return exc
        with ThreadPoolExecutor(max_workers=8) as pool:
            return dict(zip(paths, pool.map(one, paths)))

    def commit(self, adds: dict[str, bytes], deletes: list[str], message: str, head: Head) -> str | None:
        from huggingface_hub import CommitOperationAdd, CommitOperationDelete

        from ..hub import owns

        ops = [CommitOperationAdd(p, d) for p, d in adds.items()] + [CommitOperationDelete(p) for p in deletes]
        create_pr = self.write_mode == "pr" or (self.write_mode == "auto" and not owns(self.repo_id, self.token))
        with self._errors("write"):
            info = self.api.create_commit(self.repo_id, ops, commit_message=message, repo_type="dataset",
                                          parent_commit=None if create_pr else head.version, create_pr=create_pr)
        return info.pr_url if create_pr else None

    def _errors(self, action: str):
        return hub_errors(self.uri, self.repo_id, action)


@contextmanager
def hub_errors(uri: str, repo_id: str, action: str) -> Iterator[None]:
    """Turn Hub failures into typed errors that say what to do next (412 -> retry)."""
    from huggingface_hub.errors import HfHubHTTPError, HTTPError

    try:
        yield
    except (HTTPError, OSError) as exc:
        status = exc.response.status_code if isinstance(exc, HfHubHTTPError) else None
        if status == 412:
            raise _Conflict() from exc
        if status in (401, 403):
            raise RegistryPermissionError(_refused(uri, repo_id, action, status)) from exc
        detail = getattr(exc, "server_message", None) or (str(exc).splitlines() or [""])[0]
        why = f"HTTP {status}: {detail}" if status else f"{type(exc).__name__}: {detail}"
        if action == "read":
            raise RegistryError(f"Could not read the registry {uri} ({why}).") from exc
        raise RegistryWriteError(f"Could not {action} the registry {uri} ({why}). The registry was "
                                 "left as it was; try again later.") from exc


def _refused(uri: str, repo_id: str, action: str, status: int) -> str:
    if action == "read":
        return f"You may not read the registry {uri} (HTTP {status}): log in (`hf auth login`) with access to it."
    return (f"You may not {action} the registry {uri} (HTTP {status}: not logged in, or not its owner). "
            f"Use `--registry hf://datasets/YOUR_NAME/NAME` with your own dataset, or open a pull request "
            f"on {repo_id}.")
