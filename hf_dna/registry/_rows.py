"""Registry rows and their parquet files: schema, (de)serialisation, deduplication, names.

No I/O beyond bytes and paths handed in; the backends in `_store` move the bytes.
"""

from __future__ import annotations

import io
import os
import re
import string
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from importlib import resources
from pathlib import Path
from typing import Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from .. import __version__
from ..dna import DNA, utc_now
from ..errors import DnaFormatError

SCHEMA = pa.schema([
    ("model_id", pa.string()), ("revision", pa.string()), ("spec", pa.string()),
    ("vector", pa.list_(pa.float32())), ("created_at", pa.string()),
    ("declared_parents", pa.list_(pa.string())), ("relation", pa.string()),
    ("stamped_at", pa.string()), ("stamped_by", pa.string()), ("tool", pa.string()),
    ("source", pa.string()),
])
KEY = ["model_id", "revision", "spec"]
_SPEC_PART = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")


def stamp_time() -> str:
    return utc_now(precise=True)


@dataclass
class RegistryRow:
    """One registry entry: a model's DNA plus who stamped it, when, and its declared lineage."""

    model_id: str
    revision: str
    spec: str
    vector: np.ndarray = field(repr=False)
    created_at: str | None = None
    declared_parents: list[str] = field(default_factory=list)
    relation: str | None = None
    stamped_at: str = field(default_factory=stamp_time)
    stamped_by: str | None = None
    tool: str = f"hf-dna {__version__}"
    source: str = "stamp"

    @classmethod
    def from_dna(cls, dna: DNA, declared_parents: Sequence[str] = (), relation: str | None = None,
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


def rows_to_table(rows: list[RegistryRow]) -> pa.Table:
    vectors = [np.asarray(r.vector, np.float32).reshape(-1) for r in rows]
    offsets = np.concatenate([[0], np.cumsum([len(v) for v in vectors])]).astype(np.int32)
    values = np.concatenate(vectors) if vectors else np.zeros(0, np.float32)
    columns = {name: [getattr(r, name) for r in rows] for name in SCHEMA.names if name != "vector"}
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
    columns = [list(vectors) if name == "vector" else table.column(name).to_pylist() for name in SCHEMA.names]
    parents = SCHEMA.names.index("declared_parents")
    columns[parents] = [p or [] for p in columns[parents]]
    return [RegistryRow(*values) for values in zip(*columns)]  # SCHEMA order is the field order


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
    stamped = pc.cast(table.column("stamped_at"), pa.timestamp("us", tz="UTC"))
    oldest = pa.scalar(0, pa.timestamp("us", tz="UTC"))  # an unknown stamp loses to any known one
    return table.append_column("_ts", pc.fill_null(stamped, oldest))


def latest(tables: list[pa.Table]) -> pa.Table:
    """Deduplicate: the last row by (stamped_at, file order, row order) per key wins; the
    winners come out in that order. Sorts only the small key columns, takes the rows once."""
    if not tables:
        return SCHEMA.empty_table()
    table = pa.concat_tables(tables)
    order = pa.table({"_ts": table["_ts"], "_order": np.arange(table.num_rows)})
    by_time = pc.sort_indices(order, [("_ts", "ascending"), ("_order", "ascending")]).to_numpy()
    keys = table.select(KEY).take(by_time).append_column("_pos", pa.array(np.arange(table.num_rows)))
    winners = np.sort(keys.group_by(KEY).aggregate([("_pos", "max")]).column("_pos_max").to_numpy())
    return table.select(SCHEMA.names).take(by_time[winners])


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
    # snappy (the default): float vectors barely compress; zstd saved ~6% but read 2x slower
    pq.write_table(table, sink, compression="snappy")
    return sink.getvalue()


def card_text(uri: str, dataset: str) -> str:
    template = resources.files("hf_dna").joinpath("templates/registry_card.md").read_text(encoding="utf-8")
    return string.Template(template).safe_substitute(uri=uri, dataset=dataset, version=__version__)
