"""The Registry: read, append, compact and export DNA rows, on any backend."""

from __future__ import annotations

import csv
import json
import random
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from ..dna import encode_vector
from ..errors import RegistryConflictError, RegistryError
from ..evidence import Evidence
from ..paths import default_registry
from ._rows import (SCHEMA, RegistryRow, card_text, latest, new_entry_path, parse_file, rows_to_table, spec_dir,
                    table_to_rows, table_vectors, to_parquet)
from ._evidence import EVIDENCE_DIR, evidence_table, latest_evidence, new_evidence_path, parse_evidence
from ..tail import Tail, parse_tail, tail_bytes, tail_path
from ._store import HUB_PREFIX, Head, HubStore, LocalStore, Store, _Conflict, _VanishedFile

MAX_ATTEMPTS = 12  # commits retried on 412 (someone else committed first)
Plan = Callable[["Head"], "tuple[dict[str, bytes], list[str]] | None"]  # head -> (adds, deletes), None: no-op


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
        # The pull request the last write opened (a Hub registry that is not the user's), else None:
        # its rows reach readers when the registry's owner merges it.
        self.pull_request: str | None = None

    @property
    def uri(self) -> str:
        return self.store.uri

    def add(self, rows: list[RegistryRow], evidence: Sequence[Evidence] = (), tails: Sequence[Tail] = ()) -> str:
        """Append rows as one new file per spec, evidence (answers and likelihood profiles, see
        `hf_dna.evidence`) as one file per probe set, and inheritance records (`hf_dna.tail`; an
        evidence's own `tail` too) as one file per model, all in one commit; returns the path(s)
        written."""
        if not rows and not evidence and not tails:
            raise ValueError("Registry.add needs at least one row.")
        files = {new_entry_path(spec): to_parquet(rows_to_table(group)) for spec, group in _group(rows, "spec").items()}
        files.update({new_evidence_path(probes): to_parquet(evidence_table(group))
                      for probes, group in _group(evidence, "probes_sha256").items()})
        tails = [*tails, *(e.tail for e in evidence if e.tail is not None)]
        files.update({tail_path(t.settings, t.model_id, t.revision): tail_bytes(t) for t in tails})
        what = f"Add {len(rows)} DNA row(s)" + (f" and the evidence of {len(evidence)} model(s)" if evidence else "")
        self.pull_request = self._commit(lambda head: (files, []), what)
        return ", ".join(files)

    def rows(self, spec: str | None = None) -> list[RegistryRow]:
        """The latest row per (model_id, revision, spec), oldest stamp first; `spec` filters."""
        return table_to_rows(self._table(spec))

    def matrix(self, spec: str) -> tuple[list[RegistryRow], np.ndarray]:
        """The deduplicated rows of one spec and their vectors as one (n, dim) float32 array."""
        table = self._table(spec)
        vectors = table_vectors(table)
        if isinstance(vectors, list):
            raise RegistryError(f"The registry {self.uri} holds vectors of several lengths under spec {spec}.")
        if not len(vectors):  # keep the (0, dim) shape callers can stack against
            vectors = np.zeros((0, _output_dim(spec)), np.float32)
        return table_to_rows(table), np.ascontiguousarray(vectors, np.float32)

    def evidence(self) -> list[Evidence]:
        """The stored evidence: the latest record per (model, revision, probe set, settings)."""
        for _ in range(MAX_ATTEMPTS):
            try:
                groups = self._load(EVIDENCE_DIR, self.store.head(), parse=parse_evidence)[0]
            except _VanishedFile:
                continue
            return latest_evidence([record for group in groups for record in group])
        raise RegistryError(f"The registry {self.uri} kept changing while it was read; try again.")

    def tails(self, wanted: Sequence[tuple[str, str]], settings: str) -> dict[tuple[str, str], Tail]:
        """The stored inheritance records of these (model_id, revision) pairs, made with these
        settings (`hf_dna.tail.tail_key`); a pair without one is left out."""
        from huggingface_hub.errors import EntryNotFoundError

        head = self.store.head()
        if head.version is None and isinstance(self.store, HubStore):
            return {}  # no repo yet
        paths = {tail_path(settings, model, revision): (model, revision) for model, revision in wanted}
        found: dict[tuple[str, str], Tail] = {}
        for path, local in self.store.fetch(list(paths), head).items():
            try:
                if isinstance(local, Exception):
                    raise local
                tail = parse_tail(local)
            except (FileNotFoundError, EntryNotFoundError):
                continue  # stamped before the spec had the check, or by a tool without it
            except Exception as exc:  # noqa: BLE001 -- one bad record must not stop the lookup
                self.problems.append(f"{self.uri}: skipped unreadable inheritance record {path} "
                                     f"({type(exc).__name__}: {exc})")
                continue
            if (tail.model_id, tail.revision) == paths[path]:
                found[paths[path]] = tail
        return found

    def find(self, model_id: str, revision: str | None = None, spec: str | None = None) -> RegistryRow | None:
        """The latest entry for a model (a revision may be a commit-sha prefix)."""
        for row in reversed(self.rows(spec)):  # rows() is in stamp order: the last match is the latest
            if row.model_id == model_id and (revision is None or row.revision.startswith(revision)):
                return row
        return None

    def compact(self) -> CompactResult:
        """Merge every readable file into one per spec (deduplicated), deleting only what was read."""
        result = CompactResult(0, 0, [])

        def plan(head: Head) -> tuple[dict[str, bytes], list[str]] | None:
            tables, read = self._load("entries", head)
            table = latest(tables)
            result.rows = len(table)
            if len(read) <= len({p.rsplit("/", 2)[0] for p in read}) and len(table) == sum(map(len, tables)):
                return None  # already one file per spec, nothing to drop
            specs = table.column("spec").unique().to_pylist()
            adds = {new_entry_path(s): to_parquet(table.filter(pc.equal(table["spec"], s))) for s in specs}
            result.files_merged, result.written = len(read), list(adds)
            return adds, read
        self._commit(plan, "Compact the registry", create=False)
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

    def _load(self, prefix: str, head: Head, parse: Callable = parse_file) -> tuple[list, list[str]]:
        """Every readable file under prefix, parsed, in file order, and their paths; the rest -> problems."""
        self.problems = []
        paths = self.store.list(prefix, head)
        tables, read = [], []
        for path, local in self.store.fetch(paths, head).items():
            try:
                if isinstance(local, Exception):
                    raise local
                tables.append(parse(local))
                read.append(path)
            except FileNotFoundError as exc:
                if head.version is None:
                    raise _VanishedFile(path) from exc
                self.problems.append(f"{self.uri}: cannot read {path}: {exc}")
            except Exception as exc:  # noqa: BLE001 -- a corrupt file must not hide the other rows
                self.problems.append(f"{self.uri}: skipped unreadable file {path} ({type(exc).__name__}: {exc})")
        return tables, read

    def _commit(self, plan: Plan, message: str, create: bool = True) -> str | None:
        """Commit plan(head); when someone else committed first (412), re-read and re-plan.
        Returns the URL of the pull request the commit opened, if it opened one."""
        for attempt in range(MAX_ATTEMPTS):
            try:
                return self._commit_once(plan, message, create)
            except (_Conflict, _VanishedFile):
                time.sleep(random.uniform(0, min(2.0, 0.05 * 2**attempt)))  # jitter spreads the retries
        raise RegistryConflictError(f"Gave up writing to {self.uri} after {MAX_ATTEMPTS} attempts: other "
                                    "writers kept committing first. Try again.")

    def _commit_once(self, plan: Plan, message: str, create: bool) -> str | None:
        head = self.store.head(create=create)
        planned = plan(head)
        if planned is None:
            return None
        adds, deletes = planned
        if not head.has_card:  # the first write brings the dataset card
            adds = {"README.md": card_text(self.uri, self.store.dataset).encode(), **adds}
        return self.store.commit(adds, deletes, message, head)

    @staticmethod
    def _write_csv(path: Path, table: pa.Table) -> None:
        with path.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.DictWriter(handle, fieldnames=SCHEMA.names)
            writer.writeheader()
            for row in table_to_rows(table):
                data = row.to_dict(vector=False)
                data.update(vector=encode_vector(row.vector), declared_parents=json.dumps(row.declared_parents))
                writer.writerow(data)


def _group(items: Sequence, attribute: str) -> dict[str, list]:
    groups: dict[str, list] = {}
    for item in items:
        groups.setdefault(getattr(item, attribute), []).append(item)
    return groups


def _output_dim(spec: str) -> int:
    from ..spec import KNOWN_SPECS

    known = KNOWN_SPECS.get(spec)
    return known.vector_dim if known else 0


def open_registry(uri: str | None = None, token: str | None = None, write_mode: str = "auto") -> Registry:
    """`hf://datasets/ORG/NAME` (created on first write) or a local folder; default:
    $HF_DNA_REGISTRY, else the registry in hf-dna's cache. `write_mode` for a Hub registry:
    auto (a pull request if it is not the user's), pr, or direct."""
    uri = uri or default_registry()
    if uri.startswith("hf://"):
        repo_id = uri.removeprefix(HUB_PREFIX).strip("/")
        if not uri.startswith(HUB_PREFIX) or repo_id.count("/") != 1:
            raise RegistryError(f"Not a registry address: {uri!r}. Use hf://datasets/ORG/NAME or a local folder.")
        return Registry(HubStore(repo_id, token, write_mode))
    return Registry(LocalStore(uri))
