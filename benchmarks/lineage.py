"""Lineage benchmark: does `whois` tell a parent from a stranger?

Builds the zoo in benchmarks/lineage_zoo.py (cached in --workdir), computes every DNA,
stamps the registry part with its declared lineage into a fresh local registry (in
creation order), then asks `whois` about each query model with nothing declared and
scores the verdicts per family (grouped: a family's models are never split at random):

- parent top-1: whois's first-ranked neighbour is a true parent (the nearest by DNA, or under
  a spec with the inheritance check, the most similar model whose weights it inherited);
- flag precision: flagged models that are true ancestors of the query;
- flag recall: queries with a true parent in the registry whose parent (or, for a
  grandchild, an ancestor) is flagged;
- false flags: twins or unrelated models flagged.

Run: .venv/bin/python benchmarks/lineage.py [--families 4] [--workdir DIR] [--spec dna-2] [--write-calibration]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from lineage_zoo import zoo  # noqa: E402

import hf_dna.spec  # noqa: E402
from hf_dna import extract  # noqa: E402
from hf_dna.dna import DNA  # noqa: E402
from hf_dna.registry import RegistryRow, open_registry  # noqa: E402
from hf_dna.spec import current_spec  # noqa: E402
from hf_dna.whois import whois  # noqa: E402
from hf_dna.zoo import build  # noqa: E402


def dnas_for(members, paths, workdir: Path) -> dict[str, DNA]:
    """Each member's DNA, cached per spec next to the models."""
    cache = workdir / "dna" / current_spec().id.replace("/", "-")
    cache.mkdir(parents=True, exist_ok=True)
    out = {}
    for m in members:
        name = m.recipe.name
        file = cache / f"{name}.json"
        recipe_key = (paths[name] / ".zoo-recipe").read_text()
        if file.is_file() and json.loads(file.read_text()).get("stats", {}).get("zoo_key") == recipe_key:
            out[name] = DNA.load(file)
            continue
        dna = extract(str(paths[name]), model_id=name, device="cpu", progress=False)
        dna.stats["zoo_key"] = recipe_key
        dna.save(file)
        out[name] = dna
    return out


def tails_for(members, paths, workdir: Path) -> dict:
    """Each member's inheritance record (hf_dna.tail) under the current spec, cached like the DNAs."""
    from hf_dna.models import resolve
    from hf_dna.tail import parse_tail, record_for, tail_bytes, tail_key

    spec = current_spec()
    if spec.tail is None:
        return {}
    cache = workdir / "tails" / tail_key(spec.tail)
    cache.mkdir(parents=True, exist_ok=True)
    out = {}
    for m in members:
        name = m.recipe.name
        file = cache / f"{name}-{(paths[name] / '.zoo-recipe').read_text().strip()}.parquet"
        record = parse_tail(file) if file.is_file() else None
        if record is None or not record.answers:  # made before records kept answers: remake
            file.write_bytes(tail_bytes(record_for(resolve(str(paths[name]), model_id=name), spec=spec, device="cpu")))
            record = parse_tail(file)
        out[name] = record
    return out


def ancestors(name: str, parents: dict[str, tuple[str, ...]]) -> set[str]:
    seen, todo = set(), list(parents.get(name, ()))
    while todo:
        p = todo.pop()
        if p not in seen:
            seen.add(p)
            todo.extend(parents.get(p, ()))
    return seen


def evaluate(members, dnas, tails, paths, registry_dir: str) -> tuple[dict, list]:
    reg = open_registry(registry_dir)
    reg.add([RegistryRow.from_dna(dnas[m.recipe.name], declared_parents=list(m.true_parents))
             for m in members if m.in_registry],
            tails=[tails[m.recipe.name] for m in members if m.in_registry and m.recipe.name in tails])
    parents = {m.recipe.name: m.true_parents for m in members}
    in_registry = {m.recipe.name for m in members if m.in_registry}
    stats: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    by_kind: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    details = []
    for m in (m for m in members if not m.in_registry):
        name, fam = m.recipe.name, m.family
        report = whois(str(paths[name]), registry=registry_dir, model_id=name, dna=dnas[name], progress=False)
        true_anc = ancestors(name, parents)
        s = stats[fam]
        nearest = report.neighbors[0].model if report.neighbors else None
        flagged = [c.model for c in report.undocumented]
        if set(m.true_parents) & in_registry:
            s["with_parent"] += 1
            s["top1"] += nearest in m.true_parents
            s["recalled"] += bool(set(flagged) & true_anc)
        s["flags"] += len(flagged)
        s["true_flags"] += len(set(flagged) & true_anc)
        s["false_flags"] += len(set(flagged) - true_anc)
        details.append((name, nearest, report.neighbors[0].distance if report.neighbors else None, flagged,
                        report.calibration.source))
        k = by_kind[name[len(fam) + 1:]]
        k["queries"] += 1
        k["top1"] += nearest in m.true_parents
        k["recalled"] += bool(set(flagged) & true_anc)
        k["false_flags"] += len(set(flagged) - true_anc)
    return stats, details, by_kind


def default_calibration(members, dnas) -> dict:
    """The spec's default calibration, for registries too small to calibrate on themselves:
    P(related | distance) fitted on the zoo's true parent-child pairs against pairs with no
    true lineage (other families and same-data twins); the identical threshold is twice the
    largest distance between a model and its float16 copy."""
    import numpy as np

    from hf_dna.calibration import fit

    parents = {m.recipe.name: m.true_parents for m in members}
    names = list(dnas)
    related = {(a, b) for a in names for b in ancestors(a, parents)}
    halves = [dnas[m.recipe.name].distance(dnas[m.recipe.parent]) for m in members if m.recipe.kind == "half"]
    positive = [dnas[a].distance(dnas[b]) for a, b in related
                if next(m for m in members if m.recipe.name == a).recipe.kind != "half"]
    negative = [dnas[a].distance(dnas[b]) for i, a in enumerate(names) for b in names[:i]
                if (a, b) not in related and (b, a) not in related]
    cal = fit(np.array(positive), np.array(negative), 2 * max(halves), None)
    return {"intercept": cal.intercept, "slope": cal.slope, "identical_below": round(2 * max(halves), 4),
            "fitted_on": f"benchmarks/lineage.py zoo: {len(positive)} related / {len(negative)} unrelated pairs"}


def inheritance_calibration(members, tails) -> dict:
    """P(inherited | 1 - tail similarity), fitted on the zoo's comparable pairs (same tokenizer
    and shapes): positive when both descend from one founder (they share its initialisation:
    ancestors, siblings, merges, copies), negative otherwise (same-data twins)."""
    import numpy as np

    from hf_dna.calibration import fit

    parents = {m.recipe.name: m.true_parents for m in members}

    def founder(name):
        return min(ancestors(name, parents) | {name}, key=lambda n: (bool(parents.get(n)), n))

    family = {m.recipe.name: m.family for m in members}
    pairs = []  # (1 - similarity, inherited, family)
    names = sorted(tails)
    for i, a in enumerate(names):
        for b in names[:i]:
            similarity = tails[a].similarity(tails[b])
            if similarity is not None:
                pairs.append((1.0 - similarity, founder(a) == founder(b), family[a]))
    positive = [d for d, inherited, _ in pairs if inherited]
    negative = [d for d, inherited, _ in pairs if not inherited]
    cal = fit(np.array(positive), np.array(negative), 0.0, None)
    print(f"inheritance similarity: inherited pairs >= {1 - max(positive):.3f}, others <= {1 - min(negative):.3f} "
          f"({len(positive)} / {len(negative)} pairs); P = 0.5 at {1 - cal.boundary:.3f}", file=sys.stderr)
    # Held out by family: fitted without a family's pairs, how many of them does it get wrong?
    for fam in sorted(set(family.values())):
        train = [p for p in pairs if p[2] != fam]
        held = fit(np.array([d for d, y, _ in train if y]), np.array([d for d, y, _ in train if not y]), 0.0, None)
        wrong = sum((held.score(d) >= 0.5) != y for d, y, f in pairs if f == fam)
        print(f"  held out {fam}: boundary {1 - held.boundary:.3f}, {wrong} of "
              f"{sum(p[2] == fam for p in pairs)} of its pairs wrong", file=sys.stderr)
    return {"intercept": cal.intercept, "slope": cal.slope,
            "fitted_on": f"benchmarks/lineage.py zoo: {len(positive)} inherited / {len(negative)} other comparable pairs"}


def unshared_calibration(members, dnas, tails) -> dict:
    """P(related | DNA distance) for pairs with another tokenizer (by their records): the zoo's
    teacher-student pairs against the other such pairs. Pairs that share the tokenizer but not
    the shapes are read by their next-token divergence instead (`distilled_calibration`)."""
    import numpy as np

    from hf_dna.calibration import fit
    from hf_dna.tail import ANOTHER_TOKENIZER

    parents = {m.recipe.name: m.true_parents for m in members}
    positive, negative = [], []
    names = sorted(tails)
    for i, a in enumerate(names):
        for b in names[:i]:
            if tails[a].comparable(tails[b]) == ANOTHER_TOKENIZER:
                related = a in ancestors(b, parents) or b in ancestors(a, parents)
                (positive if related else negative).append(dnas[a].distance(dnas[b]))
    # The zoo has 4 students. Unbalanced: among models that cannot share weights a relation is
    # rare, and behaving alike mostly means similar training data (fitted with a 50/50 prior the
    # boundary fell at 0.85, past most strangers).
    cal = fit(np.array(positive), np.array(negative), 0.0, None, min_pairs=1, balanced=False)
    print(f"unshared pairs: related at {min(positive):.3f}-{max(positive):.3f}, others from {min(negative):.3f} "
          f"({len(positive)} / {len(negative)} pairs); P = 0.5 at {cal.boundary:.3f}", file=sys.stderr)
    return {"intercept": cal.intercept, "slope": cal.slope,
            "fitted_on": f"benchmarks/lineage.py zoo: {len(positive)} related / {len(negative)} other pairs "
                         "with another tokenizer"}


DISTILLED_FALSE_FLAG_RATE = 0.001  # of unrelated pairs sharing a tokenizer that the `distilled` boundary lets in


def distilled_calibration(members, tails) -> dict:
    """P(distilled | next-token divergence) for models that share the tokenizer but not the
    shapes, from every pair that shares a tokenizer and no lineage at all (the same-data models:
    twins of the same shape, which sit closest, and of another architecture). The zoo's
    logit-distilled students are only counted against it."""
    import math

    import numpy as np
    from scipy.stats import norm

    from hf_dna.tail import ANOTHER_SHAPE

    parents = {m.recipe.name: m.true_parents for m in members}
    positive, negative = [], []
    names = sorted(tails)
    for i, a in enumerate(names):
        for b in names[:i]:
            divergence = tails[a].divergence(tails[b])
            if divergence is None:
                continue
            lineage_a, lineage_b = ancestors(a, parents) | {a}, ancestors(b, parents) | {b}
            if (a in lineage_b or b in lineage_a) and tails[a].comparable(tails[b]) == ANOTHER_SHAPE:
                positive.append(divergence)
            elif lineage_a.isdisjoint(lineage_b):
                negative.append(divergence)
    # Fitted on the unrelated pairs alone. A logistic regression on both classes is pulled about
    # by the students that did not learn their teachers (they sit as far as strangers): on zoo 3
    # its boundary fell at 0.75 with a 50/50 prior (past the same-data models) and at 0.12 with
    # the pairs' own (between the two students that did learn). Instead: a normal fit to the
    # unrelated pairs' log divergences (a ratio scale: they span two orders of magnitude),
    # P = 0.5 where one unrelated pair in a thousand would fall, and the logistic of the same
    # spread.
    logs = np.log(negative)
    mean, spread = float(logs.mean()), float(logs.std(ddof=1))
    boundary = mean + float(norm.ppf(DISTILLED_FALSE_FLAG_RATE)) * spread
    slope = -math.pi / (math.sqrt(3) * spread)
    caught = sum(d < math.exp(boundary) for d in positive)
    print(f"distilled: teacher-student divergence {', '.join(f'{d:.2f}' for d in sorted(positive))}; unrelated pairs "
          f"from {min(negative):.2f} ({len(negative)} pairs); P = 0.5 at {math.exp(boundary):.3f} "
          f"({caught} of {len(positive)} students below)", file=sys.stderr)
    return {"intercept": -slope * boundary, "slope": slope, "feature": "log divergence",
            "fitted_on": f"benchmarks/lineage.py zoo: {len(negative)} unrelated pairs that share a tokenizer "
                         f"(P = 0.5 at their {DISTILLED_FALSE_FLAG_RATE:.1%} quantile)"}


def print_table(stats) -> None:
    header = f"{'family':<10} {'parent top-1':>13} {'flag precision':>15} {'flag recall':>12} {'false flags':>12}"
    print(header)
    print("-" * len(header))
    total = defaultdict(float)
    for fam, s in sorted(stats.items()):
        for k, v in s.items():
            total[k] += v
        print(_row(fam, s))
    print("-" * len(header))
    print(_row("all", total))


# What each kind of query is (its name after the family's), in the zoo's order.
KINDS = {"ft-a-ft": "grandchild (fine-tune of a fine-tune)", "merge": "merge of two fine-tunes",
         "half": "float16 copy", "student": "student: own tokenizer, teacher's text",
         "kd": "student: teacher's tokenizer and logits", "ft-c": "fine-tune on the founder's text",
         "twin2": "same-data twin (no parent)", "xtwin": "same-data, other architecture"}


def print_kinds(by_kind) -> None:
    """Per kind of query, over all families: how often its true parent is first and flagged."""
    print(f"\n{'kind of query':<42} {'queries':>7} {'parent first':>12} {'flagged':>8} {'false flags':>12}")
    for key, label in KINDS.items():
        k = by_kind.get(key)
        if k:
            print(f"{label:<42} {int(k['queries']):>7d} {int(k['top1']):>12d} {int(k['recalled']):>8d} "
                  f"{int(k['false_flags']):>12d}")


def _row(name, s) -> str:
    top1 = s["top1"] / s["with_parent"] if s["with_parent"] else float("nan")
    precision = s["true_flags"] / s["flags"] if s["flags"] else float("nan")
    recall = s["recalled"] / s["with_parent"] if s["with_parent"] else float("nan")
    return f"{name:<10} {top1:>13.2f} {precision:>15.2f} {recall:>12.2f} {int(s['false_flags']):>12d}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--families", type=int, default=4)
    parser.add_argument("--workdir", default=str(Path(tempfile.gettempdir()) / "hf-dna-lineage"))
    parser.add_argument("--spec", help="Spec to measure, a name or id (default: the current spec)")
    parser.add_argument("--seed-offset", type=int, default=0,
                        help="Shift every seed of the zoo: the same recipes, other models (a held-out zoo: the default "
                             "calibrations were fitted on offset 0)")
    parser.add_argument("--write-calibration", action="store_true",
                        help="Store the zoo's calibration as the current spec's default (hf_dna/data/calibration.json).")
    args = parser.parse_args()
    if args.spec:
        # whois and extract use the current spec: measure another one by making it current here.
        hf_dna.spec.CURRENT_SPEC = hf_dna.spec.find_spec(args.spec)
    workdir = Path(args.workdir)
    members = zoo(args.families, args.seed_offset)
    start = time.perf_counter()
    paths = build([m.recipe for m in members], workdir / "models")
    print(f"zoo: {len(members)} models built in {time.perf_counter() - start:.0f}s", file=sys.stderr)
    start = time.perf_counter()
    dnas = dnas_for(members, paths, workdir)
    print(f"DNAs: {len(dnas)} in {time.perf_counter() - start:.0f}s (spec {current_spec().id})", file=sys.stderr)
    tails = tails_for(members, paths, workdir)
    if args.write_calibration:
        target = Path(__file__).parents[1] / "hf_dna" / "data" / "calibration.json"
        table = json.loads(target.read_text()) if target.is_file() else {}
        table[current_spec().id] = default_calibration(members, dnas)
        if tails:
            table[current_spec().id]["inheritance"] = inheritance_calibration(members, tails)
            table[current_spec().id]["unshared"] = unshared_calibration(members, dnas, tails)
            table[current_spec().id]["distilled"] = distilled_calibration(members, tails)
        target.write_text(json.dumps(table, indent=2) + "\n")
        print(f"default calibration written to {target}: {table[current_spec().id]}", file=sys.stderr)
    with tempfile.TemporaryDirectory() as registry_dir:
        stats, details, by_kind = evaluate(members, dnas, tails, paths, registry_dir)
    print(f"spec {current_spec().id}; {sum(1 for m in members if m.in_registry)} models in the registry, "
          f"{sum(1 for m in members if not m.in_registry)} queried with nothing declared\n")
    print_table(stats)
    print_kinds(by_kind)
    print("\nquery                first-ranked         distance  flagged")
    for name, nearest, dist, flagged, _ in details:
        print(f"{name:<20} {str(nearest):<20} {dist:8.4f}  {', '.join(flagged) or '-'}")
    print(f"\ncalibration: {details[0][4] if details else '-'}")


if __name__ == "__main__":
    main()
