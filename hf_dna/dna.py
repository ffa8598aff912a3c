"""The DNA record: a model's 128 numbers and where they came from. No I/O beyond JSON files."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from .errors import DnaFormatError
from .projection import distance
from .spec import get_spec, require_same_spec


def utc_now(precise: bool = False) -> str:
    """ISO UTC; `precise` adds microseconds, so two writes in one second still order correctly."""
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ" if precise else "%Y-%m-%dT%H:%M:%SZ")


def encode_vector(vector: np.ndarray) -> str:
    """base64 of little-endian float32: compact, exact, and the same on every platform."""
    return base64.b64encode(np.asarray(vector, dtype="<f4").tobytes()).decode("ascii")


def decode_vector(text: str) -> np.ndarray:
    try:
        return np.frombuffer(base64.b64decode(text, validate=True), dtype="<f4").astype(np.float32)
    except (ValueError, TypeError) as exc:
        raise DnaFormatError(f"Not a base64 float32 vector: {exc}") from exc


@dataclass
class DNA:
    """A model's DNA under one spec, with its provenance (DESIGN.md "DNA record")."""

    model: str
    revision: str
    spec: str
    vector: np.ndarray
    created_at: str | None = None
    tool: str = ""
    computed_at: str = field(default_factory=utc_now)
    stats: dict = field(default_factory=dict)
    responses_sha256: str | None = None
    runtime: dict = field(default_factory=dict)  # device, dtype, batch size, library versions

    def distance(self, other: "DNA") -> float:
        """Per-probe Euclidean distance; refuses DNAs of different specs."""
        require_same_spec(self.spec, other.spec)
        return distance(self.vector, other.vector, get_spec(self.spec).distance_divisor)

    def to_dict(self) -> dict:
        return {
            "model": self.model, "revision": self.revision, "spec": self.spec,
            "vector": [float(x) for x in np.asarray(self.vector, np.float32)],
            "created_at": self.created_at, "tool": self.tool, "computed_at": self.computed_at,
            "stats": self.stats, "responses_sha256": self.responses_sha256, "runtime": self.runtime,
        }

    @classmethod
    def from_dict(cls, data: dict) -> "DNA":
        try:
            vector = np.asarray(data["vector"], dtype=np.float32)
            known = {k: data[k] for k in ("created_at", "tool", "computed_at", "stats", "responses_sha256", "runtime") if k in data}
            return cls(model=data["model"], revision=data["revision"], spec=data["spec"], vector=vector, **known)
        except (KeyError, TypeError, ValueError) as exc:
            raise DnaFormatError(f"Not a DNA record (missing or bad field: {exc}).") from exc

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, ensure_ascii=False)

    def save(self, path: str | Path) -> None:
        Path(path).write_text(self.to_json() + "\n", encoding="utf-8")

    @classmethod
    def load(cls, path: str | Path) -> "DNA":
        try:
            return cls.from_dict(json.loads(Path(path).read_text(encoding="utf-8")))
        except FileNotFoundError:
            raise DnaFormatError(f"No DNA record at {path}.") from None
        except json.JSONDecodeError as exc:
            raise DnaFormatError(f"{path} is not a DNA record: invalid JSON ({exc}).") from exc
