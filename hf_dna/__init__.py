"""hf-dna: fingerprint language models by their behaviour and trace their lineage on the Hub.

    >>> import hf_dna
    >>> dna = hf_dna.extract("org/model")          # a DNA record (hf_dna.DNA)
    >>> hf_dna.compare(dna, "other-dna.json")       # per-probe distance

Public names are imported lazily, so `import hf_dna` (and `hf-dna spec`) stays fast
without loading torch.
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"

_EXPORTS = {
    "extract": "extraction",
    "compare": "comparison",
    "DNA": "dna",
    "Spec": "spec",
    "current_spec": "spec",
    "get_spec": "spec",
    "load_probes": "probes",
    "Registry": "registry",
    "RegistryRow": "registry",
    "open_registry": "registry",
    "stamp": "stamping",
    "stamp_many": "batch",
    "respec": "respec",
    "tree": "phylo",
    "map": "phylo",
    "matrix": "phylo",
}

__all__ = ["__version__", *_EXPORTS]


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
    raise AttributeError(f"module 'hf_dna' has no attribute {name!r}")
