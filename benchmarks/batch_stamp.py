"""Batch stamping throughput: models per hour with the local engine and with Ray.

    .venv/bin/python benchmarks/batch_stamp.py [--models 8] [--workers 2] [--workdir DIR]

Builds N tiny models (hf_dna.zoo, a few training steps each: ~1M parameters, 160 probes x 64
new tokens), then stamps them all into a fresh local registry (`--to registry`: the model
folders stay untouched) with `--engine local` and again with `--engine ray` and `--workers`
tasks at a time (one CPU each). Wall time includes everything a user waits for: for Ray, the
start of a local cluster and each worker's first import of torch and the encoder. Also checks
that both engines wrote the same rows.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np

from hf_dna.batch import stamp_many
from hf_dna.registry import open_registry
from hf_dna.zoo import CORPORA, Recipe, build


def models(n: int, workdir: Path) -> list[str]:
    recipes = [Recipe(f"bench-{i}", corpus=CORPORA[i % len(CORPORA)], steps=30, seed=i) for i in range(n)]
    return [str(p) for p in build(recipes, workdir / "models").values()]


def run(engine: str, paths: list[str], registry: Path, workers: int) -> tuple[float, dict]:
    start = time.perf_counter()
    result = stamp_many(paths, registry=str(registry), engine=engine, to=("registry",), progress=False,
                        workers=workers if engine == "ray" else None)
    seconds = time.perf_counter() - start
    failed = [i for i in result.items if i.status != "stamped"]
    if failed:
        raise SystemExit(f"{engine}: {failed}")
    return seconds, {r.model_id: r.vector for r in open_registry(str(registry)).rows()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=int, default=8)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--workdir", type=Path, help="Keep the built models here (default: a temp dir).")
    args = parser.parse_args()
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="hf-dna-batch-bench-"))
    os.environ.setdefault("HF_DNA_CACHE", str(workdir / "cache"))
    paths = models(args.models, workdir)
    stamp_id = f"{time.time_ns()}"
    local_s, local_rows = run("local", paths, workdir / f"registry-local-{stamp_id}", args.workers)
    ray_s, ray_rows = run("ray", paths, workdir / f"registry-ray-{stamp_id}", args.workers)
    diff = max(float(np.abs(local_rows[m] - ray_rows[m]).max()) for m in local_rows)
    threads = os.environ.get("OMP_NUM_THREADS", "unset")
    print(f"Batch stamping of {len(paths)} tiny models (~1M params, 160 probes x 64 new tokens, spec dna-2), "
          f"CPU, {os.cpu_count()} cores, OMP_NUM_THREADS={threads}")
    print(f"{'engine':<8}{'workers':>8}{'models':>8}{'seconds':>10}{'models/hour':>13}")
    for engine, workers, seconds in (("local", 1, local_s), ("ray", args.workers, ray_s)):
        print(f"{engine:<8}{workers:>8}{len(paths):>8}{seconds:>10.1f}{len(paths) / seconds * 3600:>13.0f}")
    print(f"same rows from both engines: max |vector difference| = {diff:.1e}")


if __name__ == "__main__":
    main()
