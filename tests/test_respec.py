"""`hf-dna respec`: a registry's DNAs under another spec from the answers and likelihood
profiles that stamp stored, with the models gone."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from hf_dna.errors import RespecError
from hf_dna.registry import open_registry
from hf_dna.respec import respec
from hf_dna.spec import DNA_1, DNA_2, DNA_4, current_spec
from hf_dna.stamping import stamp
from helpers import run_cli


def test_respec_computes_other_specs_from_stored_evidence_without_the_models(small_zoo, stamped_small_zoo, tmp_path):
    assert current_spec() is DNA_4  # stamped_small_zoo stored its evidence under the current spec
    reg = str(shutil.copytree(stamped_small_zoo, tmp_path / "registry"))  # its model folders are gone
    stamped = {r.model_id: r for r in open_registry(reg).rows(DNA_4.id)}
    # What extract gives under dna-1, in a registry of its own (its evidence has no likelihood profile).
    only_dna1 = str(tmp_path / "dna1-only")
    expected = stamp(str(small_zoo["small-a"]), registry=only_dna1, spec=DNA_1, to=("registry",), progress=False).dna

    result = run_cli("respec", "--registry", reg, "--spec", "dna-1", "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["spec"] == DNA_1.id and report["counts"] == {"written": 2, "would-write": 0, "skipped": 0, "failed": 0}
    rows = {r.model_id: r for r in open_registry(reg).rows(DNA_1.id)}
    assert rows.keys() == {"small-a", "small-b"}
    assert rows["small-a"].revision == expected.revision and rows["small-a"].source == "respec"
    np.testing.assert_allclose(rows["small-a"].vector, expected.vector, atol=1e-6)

    files = sorted((tmp_path / "registry").rglob("*.parquet"))
    again = respec(reg, DNA_1.id)  # by full id this time
    assert [i.status for i in again.items] == ["skipped", "skipped"] and again.written is None
    assert sorted((tmp_path / "registry").rglob("*.parquet")) == files

    # The likelihood channel comes back from the stored raw profile, too (dna-2 is dna-4's DNA
    # without the inheritance check: the same numbers).
    assert respec(reg, "dna-2").count("written") == 2
    respecd = {r.model_id: r for r in open_registry(reg).rows(DNA_2.id)}
    assert respecd.keys() == stamped.keys()
    for name, row in respecd.items():
        assert (row.revision, row.source) == (stamped[name].revision, "respec")
        np.testing.assert_allclose(row.vector, stamped[name].vector, atol=1e-6)

    # dna-3 scores other texts (letter strings) than dna-2 (the probe prompts): that needs the models.
    report = respec(reg, "dna-3")
    assert {i.status for i in report.items} == {"failed"} and "scores the likelihood texts differently" in report.items[0].message

    # Answers made under dna-1 cannot give dna-2: it needs the likelihood profile, i.e. the model.
    (item,) = respec(only_dna1, "dna-2").items
    assert item.status == "failed" and "no likelihood profile was stored" in item.message and "hf-dna stamp" in item.message
    assert not open_registry(only_dna1).rows(DNA_2.id)
    cli = run_cli("respec", "--registry", only_dna1, "--spec", "dna-2")
    assert cli.returncode == 1 and "0 written, 0 skipped, 1 failed" in cli.stdout


def test_respec_into_dna4_writes_rows_and_says_the_inheritance_record_needs_the_model(small_zoo, tmp_path):
    only_dna2 = str(tmp_path / "dna2-only")
    stamped = stamp(str(small_zoo["small-a"]), registry=only_dna2, spec=DNA_2, to=("registry",), progress=False).dna
    (item,) = respec(only_dna2, "dna-4").items
    assert item.status == "written" and "no inheritance record" in item.message and "stamped again" in item.message
    (row,) = open_registry(only_dna2).rows(DNA_4.id)
    np.testing.assert_allclose(row.vector, stamped.vector, atol=1e-6)
    assert not list((tmp_path / "dna2-only").glob("tails/**/*.parquet"))


def test_respec_refuses_an_unknown_spec_and_a_registry_without_evidence(tmp_path):
    with pytest.raises(RespecError, match="holds no stored answers"):
        respec(str(tmp_path / "empty"), "dna-1")
    unknown = run_cli("respec", "--registry", str(tmp_path / "empty"), "--spec", "dna-9")
    assert unknown.returncode == 1 and "Unknown DNA spec 'dna-9'" in unknown.stderr
