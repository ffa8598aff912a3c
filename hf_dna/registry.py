"""The shared DNA registry: one code path for a local folder and an HF dataset repo.

Layout (DESIGN.md "Formats" -> Registry), the same in both backends:

    README.md                                           dataset card (written on first write)
    entries/<spec name>/<spec hash>/<YYYY-MM-DD>/<uuid7>.parquet

Files are append-only: every write adds one new, uniquely named file, so concurrent writers
never touch each other's files; `compact` merges them. A later row (by `stamped_at`, then file
order) for the same (model_id, revision, spec) wins. uuid7 names sort by time, so path order
is write order.
"""

from __future__ import annotations

import csv
import io
import json
import os
import random
import re
import string
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timezone
from importlib import resources
from pathlib import Path
from typing import Callable, Protocol

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from . import __version__
from .dna import DNA, encode_vector
from .errors import (DnaFormatError, RegistryConflictError, RegistryError, RegistryPermissionError,
                     RegistryWriteError)

SCHEMA = pa.schema([
    ("model_id", pa.string()), ("revision", pa.string()), ("spec", pa.string()),
    ("vector", pa.list_(pa.float32())), ("created_at", pa.string()),
    ("declared_parents", pa.list_(pa.string())), ("relation", pa.string()),
    ("stamped_at", pa.string()), ("stamped_by", pa.string()), ("tool", pa.string()),
    ("source", pa.string()),
])
KEY = ["model_id", "revision", "spec"]
HUB_PREFIX = "hf://datasets/"
MAX_ATTEMPTS = 12  # commits retried on 412 (someone else committed first)
_SPEC_PART = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")


def stamp_time() -> str:
    """ISO UTC with microseconds, so two writes in one second still order correctly."""
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass
class RegistryRow:
    """One registry entry: a model's DNA plus who stamped it, when, and its declared lineage."""

    model_id: str
    revision: str
    spec: str
    vector: np.ndarray
    created_at: str | None = None
    declared_parents: list[str] = field(default_factory=list)
    relation: str | None = None
    stamped_at: str = field(default_factory=stamp_time)
    stamped_by: str | None = None
    tool: str = f"hf-dna {__version__}"
    source: str = "stamp"

    @classmethod
    def from_dna(cls, dna: DNA, declared_parents: list[str] = [], relation: str | None = None,  # noqa: B006
                 stamped_by: str | None = None, source: str = "stamp") -> "RegistryRow":
        return cls(model_id=dna.model, revision=dna.revision, spec=dna.spec,
                   vector=np.asarray(dna.vector, np.float32), created_at=dna.created_at,
                   declared_parents=list(declared_parents), relation=relation, stamped_by=stamped_by,
                   tool=dna.tool or f"hf-dna {__version__}", source=source)

    def to_dna(self) -> DNA:
        # The row does not keep the DNA's computed_at; stamped_at is the nearest thing known.
        return DNA(model=self.model_id, revision=self.revision, spec=self.spec, vector=self.vector,
                   created_at=self.created_at, tool=self.tool, computed_at=self.stamped_at)

    def to_dict(self, vector: bool = True) -> dict:
        data = {name: getattr(self, name) for name in SCHEMA.names if name != "vector"}
        if vector:
            data["vector"] = [float(x) for x in self.vector]
        return data


# ----------------------------------------------------------------------------- rows <-> parquet


def rows_to_table(rows: list[RegistryRow]) -> pa.Table:
    vectors = [np.asarray(r.vector, np.float32).reshape(-1) for r in rows]
    offsets = np.concatenate([[0], np.cumsum([len(v) for v in vectors])]).astype(np.int32)
    values = np.concatenate(vectors) if vectors else np.zeros(0, np.float32)
    columns = {name: [getattr(r, name) for r in rows] for name in SCHEMA.names}
    columns["vector"] = pa.ListArray.from_arrays(pa.array(offsets), pa.array(values, pa.float32()))
    return pa.table(columns, schema=SCHEMA)


def table_vectors(table: pa.Table) -> np.ndarray | list[np.ndarray]:
    """The vector column as one (n, dim) float32 array, or a list when lengths differ."""
    column = table.column("vector").combine_chunks()
    offsets, values = column.offsets.to_numpy(), column.values.to_numpy(zero_copy_only=False)
    values = values[offsets[0]:offsets[-1]]  # a sliced ListArray keeps its parent's values
    lengths = np.diff(offsets)
    if len(lengths) and np.all(lengths == lengths[0]):
        return values.reshape(len(lengths), int(lengths[0]))
    return np.split(values, np.cumsum(lengths)[:-1]) if len(lengths) else np.zeros((0, 0), np.float32)


def table_to_rows(table: pa.Table) -> list[RegistryRow]:
    vectors = table_vectors(table)
    columns = {name: table.column(name).to_pylist() for name in SCHEMA.names if name != "vector"}
    columns["declared_parents"] = [p or [] for p in columns["declared_parents"]]
    return [RegistryRow(vector=vectors[i], **{k: v[i] for k, v in columns.items()}) for i in range(table.num_rows)]


def parse_file(source: str | Path | io.BytesIO) -> pa.Table:
    """Read one registry file in the registry schema, with a parsed `_ts` column for ordering."""
    table = pq.read_table(source)
    missing = [n for n in ("model_id", "revision", "spec", "vector", "stamped_at") if n not in table.column_names]
    if missing:
        raise ValueError(f"missing columns {missing}")
    for name in SCHEMA.names:  # optional columns may be absent from files of older tools
        if name not in table.column_names:
            table = table.append_column(name, pa.nulls(table.num_rows, SCHEMA.field(name).type))
    table = table.select(SCHEMA.names).cast(SCHEMA)
    return table.append_column("_ts", pc.cast(table.column("stamped_at"), pa.timestamp("us", tz="UTC")))


def latest(tables: list[pa.Table]) -> pa.Table:
    """Deduplicate: the last row by (stamped_at, file order, row order) per key wins."""
    if not tables:
        return SCHEMA.empty_table()
    table = pa.concat_tables(tables)
    table = table.append_column("_order", pa.array(np.arange(table.num_rows)))
    table = table.take(pc.sort_indices(table, [("_ts", "ascending"), ("_order", "ascending")],
                                       null_placement="at_start"))
    table = table.append_column("_pos", pa.array(np.arange(table.num_rows)))
    winners = table.group_by(KEY).aggregate([("_pos", "max")]).column("_pos_max").to_numpy()
    return table.take(np.sort(winners)).select(SCHEMA.names)


def spec_dir(spec: str) -> str:
    name, _, digest = spec.partition("/")
    if not (_SPEC_PART.fullmatch(name) and _SPEC_PART.fullmatch(digest)):
        raise DnaFormatError(f"{spec!r} is not a spec id like 'dna-1/3f2a9c1e'; cannot file it in the registry.")
    return f"entries/{name}/{digest}"


def uuid7() -> str:
    """A time-ordered unique name (RFC 9562 uuid7): 48 bits of ms time, then randomness."""
    rand = int.from_bytes(os.urandom(10), "big")
    value = (time.time_ns() // 1_000_000) << 80 | 0x7 << 76 | (rand >> 68) << 64 | 0b10 << 62 | rand & (2**62 - 1)
    return str(uuid.UUID(int=value))


def new_entry_path(spec: str) -> str:
    return f"{spec_dir(spec)}/{datetime.now(timezone.utc):%Y-%m-%d}/{uuid7()}.parquet"


def to_parquet(table: pa.Table) -> bytes:
    sink = io.BytesIO()
    pq.write_table(table, sink, compression="zstd")
    return sink.getvalue()


def card_text(uri: str, dataset: str) -> str:
    template = resources.files("hf_dna").joinpath("templates/registry_card.md").read_text(encoding="utf-8")
    return string.Template(template).safe_substitute(uri=uri, dataset=dataset, version=__version__)


# ----------------------------------------------------------------------------- storage backends


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
    def commit(self, adds: dict[str, bytes], deletes: list[str], message: str, head: Head) -> None: ...


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
        try:
            for path, data in adds.items():  # adds first: a reader never sees rows missing
                self._write(self.root / path, data)
            for path in deletes:
                (self.root / path).unlink(missing_ok=True)
        except OSError as exc:
            raise RegistryWriteError(f"Could not write to the registry {self.uri}: {exc}") from exc

    @staticmethod
    def _write(target: Path, data: bytes) -> None:
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".{target.name}.{uuid.uuid4().hex}.tmp")
        try:
            tmp.write_bytes(data)
            os.replace(tmp, target)
        finally:
            tmp.unlink(missing_ok=True)


class HubStore:
    """An HF dataset repo. Reads are pinned to one commit sha and use `hf_hub_download`: files at
    a full sha are immutable, so its cache answers re-reads with no network call at all
    (HfFileSystem would fetch the bytes again on every open). Writes are one `create_commit`
    with `parent_commit`, so a concurrent commit makes ours fail with 412 instead of racing."""

    def __init__(self, repo_id: str, token: str | None = None):
        from huggingface_hub import HfApi

        self.repo_id, self.token = repo_id, token
        self.api = HfApi(token=token)
        self.uri, self.dataset = HUB_PREFIX + repo_id, repo_id

    def head(self, create: bool = False) -> Head:
        from huggingface_hub.errors import RepositoryNotFoundError

        try:
            info = self.api.dataset_info(self.repo_id)
        except RepositoryNotFoundError:
            if not create:
                return Head(None, False)
            with self._errors("create"):
                self.api.create_repo(self.repo_id, repo_type="dataset", exist_ok=True)
            info = self.api.dataset_info(self.repo_id)
        return Head(info.sha, any(s.rfilename == "README.md" for s in info.siblings or []))

    def list(self, prefix: str, head: Head) -> list[str]:
        from huggingface_hub.errors import EntryNotFoundError

        if head.version is None:
            return []
        try:
            items = self.api.list_repo_tree(self.repo_id, prefix, recursive=True, revision=head.version,
                                            repo_type="dataset")
            return sorted(i.path for i in items if i.path.endswith(".parquet") and hasattr(i, "size"))
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

    def commit(self, adds: dict[str, bytes], deletes: list[str], message: str, head: Head) -> None:
        from huggingface_hub import CommitOperationAdd, CommitOperationDelete

        ops = [CommitOperationAdd(p, d) for p, d in adds.items()] + [CommitOperationDelete(p) for p in deletes]
        with self._errors("write"):
            self.api.create_commit(self.repo_id, ops, commit_message=message, repo_type="dataset",
                                   parent_commit=head.version)

    def _errors(self, action: str):
        return _HubErrors(self, action)


class _HubErrors:
    """Turns Hub failures on a write into typed errors that say what to do next."""

    def __init__(self, store: HubStore, action: str):
        self.store, self.action = store, action

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind, exc, tb) -> None:
        from huggingface_hub.errors import HfHubHTTPError, HTTPError

        if exc is None or not isinstance(exc, (HTTPError, OSError)):
            return
        status = exc.response.status_code if isinstance(exc, HfHubHTTPError) else None
        if status == 412:
            raise _Conflict() from exc
        uri, repo = self.store.uri, self.store.repo_id
        if status in (401, 403):
            raise RegistryPermissionError(
                f"You may not {self.action} the registry {uri} (HTTP {status}: not logged in, or not its owner). "
                f"Use `--registry hf://datasets/YOUR_NAME/NAME` with your own dataset, or open a pull "
                f"request on {repo}.") from exc
        why = f"HTTP {status}" if status else type(exc).__name__
        raise RegistryWriteError(f"Could not {self.action} the registry {uri} ({why}: {exc}). The registry was "
                                 "left as it was; try again later.") from exc


# ----------------------------------------------------------------------------- the registry


@dataclass
class CompactResult:
    files_merged: int
    rows: int
    written: list[str]


class Registry:
    """Read and append DNA rows. `problems` lists the files the last read could not use."""

    def __init__(self, store: Store):
        self.store = store
        self.problems: list[str] = []

    @property
    def uri(self) -> str:
        return self.store.uri

    def add(self, rows: list[RegistryRow]) -> str:
        """Append rows as one new file per spec, in one commit; returns the path(s) written."""
        if not rows:
            raise ValueError("Registry.add needs at least one row.")
        by_spec: dict[str, list[RegistryRow]] = {}
        for row in rows:
            by_spec.setdefault(row.spec, []).append(row)
        files = {new_entry_path(spec): to_parquet(rows_to_table(group)) for spec, group in by_spec.items()}
        self._commit(lambda head: (files, []), f"Add {len(rows)} DNA row(s)")
        return ", ".join(files)

    def rows(self, spec: str | None = None) -> list[RegistryRow]:
        return table_to_rows(self._table(spec))

    def matrix(self, spec: str) -> tuple[list[RegistryRow], np.ndarray]:
        """The deduplicated rows of one spec and their vectors as one (n, dim) float32 array."""
        table = self._table(spec)
        vectors = table_vectors(table)
        if isinstance(vectors, list):
            raise RegistryError(f"The registry {self.uri} holds vectors of several lengths under spec {spec}.")
        return table_to_rows(table), np.ascontiguousarray(vectors, np.float32)

    def find(self, model_id: str, revision: str | None = None, spec: str | None = None) -> RegistryRow | None:
        """The latest entry for a model (a revision may be a commit-sha prefix)."""
        found = [r for r in self.rows(spec) if r.model_id == model_id
                 and (revision is None or r.revision == revision or r.revision.startswith(revision))]
        return max(found, key=lambda r: _ts(r.stamped_at), default=None)

    def compact(self) -> CompactResult:
        """Merge every readable file into one per spec (deduplicated), deleting only what was read."""
        result = CompactResult(0, 0, [])

        def plan(head: Head) -> tuple[dict[str, bytes], list[str]] | None:
            tables, read = self._load("entries", head)
            table = latest(tables)
            if len(read) <= len({p.rsplit("/", 2)[0] for p in read}) and len(table) == sum(map(len, tables)):
                return None  # already one file per spec, nothing to drop
            specs = table.column("spec").unique().to_pylist()
            adds = {new_entry_path(s): to_parquet(table.filter(pc.equal(table["spec"], s))) for s in specs}
            result.files_merged, result.rows, result.written = len(read), len(table), list(adds)
            return adds, read
        self._commit(plan, "Compact the registry")
        return result

    def export(self, path: str | Path, spec: str | None = None) -> int:
        """Write the deduplicated rows to .parquet, or .csv (vector: base64 of little-endian
        float32, as in card blocks; declared_parents: a JSON list). Returns the row count."""
        path, table = Path(path), self._table(spec)
        if path.suffix == ".parquet":
            pq.write_table(table, path)
        elif path.suffix == ".csv":
            self._write_csv(path, table)
        else:
            raise ValueError(f"Cannot export to {path}: use a .parquet or .csv file name.")
        return table.num_rows

    # -- internals
    def _table(self, spec: str | None) -> pa.Table:
        prefix = spec_dir(spec) if spec else "entries"
        for _ in range(MAX_ATTEMPTS):
            try:
                table = latest(self._load(prefix, self.store.head())[0])
            except _VanishedFile:  # a compaction removed a file after we listed it: re-list
                continue
            return table.filter(pc.equal(table["spec"], spec)) if spec else table
        raise RegistryError(f"The registry {self.uri} kept changing while it was read; try again.")

    def _load(self, prefix: str, head: Head) -> tuple[list[pa.Table], list[str]]:
        """Every readable file under prefix, in file order, and their paths; the rest -> problems."""
        self.problems = []
        paths = self.store.list(prefix, head)
        tables, read = [], []
        for path, local in self.store.fetch(paths, head).items():
            try:
                if isinstance(local, Exception):
                    raise local
                tables.append(parse_file(local))
                read.append(path)
            except FileNotFoundError as exc:
                if head.version is None:
                    raise _VanishedFile(path) from exc
                self.problems.append(f"{self.uri}: cannot read {path}: {exc}")
            except Exception as exc:  # noqa: BLE001 -- a corrupt file must not hide the other rows
                self.problems.append(f"{self.uri}: skipped unreadable file {path} ({type(exc).__name__}: {exc})")
        return tables, read

    def _commit(self, plan: Callable[[Head], tuple[dict[str, bytes], list[str]] | None], message: str) -> None:
        """Commit plan(head); when someone else committed first (412), re-read and re-plan."""
        for attempt in range(MAX_ATTEMPTS):
            head = self.store.head(create=True)
            planned = plan(head)
            if planned is None:
                return
            adds, deletes = planned
            if not head.has_card:
                adds = {"README.md": card_text(self.uri, self.store.dataset).encode(), **adds}
            try:
                return self.store.commit(adds, deletes, message, head)
            except _Conflict:
                time.sleep(random.uniform(0, min(2.0, 0.05 * 2**attempt)))  # jitter spreads the retries
        raise RegistryConflictError(f"Gave up writing to {self.uri} after {MAX_ATTEMPTS} attempts: other "
                                    "writers kept committing first. Try again.")

    @staticmethod
    def _write_csv(path: Path, table: pa.Table) -> None:
        with path.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.DictWriter(handle, fieldnames=SCHEMA.names)
            writer.writeheader()
            for row in table_to_rows(table):
                data = row.to_dict(vector=False)
                data.update(vector=encode_vector(row.vector), declared_parents=json.dumps(row.declared_parents))
                writer.writerow(data)


def _ts(stamped_at: str) -> datetime:
    return datetime.fromisoformat(stamped_at.replace("Z", "+00:00"))


def open_registry(uri: str | None = None, token: str | None = None) -> Registry:
    """`hf://datasets/ORG/NAME` (created on first write) or a local folder; default:
    $HF_DNA_REGISTRY, else the registry in hf-dna's cache."""
    from .demo import cache_dir

    uri = uri or os.environ.get("HF_DNA_REGISTRY") or str(cache_dir() / "registry")
    if uri.startswith("hf://"):
        repo_id = uri.removeprefix(HUB_PREFIX).strip("/")
        if not uri.startswith(HUB_PREFIX) or repo_id.count("/") != 1:
            raise RegistryError(f"Not a registry address: {uri!r}. Use hf://datasets/ORG/NAME or a local folder.")
        return Registry(HubStore(repo_id, token))
    return Registry(LocalStore(uri))
