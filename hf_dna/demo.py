"""The offline demo: a tiny model family built here, fingerprinted, and compared.

It shows the whole flow without the Hub: a base model, a fine-tune of it on other text,
and an unrelated model trained on different text; the fine-tune's DNA sits nearest its base.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .dna import DNA
from .extraction import extract
from .paths import cache_dir
from .zoo import DEMO_FAMILY, build


@dataclass
class DemoResult:
    dnas: list[DNA]
    parents: dict[str, str | None]  # the true lineage the zoo was built with
    distances: np.ndarray

    def nearest(self, name: str) -> tuple[str, float]:
        i = [d.model for d in self.dnas].index(name)
        row = np.where(np.arange(len(self.dnas)) == i, np.inf, self.distances[i])
        j = int(np.argmin(row))
        return self.dnas[j].model, float(row[j])

    @property
    def fine_tunes_nearest_their_base(self) -> bool:
        return all(self.nearest(child)[0] == parent for child, parent in self.parents.items() if parent)


def run_demo(workdir: str | Path | None = None, *, batch_size: int = 32, progress: bool = True) -> DemoResult:
    """Build the demo family (cached between runs), extract every DNA, compare them all."""
    root = Path(workdir) if workdir else cache_dir() / "demo-zoo"
    paths = build(DEMO_FAMILY, root)
    dnas = [extract(str(path), batch_size=batch_size, device="cpu", progress=progress) for path in paths.values()]
    matrix = np.array([[a.distance(b) for b in dnas] for a in dnas])
    parents = {r.name: r.parent for r in DEMO_FAMILY}
    return DemoResult(dnas=dnas, parents=parents, distances=matrix)
