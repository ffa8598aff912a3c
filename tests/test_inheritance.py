"""The inheritance check (hf_dna.tail): a fine-tune carries its parent's weights, a same-data
twin does not, and `whois` uses that to flag the one and not the other."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import torch

from hf_dna import stamp
from hf_dna.models import load_model, resolve
from hf_dna.registry import RegistryRow, open_registry
from hf_dna.spec import current_spec
from hf_dna.tail import compute_tail, tail_path
from hf_dna.whois import default_inheritance_calibrations, whois
from helpers import run_cli


def tail_of(path, name, dtype=torch.float32):
    model, tokenizer = load_model(resolve(str(path), model_id=name), device="cpu", dtype=dtype)
    return compute_tail(model, tokenizer, current_spec().tail, model_id=name, revision=f"rev-{name}")


@pytest.fixture(scope="module")
def tails(zoo, twin_model):
    paths = {**zoo, "kitchen-twin": twin_model}
    return {name: tail_of(path, name) for name, path in paths.items()}


def inherited(similarity: float) -> bool:
    inheritance = default_inheritance_calibrations(current_spec().id)[0]
    return inheritance.score(1 - similarity) >= 0.5


def test_fine_tune_inherits_and_twin_does_not(tails):
    base = tails["kitchen-base"]
    assert tails["kitchen-twin"].tokenizer_sha256 == base.tokenizer_sha256  # the hard case: all else equal
    assert tails["kitchen-twin"].shapes_sha256 == base.shapes_sha256
    fine_tune, twin = base.similarity(tails["kitchen-ft"]), base.similarity(tails["kitchen-twin"])
    assert inherited(fine_tune) and not inherited(twin), (fine_tune, twin)
    assert not inherited(tails["kitchen-ft"].similarity(tails["kitchen-twin"]))
    assert base.similarity(base) == pytest.approx(1.0)
    # Models that cannot share weights are not compared at all.
    assert base.similarity(tails["machines-base"]) is None
    assert base.comparable(tails["machines-base"]) == "another tokenizer"
    assert base.comparable(tails["harbour-t5"]) == "another tokenizer"


def test_half_precision_copy_keeps_the_tail(zoo, tails):
    half = tail_of(zoo["kitchen-ft"], "kitchen-ft-half", dtype=torch.float16)
    assert half.logp.dtype == np.float16 and half.logp.shape == tails["kitchen-ft"].logp.shape
    assert tails["kitchen-ft"].similarity(half) > 0.9


def test_records_round_trip_through_a_hub_registry(hub_api, owner_token, tails):
    import uuid

    from hf_dna.tail import tail_key

    repo_id = f"alice/registry-{uuid.uuid4().hex[:8]}"
    reg = open_registry(f"hf://datasets/{repo_id}", token=owner_token)
    try:
        assert reg.tails([("kitchen-base", "rev-kitchen-base")], tail_key(current_spec().tail)) == {}  # no repo yet
        reg.add([], tails=[tails["kitchen-base"]])
        found = reg.tails([("kitchen-base", "rev-kitchen-base"), ("kitchen-ft", "rev-kitchen-ft")],
                          tail_key(current_spec().tail))
        assert list(found) == [("kitchen-base", "rev-kitchen-base")] and reg.problems == []
        np.testing.assert_array_equal(found[("kitchen-base", "rev-kitchen-base")].logp, tails["kitchen-base"].logp)
    finally:
        hub_api.delete_repo(repo_id, repo_type="dataset", missing_ok=True)


def test_records_round_trip_through_the_registry(tmp_path, tails):
    reg = open_registry(str(tmp_path / "registry"))
    reg.add([], tails=[tails["kitchen-base"], tails["kitchen-ft"]])
    key = current_spec().tail
    from hf_dna.tail import tail_key

    found = reg.tails([("kitchen-base", "rev-kitchen-base"), ("kitchen-ft", "rev-kitchen-ft"),
                       ("kitchen-ft", "another-revision"), ("nobody", "x")], tail_key(key))
    assert set(found) == {("kitchen-base", "rev-kitchen-base"), ("kitchen-ft", "rev-kitchen-ft")}
    np.testing.assert_array_equal(found[("kitchen-ft", "rev-kitchen-ft")].logp, tails["kitchen-ft"].logp)
    np.testing.assert_array_equal(found[("kitchen-ft", "rev-kitchen-ft")].token_ids, tails["kitchen-ft"].token_ids)
    # A damaged record is reported and skipped, not fatal.
    (tmp_path / "registry" / tail_path(tail_key(key), "kitchen-base", "rev-kitchen-base")).write_bytes(b"not parquet")
    found = reg.tails([("kitchen-base", "rev-kitchen-base"), ("kitchen-ft", "rev-kitchen-ft")], tail_key(key))
    assert set(found) == {("kitchen-ft", "rev-kitchen-ft")}
    assert any("unreadable inheritance record" in p for p in reg.problems)


@pytest.fixture(scope="module")
def stamped(zoo, twin_model, tmp_path_factory) -> dict[str, str]:
    """Registries stamped the real way (DNA row, evidence and inheritance record in one commit):
    "founders" holds kitchen-base, its same-data twin and machines-base; "all" adds kitchen-ft,
    stamped with no base declared. Shared: copy one before changing it."""
    root = tmp_path_factory.mktemp("stamped")
    founders = str(root / "founders")
    for path in (zoo["kitchen-base"], twin_model, zoo["machines-base"]):
        assert stamp(str(path), registry=founders, to=("registry",), progress=False).ok
    every = str(shutil.copytree(founders, root / "all"))
    assert stamp(str(zoo["kitchen-ft"]), registry=every, to=("registry",), progress=False).ok
    return {"founders": founders, "all": every}


def test_stamp_stores_the_record_and_whois_flags_the_parent_not_the_twin(stamped, zoo, family_dnas):
    from pathlib import Path

    from hf_dna.tail import tail_key

    assert len(list((Path(stamped["founders"]) / "tails" / tail_key(current_spec().tail)).rglob("*.parquet"))) == 3
    # kitchen-ft is not in this registry: whois runs it once to make its record.
    report = whois(str(zoo["kitchen-ft"]), registry=stamped["founders"], dna=family_dnas["kitchen-ft"], progress=False)
    by_model = {c.model: c for c in report.neighbors}
    assert [c.model for c in report.undocumented] == ["kitchen-base"]
    assert by_model["kitchen-base"].inherited is True and by_model["kitchen-base"].verdict == "undocumented-parent"
    assert by_model["kitchen-twin"].inherited is False and by_model["kitchen-twin"].verdict == "unrelated"
    assert by_model["machines-base"].unshareable == "another tokenizer"
    assert report.neighbors[0].model == "kitchen-base"  # the likeliest relative comes first
    assert report.inheritance is not None


def test_a_same_data_twin_is_not_flagged(stamped, twin_model):
    # The stamped twin asks about itself: its DNA and record come from the registry.
    report = whois(str(twin_model), registry=stamped["founders"], model_id="kitchen-twin", progress=False)
    assert report.dna_source == "registry"
    base = next(c for c in report.neighbors if c.model == "kitchen-base")
    assert report.undocumented == []
    assert base.inherited is False and base.verdict == "unrelated"
    dna_only = whois(str(twin_model), registry=stamped["founders"], model_id="kitchen-twin", progress=False,
                     inheritance=False)
    assert all(c.similarity is None for c in dna_only.neighbors)
    # Measured here: the twin sits at DNA distance 0.47 from kitchen-base (P(related) 0.92), so the
    # DNA alone flags it as an undocumented parent; the check finds its weights its own (0.01).
    if report.calibration.score(base.distance) >= 0.5:
        assert [c.model for c in dna_only.undocumented] == ["kitchen-base"]
        assert any("kitchen-base behaves like this model" in n and "does not carry its weights" in n
                   for n in report.notes)


def test_cli_shows_the_check_and_can_skip_it(stamped, zoo, tmp_path):
    args = ("whois", str(zoo["kitchen-ft"]), "--model-id", "kitchen-ft", "--registry", stamped["all"])
    result = run_cli(*args, "--json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    first = data["neighbors"][0]
    twin = next(n for n in data["neighbors"] if n["model"] == "kitchen-twin")
    assert first["model"] == "kitchen-base" and first["inherited"] is True and twin["inherited"] is False
    assert first["similarity"] > twin["similarity"] + 0.1
    assert data["inheritance_calibration"]["source"].startswith("spec default")
    table = run_cli(*args)
    assert "inherited" in table.stdout and "own" in table.stdout and "another tokenizer" in table.stdout, table.stdout
    assert "phrases" in table.stdout and all(0 <= n["phrases"] <= 1 for n in data["neighbors"])
    report_file = tmp_path / "report.json"
    report_file.write_text(result.stdout)
    summary = run_cli("whois-summary", str(report_file)).stdout
    assert "| weights | phrases |" in summary and f"inherited {first['similarity']:.3f}" in summary
    skipped = json.loads(run_cli(*args, "--json", "--no-inheritance").stdout)
    assert all(n["similarity"] is None for n in skipped["neighbors"]) and skipped["inheritance_calibration"] is None


def test_registry_without_records_falls_back_to_the_dna(zoo, family_dnas, tmp_path):
    uri = str(tmp_path / "registry")
    open_registry(uri).add([RegistryRow.from_dna(family_dnas["kitchen-base"])])
    report = whois(str(zoo["kitchen-ft"]), registry=uri, dna=family_dnas["kitchen-ft"], progress=False)
    assert [c.model for c in report.undocumented] == ["kitchen-base"]
    assert report.inheritance is None and any("inheritance record" in n for n in report.notes)


def test_a_dna_reused_from_the_card_still_gets_its_record(zoo, tmp_path):
    from hf_dna.tail import tail_key

    model = shutil.copytree(zoo["kitchen-base"], tmp_path / "kitchen-base")
    assert not stamp(str(model), to=("card",), progress=False).reused  # the model runs once, for the card
    uri = str(tmp_path / "registry")
    again = stamp(str(model), registry=uri, to=("registry",), progress=False)
    assert again.reused and again.ok
    found = open_registry(uri).tails([("kitchen-base", again.dna.revision)], tail_key(current_spec().tail))
    assert list(found) == [("kitchen-base", again.dna.revision)]


def test_vocabulary_sample_is_fixed_by_the_tokenizer(zoo):
    from transformers import AutoTokenizer

    from hf_dna.tail import vocabulary_sample

    tokenizer = AutoTokenizer.from_pretrained(zoo["kitchen-base"])
    size = len(tokenizer)
    assert np.array_equal(vocabulary_sample(tokenizer, size, size + 10), np.arange(size))  # small: every id
    sample = vocabulary_sample(tokenizer, size, 64)
    assert len(sample) == 64 and np.all(np.diff(sample) > 0) and sample.max() < size
    assert np.array_equal(sample, vocabulary_sample(AutoTokenizer.from_pretrained(zoo["kitchen-ft"]), size, 64))
    # Ids past the tokenizer (a padded output layer) are named by position, so they can be sampled too.
    padded = vocabulary_sample(tokenizer, size + 500, 64)
    assert len(padded) == 64 and not np.array_equal(padded, sample)


def test_a_declared_parent_is_distant_only_when_far_by_dna_and_not_inherited():
    from hf_dna.calibration import Calibration
    from hf_dna.lineage import Candidate, LineageGraph, judge

    by_dna = Calibration(6.5, -9.0, 0.05, "test")  # related below distance 0.72
    by_tail = Calibration(24.6, -28.1, 0.0, "test")  # inherited above similarity 0.125
    graph = LineageGraph()
    graph.declare("query", ["parent"])

    def verdict(distance: float, similarity: float | None) -> str:
        candidate = Candidate("parent", "rev", distance, None, similarity=similarity)
        return judge("query", None, [candidate], graph, by_dna, by_tail)[0].verdict

    assert verdict(0.95, 0.01) == "declared-but-distant"  # far, and its own weights: a wrong card
    assert verdict(0.95, None) == "declared-but-distant"  # no records: the DNA decides
    assert verdict(0.95, 0.40) == "declared"  # behaves otherwise, but carries the parent's weights
    assert verdict(0.40, 0.01) == "declared"  # behaves like it: perhaps a fine-tune long enough to lose the imprint


def test_whois_on_a_hub_model_makes_its_record_from_the_download(stamped, zoo, repo_factory, hub):
    from helpers import model_files

    repo_id = repo_factory("kitchen-ft", files=model_files(zoo["kitchen-ft"], "---\nlicense: mit\n---\n"))
    report = whois(repo_id, registry=stamped["founders"], progress=False)
    assert report.dna_source == "computed"
    by_model = {c.model: c for c in report.neighbors}
    assert by_model["kitchen-base"].inherited is True and by_model["kitchen-twin"].inherited is False
    assert [c.model for c in report.undocumented] == ["kitchen-base"]


def test_a_distilled_student_ranks_its_teacher_first_without_a_flag(stamped, student_model, tmp_path):
    from hf_dna.tail import tail_key

    # The stamped records hold each model's probe answers, for the shared-phrase score.
    reg = open_registry(stamped["founders"])
    records = reg.tails([(r.model_id, r.revision) for r in reg.rows()], tail_key(current_spec().tail))
    assert len(records) == 3 and all(len(r.answers) == current_spec().probes.count for r in records.values())

    report = whois(str(student_model), registry=stamped["founders"], progress=False)
    by_model = {c.model: c for c in report.neighbors}
    # Its own tokenizer: no weights to compare, and the DNA alone never calls such a pair related.
    assert all(c.unshareable == "another tokenizer" for c in report.neighbors)
    assert report.undocumented == []
    # The teacher's characteristic phrases, not its same-data twin's, are the student's.
    assert report.neighbors[0].model == "kitchen-base"
    assert by_model["kitchen-base"].phrases > by_model["kitchen-twin"].phrases
    assert any("kitchen-base shares the most characteristic phrases" in n and "likeliest teacher" in n
               for n in report.notes)
    # Asked for one model, whois still weighs phrases among the nearest ten and reports the likeliest.
    only = whois(str(student_model), registry=stamped["founders"], progress=False, top_k=1)
    assert [c.model for c in only.neighbors] == ["kitchen-base"]
    # The CI job summary carries the same evidence and the note.
    (tmp_path / "report.json").write_text(json.dumps(report.to_dict()))
    summary = run_cli("whois-summary", str(tmp_path / "report.json"))
    assert summary.returncode == 0, summary.stderr
    assert "| `kitchen-base` |" in summary.stdout.split("\n| `kitchen-twin` |")[0]  # the teacher's row first
    assert "another tokenizer" in summary.stdout and "Notes:" in summary.stdout and "likeliest teacher" in summary.stdout


def test_a_logit_distilled_student_is_flagged_with_its_teacher(stamped, kd_student_model, tmp_path):
    # The teacher's tokenizer, another architecture: no weights to compare, but the two next-token
    # distributions can be set side by side, and the student reproduces its teacher's.
    result = run_cli("whois", str(kd_student_model), "--registry", stamped["founders"], "--json",
                     "--fail-on-undocumented")
    assert result.returncode == 3, result.stderr
    report = json.loads(result.stdout)
    by_model = {n["model"]: n for n in report["neighbors"]}
    assert [n["model"] for n in report["undocumented"]] == ["kitchen-base"]
    teacher, twin = by_model["kitchen-base"], by_model["kitchen-twin"]
    assert teacher["verdict"] == "undocumented-parent"
    assert teacher["weights_unshareable"] == "another architecture or size"
    # kitchen-base's same-data twin behaves alike but its distributions are its own.
    assert twin["verdict"] == "unrelated" and twin["divergence"] > 2 * teacher["divergence"]
    assert any("kitchen-twin behaves like this model" in n and "shares its tokenizer" in n for n in report["notes"])
    assert by_model["machines-base"]["divergence"] is None  # another tokenizer: nothing to set side by side
    assert report["distilled_calibration"]["feature"] == "log divergence"

    table = run_cli("whois", str(kd_student_model), "--registry", stamped["founders"])
    assert table.returncode == 0, table.stderr
    assert "another architecture or size; divergence" in table.stdout
    assert "divergence: of the next-token" in table.stdout
    (tmp_path / "report.json").write_text(result.stdout)
    summary = run_cli("whois-summary", str(tmp_path / "report.json"))
    assert summary.returncode == 0 and "divergence" in summary.stdout


def test_divergence_needs_a_shared_tokenizer(tails):
    base = tails["kitchen-base"]
    assert base.divergence(base) == pytest.approx(0.0, abs=1e-9)
    assert base.divergence(tails["kitchen-ft"]) > 0
    assert base.divergence(tails["machines-base"]) is None
