"""Evidence files beside the registry's rows: schema and (de)serialisation (format in
`hf_dna.evidence`). No I/O beyond bytes and paths handed in."""

from __future__ import annotations

import io
import json
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from ..evidence import Evidence
from ._rows import uuid7

EVIDENCE_DIR = "evidence"
EVIDENCE_SCHEMA = pa.schema([
    ("model_id", pa.string()), ("revision", pa.string()), ("probes_sha256", pa.string()),
    ("generation", pa.string()), ("likelihood", pa.string()), ("answers", pa.list_(pa.string())),
    ("char_nll", pa.list_(pa.float32())), ("spec", pa.string()), ("created_at", pa.string()),
    ("responses_sha256", pa.string()), ("runtime", pa.string()), ("tool", pa.string()), ("stored_at", pa.string()),
])


def new_evidence_path(probes_sha256: str) -> str:
    return f"{EVIDENCE_DIR}/{probes_sha256[:16]}/{datetime.now(timezone.utc):%Y-%m-%d}/{uuid7()}.parquet"


def evidence_table(records: list[Evidence]) -> pa.Table:
    columns = {name: [getattr(e, name) for e in records] for name in EVIDENCE_SCHEMA.names}
    columns["char_nll"] = [None if e.char_nll is None else np.asarray(e.char_nll, np.float32) for e in records]
    columns["runtime"] = [json.dumps(e.runtime, sort_keys=True) for e in records]
    return pa.table(columns, schema=EVIDENCE_SCHEMA)


def parse_evidence(source: str | Path | io.BytesIO) -> list[Evidence]:
    """The records of one evidence file (a file missing a required column is refused)."""
    table = pq.read_table(source)
    missing = [n for n in ("model_id", "revision", "probes_sha256", "generation", "answers") if n not in table.column_names]
    if missing:
        raise ValueError(f"missing columns {missing}")
    records = []
    for row in table.to_pylist():
        nll = row.get("char_nll")
        records.append(Evidence(
            model_id=row["model_id"], revision=row["revision"], probes_sha256=row["probes_sha256"],
            generation=row["generation"], likelihood=row.get("likelihood"), answers=list(row["answers"] or []),
            char_nll=None if nll is None else np.asarray(nll, np.float32), spec=row.get("spec") or "",
            created_at=row.get("created_at"), responses_sha256=row.get("responses_sha256") or "",
            runtime=json.loads(row.get("runtime") or "{}"), tool=row.get("tool") or "", stored_at=row.get("stored_at") or ""))
    return records


def latest_evidence(records: list[Evidence]) -> list[Evidence]:
    """One record per key: the last by (stored_at, file order)."""
    ordered = sorted(enumerate(records), key=lambda pair: (pair[1].stored_at, pair[0]))
    return list({record.key: record for _, record in ordered}.values())
