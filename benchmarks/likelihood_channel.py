"""Evidence for the next spec: the likelihood channel on the lineage zoo, beside dna-1.

For every zoo model (benchmarks/lineage_zoo.py, built by benchmarks/lineage.py in the same
--workdir) it computes the per-character NLL profile of the 160 probe texts
(hf_dna.likelihood) and reports, for each way of normalising the profile, how often a
query's nearest registry model is a true parent (parent top-1), plus the effect of a
Gaussian projection to k dims (the DNA is a projection). Run benchmarks/lineage.py first.

Run: .venv/bin/python benchmarks/likelihood_channel.py [--workdir DIR]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np
from scipy.stats import rankdata

sys.path.insert(0, str(Path(__file__).parent))

from lineage_zoo import zoo  # noqa: E402

from hf_dna.dna import DNA  # noqa: E402
from hf_dna.likelihood import char_profile, standardise  # noqa: E402
from hf_dna.probes import bundled_probes  # noqa: E402
from hf_dna.spec import current_spec  # noqa: E402
from hf_dna.zoo import load  # noqa: E402


def profiles(members, workdir: Path) -> dict[str, np.ndarray]:
    texts = [p.text for p in bundled_probes()]
    cache = workdir / "likelihood"
    cache.mkdir(exist_ok=True)
    out = {}
    for m in members:
        file = cache / f"{m.recipe.name}.npy"
        if not file.is_file():
            model, tokenizer = load(workdir / "models" / m.recipe.name)
            np.save(file, char_profile(model.float(), tokenizer, texts))
        out[m.recipe.name] = np.load(file)
    return out


def per_text(profile: np.ndarray, bounds: np.ndarray) -> np.ndarray:
    """z-score within each text: removes how hard a whole text is (mostly its domain)."""
    parts = []
    for a, b in zip(bounds[:-1], bounds[1:]):
        part = profile[a:b] - profile[a:b].mean()
        sd = part.std()
        parts.append(part / sd if sd > 0 else part)
    return standardise(np.concatenate(parts))


def top1(members, X: np.ndarray) -> tuple[int, int]:
    names = [m.recipe.name for m in members]
    registry = [i for i, m in enumerate(members) if m.in_registry]
    hits = total = 0
    for i, m in enumerate(members):
        if m.in_registry or not m.true_parents:
            continue
        nearest = min(registry, key=lambda j: np.linalg.norm(X[i] - X[j]))
        hits += names[nearest] in m.true_parents
        total += 1
    return hits, total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", default=str(Path(tempfile.gettempdir()) / "hf-dna-lineage"))
    workdir = Path(parser.parse_args().workdir)
    members = zoo()
    names = [m.recipe.name for m in members]
    bounds = np.cumsum([0] + [len(p.text) for p in bundled_probes()])
    prof = profiles(members, workdir)
    dna_dir = workdir / "dna" / current_spec().id.replace("/", "-")
    text = np.array([DNA.load(dna_dir / f"{n}.json").vector for n in names])
    variants = {
        f"text answers ({current_spec().id})": text,
        "likelihood, global correlation": np.array([standardise(prof[n]) for n in names]),
        "likelihood, log1p": np.array([standardise(np.log1p(prof[n])) for n in names]),
        "likelihood, rank": np.array([standardise(rankdata(prof[n])) for n in names]),
        "likelihood, per-text z": np.array([per_text(prof[n], bounds) for n in names]),
    }
    print(f"{'channel':<40} parent top-1")
    for label, X in variants.items():
        hits, total = top1(members, X)
        print(f"{label:<40} {hits}/{total} = {hits / total:.2f}")
    Z = variants["likelihood, per-text z"]
    print(f"\nper-text z projected to k dims (Gaussian, 3 seeds): parent top-1")
    for k in (64, 128, 256, 512):
        scores = [top1(members, Z @ (np.random.RandomState(s).standard_normal((Z.shape[1], k)) / np.sqrt(k)))[0]
                  for s in range(3)]
        print(f"  k={k:<4} {scores} of {top1(members, Z)[1]}")


if __name__ == "__main__":
    main()
