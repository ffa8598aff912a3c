"""The DNA spec: everything that changes a DNA's numbers, frozen and versioned.

Two DNAs can be compared only when they were made under the same spec. A spec's id is
its readable name plus a short hash of its canonical JSON (`dna-1/3f2a9c1e`), so any
change to any setting gives a new id.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass, field

from .errors import SpecMismatchError, UnknownSpecError


@dataclass(frozen=True)
class ProbeSpec:
    name: str
    count: int
    sha256: str  # of the canonical JSON of the ordered prompt texts (see probes.probe_hash)


@dataclass(frozen=True)
class GenerationSpec:
    decoding: str = "greedy"
    max_new_tokens: int = 64
    prompt_format: str = "raw"  # no chat template: base and chat models alike see the text
    strip_special_tokens: bool = True
    strip_whitespace: bool = True


@dataclass(frozen=True)
class EncoderSpec:
    repo_id: str = "sentence-transformers/all-MiniLM-L6-v2"
    revision: str = "1110a243fdf4706b3f48f1d95db1a4f5529b4d41"
    weights_file: str = "model.safetensors"
    weights_sha256: str = "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"
    max_length: int = 256
    pooling: str = "mean"
    normalize: str = "l2"
    dim: int = 384


@dataclass(frozen=True)
class ReductionSpec:
    concat: str = "probe-order"
    output_dim: int = 128
    seed: int = 20250928
    algorithm: str = "numpy-RandomState-standard_normal/sqrt(output_dim)->float32"
    matrix_sha256: str = ""  # of the float32 little-endian matrix bytes; pinned by a test


@dataclass(frozen=True)
class LikelihoodSpec:
    """The likelihood channel (hf_dna.likelihood): per-character surprise on fixed texts."""

    texts: str = "probe prompts"  # or the name of a bundled text set (hf_dna/data/NAME.txt)
    texts_sha256: str = ""  # of a bundled set's canonical JSON (probes.probe_hash); "" for the probes
    context: str = "bos token, else eos token"
    spread: str = "each token's NLL evenly over the characters it covers"
    normalise: str = "z-score within each text, then unit length"
    input_dim: int = 0  # total characters of the texts
    output_dim: int = 128
    seed: int = 20261204
    algorithm: str = "numpy-RandomState-standard_normal/sqrt(output_dim)->float32"
    matrix_sha256: str = ""


@dataclass(frozen=True)
class TailSpec:
    """The inheritance check (hf_dna.tail): next-token log-probs over a vocabulary sample at the
    first positions of fixed texts, compared between models that share tokenizer and shapes."""

    texts: str = "letter_strings"  # a bundled text set (hf_dna/data/NAME.txt)
    texts_sha256: str = "ec893604eb512072f639ff6b6fb9eafc644b463cca0cda9af967b3f39694d0bc"
    context: str = "bos token, else eos token"
    positions: int = 256
    tokens: int = 512  # all ids when the vocabulary is smaller; else the smallest blake2b("id\0token")
    storage: str = "float16 log-probs"
    compare: str = "double-centred, strongest singular directions removed, correlation"
    remove_directions: int = 30


@dataclass(frozen=True)
class Spec:
    name: str
    probes: ProbeSpec
    generation: GenerationSpec = field(default_factory=GenerationSpec)
    encoder: EncoderSpec = field(default_factory=EncoderSpec)
    reduction: ReductionSpec = field(default_factory=ReductionSpec)
    distance: str = "euclidean/sqrt(n_probes)"
    likelihood: LikelihoodSpec | None = None
    # The text-answer part's share of the distance when a likelihood channel is present.
    text_weight: float = 1.0
    # The inheritance check carried with the DNA (dna-4): not part of the vector.
    tail: TailSpec | None = None

    def to_dict(self) -> dict:
        data = dataclasses.asdict(self)
        if self.tail is None:
            data.pop("tail")  # added with dna-4: earlier ids stay
        if self.likelihood is None:
            # Fields added with dna-2 stay out of dna-1's canonical form, so its id never changes.
            data.pop("likelihood")
            data.pop("text_weight")
        elif not self.likelihood.texts_sha256:
            data["likelihood"].pop("texts_sha256")  # added with dna-3: dna-2's id stays
        return data

    def canonical_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"))

    @property
    def id(self) -> str:
        digest = hashlib.sha256(self.canonical_json().encode()).hexdigest()[:8]
        return f"{self.name}/{digest}"

    @property
    def input_dim(self) -> int:
        """Length of the concatenated answer embeddings that the projection takes."""
        return self.probes.count * self.encoder.dim

    @property
    def vector_dim(self) -> int:
        """Numbers in a DNA: the text-answer projection, then the likelihood projection."""
        return self.reduction.output_dim + (self.likelihood.output_dim if self.likelihood else 0)

    @property
    def distance_divisor(self) -> float:
        """What the Euclidean distance between two DNA vectors is divided by. dna-1 keeps the
        paper's raw projection (divide by sqrt(n_probes)); later specs store the vector
        pre-scaled, so their distance is the plain Euclidean one."""
        return float(self.probes.count) ** 0.5 if self.likelihood is None else 1.0


DNA_1 = Spec(
    name="dna-1",
    probes=ProbeSpec(
        name="hf-dna-probes-v1",
        count=160,
        sha256="4ba5cf4071baa0fdad03275ca8c6f96a6957e380f8874a3ef20e977361d598fa",
    ),
    reduction=ReductionSpec(matrix_sha256="7a7e3090f31ff8dd48b3f50fcbb7a9b4fd6f96f32a6b9f686748aae4c6138ec3"),
)

# dna-2 adds the likelihood channel: on the lineage benchmark the text answers alone put a
# true parent first for 9 of 20 queries, the likelihood channel for 18 (benchmarks/RESULTS.md).
# The vector is [text projection * text_weight / sqrt(n_probes), likelihood projection].
DNA_2 = Spec(
    name="dna-2",
    probes=DNA_1.probes,
    reduction=DNA_1.reduction,
    distance="euclidean over [text_weight * text / sqrt(n_probes), likelihood]",
    likelihood=LikelihoodSpec(
        input_dim=9331, matrix_sha256="11e6e760923a7a6720dca2284148efed36c582b5920e18ba2ed2c0812d218650"),
    text_weight=0.2,
)

# dna-3 scores random letter strings instead of the probe prompts in the likelihood channel.
# Text no model was trained on shows how its weights, not its data, react: a fine-tune keeps
# its parent's reactions, a same-data twin (another seed) has its own. On the lineage zoo it
# raised flag precision (zoo 3: 0.77 -> 0.85, false flags 5 -> 3), but it also pulls strangers
# with the same architecture and tokenizer kind closer: on the test family an unrelated model
# falls inside the default calibration's "related" range. So it is known (`--spec dna-3`,
# `respec`) but not the default (benchmarks/RESULTS.md).
DNA_3 = Spec(
    name="dna-3",
    probes=DNA_1.probes,
    reduction=DNA_1.reduction,
    distance=DNA_2.distance,
    likelihood=LikelihoodSpec(
        texts="letter_strings", texts_sha256="ec893604eb512072f639ff6b6fb9eafc644b463cca0cda9af967b3f39694d0bc",
        input_dim=10266, matrix_sha256="3ea715ffcbb2b6a4c31957694f5d21f98772cd9ecfcc134ec7b27af10aee70ff"),
    text_weight=0.2,
)

# dna-4 is dna-2's DNA (the same numbers) plus the inheritance check (hf_dna.tail): `whois` asks
# it whether a candidate that shares the query's tokenizer and shapes carries its weights. On
# the lineage zoo it separates every ancestor from every same-data twin, which no DNA did
# (benchmarks/RESULTS.md).
DNA_4 = dataclasses.replace(DNA_2, name="dna-4", tail=TailSpec())

CURRENT_SPEC = DNA_4
KNOWN_SPECS: dict[str, Spec] = {s.id: s for s in (DNA_1, DNA_2, DNA_3, DNA_4)}


def current_spec() -> Spec:
    """The spec that new DNAs are made under."""
    return CURRENT_SPEC


def get_spec(spec_id: str) -> Spec:
    """Look a spec up by its id (`dna-1/3f2a9c1e`)."""
    try:
        return KNOWN_SPECS[spec_id]
    except KeyError:
        known = ", ".join(sorted(KNOWN_SPECS))
        raise UnknownSpecError(
            f"Unknown DNA spec {spec_id!r}: this hf-dna knows {known}. "
            "Upgrade hf-dna, or recompute the DNA under the current spec."
        ) from None


def find_spec(text: str) -> Spec:
    """A known spec by its id (`dna-1/3f2a9c1e`) or its name (`dna-1`)."""
    if text in KNOWN_SPECS:
        return KNOWN_SPECS[text]
    named = [s for s in KNOWN_SPECS.values() if s.name == text]
    if len(named) == 1:
        return named[0]
    return get_spec(text)  # raises UnknownSpecError, which lists the known ids


def require_same_spec(a: str, b: str, what: str = "DNAs") -> None:
    """Comparing across specs is meaningless: refuse it with a message that says why."""
    if a != b:
        raise SpecMismatchError(
            f"Cannot compare {what} made under different specs ({a} vs {b}). "
            "Recompute one of them under the other's spec (e.g. `hf-dna extract` with the "
            "current spec) so that both use the same probes, encoder and projection."
        )
