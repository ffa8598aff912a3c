"""Turning a DNA distance into a relatedness score, calibrated on the registry itself.

A bare distance threshold does not carry from one registry (or one kind of model) to
another, so the score is learnt from the registry's own labelled pairs:
- positives: pairs whose lineage is declared (a card's `base_model`), with both DNAs present;
- negatives: pairs in different declared families (no declared path between them).
A one-feature logistic regression on the distance, with balanced class weights, gives
P(related | distance). Where the registry has too few labelled pairs, the spec's default
calibration (measured on the lineage benchmark zoo) is used instead, and the report says so.
Below the noise floor (the distance between two extractions of the same model under other
batch sizes or dtypes) two DNAs are called identical.

Pure numpy/scipy: arrays in, a Calibration out.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.optimize import minimize

MIN_PAIRS = 5  # of each class, to fit on the registry rather than use the spec's default


@dataclass(frozen=True)
class Calibration:
    intercept: float
    slope: float  # negative: the farther, the less related
    identical_below: float  # noise floor: distances under this are the same model
    source: str  # "registry (P positive / N negative pairs)" or "spec default"

    def score(self, distance: np.ndarray | float) -> np.ndarray | float:
        """P(related | distance), in [0, 1]; 0.5 at the decision boundary."""
        z = self.intercept + self.slope * np.asarray(distance, np.float64)
        return 1.0 / (1.0 + np.exp(-z))

    @property
    def boundary(self) -> float:
        """The distance at which the score is 0.5."""
        return -self.intercept / self.slope

    def to_dict(self) -> dict:
        return {"intercept": self.intercept, "slope": self.slope, "identical_below": self.identical_below,
                "related_below": self.boundary, "source": self.source}


def fit(positive: np.ndarray, negative: np.ndarray, identical_below: float,
        default: Calibration | None, min_pairs: int = MIN_PAIRS, balanced: bool = True) -> Calibration | None:
    """Fit P(related | distance) on labelled distances; `default` when too few or no signal.
    `balanced` weighs both classes equally (a 50/50 prior); else the pairs' own ratio is the prior,
    for relations that are rare among such pairs (models that cannot share weights)."""
    positive, negative = np.asarray(positive, float), np.asarray(negative, float)
    if len(positive) < min_pairs or len(negative) < min_pairs:
        return default
    intercept, slope = _logistic(positive, negative, balanced)
    if not slope < 0 or not math.isfinite(intercept):
        return default  # declared relatives are not nearer than strangers: the fit says nothing
    return Calibration(intercept, slope, identical_below,
                       f"registry ({len(positive)} declared / {len(negative)} unrelated pairs)")


def _logistic(positive: np.ndarray, negative: np.ndarray, balanced: bool = True) -> tuple[float, float]:
    x = np.concatenate([positive, negative])
    y = np.concatenate([np.ones_like(positive), np.zeros_like(negative)])
    weight = np.where(y == 1, 0.5 / len(positive), 0.5 / len(negative)) if balanced else np.full(len(x), 1 / len(x))
    scale = float(np.std(x)) or 1.0
    xs = (x - x.mean()) / scale

    def loss(params: np.ndarray) -> float:
        z = params[0] + params[1] * xs
        # log(1 + e^z) - y z, computed stably; a small ridge keeps separable data finite.
        return float(np.sum(weight * (np.logaddexp(0, z) - y * z)) + 1e-3 * params[1] ** 2)

    a, b = minimize(loss, np.zeros(2), method="BFGS").x
    return float(a - b * x.mean() / scale), float(b / scale)
