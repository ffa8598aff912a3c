"""Stored evidence: what running a model produced, kept so that a later spec can be computed
without the model (`hf-dna respec`).

A DNA is a function of a model's *answers* to the probes (the text channel) and of its raw
*per-character surprise* on the probe texts (the likelihood channel), followed by steps that
need no model: embed, normalise, project. `stamp` stores both inputs beside the registry's
rows; a new spec that keeps the probe set, the generation settings and (when it has a
likelihood channel) the way the profile is scored can re-embed and re-project them.

Format (one parquet row per model and revision, in the registry under
`evidence/<probe-set sha256[:16]>/<YYYY-MM-DD>/<uuid7>.parquet`, append-only like `entries/`):

| column | type | meaning |
| --- | --- | --- |
| `model_id`, `revision` | string | the model and the commit (or local content hash) that was run |
| `probes_sha256` | string | the probe set's hash (its texts, in order) |
| `generation` | string | canonical JSON of the spec's generation settings the answers were made with |
| `likelihood` | string, null | canonical JSON of the settings that make the raw profile; null: no profile |
| `answers` | list<string> | one answer per probe, in probe order |
| `char_nll` | list<float32>, null | raw per-character NLL (`likelihood.char_profile`, before normalisation) |
| `spec` | string | the spec the model was stamped under (provenance) |
| `created_at` | string, null | the model's creation time, when known |
| `responses_sha256` | string | sha256 of the answers' canonical JSON, as in the DNA record |
| `runtime` | string | JSON: device, dtype, batch size, library versions |
| `tool`, `stored_at` | string | who wrote it and when (ISO UTC); a later row for the same key wins |

Under a spec with the inheritance check (dna-4), a run also yields an inheritance record
(`hf_dna.tail.Tail`, carried as `Evidence.tail`); `Registry.add` stores it in its own file
under `tails/`, at a path computed from the model and revision, so `whois` can fetch one
model's record without reading the others.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field

import numpy as np

from .dna import utc_now
from .spec import Spec

# The likelihood settings that decide the raw profile; normalisation and projection come after
# and can change in a new spec without the model.
_PROFILE_FIELDS = ("texts", "texts_sha256", "context", "spread", "input_dim")
# The only normalisation this hf-dna implements (likelihood.normalise_per_text).
SUPPORTED_NORMALISATION = "z-score within each text, then unit length"


def _canonical(data: dict) -> str:
    return json.dumps(data, sort_keys=True, separators=(",", ":"))


def generation_key(spec: Spec) -> str:
    """The generation settings the answers depend on, as canonical JSON."""
    return _canonical(dataclasses.asdict(spec.generation))


def likelihood_key(spec: Spec) -> str | None:
    """The settings the raw likelihood profile depends on, as canonical JSON (None: no channel)."""
    if spec.likelihood is None:
        return None
    return _canonical({name: getattr(spec.likelihood, name) for name in _PROFILE_FIELDS})


@dataclass
class Evidence:
    """One model's answers and raw likelihood profile, and the settings they were made with."""

    model_id: str
    revision: str
    probes_sha256: str
    generation: str
    likelihood: str | None
    answers: list[str]
    char_nll: np.ndarray | None = field(default=None, repr=False)
    spec: str = ""
    created_at: str | None = None
    responses_sha256: str = ""
    runtime: dict = field(default_factory=dict)
    tool: str = ""
    stored_at: str = field(default_factory=lambda: utc_now(precise=True))
    # The inheritance record (hf_dna.tail.Tail) of a spec with that check; stored in its own
    # file under `tails/` (whois fetches it per candidate), not in the evidence table.
    tail: object | None = field(default=None, repr=False, compare=False)

    @classmethod
    def from_run(cls, dna, spec: Spec, answers: list[str], char_nll: np.ndarray | None) -> "Evidence":
        """The evidence of one extraction (`dna` is its record)."""
        return cls(model_id=dna.model, revision=dna.revision, probes_sha256=spec.probes.sha256,
                   generation=generation_key(spec), likelihood=likelihood_key(spec) if char_nll is not None else None,
                   answers=list(answers), char_nll=None if char_nll is None else np.asarray(char_nll, np.float32),
                   spec=spec.id, created_at=dna.created_at, responses_sha256=dna.responses_sha256 or "",
                   runtime=dict(dna.runtime), tool=dna.tool)

    @property
    def key(self) -> tuple:
        return self.model_id, self.revision, self.probes_sha256, self.generation, self.likelihood

    def unusable_for(self, spec: Spec) -> str | None:
        """Why these answers cannot make a DNA under `spec` without the model; None: they can."""
        if self.probes_sha256 != spec.probes.sha256 or len(self.answers) != spec.probes.count:
            return f"spec {spec.id} changes the probe set: its answers need the model; run `hf-dna stamp`"
        if self.generation != generation_key(spec):
            return f"spec {spec.id} changes the generation settings: its answers need the model; run `hf-dna stamp`"
        if spec.likelihood is None:
            return None
        if self.char_nll is None or self.likelihood is None:
            return (f"spec {spec.id} has a likelihood channel and no likelihood profile was stored for this "
                    "model (it was stamped under a spec without one): run `hf-dna stamp`")
        if self.likelihood != likelihood_key(spec):
            return f"spec {spec.id} scores the likelihood texts differently: its profile needs the model; run `hf-dna stamp`"
        if spec.likelihood.normalise != SUPPORTED_NORMALISATION:
            return f"this hf-dna cannot apply the normalisation of spec {spec.id}; upgrade hf-dna"
        return None
