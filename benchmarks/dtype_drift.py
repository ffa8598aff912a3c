"""How far a DNA drifts with the batch size and the dtype (the noise floor of `identical`).

Extracts the demo family's models (hf_dna.zoo.DEMO_FAMILY) under float32 with batch 16
(the reference), float32 with batch 1, bfloat16 and float16, and prints each distance to
the reference next to the distance between different models, for scale.

Run: .venv/bin/python benchmarks/dtype_drift.py [--workdir DIR]
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from hf_dna import extract
from hf_dna.zoo import DEMO_FAMILY, build

SETTINGS = (("float32", 1), ("bfloat16", 16), ("float16", 16))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", default=str(Path(tempfile.gettempdir()) / "hf-dna-drift"))
    paths = build(DEMO_FAMILY, Path(parser.parse_args().workdir))
    refs = {name: extract(str(p), dtype="float32", batch_size=16, device="cpu", progress=False) for name, p in paths.items()}
    print(f"{'model':<24} " + " ".join(f"{d}/b{b:<3}".rjust(14) for d, b in SETTINGS) + "   nearest other model")
    for name, path in paths.items():
        drifts = [refs[name].distance(extract(str(path), dtype=d, batch_size=b, device="cpu", progress=False))
                  for d, b in SETTINGS]
        other = min(refs[name].distance(refs[o]) for o in refs if o != name)
        print(f"{name:<24} " + " ".join(f"{x:14.4f}" for x in drifts) + f"   {other:.4f}")


if __name__ == "__main__":
    main()
