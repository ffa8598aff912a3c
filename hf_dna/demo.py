"""The offline demo: the main job end to end on a tiny model family built here.

It shows the whole flow without the Hub: a base model, a fine-tune of it on other text whose
card does not say where it came from, and an unrelated model trained on different text.
Each is stamped (card block and a row in a local registry, as `hf-dna stamp` does), `whois`
asks about the fine-tune and flags its undeclared parent, and `tree` draws the family.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .dna import DNA
from .paths import cache_dir
from .phylo import TreeResult, tree
from .stamping import StampResult, stamp
from .whois import WhoisReport, whois
from .zoo import DEMO_FAMILY, build


@dataclass
class DemoResult:
    dnas: list[DNA]
    parents: dict[str, str | None]  # the true lineage the zoo was built with
    distances: np.ndarray
    stamps: list[StampResult]
    whois: WhoisReport  # about the fine-tune, whose card declares no base model
    tree: TreeResult
    registry: str  # the demo's own local registry (the user's default one is left alone)

    def nearest(self, name: str) -> tuple[str, float]:
        i = [d.model for d in self.dnas].index(name)
        row = np.where(np.arange(len(self.dnas)) == i, np.inf, self.distances[i])
        j = int(np.argmin(row))
        return self.dnas[j].model, float(row[j])

    @property
    def fine_tunes_nearest_their_base(self) -> bool:
        return all(self.nearest(child)[0] == parent for child, parent in self.parents.items() if parent)

    @property
    def undeclared_parent_found(self) -> bool:
        """whois flagged exactly the fine-tune's true parent."""
        truth = self.parents[self.whois.model]
        return [c.model for c in self.whois.undocumented] == [truth]


def run_demo(workdir: str | Path | None = None, *, batch_size: int = 32, progress: bool = True) -> DemoResult:
    """Build the demo family (cached between runs), stamp every model into the demo's local
    registry (bases first: stamp order is the local stand-in for the Hub's creation date), ask
    `whois` about the fine-tune, and build the tree. Each model runs once; a rerun reuses the
    DNAs stamped in the model cards, and the inheritance records the first run stored."""
    root = Path(workdir) if workdir else cache_dir() / "demo-zoo"
    paths = build(DEMO_FAMILY, root)
    registry = root / "registry"  # kept between runs: a reused DNA brings no new inheritance record
    order = sorted(DEMO_FAMILY, key=lambda r: r.parent is not None)
    stamps = [stamp(str(paths[r.name]), registry=str(registry), to=("card", "registry"), model_id=r.name,
                    batch_size=batch_size, device="cpu", progress=progress) for r in order]
    dnas = [s.dna for s in stamps]
    child = next(r.name for r in order if r.parent)
    report = whois(str(paths[child]), registry=str(registry), model_id=child, progress=progress)
    matrix = np.array([[a.distance(b) for b in dnas] for a in dnas])
    return DemoResult(dnas=dnas, parents={r.name: r.parent for r in DEMO_FAMILY}, distances=matrix, stamps=stamps,
                      whois=report, tree=tree(registry=str(registry)), registry=str(registry))
