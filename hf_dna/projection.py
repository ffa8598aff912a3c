"""From answer embeddings to a DNA vector, and distances between DNAs.

Pure numpy: arrays in, arrays out. The projection matrix comes from NumPy's legacy
`RandomState` stream, which NumPy keeps frozen across versions and platforms, so every
installation builds the same matrix; its sha256 is part of the spec and pinned by a test.
"""

from __future__ import annotations

import functools
import hashlib

import numpy as np

from .spec import Spec


@functools.lru_cache(maxsize=4)
def _matrix(input_dim: int, output_dim: int, seed: int) -> np.ndarray:
    rng = np.random.RandomState(seed)
    gaussian = rng.standard_normal((input_dim, output_dim))
    # Scaling by 1/sqrt(k) makes the projection preserve Euclidean distances in expectation
    # (Johnson–Lindenstrauss); float32 halves the memory and absorbs last-bit libm noise.
    matrix = (gaussian / np.sqrt(output_dim)).astype("<f4")
    matrix.setflags(write=False)
    return matrix


def projection_matrix(spec: Spec) -> np.ndarray:
    """The spec's fixed Gaussian matrix, shape (n_probes * answer_dim, output_dim)."""
    return _matrix(spec.input_dim, spec.reduction.output_dim, spec.reduction.seed)


def likelihood_matrix(spec: Spec) -> np.ndarray:
    """The likelihood channel's Gaussian matrix, shape (total characters, output_dim)."""
    lik = spec.likelihood
    return _matrix(lik.input_dim, lik.output_dim, lik.seed)


def matrix_sha256(matrix: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(matrix, dtype="<f4").tobytes()).hexdigest()


def project(answer_embeddings: np.ndarray, spec: Spec) -> np.ndarray:
    """Concatenate the per-probe unit vectors in probe order and project them to the DNA."""
    expected = (spec.probes.count, spec.encoder.dim)
    if answer_embeddings.shape != expected:
        raise ValueError(f"expected answer embeddings of shape {expected}, got {answer_embeddings.shape}")
    flat = answer_embeddings.astype(np.float64).reshape(-1)
    return (flat @ projection_matrix(spec).astype(np.float64)).astype(np.float32)


def project_dna(answer_embeddings: np.ndarray, profile: np.ndarray | None, spec: Spec) -> np.ndarray:
    """The whole DNA vector under `spec`: the text-answer projection, then (when the spec has
    a likelihood channel) the projected likelihood profile, scaled so that the plain
    Euclidean distance of two vectors is the spec's distance."""
    text = project(answer_embeddings, spec)
    if spec.likelihood is None:
        return text
    if profile is None or profile.shape != (spec.likelihood.input_dim,):
        raise ValueError(f"spec {spec.id} needs a likelihood profile of {spec.likelihood.input_dim} characters")
    scaled_text = text.astype(np.float64) * spec.text_weight / np.sqrt(spec.probes.count)
    likelihood = profile.astype(np.float64) @ likelihood_matrix(spec).astype(np.float64)
    return np.concatenate([scaled_text, likelihood]).astype(np.float32)


def distance(a: np.ndarray, b: np.ndarray, divisor: float) -> float:
    """Euclidean distance divided by the spec's `distance_divisor` (dna-1: sqrt(n_probes),
    so it reads as a per-answer embedding distance in [0, 2])."""
    return float(np.linalg.norm(np.asarray(a, np.float64) - np.asarray(b, np.float64)) / divisor)


def distances_to(query: np.ndarray, matrix: np.ndarray, divisor: float) -> np.ndarray:
    """Distances from one DNA to each row of a (n, dim) matrix, without an (n, dim) temporary
    in float64: ||a-b||^2 = |a|^2 + |b|^2 - 2ab, clipped at 0 against rounding."""
    query = np.asarray(query, np.float32)
    sq = np.einsum("ij,ij->i", matrix, matrix) + float(query @ query) - 2.0 * (matrix @ query)
    return np.sqrt(np.maximum(sq, 0.0)) / divisor
