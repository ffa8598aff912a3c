"""The spec is frozen: its projection matrix and probe hash are pinned."""

import json

import numpy as np
import pytest

import hf_dna
from hf_dna.errors import SpecMismatchError, UnknownSpecError
from hf_dna.probes import bundled_probes, probe_hash
from hf_dna.likelihood import likelihood_texts
from hf_dna.projection import likelihood_matrix, matrix_sha256, project, projection_matrix
from hf_dna.spec import current_spec, get_spec, require_same_spec
from helpers import run_cli

PINNED_MATRIX_SHA256 = "7a7e3090f31ff8dd48b3f50fcbb7a9b4fd6f96f32a6b9f686748aae4c6138ec3"
# The likelihood matrix of each spec with that channel: dna-2 (probe prompts), dna-3 (letter strings).
PINNED_LIKELIHOOD_MATRIX_SHA256 = {
    "dna-2/96dbeb15": "11e6e760923a7a6720dca2284148efed36c582b5920e18ba2ed2c0812d218650",
    "dna-3/4ac42a41": "3ea715ffcbb2b6a4c31957694f5d21f98772cd9ecfcc134ec7b27af10aee70ff",
    "dna-4/0efc15bc": "11e6e760923a7a6720dca2284148efed36c582b5920e18ba2ed2c0812d218650",  # dna-2's numbers
}


def test_projection_matrices_are_pinned():
    spec = current_spec()
    matrix = projection_matrix(spec)
    assert matrix.shape == (spec.probes.count * spec.encoder.dim, spec.reduction.output_dim)
    assert matrix.dtype == np.float32
    assert matrix_sha256(matrix) == PINNED_MATRIX_SHA256 == spec.reduction.matrix_sha256
    texts = likelihood_texts(spec.likelihood, [p.text for p in bundled_probes()])
    likelihood = likelihood_matrix(spec)
    assert likelihood.shape == (sum(len(t) for t in texts), spec.likelihood.output_dim)
    assert matrix_sha256(likelihood) == PINNED_LIKELIHOOD_MATRIX_SHA256[spec.id] == spec.likelihood.matrix_sha256
    dna3 = get_spec("dna-3/4ac42a41")
    assert matrix_sha256(likelihood_matrix(dna3)) == PINNED_LIKELIHOOD_MATRIX_SHA256[dna3.id] == dna3.likelihood.matrix_sha256


def test_likelihood_texts_are_bundled_and_hash_checked():
    dna3 = get_spec("dna-3/4ac42a41")
    texts = likelihood_texts(dna3.likelihood, [p.text for p in bundled_probes()])
    assert len(texts) == 160 and probe_hash(texts) == dna3.likelihood.texts_sha256
    assert sum(map(len, texts)) == dna3.likelihood.input_dim
    assert all(set(t) <= set("abcdefghijklmnopqrstuvwxyz ") for t in texts)  # no model's training text
    assert likelihood_texts(current_spec().likelihood, ["a probe"]) == ["a probe"]  # dna-2: the probes


def test_older_specs_stay_known():
    dna1 = get_spec("dna-1/088e259d")
    assert dna1.likelihood is None and dna1.vector_dim == 128
    assert current_spec().likelihood.texts == "probe prompts"
    assert current_spec().vector_dim == get_spec("dna-3/4ac42a41").vector_dim == 256


def test_bundled_probes_match_spec_hash():
    probes = bundled_probes()
    spec = current_spec()
    assert len(probes) == spec.probes.count
    assert probe_hash([p.text for p in probes]) == spec.probes.sha256
    assert len({p.lang for p in probes}) >= 4
    assert {"question", "instruction", "continuation", "code", "arithmetic"} <= {p.category for p in probes}


def test_spec_id_is_name_and_hash_of_canonical_json():
    spec = current_spec()
    name, digest = spec.id.split("/")
    assert name == spec.name and len(digest) == 8
    assert get_spec(spec.id) is spec
    changed = hf_dna.Spec(name=spec.name, probes=spec.probes, distance="cosine")
    assert changed.id != spec.id


def test_unknown_spec_and_mismatch_are_clear():
    with pytest.raises(UnknownSpecError, match="Unknown DNA spec 'dna-0/deadbeef'"):
        get_spec("dna-0/deadbeef")
    with pytest.raises(SpecMismatchError, match="different specs"):
        require_same_spec("dna-1/aaaa", "dna-1/bbbb")


def test_projection_preserves_distances_roughly():
    spec = current_spec()
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(2, spec.probes.count, spec.encoder.dim)).astype(np.float32)
    ratio = np.linalg.norm(project(a, spec) - project(b, spec)) / np.linalg.norm(a - b)
    assert 0.8 < ratio < 1.2  # Johnson–Lindenstrauss with k=128


def test_cli_spec_prints_json():
    out = run_cli("spec").stdout
    data = json.loads(out)
    assert data["id"] == current_spec().id
    assert data["encoder"]["weights_sha256"] == current_spec().encoder.weights_sha256
