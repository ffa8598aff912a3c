"""`whois`: a model's nearest relatives in the registry, set against its declared lineage."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from importlib import resources

import numpy as np

from . import cards
from .calibration import Calibration, fit
from .dna import DNA, encode_vector
from .errors import HfDnaError, WhoisError
from .lineage import FLAGGED, Candidate, LineageGraph, judge
from .models import hub_model_info, is_local_ref, resolve
from .phrases import shared_phrase_scores
from .projection import distances_to
from .spec import current_spec, get_spec
from .stamping import declared_parents
from .tail import Tail

MAX_NEGATIVE_PAIRS = 20_000  # sampled for calibration: plenty for a 2-parameter fit
# The nearest models examined whatever --top-k asks to report: the inheritance check may find
# a relative a little farther than the k nearest, and shared phrases are weighed by how many
# of the examined models use them (with one candidate every phrase would weigh nothing).
CANDIDATE_POOL = 10
# Noise floor when the spec has no measured one: the batch-size tolerance the tests hold.
IDENTICAL_BELOW = 0.05


@dataclass
class WhoisReport:
    model: str
    revision: str
    spec: str
    declared_parents: list[str]
    declared_lineage: list[str]  # the declared ancestors, nearest first
    neighbors: list[Candidate]
    calibration: Calibration
    dna_source: str  # where the query's DNA came from: card, registry or computed
    registry: str
    notes: list[str] = field(default_factory=list)
    vector: np.ndarray | None = None  # the query's DNA, so a CI job can record it without a second lookup
    inheritance: Calibration | None = None  # the inheritance check's calibration, when it ran
    unshared: Calibration | None = None  # the DNA's, for models that cannot share weights
    distilled: Calibration | None = None  # the next-token divergence's, for a shared tokenizer but not shapes

    @property
    def undocumented(self) -> list[Candidate]:
        return [c for c in self.neighbors if c.verdict in FLAGGED]

    @property
    def conclusion(self) -> str:
        flagged = self.undocumented
        if flagged:
            names = ", ".join(f"{c.model} ({c.verdict})" for c in flagged)
            return f"{self.model} has {len(flagged)} undocumented relative(s): {names}."
        distant = [c.model for c in self.neighbors if c.verdict == "declared-but-distant"]
        if distant:
            return f"No undocumented relatives, but declared parent(s) {', '.join(distant)} behave very differently."
        close = [c.model for c in self.neighbors if c.verdict == "declared"]
        if close:
            return f"No undocumented relatives; declared lineage confirmed by DNA ({', '.join(close[:3])})."
        return "No undocumented relatives found in the registry."

    def to_dict(self) -> dict:
        return {"model": self.model, "revision": self.revision, "spec": self.spec,
                "declared_parents": self.declared_parents, "declared_lineage": self.declared_lineage,
                "neighbors": [c.to_dict() for c in self.neighbors],
                "undocumented": [c.to_dict() for c in self.undocumented],
                "conclusion": self.conclusion, "dna_source": self.dna_source, "registry": self.registry,
                "calibration": self.calibration.to_dict(), "notes": self.notes,
                "inheritance_calibration": self.inheritance.to_dict() if self.inheritance else None,
                "unshared_calibration": self.unshared.to_dict() if self.unshared else None,
                "distilled_calibration": {**self.distilled.to_dict(), "feature": "log divergence"} if self.distilled
                else None,
                # base64 of the little-endian float32 numbers: the card block's `vector` string
                "vector": encode_vector(self.vector) if self.vector is not None else None}


def default_calibration(spec_id: str) -> Calibration | None:
    """The spec's calibration measured on the lineage benchmark (benchmarks/lineage.py)."""
    entry = json.loads(resources.files("hf_dna").joinpath("data/calibration.json").read_text()).get(spec_id)
    if entry is None:
        return None
    return Calibration(entry["intercept"], entry["slope"], entry["identical_below"],
                       "spec default (lineage benchmark)")


def default_inheritance_calibrations(spec_id: str) -> tuple[Calibration, Calibration, Calibration | None] | None:
    """The inheritance check's calibrations, fitted on the lineage benchmark (hf_dna.tail):
    P(inherited | 1 - tail similarity) for models that could share weights, P(related | DNA
    distance) for models that cannot (another tokenizer or shapes), and P(distilled |
    next-token divergence) for models that share the tokenizer but not the shapes (None where
    the spec's entry predates it)."""
    entry = json.loads(resources.files("hf_dna").joinpath("data/calibration.json").read_text()).get(spec_id, {})
    tail, unshared = entry.get("inheritance"), entry.get("unshared")
    if tail is None or unshared is None:
        return None
    source = "spec default (lineage benchmark)"
    distilled = entry.get("distilled")
    return (Calibration(tail["intercept"], tail["slope"], 0.0, source),
            Calibration(unshared["intercept"], unshared["slope"], entry["identical_below"], source),
            None if distilled is None else Calibration(distilled["intercept"], distilled["slope"], 0.0, source))


def whois(model: str, revision: str | None = None, *, registry: str | None = None, top_k: int = 10,
          recompute: bool = False, token: str | None = None, model_id: str | None = None,
          dna: DNA | None = None, progress: bool = True, inheritance: bool = True, **extract_kwargs) -> WhoisReport:
    """Who are `model`'s relatives? `dna`: the model's DNA if already known (else it is found
    or computed). `inheritance`: run the inheritance check (hf_dna.tail) on candidates that
    share the query's tokenizer and shapes; it may load the model when the registry holds no
    record of it. Raises WhoisError for an empty registry or one of another spec."""
    from huggingface_hub import get_token

    from .registry import open_registry

    token = token or get_token()
    spec = current_spec()
    reg = open_registry(registry, token=token)
    rows, matrix = _registry_index(reg, spec.id)
    query = _query(model, revision, token, model_id)
    dna, source, own_record = (dna, "given", None) if dna is not None else \
        _query_dna(query, rows, recompute, token, progress, extract_kwargs)
    graph = _declared_graph(rows, query, token)
    keep = np.array([r.model_id != query.model_id for r in rows], bool)
    distances = distances_to(dna.vector, matrix, spec.distance_divisor)
    calibration = _calibrate(rows, matrix, graph, spec.id)
    declared = graph.parents.get(query.model_id, set())
    candidates = _candidates(rows, distances, keep, max(top_k, CANDIDATE_POOL), declared)
    notes: list[str] = []
    checked = _check_inheritance(reg, spec, query, dna.revision, candidates, token, extract_kwargs, notes,
                                 own_record) if inheritance else None
    query_created = query.created_at or _stamped_at(rows, query.model_id)
    judged = judge(query.model_id, query_created, candidates, graph, calibration, *(checked or ()))
    # The k likeliest, plus anything flagged and every declared parent however far (it may be
    # declared-but-distant): a verdict is never hidden by --top-k.
    judged = judged[:top_k] + [c for c in judged[top_k:] if c.model in declared or c.verdict in FLAGGED]
    notes = list(reg.problems) + notes + _twin_notes(judged, calibration) + _teacher_note(judged)
    return WhoisReport(query.model_id, dna.revision, spec.id, declared_parents(query.card_data),
                       graph.ancestors(query.model_id), judged, calibration, source, reg.uri, notes, dna.vector,
                       *(checked or ()))


def _check_inheritance(reg, spec, query, revision: str, candidates: list[Candidate], token, extract_kwargs,
                       notes: list[str], own_record: Tail | None = None) -> tuple | None:
    """Set each candidate's tail similarity to the query where both have comparable records
    (hf_dna.tail), or why they cannot share weights, and its shared-phrase score where both
    records hold answers (hf_dna.phrases); returns the calibrations that read the similarities
    (see `default_inheritance_calibrations`), or None when the check did not run. `own_record`:
    the query's record when its DNA was just computed (else the registry's, else made here)."""
    calibrations = default_inheritance_calibrations(spec.id)
    if spec.tail is None or calibrations is None or not candidates:
        return None
    from .tail import ANOTHER_SHAPE, UNSHAREABLE, tail_key

    settings = tail_key(spec.tail)
    stored = reg.tails([(c.model, c.revision) for c in candidates] + [(query.model_id, revision)], settings)
    query_tail = stored.pop((query.model_id, revision), None) or own_record
    if not stored:
        notes.append("No candidate has an inheritance record (stamped without one): verdicts rest on the DNA alone.")
        return None
    if query_tail is None:
        try:
            query_tail = _compute_tail(query, revision, spec, token, extract_kwargs)
        except HfDnaError as exc:
            notes.append(f"The inheritance check could not run the model ({exc}): verdicts rest on the DNA alone.")
            return None
    for c in candidates:
        record = stored.get((c.model, c.revision))
        if record is not None:
            reason = query_tail.comparable(record)
            c.unshareable = reason if reason in UNSHAREABLE else None
            c.similarity = query_tail.similarity(record) if reason is None else None
            c.divergence = query_tail.divergence(record) if reason == ANOTHER_SHAPE else None
    with_answers = {key: record.answers for key, record in stored.items() if record.answers}
    if query_tail.answers and with_answers:
        scores = shared_phrase_scores(query_tail.answers, with_answers)
        for c in candidates:
            c.phrases = scores.get((c.model, c.revision))
    return calibrations


def _compute_tail(query, revision: str, spec, token, extract_kwargs):
    """The query's inheritance record, from the model itself (one forward pass per text)."""
    from .tail import record_for

    resolved = query if query.is_local else resolve(query.model_id, revision, token=token,
                                                    allow_pickle=extract_kwargs.get("allow_pickle", False))
    return record_for(resolved, spec=spec, token=token, **extract_kwargs)


def _twin_notes(candidates: list[Candidate], calibration: Calibration) -> list[str]:
    """Say why a model that behaves alike was not called a relative."""
    notes = []
    for c in candidates:
        if c.verdict not in ("unrelated", "declared-but-distant") or calibration.score(c.distance) < 0.5:
            continue
        if c.inherited is False:
            notes.append(f"{c.model} behaves like this model (DNA distance {c.distance:.3f}) but does not carry its "
                         f"weights (inheritance similarity {c.similarity:.3f}): similar data from another "
                         "initialisation, or a fine-tune so long that the parent's imprint is gone; not flagged.")
        elif c.divergence is not None:
            notes.append(f"{c.model} behaves like this model (DNA distance {c.distance:.3f}) and shares its tokenizer, "
                         f"but its next-token distributions differ (divergence {c.divergence:.3f}): not a "
                         "logit-distilled student or teacher that learnt the other, so it is not flagged; similar "
                         "training data looks like this.")
        elif c.unshareable:
            notes.append(f"{c.model} behaves like this model (DNA distance {c.distance:.3f}) but has {c.unshareable}: "
                         "it cannot be a fine-tune, and behaving alike across tokenizers mostly means similar "
                         "training data, so it is not flagged (a distillation would look the same).")
    return notes


def _teacher_note(ranked: list[Candidate]) -> list[str]:
    """When nothing is related and the model whose phrases this one shares most cannot share
    its weights: name it as the likeliest teacher, if this model was distilled at all."""
    first = ranked[0] if ranked else None
    if first is None or first.phrases is None or first.phrases <= 0 or first.verdict != "unrelated" \
            or not first.unshareable:
        return []
    runner_up = next((c for c in ranked[1:] if c.phrases is not None), None)
    than = f", next {runner_up.model} at {runner_up.phrases:.3f}" if runner_up else ""
    return [f"{first.model} shares the most characteristic phrases with this model ({first.phrases:.3f}{than}): "
            "if this model was distilled from a registry model, it is the likeliest teacher. Models trained on "
            "the same data share phrases as much, so this is a lead to check, not a flag."]


def _registry_index(reg, spec_id: str):
    rows, matrix = reg.matrix(spec_id)
    if not rows:
        others = sorted({r.spec for r in reg.rows()})
        if others:
            raise WhoisError(f"The registry {reg.uri} has no DNA under the current spec {spec_id} (it holds "
                             f"{', '.join(others)}). Re-stamp its models with this hf-dna, or use a registry of this spec.")
        raise WhoisError(f"The registry {reg.uri} is empty: there is nothing to compare with. Stamp some models "
                         "into it (`hf-dna stamp MODEL --registry ...`) or pass --registry hf://datasets/ORG/NAME.")
    return rows, matrix


def _query(model: str, revision: str | None, token: str | None, model_id: str | None):
    if is_local_ref(model):
        return resolve(model, model_id=model_id)
    info = hub_model_info(model, revision, token)
    from .models import ResolvedModel

    created = info.created_at.isoformat().replace("+00:00", "Z") if info.created_at else None
    return ResolvedModel(model_id=info.id, revision=info.sha, local_dir=None, created_at=created,
                         card_data=info.card_data.to_dict() if info.card_data else {})


def _query_dna(query, rows, recompute, token, progress, extract_kwargs) -> tuple[DNA, str, Tail | None]:
    """The card's DNA if current, else the registry's row for this revision, else compute it;
    with the record the computation made (hf_dna.tail), so the model is not run twice."""
    spec_id = current_spec().id
    block = cards.read_block(query.card_data)
    if not recompute and block and block.spec == spec_id and _same_weights(query, block.revision, token):
        return block.to_dna(query.model_id), "card", None
    row = next((r for r in reversed(rows) if r.model_id == query.model_id and r.revision == query.revision), None)
    if not recompute and row is not None:
        return row.to_dna(), "registry", None
    from .extraction import extract_with_evidence

    ref = str(query.local_dir) if query.is_local else query.model_id
    dna, evidence = extract_with_evidence(ref, revision=None if query.is_local else query.revision,
                                          model_id=query.model_id, token=token, progress=progress, **extract_kwargs)
    return dna, "computed", evidence.tail


def _same_weights(query, revision: str, token: str | None) -> bool:
    if revision == query.revision or query.is_local:
        return revision == query.revision
    from .hub import weights_fingerprint

    return weights_fingerprint(query.model_id, revision, token) == weights_fingerprint(query.model_id, query.revision, token)


def _declared_graph(rows, query, token) -> LineageGraph:
    graph = LineageGraph()
    for row in rows:
        graph.declare(row.model_id, row.declared_parents)
    graph.declare(query.model_id, declared_parents(query.card_data))
    if not query.is_local:
        _follow_hub_parents(graph, query.model_id, token)
    return graph


def _follow_hub_parents(graph: LineageGraph, model_id: str, token: str | None, depth: int = 8) -> None:
    """Declared ancestors that are not in the registry: follow `base_model` through the Hub."""
    from huggingface_hub import HfApi
    from huggingface_hub.errors import HfHubHTTPError

    todo, seen = list(graph.parents.get(model_id, ())), {model_id}
    while todo and depth > 0:
        parent = todo.pop(0)
        if parent in seen or parent in graph.parents:
            continue
        seen.add(parent)
        depth -= 1
        try:
            info = HfApi(token=token).model_info(parent)
        except (HfHubHTTPError, OSError):
            continue  # a parent we cannot see simply ends the declared chain
        grand = declared_parents(info.card_data.to_dict() if info.card_data else {})
        graph.declare(parent, grand)
        todo.extend(grand)


def _calibrate(rows, matrix: np.ndarray, graph: LineageGraph, spec_id: str) -> Calibration:
    default = default_calibration(spec_id)
    index = {r.model_id: i for i, r in enumerate(rows)}
    divisor = get_spec(spec_id).distance_divisor
    positive = [float(distances_to(matrix[index[c]], matrix[[index[p]]], divisor)[0])
                for c, parents in graph.parents.items() if c in index for p in parents if p in index]
    negative = _negative_distances(rows, matrix, graph, divisor)
    identical_below = default.identical_below if default else IDENTICAL_BELOW
    calibration = fit(np.array(positive), negative, identical_below, default)
    if calibration is None:
        raise WhoisError(
            f"The registry has too few declared relations to calibrate on ({len(positive)} declared pairs) and "
            f"spec {spec_id} has no default calibration. Stamp more models with their base_model declared.")
    return calibration


def _negative_distances(rows, matrix, graph, divisor: float) -> np.ndarray:
    """Distances between models of different declared families (a random sample of pairs)."""
    n = len(rows)
    if n < 2:
        return np.zeros(0)
    labels = graph.family_labels([r.model_id for r in rows])
    if n * (n - 1) // 2 <= MAX_NEGATIVE_PAIRS:
        i, j = np.triu_indices(n, 1)
    else:
        rng = np.random.default_rng(0)  # seeded: the same registry gives the same calibration
        i, j = rng.integers(0, n, MAX_NEGATIVE_PAIRS), rng.integers(0, n, MAX_NEGATIVE_PAIRS)
    keep = (labels[i] != labels[j]) & (i != j)
    return np.linalg.norm(matrix[i[keep]] - matrix[j[keep]], axis=1) / divisor


def _candidates(rows, distances, keep, top_k, declared: set[str]) -> list[Candidate]:
    """The top-k nearest other models (one row per model), plus any declared parent."""
    masked = np.where(keep, distances, np.inf)
    shortlist = min(len(rows), top_k * 8)  # enough to fill k distinct models despite revisions
    nearest = np.argpartition(masked, shortlist - 1)[:shortlist] if shortlist else np.array([], int)
    best: dict[str, int] = {}
    for i in nearest[np.argsort(masked[nearest], kind="stable")]:
        if keep[i] and rows[i].model_id not in best and len(best) < top_k:
            best[rows[i].model_id] = int(i)
    for i, row in enumerate(rows):  # declared parents, however far: they may be declared-but-distant
        if row.model_id in declared and row.model_id not in best:
            best[row.model_id] = i
    return [Candidate(rows[i].model_id, rows[i].revision, float(distances[i]),
                      rows[i].created_at or rows[i].stamped_at) for i in best.values()]


def _stamped_at(rows, model_id: str) -> str | None:
    stamps = [r.stamped_at for r in rows if r.model_id == model_id]
    return min(stamps) if stamps else None
