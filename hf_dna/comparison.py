"""`compare`: the distance between two DNAs, given as records, JSON files or models."""

from __future__ import annotations

from pathlib import Path

from .dna import DNA


def as_dna(item: DNA | str | Path, **extract_kwargs) -> DNA:
    """A DNA record as is; a path ending in .json as a saved record; anything else is a
    model reference whose DNA is computed."""
    if isinstance(item, DNA):
        return item
    if str(item).endswith(".json"):
        return DNA.load(item)
    from .extraction import extract

    return extract(str(item), **extract_kwargs)


def compare(a: DNA | str | Path, b: DNA | str | Path, **extract_kwargs) -> float:
    """Per-probe Euclidean distance between two DNAs; refuses different specs."""
    return as_dna(a, **extract_kwargs).distance(as_dna(b, **extract_kwargs))
