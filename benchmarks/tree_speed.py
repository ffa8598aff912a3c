"""How long `hf_dna.tree` takes on 100, 500 and 2,000 models, and how long the picture takes.

Synthetic DNAs from a simulated evolution: each new model copies a random earlier model
and takes a random step in 128-D (a fine-tune: small step; now and then a new founder:
a large one), with creation dates in birth order. They are written to a temporary local
registry through `Registry.add`, then timed end to end: read the registry, the distance
matrix, neighbor joining, rooting, Newick. The plot is timed separately.

    .venv/bin/python benchmarks/tree_speed.py [--sizes 100 500 2000] [--upgma]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from datetime import datetime, timedelta, timezone

import numpy as np

import hf_dna
from hf_dna.registry import RegistryRow, open_registry
from hf_dna.spec import current_spec

FOUNDER_RATE = 0.05  # share of models that start a new family
STEP, FOUNDER_STEP = 0.4, 3.0  # per-coordinate step sizes of a fine-tune and of a new founder


def evolve(n: int, seed: int = 0) -> list[RegistryRow]:
    """n models from a branching random walk, oldest first; ids ORG/NAME over ~n/20 organisations."""
    rng = np.random.default_rng(seed)
    start = datetime(2020, 1, 1, tzinfo=timezone.utc)
    vectors, rows = [rng.standard_normal(128) * FOUNDER_STEP], []
    for i in range(n):
        founder = i > 0 and rng.random() < FOUNDER_RATE
        parent = vectors[int(rng.integers(len(vectors)))]
        vector = parent + rng.standard_normal(128) * (FOUNDER_STEP if founder else STEP)
        vectors.append(vector)
        created = (start + timedelta(hours=i)).strftime("%Y-%m-%dT%H:%M:%SZ")
        rows.append(RegistryRow(model_id=f"org{int(rng.integers(max(1, n // 20)))}/model-{i}", revision=f"{i:040x}",
                                spec=current_spec().id, vector=vector.astype(np.float32), created_at=created))
    return rows


def measure(n: int, method: str, workdir: str) -> dict:
    uri = os.path.join(workdir, f"registry-{n}-{method}")
    started = time.perf_counter()
    open_registry(uri).add(evolve(n))
    written = time.perf_counter()
    result = hf_dna.tree(registry=uri, method=method)
    built = time.perf_counter()
    picture = result.plot(os.path.join(workdir, f"tree-{n}-{method}.png"))
    drawn = time.perf_counter()
    return {"n": n, "method": method, "write": written - started, "tree": built - written, "plot": drawn - built,
            "pixels": f"{picture.width_px}x{picture.height_px}", "root": result.root.how}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100, 500, 2000])
    parser.add_argument("--upgma", action="store_true", help="also time UPGMA trees")
    args = parser.parse_args()
    hf_dna.tree  # noqa: B018 -- import the API (and scikit-bio, on first use) outside the timings
    import skbio.tree  # noqa: F401

    methods = ["nj", "upgma"] if args.upgma else ["nj"]
    print(f"{'models':>7} {'method':>6} {'registry add':>13} {'tree (s)':>9} {'plot (s)':>9} {'picture px':>12}  root")
    with tempfile.TemporaryDirectory() as workdir:
        for n in args.sizes:
            for method in methods:
                r = measure(n, method, workdir)
                print(f"{r['n']:>7} {r['method']:>6} {r['write']:>13.2f} {r['tree']:>9.2f} {r['plot']:>9.2f} "
                      f"{r['pixels']:>12}  {r['root']}")


if __name__ == "__main__":
    main()
