"""Where hf-dna keeps its own files (no heavy imports here: the CLI reads it at start-up)."""

from __future__ import annotations

import os
from pathlib import Path


def cache_dir() -> Path:
    """hf-dna's cache (demo models, the default registry): $HF_DNA_CACHE or ~/.cache/hf-dna."""
    return Path(os.environ.get("HF_DNA_CACHE") or Path.home() / ".cache" / "hf-dna")


def default_registry() -> str:
    """The registry used when none is given: $HF_DNA_REGISTRY, else a folder in the cache."""
    return os.environ.get("HF_DNA_REGISTRY") or str(cache_dir() / "registry")
