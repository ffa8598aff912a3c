"""Registry throughput: add / rows() / matrix() / compact, local and through the test Hub server.

    .venv/bin/python benchmarks/registry_io.py [--sizes 10000 100000] [--batch 1000]

The Hub figures go through the real huggingface_hub client and the in-process test server
(tests/hub_server.py) on 127.0.0.1: they measure our code and the client's protocol overhead,
not the real Hub's network. The server shares this process (and the GIL) with the client.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
WORKDIR = tempfile.mkdtemp(prefix="hf-dna-bench-")

from hub_server import HubServer  # noqa: E402

HUB = HubServer().start()
# Like tests/conftest.py: the clients read these once, on import, so set them first.
for _var in ("HF_HUB_OFFLINE", "HF_TOKEN", "HUGGING_FACE_HUB_TOKEN"):
    os.environ.pop(_var, None)
os.environ.update({"HF_ENDPOINT": HUB.url, "HF_HOME": os.path.join(WORKDIR, "hf_home"), "HF_HUB_DISABLE_XET": "1",
                   "HF_HUB_DISABLE_TELEMETRY": "1", "HF_HUB_DISABLE_PROGRESS_BARS": "1"})

import numpy as np  # noqa: E402

from hf_dna.registry import Registry, RegistryRow, open_registry  # noqa: E402
from hf_dna.spec import current_spec  # noqa: E402

SPEC = current_spec().id
TOKEN = HUB.tokens["alice"]


def make_rows(n: int, seed: int = 0) -> list[RegistryRow]:
    vectors = np.random.default_rng(seed).standard_normal((n, 128)).astype(np.float32)
    return [RegistryRow(model_id=f"org/model-{i}", revision=f"{i:040x}", spec=SPEC, vector=vectors[i],
                        created_at="2026-01-01T00:00:00Z", declared_parents=["org/base"]) for i in range(n)]


def fresh(backend: str) -> Registry:
    name = f"bench-{uuid.uuid4().hex[:8]}"
    uri = os.path.join(WORKDIR, name) if backend == "local" else f"hf://datasets/alice/{name}"
    return open_registry(uri, token=TOKEN)


def timed(func) -> tuple[float, object]:
    start = time.perf_counter()
    result = func()
    return time.perf_counter() - start, result


def bench(backend: str, n: int, batch: int) -> list[tuple]:
    rows = make_rows(n)
    results = []
    one = fresh(backend)
    seconds, _ = timed(lambda: one.add(rows))
    results.append((backend, n, "add (1 file)", 1, seconds))
    batched = fresh(backend)
    seconds, _ = timed(lambda: [batched.add(rows[i:i + batch]) for i in range(0, n, batch)])
    files = -(-n // batch)
    results.append((backend, n, f"add ({batch}/file)", files, seconds))
    for label in ("rows() cold", "rows() warm"):  # cold: the Hub client downloads; warm: its cache
        seconds, read = timed(batched.rows)
        assert len(read) == n, (len(read), batched.problems)
        results.append((backend, n, label, files, seconds))
    seconds, (_, matrix) = timed(lambda: batched.matrix(SPEC))
    assert matrix.shape == (n, 128)
    results.append((backend, n, "matrix()", files, seconds))
    seconds, _ = timed(batched.compact)
    results.append((backend, n, "compact()", files, seconds))
    seconds, read = timed(batched.rows)
    assert len(read) == n
    results.append((backend, n, "rows() after compact", 1, seconds))
    return results


def print_table(results: list[tuple]) -> None:
    header = f"{'backend':<8} {'rows':>7}  {'operation':<22} {'files':>5} {'seconds':>8} {'rows/s':>10}"
    print(header)
    print("-" * len(header))
    for backend, n, label, files, seconds in results:
        print(f"{backend:<8} {n:>7}  {label:<22} {files:>5} {seconds:>8.2f} {n / seconds:>10,.0f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--batch", type=int, default=1000, help="rows per file in the batched add")
    parser.add_argument("--backends", nargs="+", default=["local", "hub"], choices=["local", "hub"])
    args = parser.parse_args()
    results = []
    try:
        for backend in args.backends:  # warm-up: first-call costs (imports, connections) are not throughput
            fresh(backend).add(make_rows(10))
        for n in args.sizes:
            for backend in args.backends:
                results += bench(backend, n, args.batch)
                print(f"done: {backend} {n}", file=sys.stderr)
    finally:
        HUB.stop()
        shutil.rmtree(WORKDIR, ignore_errors=True)
    print_table(results)


if __name__ == "__main__":
    main()
