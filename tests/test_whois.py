"""`whois` on the test family: undocumented parents are flagged, declared and unrelated ones not."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest

from hf_dna.dna import decode_vector
from hf_dna.errors import WhoisError
from hf_dna.registry import RegistryRow, open_registry
from hf_dna.whois import whois
from helpers import run_cli


@pytest.fixture
def family_registry(tmp_path, family_dnas) -> str:
    """A registry holding the two founders and the seq2seq model, stamped in that order."""
    path = str(tmp_path / "registry")
    reg = open_registry(path)
    for name in ("kitchen-base", "machines-base", "harbour-t5"):
        reg.add([RegistryRow.from_dna(family_dnas[name])])
    return path


def with_card(model_copy, name: str, card: str):
    path = model_copy(name)
    (path / "README.md").write_text(card)
    return path


def test_undocumented_fine_tune_is_flagged_with_its_true_parent(model_copy, family_registry):
    path = model_copy("kitchen-ft")
    report = whois(str(path), registry=family_registry, progress=False)
    assert [c.model for c in report.undocumented] == ["kitchen-base"]
    assert report.undocumented[0].verdict == "undocumented-parent"
    assert report.neighbors[0].model == "kitchen-base"
    assert {c.model: c.verdict for c in report.neighbors}["machines-base"] == "unrelated"


def test_declared_fine_tune_is_not_flagged(model_copy, family_registry):
    path = with_card(model_copy, "kitchen-ft", "---\nbase_model: kitchen-base\n---\nA fine-tune.\n")
    report = whois(str(path), registry=family_registry, progress=False)
    assert report.undocumented == []
    assert report.neighbors[0].model == "kitchen-base" and report.neighbors[0].verdict == "declared"
    assert report.declared_parents == ["kitchen-base"]


def test_unrelated_model_is_not_flagged(family_registry, family_dnas, zoo):
    reg = open_registry(family_registry)
    reg.add([RegistryRow.from_dna(family_dnas["kitchen-ft"], declared_parents=["kitchen-base"])])
    report = whois(str(zoo["machines-base"]), registry=family_registry, progress=False)
    assert report.dna_source == "registry"  # its DNA was already there: the model was not run
    assert report.undocumented == []
    assert all(c.verdict == "unrelated" for c in report.neighbors)


def test_wrong_declaration_is_declared_but_distant(model_copy, family_registry):
    path = with_card(model_copy, "kitchen-ft", "---\nbase_model: machines-base\n---\n")
    report = whois(str(path), registry=family_registry, progress=False)
    verdicts = {c.model: c.verdict for c in report.neighbors}
    assert verdicts["machines-base"] == "declared-but-distant"
    assert verdicts["kitchen-base"] == "undocumented-parent"


def test_json_shape_and_exit_codes(model_copy, family_registry, family_dnas):
    path = model_copy("kitchen-ft")
    flagged = run_cli("whois", str(path), "--registry", family_registry, "--json", "--fail-on-undocumented")
    assert flagged.returncode == 3, flagged.stderr
    data = json.loads(flagged.stdout)
    assert {"model", "revision", "spec", "declared_parents", "neighbors", "undocumented"} <= set(data)
    assert set(data["neighbors"][0]) == {"model", "revision", "distance", "score", "verdict", "created_at",
                                         "similarity", "inherited", "weights_unshareable", "divergence", "phrases"}
    assert [n["model"] for n in data["undocumented"]] == ["kitchen-base"]
    # The DNA whois used (here computed), as the card block writes it: a CI job can record it.
    assert data["dna_source"] == "computed"
    np.testing.assert_array_equal(decode_vector(data["vector"]), family_dnas["kitchen-ft"].vector)
    plain = run_cli("whois", str(path), "--registry", family_registry)
    assert plain.returncode == 0 and "undocumented-parent" in plain.stdout and "score" in plain.stdout
    declared = with_card(model_copy, "kitchen-base", "---\nlicense: mit\n---\n")
    ok = run_cli("whois", str(declared), "--registry", family_registry, "--fail-on-undocumented", "--json")
    assert ok.returncode == 0, ok.stderr


def test_empty_registry_and_other_spec_are_clear(tmp_path, zoo, family_dnas):
    empty = run_cli("whois", str(zoo["kitchen-ft"]), "--registry", str(tmp_path / "empty"))
    assert empty.returncode == 1 and "is empty" in empty.stderr and "Traceback" not in empty.stderr
    other = open_registry(str(tmp_path / "other"))
    other.add([RegistryRow.from_dna(dataclasses.replace(family_dnas["kitchen-base"], spec="dna-0/00000000"))])
    with pytest.raises(WhoisError, match="no DNA under the current spec"):
        whois(str(zoo["kitchen-ft"]), registry=str(tmp_path / "other"), progress=False)


def test_top_k_never_hides_a_flag_or_a_declared_parent(model_copy, tmp_path, family_dnas):
    # The card declares "kitchen-mirror" (kitchen-base's DNA); "kitchen-uncle", a hair farther,
    # is undeclared and related: it is flagged though --top-k 1 leaves room for one model only.
    base = RegistryRow.from_dna(family_dnas["kitchen-base"])
    registry = str(tmp_path / "registry")
    reg = open_registry(registry)
    for name, nudge in (("kitchen-mirror", 0.0), ("kitchen-uncle", 0.01), ("machines-base", None)):
        row = RegistryRow.from_dna(family_dnas["machines-base"]) if nudge is None else \
            dataclasses.replace(base, model_id=name, vector=base.vector + np.float32(nudge))
        reg.add([row])
    path = with_card(model_copy, "kitchen-ft", "---\nbase_model: kitchen-mirror\n---\n")
    report = whois(str(path), registry=registry, top_k=1, dna=family_dnas["kitchen-ft"], progress=False,
                   inheritance=False)
    verdicts = {c.model: c.verdict for c in report.neighbors}
    assert verdicts == {"kitchen-mirror": "declared", "kitchen-uncle": "undocumented-parent"}, verdicts
    assert report.neighbors[0].model == "kitchen-mirror"  # nearer, so first: the uncle is kept past k
