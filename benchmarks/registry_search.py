"""Exact nearest-neighbour search over the registry, as `whois` does it (numpy, no index).

For N synthetic DNAs of the current spec's length, times one lookup (DNA given): all
distances (hf_dna.projection.distances_to) plus the top-k selection, and reports the memory
held: the matrix, and the peak of the lookup on top of it. Also the same search over a
float16 copy of the matrix in chunks (half the memory; distances to ~3 significant digits).

Run: .venv/bin/python benchmarks/registry_search.py [--sizes 10000 100000 1000000]
"""

from __future__ import annotations

import argparse
import time
import tracemalloc

import numpy as np

from hf_dna.projection import distances_to
from hf_dna.spec import current_spec


def lookup(query: np.ndarray, matrix: np.ndarray, divisor: float, k: int = 10) -> np.ndarray:
    distances = distances_to(query, matrix, divisor)
    top = np.argpartition(distances, k)[:k]
    return top[np.argsort(distances[top])]


def lookup_half(query: np.ndarray, half: np.ndarray, divisor: float, k: int = 10, chunk: int = 131072) -> np.ndarray:
    parts = [distances_to(query, half[i:i + chunk].astype(np.float32), divisor) for i in range(0, len(half), chunk)]
    distances = np.concatenate(parts)
    top = np.argpartition(distances, k)[:k]
    return top[np.argsort(distances[top])]


def timed(fn, *args, repeat: int = 5) -> tuple[float, float]:
    """Best wall time of `repeat` calls, and the peak memory one call allocates (MiB)."""
    best = min(_once(fn, *args) for _ in range(repeat))
    tracemalloc.start()
    fn(*args)
    peak = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
    return best, peak


def _once(fn, *args) -> float:
    start = time.perf_counter()
    fn(*args)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    args = parser.parse_args()
    spec = current_spec()
    dim, divisor = spec.vector_dim, spec.distance_divisor
    rng = np.random.default_rng(0)
    print(f"spec {spec.id}: {dim} numbers per DNA")
    print(f"{'rows':>9} {'storage':>8} {'matrix MiB':>11} {'lookup s':>9} {'peak extra MiB':>15} {'same top-10':>12}")
    for n in args.sizes:
        matrix = rng.standard_normal((n, dim), dtype=np.float32)
        query = matrix[n // 2] + rng.standard_normal(dim, dtype=np.float32) * 0.01
        exact = lookup(query, matrix, divisor)
        seconds, peak = timed(lookup, query, matrix, divisor)
        print(f"{n:>9} {'float32':>8} {matrix.nbytes / 2**20:>11.0f} {seconds:>9.3f} {peak:>15.0f} {'-':>12}")
        half = matrix.astype(np.float16)
        del matrix
        seconds, peak = timed(lookup_half, query, half, divisor)
        same = np.array_equal(lookup_half(query, half, divisor), exact)
        print(f"{n:>9} {'float16':>8} {half.nbytes / 2**20:>11.0f} {seconds:>9.3f} {peak:>15.0f} {str(same):>12}")
        del half


if __name__ == "__main__":
    main()
