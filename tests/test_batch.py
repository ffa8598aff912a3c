"""Batch stamping (`hf-dna stamp --from/--search`): past broken models, resumable, and the
same rows from the local and the Ray engine. Real tiny models, the local Hub server, no mocks."""

from __future__ import annotations

import json
import shutil
import uuid

import numpy as np
import pytest

from conftest import make_hub_env
from hf_dna.batch import parse_query, search_models, stamp_many
from hf_dna.errors import BatchError
from hf_dna.registry import open_registry
from hf_dna.spec import current_spec
from helpers import model_files, run_cli


@pytest.fixture
def corrupt_copy(small_zoo, tmp_path):
    """A model folder whose weights are garbage: it resolves, then fails to load."""
    path = shutil.copytree(small_zoo["small-c"], tmp_path / "corrupt")
    (path / "model.safetensors").write_bytes(b"not a safetensors file" * 100)
    return path


@pytest.fixture(scope="module")
def ray_cluster():
    ray = pytest.importorskip("ray", reason='the Ray engine needs pip install "hf-dna[ray]"')
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield ray
    ray.shutdown()


def test_batch_finishes_past_broken_models_and_a_rerun_does_no_work_twice(hub, repo_factory, small_zoo, corrupt_copy,
                                                                           tmp_path, owner_token):
    good = [repo_factory("batch-a", files=model_files(small_zoo["small-a"], "---\nbase_model: alice/somewhere\n---\n")),
            repo_factory("batch-b", files=model_files(small_zoo["small-b"]))]
    corrupt = repo_factory("batch-corrupt", files=model_files(corrupt_copy))
    listed = [good[0], "alice/no-such-model", corrupt, good[1]]
    (tmp_path / "models.txt").write_text("# the batch\n" + "\n".join(listed) + "\n\n")
    uri = f"hf://datasets/alice/batch-registry-{uuid.uuid4().hex[:8]}"
    args = ("stamp", "--from", str(tmp_path / "models.txt"), "--registry", uri, "--report", str(tmp_path / "r.json"))
    weights_commits = {g: hub.head(g) for g in good}  # the card commits come after

    first = run_cli(*args, env=make_hub_env(owner_token))
    assert first.returncode == 1, first.stderr
    report = json.loads((tmp_path / "r.json").read_text())
    assert [m["status"] for m in report["models"]] == ["stamped", "failed", "failed", "stamped"], json.dumps(report)
    assert "No model 'alice/no-such-model'" in report["models"][1]["error"]
    assert "Could not load" in report["models"][2]["error"]
    assert "2 stamped, 0 skipped, 2 failed" in first.stdout and "alice/no-such-model" in first.stdout
    registry = open_registry(uri, token=owner_token)
    rows = registry.rows(current_spec().id)
    assert {(r.model_id, r.revision) for r in rows} == set(weights_commits.items())
    assert next(r for r in rows if r.model_id == good[0]).declared_parents == ["alice/somewhere"]
    evidence = registry.evidence()
    assert sorted(e.model_id for e in evidence) == sorted(good)
    assert all(len(e.answers) == 160 and len(e.char_nll) == current_spec().likelihood.input_dim for e in evidence)
    # Both rows (and their evidence) came in one registry commit; cards and companions per model.
    assert [c for c in hub.get_repo(uri.removeprefix("hf://datasets/"), "dataset").commits.values()
            if c.summary.startswith("Add 2 DNA row(s)")]
    assert all("hf_dna:" in hub.files(g)["README.md"].decode() for g in good)

    heads = {g: hub.head(g) for g in good} | {"registry": hub.head(uri.removeprefix("hf://datasets/"), "dataset")}
    seen = len(hub.requests)
    again = run_cli(*args, "--json", env=make_hub_env(owner_token))
    assert again.returncode == 1, again.stderr
    statuses = [(m["status"], m["note"]) for m in json.loads(again.stdout)["models"]]
    assert statuses[0] == statuses[3] == ("skipped", f"already in the registry under {current_spec().id}")
    assert [s for s, _ in statuses[1:3]] == ["failed", "failed"]
    assert {g: hub.head(g) for g in good} | {"registry": hub.head(uri.removeprefix("hf://datasets/"), "dataset")} == heads
    assert not [p for _, p, _ in hub.requests[seen:] if any(g in p for g in good) and p.endswith(".safetensors")]


def test_search_by_words_author_and_base_model(repo_factory, hub, owner_token, tmp_path):
    word = f"srch{uuid.uuid4().hex[:8]}"
    base = repo_factory(f"{word}-base", owner="dna-org", files={"config.json": "{}"})
    child = repo_factory(f"{word}-ft", owner="dna-org", files={"README.md": f"---\nbase_model: {base}\n---\n"})
    other = repo_factory(f"{word}-other", files={"config.json": "{}"})
    assert sorted(search_models(word, token=owner_token)) == sorted([base, child, other])
    assert sorted(search_models(f"{word} author:dna-org", token=owner_token)) == sorted([base, child])
    assert search_models(f"base_model:{base}", token=owner_token) == [child]
    assert len(search_models(word, limit=1, token=owner_token)) == 1
    assert parse_query("kitchen author:me base_model:a/b license:mit") == ("kitchen", "me", ["base_model:a/b", "license:mit"])
    with pytest.raises(BatchError, match="No model on the Hub matches"):
        search_models(f"{word}-nothing", token=owner_token)
    # The CLI: a model with no weights fails on its own; the report says why.
    result = run_cli("stamp", "--search", f"{word} author:alice", "--registry", str(tmp_path / "reg"), "--json",
                     env=make_hub_env(owner_token))
    assert result.returncode == 1, result.stderr
    (item,) = json.loads(result.stdout)["models"]
    assert item["model"] == other and item["status"] == "failed" and "no model weights" in item["error"]


def test_cli_needs_exactly_one_source(tmp_path):
    none = run_cli("stamp")
    assert none.returncode == 2 and "exactly one of MODEL, --from FILE or --search QUERY" in none.stderr
    both = run_cli("stamp", "org/model", "--search", "kitchen")
    assert both.returncode == 2 and "(got MODEL, --search)" in both.stderr
    assert run_cli("stamp", "--from", str(tmp_path / "models.txt"), "--revision", "main").returncode == 2
    (tmp_path / "empty.txt").write_text("# nothing\n")
    empty = run_cli("stamp", "--from", str(tmp_path / "empty.txt"))
    assert empty.returncode == 1 and "names no model" in empty.stderr


def test_ray_and_local_engines_give_identical_rows(small_zoo, stamped_small_zoo, corrupt_copy, tmp_path, ray_cluster):
    models = [str(small_zoo["small-a"]), str(small_zoo["small-b"])]  # what stamped_small_zoo stamped locally
    on_ray = stamp_many([*models, str(corrupt_copy)], registry=str(tmp_path / "ray"), engine="ray",
                        to=("registry",), progress=False)
    assert [i.status for i in on_ray.items] == ["stamped", "stamped", "failed"]
    assert "Could not load" in on_ray.items[2].error  # raised in a Ray worker, reported by the driver
    rows = {engine: {r.model_id: r for r in open_registry(str(path)).rows()}
            for engine, path in (("local", stamped_small_zoo), ("ray", tmp_path / "ray"))}
    assert rows["local"].keys() == rows["ray"].keys() == {"small-a", "small-b"}
    for name, row in rows["local"].items():
        twin = rows["ray"][name]
        assert (twin.revision, twin.spec) == (row.revision, row.spec)
        np.testing.assert_allclose(twin.vector, row.vector, atol=1e-6)
    answers = {engine: {e.model_id: e.answers for e in open_registry(str(path)).evidence()}
               for engine, path in (("local", stamped_small_zoo), ("ray", tmp_path / "ray"))}
    assert answers["local"] == answers["ray"]


def test_a_failed_registry_write_fails_its_models_and_leaves_the_registry_as_it_was(hub, small_zoo, owner_token):
    name = f"batch-registry-{uuid.uuid4().hex[:8]}"
    hub.inject("POST", rf"/api/datasets/alice/{name}/commit/", status=500, times=None)
    result = stamp_many([str(small_zoo["small-a"])], registry=f"hf://datasets/alice/{name}", to=("registry",),
                        token=owner_token, progress=False)
    (item,) = result.items
    assert item.status == "failed" and item.error.startswith("registry: Could not write")
    assert [t.status for t in item.targets] == ["failed"] and not result.ok
    registry = open_registry(f"hf://datasets/alice/{name}", token=owner_token)
    assert registry.rows() == [] and registry.evidence() == []
