"""Declared lineage and whois verdicts. Pure: registry rows and distances in, verdicts out.

The declared lineage is a graph whose edges are cards' `base_model` declarations. Two
models are *declared relatives* when a path of declarations joins them (parent, grandchild,
sibling through a shared base, ...). A neighbour that is related — by the inheritance check
where it applies (hf_dna.tail), else by its DNA distance — but is no declared relative is
undocumented. Only the likeliest undocumented relative is flagged (the parent or child); the
others are reported as `related`.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Literal

from .calibration import Calibration

Verdict = Literal["declared", "undocumented-parent", "undocumented-derivative", "identical", "related",
                  "declared-but-distant", "unrelated"]
FLAGGED: tuple[Verdict, ...] = ("undocumented-parent", "undocumented-derivative", "identical")


@dataclass
class Candidate:
    """One registry model near the query."""

    model: str
    revision: str
    distance: float
    created_at: str | None  # on the Hub; else when it was stamped (the registry's order)
    score: float = 0.0  # P(related): from the inheritance check when it applied, else from the distance
    verdict: Verdict = "unrelated"
    # The inheritance check (hf_dna.tail), when both models have a comparable record: the
    # similarity of their seed-given next-token tails, and whether it says "inherited".
    similarity: float | None = None
    inherited: bool | None = None
    # Why the two models cannot share weights ("another tokenizer", "another architecture or
    # size"), when their records say so: only a distillation-like relation is possible.
    unshareable: str | None = None
    # Where the two share the tokenizer but not the shapes: how far apart their next-token
    # distributions are (hf_dna.tail; a logit-distilled student sits close to its teacher).
    divergence: float | None = None
    # Shared characteristic phrases with the query (hf_dna.phrases), when both records hold
    # answers: it orders the models not found related (a distilled student's teacher first).
    phrases: float | None = None

    def to_dict(self) -> dict:
        return {"model": self.model, "revision": self.revision, "distance": round(self.distance, 6),
                "score": round(float(self.score), 6), "verdict": self.verdict, "created_at": self.created_at,
                "similarity": None if self.similarity is None else round(self.similarity, 6),
                "inherited": self.inherited, "weights_unshareable": self.unshareable,
                "divergence": None if self.divergence is None else round(self.divergence, 6),
                "phrases": None if self.phrases is None else round(self.phrases, 6)}


@dataclass
class LineageGraph:
    """Declared edges child -> parents; undirected reachability gives declared families."""

    parents: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))

    def declare(self, child: str, parents: list[str]) -> None:
        self.parents[child].update(p for p in parents if p and p != child)

    def family(self, model: str) -> set[str]:
        """Every model joined to `model` by declarations, in either direction."""
        neighbours: dict[str, set[str]] = defaultdict(set)
        for child, parents in self.parents.items():
            for parent in parents:
                neighbours[child].add(parent)
                neighbours[parent].add(child)
        seen, todo = {model}, [model]
        while todo:
            for nxt in neighbours[todo.pop()] - seen:
                seen.add(nxt)
                todo.append(nxt)
        return seen

    def family_labels(self, models: list[str]) -> "np.ndarray":
        """A family number per model (union-find over the declarations): one pass, so it
        scales to a registry of a million rows where `family` per row would not."""
        import numpy as np

        root: dict[str, str] = {}

        def find(x: str) -> str:
            root.setdefault(x, x)
            while root[x] != x:
                root[x] = root[root[x]]
                x = root[x]
            return x

        for child, parents in self.parents.items():
            for parent in parents:
                root[find(child)] = find(parent)
        numbers: dict[str, int] = {}
        return np.array([numbers.setdefault(find(m), len(numbers)) for m in models])

    def ancestors(self, model: str) -> list[str]:
        seen: list[str] = []
        todo = list(self.parents.get(model, ()))
        while todo:
            parent = todo.pop(0)
            if parent not in seen and parent != model:
                seen.append(parent)
                todo.extend(self.parents.get(parent, ()))
        return seen


def judge(query: str, query_created: str | None, candidates: list[Candidate], graph: LineageGraph,
          calibration: Calibration, inheritance: Calibration | None = None,
          unshared: Calibration | None = None, distilled: Calibration | None = None) -> list[Candidate]:
    """Give every candidate its score and verdict (in place); returns them likeliest relative
    first: those whose weights the inheritance check found inherited (most similar first), then
    the others found related (nearest first), then the rest by shared phrases where known
    (hf_dna.phrases: a distilled student's teacher first), else by DNA distance.

    Where the inheritance check applied (`c.similarity` set, `inheritance` given) it decides
    "related": the DNA cannot tell a fine-tune from a model trained on the same data from
    another seed, the check can. Between models that cannot share weights only distillation-like
    relations exist: where they share the tokenizer, the divergence of their next-token
    distributions (`c.divergence`) is read with the `distilled` calibration (a logit-distilled
    student reproduces its teacher's distributions); else behaving alike mostly means similar
    training data, so the DNA is read with the stricter `unshared` calibration. Elsewhere (no
    record) the DNA is read with `calibration`."""
    declared = graph.family(query)
    for c in candidates:
        if c.similarity is not None and inheritance is not None:
            c.score = float(inheritance.score(1.0 - c.similarity))
            c.inherited = c.score >= 0.5
        elif c.divergence is not None and distilled is not None:
            c.score = float(distilled.score(divergence_feature(c.divergence)))
        elif c.unshareable is not None and unshared is not None:
            c.score = float(unshared.score(c.distance))
        else:
            c.score = float(calibration.score(c.distance))
        related = c.score >= 0.5 or c.distance <= calibration.identical_below
        c.verdict = "declared" if c.model in declared else ("related" if related else "unrelated")
    _flag_nearest_related(query_created, candidates, calibration)
    for c in candidates:  # a declared parent whose behaviour is far: a wrong or misleading card
        # By the DNA, even where the inheritance check ran: a long fine-tune can wash the parent's
        # seed out of the tail (benchmarks/inheritance_decay.py) while still behaving like it.
        far = calibration.score(c.distance) < 0.5 and c.distance > calibration.identical_below
        if c.model in graph.parents.get(query, ()) and far and not c.inherited:
            c.verdict = "declared-but-distant"
    return sorted(candidates, key=_likeliest_first)


def divergence_feature(divergence: float) -> float:
    """What the `distilled` calibration reads: the log of the divergence (they span two orders of
    magnitude on the zoo; 0 is the same model)."""
    return math.log(max(divergence, 1e-6))


def _likeliest_first(c: Candidate) -> tuple:
    if c.inherited:
        return (0, -c.similarity, c.distance)
    if c.verdict not in ("unrelated", "declared-but-distant"):  # related by the DNA, or declared and near
        return (1, c.distance, 0.0)
    if c.phrases is not None:
        return (2, -c.phrases, c.distance)
    return (3, c.distance, 0.0)


def _flag_nearest_related(query_created, candidates, calibration) -> None:
    """Flag only the nearest undeclared relative: the likeliest parent (or child). Its family
    members and the rest stay `related`, so one undocumented fine-tune does not flag every
    sibling and cousin of its parent (measured: flagging one per family cost most precision)."""
    related = [c for c in candidates if c.verdict == "related"]
    if not related:
        return
    nearest = min(related, key=_likeliest_first)
    if nearest.distance <= calibration.identical_below:
        nearest.verdict = "identical"
    else:
        nearest.verdict = "undocumented-parent" if _older(nearest.created_at, query_created) else "undocumented-derivative"


def _older(a: str | None, b: str | None) -> bool:
    """Is `a` older than `b`? ISO-8601 UTC strings compare in time order; unknown is newest."""
    if a is None:
        return False
    return b is None or a < b
