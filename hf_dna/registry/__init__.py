"""The shared DNA registry: one code path for a local folder and an HF dataset repo.

Layout (DESIGN.md "Formats" -> Registry), the same in both backends:

    README.md                                           dataset card (written on first write)
    entries/<spec name>/<spec hash>/<YYYY-MM-DD>/<uuid7>.parquet
    evidence/<probe-set sha256[:16]>/<YYYY-MM-DD>/<uuid7>.parquet   answers + likelihood profiles
                                                        (hf_dna.evidence), read by `respec`

Files are append-only: every write adds one new, uniquely named file, so concurrent writers
never touch each other's files; `compact` merges them. A later row (by `stamped_at`, then file
order) for the same (model_id, revision, spec) wins. uuid7 names sort by time, so path order
is write order.

    >>> registry = open_registry("hf://datasets/ORG/NAME")
    >>> registry.add([RegistryRow.from_dna(dna)], evidence=[evidence])  # evidence: optional
    >>> registry.evidence()                          # the latest record per model, revision, settings
    >>> rows, vectors = registry.matrix(dna.spec)
"""

from ._registry import CompactResult, Registry, open_registry
from ._rows import SCHEMA, RegistryRow

__all__ = ["SCHEMA", "CompactResult", "Registry", "RegistryRow", "open_registry"]
