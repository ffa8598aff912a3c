"""How much fine-tuning does the inheritance check survive?

The check (hf_dna.tail) says a model carries another's weights when the seed-given part of
their next-token tails correlates. A fine-tune drifts from its parent as it trains longer or
harder; this script fine-tunes one founder of the lineage zoo (GPT-2 + BPE, "kitchen") on other
text for more and more steps, at two learning rates, and prints each fine-tune's inheritance
similarity to the founder, whether the spec's default calibration still calls it inherited,
and its DNA distance. A same-data twin (another seed) is the reference for "not inherited".

Run: .venv/bin/python benchmarks/inheritance_decay.py [--workdir DIR]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).parent))

from lineage_zoo import zoo  # noqa: E402

from hf_dna import extract  # noqa: E402
from hf_dna.models import load_model, resolve  # noqa: E402
from hf_dna.spec import current_spec  # noqa: E402
from hf_dna.tail import compute_tail  # noqa: E402
from hf_dna.whois import default_inheritance_calibrations  # noqa: E402
from hf_dna.zoo import Recipe, build  # noqa: E402

STEPS = (80, 400, 1600)
RATES = (1e-3, 3e-3)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", default=str(Path(tempfile.gettempdir()) / "hf-dna-decay"))
    args = parser.parse_args()
    members = {m.recipe.name: m.recipe for m in zoo(1)}  # the kitchen family's recipes
    founder, twin = members["kitchen"], members["kitchen-twin"]
    fine_tunes = [Recipe(f"kitchen-ft-{steps}-{lr:g}", corpus="garden", parent="kitchen", steps=steps, lr=lr, seed=7)
                  for lr in RATES for steps in STEPS]
    paths = build([founder, twin, *fine_tunes], Path(args.workdir) / "models")
    spec = current_spec()
    inheritance = default_inheritance_calibrations(spec.id)[0]

    def record(name):
        model, tokenizer = load_model(resolve(str(paths[name]), model_id=name), device="cpu", dtype=torch.float32)
        return compute_tail(model, tokenizer, spec.tail, model_id=name, revision=name)

    base_tail, base_dna = record("kitchen"), extract(str(paths["kitchen"]), progress=False)
    print(f"spec {spec.id}; inherited when similarity > {1 - inheritance.boundary:.3f}\n")
    print(f"{'model':<26} {'steps':>6} {'lr':>7} {'similarity':>11} {'inherited':>10} {'DNA distance':>13}")
    for recipe in [*fine_tunes, twin]:
        similarity = base_tail.similarity(record(recipe.name))
        distance = base_dna.distance(extract(str(paths[recipe.name]), progress=False))
        called = inheritance.score(1 - similarity) >= 0.5
        print(f"{recipe.name:<26} {recipe.steps:>6} {recipe.lr:>7g} {similarity:>11.3f} {str(called):>10} {distance:>13.3f}")


if __name__ == "__main__":
    main()
