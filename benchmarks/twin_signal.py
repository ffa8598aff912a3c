"""Which behaviour tells a fine-tune from a same-data twin? (research for the lineage targets)

The lineage benchmark's remaining false flags are same-data twins: models trained on the same
text with the same recipe from another seed sit as close to each other, in dna-2, as a
fine-tune sits to its parent. This script measures, on the lineage zoo (build it first with
benchmarks/lineage.py), how well candidate signals separate true lineage pairs (parent,
grandparent, merge parent) from twin pairs within each family:

- likelihood profiles (per-character NLL, dna-2's channel) on the probe texts, random
  letter strings, word salad, random characters;
- the next-token distribution's deep tail: at every position of the texts, the log-probs
  over the whole vocabulary capped from above at their q-quantile (only the least likely
  tokens vary), centred and normalised, compared by correlation. Under-trained tokens keep
  their seed-given embeddings through a fine-tune, so a fine-tune keeps its parent's tail,
  while a twin has its own. It needs the same tokenizer (positions and vocabulary align),
  which fine-tunes have;
- that tail squeezed into k numbers by a hashed sketch (token strings hashed to buckets,
  positions to signs), as a fixed-size DNA channel would have to;
- the whole next-token log-prob matrix, double-centred, with its strongest singular directions
  removed (what the training data taught, shared by twins): the seed-given residual that
  dna-4's inheritance check compares (hf_dna.tail).

Per signal it prints the AUC (P(a lineage pair is closer than a twin pair)) and, per family,
the weakest lineage correlation against the strongest twin correlation ("rel > twin" holds
when a family is separable). Run: .venv/bin/python benchmarks/twin_signal.py --workdir /tmp/lineage2
"""

from __future__ import annotations

import argparse
import hashlib
import itertools
import random
import string
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from lineage_zoo import zoo  # noqa: E402

from hf_dna import likelihood  # noqa: E402
from hf_dna.probes import bundled_probes  # noqa: E402
from hf_dna.tail import seed_residual  # noqa: E402


def text_sets(seed: int = 7) -> dict[str, list[str]]:
    rng = random.Random(seed)
    probes = [p.text for p in bundled_probes()]
    words = sorted({w for t in probes for w in t.split() if w.isalpha()})
    letters = string.ascii_lowercase
    return {
        "probes": probes,
        "letters": [" ".join("".join(rng.choice(letters) for _ in range(rng.randint(2, 7))) for _ in range(12))
                    for _ in range(80)],
        "salad": [" ".join(rng.choice(words) for _ in range(14)) for _ in range(80)],
        "chars": ["".join(rng.choice(letters + letters.upper() + "0123456789 .,;:!?-()") for _ in range(70))
                  for _ in range(80)],
    }


@torch.inference_mode()
def measure(path: Path, sets: dict[str, list[str]], tail_texts: list[str]) -> dict:
    """Per-character NLL on every text set, and the full next-token log-probs on tail_texts."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32).eval()
    tokenizer = AutoTokenizer.from_pretrained(path)
    out = {f"nll_{k}": likelihood.char_profile(model, tokenizer, v) for k, v in sets.items()}
    context = tokenizer.bos_token_id if tokenizer.bos_token_id is not None else tokenizer.eos_token_id
    logps, lengths = [], []
    for text in tail_texts:
        ids = [context] + tokenizer(text, add_special_tokens=False)["input_ids"]
        logps.append(torch.log_softmax(model(input_ids=torch.tensor([ids])).logits[0].float(), -1).numpy())
        lengths.append(len(ids))
    out["logp"] = np.concatenate(logps).astype(np.float32)
    out["lengths"] = np.array(lengths)
    vocab = out["logp"].shape[1]
    out["tokens"] = np.array([t if t is not None else f"\0{i}" for i, t in
                              enumerate(tokenizer.convert_ids_to_tokens(list(range(vocab))))], dtype=object)
    return out


def capped_tail(logp: np.ndarray, q: float) -> np.ndarray:
    """Each position's log-probs capped at their q-quantile, centred, unit length / sqrt(positions)."""
    x = np.minimum(logp.astype(np.float64), np.quantile(logp, q, axis=1, keepdims=True))
    x -= x.mean(1, keepdims=True)
    return x / np.linalg.norm(x, axis=1, keepdims=True) / np.sqrt(len(x))


def count_sketch(x: np.ndarray, tokens: np.ndarray, lengths: np.ndarray, k: int) -> np.ndarray:
    """x (positions x vocabulary) -> k numbers: token strings hashed to a bucket and a sign,
    positions to random signs; inner products are kept in expectation."""
    digests = [int.from_bytes(hashlib.blake2b(t.encode(), digest_size=8).digest(), "little") for t in tokens]
    bucket = np.array([d % k for d in digests])
    sign = np.array([1.0 if (d >> 40) & 1 else -1.0 for d in digests])
    z = np.zeros((len(x), k))
    np.add.at(z.T, bucket, (x * sign).T)
    y, row = np.zeros(k), 0
    for i, n in enumerate(lengths):
        y += ((np.random.RandomState(1000 + i).randint(0, 2, (n, k)) * 2 - 1) * z[row:row + n]).sum(0)
        row += n
    return y


def _unit(x: np.ndarray) -> np.ndarray:
    return x / np.linalg.norm(x) * np.sqrt(len(x))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--workdir", type=Path, default=Path("/tmp/hf-dna-lineage"),
                    help="the lineage benchmark's workdir (its models/ folder is read)")
    ap.add_argument("--tail-texts", type=int, default=60, help="probe texts scored for the tail (first N)")
    args = ap.parse_args()
    members = {m.recipe.name: m for m in zoo()}
    missing = [n for n in members if not (args.workdir / "models" / n).is_dir()]
    if missing:
        sys.exit(f"models missing under {args.workdir}/models ({missing[:3]}...): run benchmarks/lineage.py "
                 f"--workdir {args.workdir} first")
    sets = text_sets()
    tail_texts = sets["probes"][:40] + sets["letters"][:args.tail_texts - 40]
    data = {}
    for name in members:
        data[name] = measure(args.workdir / "models" / name, sets, tail_texts)
        print(f"  measured {name}", file=sys.stderr, flush=True)
    lengths = {k: [len(t) for t in v] for k, v in sets.items()}

    def ancestors(n):
        seen, todo = set(), list(members[n].true_parents)
        while todo:
            p = todo.pop()
            seen.add(p)
            todo += list(members[p].true_parents)
        return seen

    def is_twin(n):
        return n.endswith("-twin") or n.endswith("-twin2")

    pairs = []  # (a, b, label, family): same family, same tokenizer (students and half copies left out)
    for a, b in itertools.combinations(members, 2):
        fam = members[a].family
        if fam != members[b].family or any(s in a + b for s in ("student", "half")):
            continue
        label = "rel" if a in ancestors(b) or b in ancestors(a) else ("twin" if is_twin(a) or is_twin(b) else "sib")
        pairs.append((a, b, label, fam))

    def report(name: str, feature) -> None:
        f = {n: feature(n) for n in members}
        per: dict[str, dict[str, list[float]]] = {}
        for a, b, label, fam in pairs:
            per.setdefault(fam, {}).setdefault(label, []).append(float(f[a] @ f[b]))
        rel = np.array([r for d in per.values() for r in d["rel"]])
        twin = np.array([r for d in per.values() for r in d["twin"]])
        auc = np.mean([(r > twin).mean() + 0.5 * (r == twin).mean() for r in rel])
        fams = "  ".join(f"{fam[:8]} {min(d['rel']):.2f}{'>' if min(d['rel']) > max(d['twin']) else '<'}"
                         f"{max(d['twin']):.2f}" for fam, d in per.items())
        print(f"{name:34} AUC {auc:.3f} | weakest rel vs strongest twin: {fams}")

    print(f"{len(pairs)} same-family pairs; correlations (1 = same behaviour)")
    for key in sets:
        report(f"likelihood on {key}",
               lambda n, key=key: likelihood.normalise_per_text(data[n][f"nll_{key}"], lengths[key]))
    for q in (1.0, 0.1, 0.03, 0.01):
        report(f"tail, positions x vocab, q={q}", lambda n, q=q: capped_tail(data[n]["logp"], q).ravel())
    for r in (0, 10, 30):  # what hf_dna.tail keeps (dna-4: 30 directions removed)
        report(f"tail residual, {r} directions removed",
               lambda n, r=r: _unit(seed_residual(data[n]["logp"], r)).ravel() / np.sqrt(len(data[n]["logp"])))
    for k in (128, 1024, 4096):
        def sketched(n, k=k):
            y = count_sketch(capped_tail(data[n]["logp"], 0.03), data[n]["tokens"], data[n]["lengths"], k)
            return y
        report(f"tail q=0.03 sketched to k={k}", sketched)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
