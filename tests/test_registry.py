"""The registry, on a local folder and on the test Hub: real files, real clients, no mocks."""

from __future__ import annotations

import csv
import json
import re
import subprocess
import sys
import uuid
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from hf_dna.dna import DNA, decode_vector
from hf_dna.errors import RegistryError, RegistryPermissionError, RegistryWriteError
from hf_dna.registry import Registry, RegistryRow, open_registry
from hf_dna.spec import current_spec
from helpers import run_cli

SPEC = current_spec().id
OTHER_SPEC = "dna-0/deadbeef"  # a second spec, with shorter vectors
ENTRY = re.compile(r"^entries/[\w.-]+/[\w.-]+/\d{4}-\d{2}-\d{2}/[0-9a-f-]{36}\.parquet$")


def dna(model: str, seed: int = 0, spec: str = SPEC, dim: int = 128, revision: str = "a" * 40) -> DNA:
    vector = np.random.default_rng(seed).standard_normal(dim).astype(np.float32)
    return DNA(model=model, revision=revision, spec=spec, vector=vector, created_at="2026-01-01T00:00:00Z")


def row(model: str, seed: int = 0, **kwargs) -> RegistryRow:
    return RegistryRow.from_dna(dna(model, seed), **kwargs)


@pytest.fixture
def hub_registry(hub_api, owner_token):
    """A fresh hf://datasets/alice/... address (the repo is made on first write); deleted after."""
    repo_id = f"alice/registry-{uuid.uuid4().hex[:8]}"
    yield f"hf://datasets/{repo_id}", repo_id
    hub_api.delete_repo(repo_id, repo_type="dataset", missing_ok=True)


@pytest.fixture(params=["local", "hub"])
def registry(request, tmp_path, owner_token) -> Registry:
    if request.param == "local":
        return open_registry(str(tmp_path / "registry"))
    uri, _ = request.getfixturevalue("hub_registry")
    return open_registry(uri, token=owner_token)


def entry_files(registry: Registry) -> list[str]:
    return registry.store.list("entries", registry.store.head())


# ----------------------------------------------------------------------------- API


def test_row_fields_follow_the_schema():
    import dataclasses

    from hf_dna.registry import SCHEMA

    assert [f.name for f in dataclasses.fields(RegistryRow)] == SCHEMA.names  # table_to_rows relies on it


def test_round_trip(registry):
    written = registry.add([row("org/base", 1), row("org/tune", 2, declared_parents=["org/base"], relation="finetune")])
    assert ENTRY.match(written) and entry_files(registry) == [written]
    rows = registry.rows()
    assert [r.model_id for r in rows] == ["org/base", "org/tune"]
    tune = registry.find("org/tune", revision="aaaa")
    assert tune.declared_parents == ["org/base"] and tune.relation == "finetune" and tune.source == "stamp"
    np.testing.assert_array_equal(tune.to_dna().vector, dna("org/tune", 2).vector)
    found, matrix = registry.matrix(SPEC)
    assert matrix.dtype == np.float32 and matrix.shape == (2, 128) and [r.model_id for r in found] == ["org/base", "org/tune"]
    assert registry.find("org/none") is None and registry.problems == []


def test_hub_layout_and_card(hub, hub_registry, owner_token):
    uri, repo_id = hub_registry
    assert open_registry(uri, token=owner_token).rows() == []  # no repo yet: an empty registry
    written = open_registry(uri, token=owner_token).add([row("org/a")])
    files = hub.files(repo_id, "dataset")
    assert written in files and "README.md" in files
    card = files["README.md"].decode()
    assert "entries/**/*.parquet" in card and f"--registry {uri}" in card and "$" not in card


def test_later_row_wins(registry):
    registry.add([row("org/m", 1)])
    registry.add([row("org/m", 2, source="import")])
    latest = registry.find("org/m")
    assert latest.source == "import" and np.array_equal(latest.vector, dna("org/m", 2).vector)
    # stamped_at decides before file order: an older stamp written later does not win
    old = row("org/m", 3)
    old.stamped_at = "2020-01-01T00:00:00Z"
    registry.add([old])
    assert np.array_equal(registry.find("org/m").vector, dna("org/m", 2).vector)
    assert len(registry.rows()) == 1


def test_several_specs(tmp_path):
    registry = open_registry(str(tmp_path))
    other = RegistryRow.from_dna(dna("org/m", 1, spec=OTHER_SPEC, dim=64))
    registry.add([row("org/m", 1), other, row("org/n", 2)])
    assert {p.split("/")[1] for p in entry_files(registry)} == {"dna-0", SPEC.split("/")[0]}
    assert len(registry.rows()) == 3
    assert [r.model_id for r in registry.rows(OTHER_SPEC)] == ["org/m"]
    assert registry.matrix(OTHER_SPEC)[1].shape == (1, 64) and registry.matrix(SPEC)[1].shape == (2, 128)
    assert registry.find("org/m", spec=OTHER_SPEC).spec == OTHER_SPEC
    assert registry.matrix("dna-9/00000000")[1].shape == (0, 0)


def test_compact_keeps_every_row_and_leaves_one_file(registry, hub):
    for i in range(4):
        registry.add([row(f"org/m{i}", i), row("org/shared", i)])
    before = {(r.model_id, r.stamped_at) for r in registry.rows()}
    result = registry.compact()
    assert result.files_merged == 4 and result.rows == 5
    assert entry_files(registry) == result.written
    assert {(r.model_id, r.stamped_at) for r in registry.rows()} == before
    assert registry.compact().written == []  # already compact


def test_compact_is_one_commit_on_the_hub(hub, hub_registry, owner_token):
    uri, repo_id = hub_registry
    registry = open_registry(uri, token=owner_token)
    for i in range(3):
        registry.add([row(f"org/m{i}", i)])
    commits = len(hub.get_repo(repo_id, "dataset").commits)
    registry.compact()
    assert len(hub.get_repo(repo_id, "dataset").commits) == commits + 1


def test_export_parquet_and_csv(tmp_path):
    registry = open_registry(str(tmp_path / "registry"))
    registry.add([row("org/a", 1, declared_parents=["org/base", "org/other"]), row("org/b", 2)])
    assert registry.export(tmp_path / "out.parquet") == 2
    table = pq.read_table(tmp_path / "out.parquet")
    assert table.column("model_id").to_pylist() == ["org/a", "org/b"]
    assert registry.export(tmp_path / "out.csv") == 2
    first = next(csv.DictReader((tmp_path / "out.csv").open()))
    assert json.loads(first["declared_parents"]) == ["org/base", "org/other"]
    np.testing.assert_array_equal(decode_vector(first["vector"]), dna("org/a", 1).vector)
    with pytest.raises(ValueError, match=r"\.parquet or \.csv"):
        registry.export(tmp_path / "out.txt")


def test_corrupt_file_is_named_and_the_rest_readable(registry, hub_api):
    registry.add([row("org/good", 1)])
    bad = "entries/dna-1/088e259d/2026-01-01/bad.parquet"
    registry.store.commit({bad: b"PAR1 this is not parquet"}, [], "corrupt", registry.store.head())
    assert [r.model_id for r in registry.rows()] == ["org/good"]
    assert len(registry.problems) == 1 and bad in registry.problems[0]
    registry.compact()  # leaves the unreadable file alone
    assert bad in entry_files(registry)


def test_failed_commit_leaves_the_registry_unchanged(hub, hub_registry, owner_token):
    uri, repo_id = hub_registry
    registry = open_registry(uri, token=owner_token)
    registry.add([row("org/a")])
    files = hub.files(repo_id, "dataset")
    hub.inject("POST", rf"/api/datasets/{repo_id}/commit/", status=500)
    with pytest.raises(RegistryWriteError, match=rf"{repo_id}.*HTTP 500.*left as it was"):
        registry.add([row("org/b")])
    hub.inject("POST", rf"/api/datasets/{repo_id}/commit/", drop=True)
    with pytest.raises(RegistryWriteError, match=repo_id):
        registry.add([row("org/c")])
    assert hub.files(repo_id, "dataset") == files and [r.model_id for r in registry.rows()] == ["org/a"]


def test_other_users_write_goes_to_a_pull_request(hub, hub_registry, owner_token, other_token):
    uri, repo_id = hub_registry
    with pytest.raises(RegistryPermissionError, match=rf"{repo_id}.*--registry"):  # cannot even create it
        open_registry(uri, token=other_token).add([row("org/a")])
    owners = open_registry(uri, token=owner_token)
    owners.add([row("org/a")])
    assert owners.pull_request is None  # the owner commits directly
    main_before = hub.files(repo_id, "dataset")
    bobs = open_registry(uri, token=other_token)
    bobs.add([row("org/b")])  # bob's row waits in a pull request for alice to merge
    assert "refs/pr/" in bobs.pull_request or "discussions" in bobs.pull_request
    assert hub.files(repo_id, "dataset") == main_before
    in_pr = [p for p in hub.files(repo_id, "dataset", revision="refs/pr/1") if p.startswith("entries/")]
    assert len(in_pr) == 2  # alice's file and bob's new one
    assert [r.model_id for r in bobs.rows()] == ["org/a"]  # readers see main
    direct = open_registry(uri, token=other_token, write_mode="direct")
    with pytest.raises(RegistryPermissionError, match=r"(?s)403.*--registry hf://datasets/YOUR_NAME.*pull request"):
        direct.add([row("org/c")])


def test_open_registry_addresses(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_DNA_REGISTRY", str(tmp_path / "env"))
    assert open_registry().uri == str(tmp_path / "env")
    with pytest.raises(RegistryError, match="hf://datasets/ORG/NAME"):
        open_registry("hf://models/org/name")


WRITER = """
import sys, time, pathlib
import numpy as np
from hf_dna.dna import DNA
from hf_dna.registry import RegistryRow, open_registry
uri, token, i, gate, n = sys.argv[1], sys.argv[2] or None, int(sys.argv[3]), pathlib.Path(sys.argv[4]), int(sys.argv[5])
registry = open_registry(uri, token=token)
(gate / str(i)).touch()
while len(list(gate.iterdir())) < n:  # start together, to make the writers collide
    time.sleep(0.005)
dna = DNA(model=f"org/m{i}", revision="0" * 40, spec=sys.argv[6], vector=np.full(128, i, np.float32))
registry.add([RegistryRow.from_dna(dna)])
"""


@pytest.mark.parametrize("backend", ["local", "hub"])
def test_concurrent_writers_lose_no_rows(backend, tmp_path, hub, owner_token, request):
    n, gate = 6, tmp_path / "gate"
    gate.mkdir()
    if backend == "local":
        uri, repo_id = str(tmp_path / "registry"), None
    else:
        uri, repo_id = request.getfixturevalue("hub_registry")
    procs = [subprocess.Popen([sys.executable, "-c", WRITER, uri, owner_token, str(i), str(gate), str(n), SPEC],
                              stderr=subprocess.PIPE, text=True) for i in range(n)]
    for proc in procs:
        assert proc.wait(timeout=120) == 0, proc.stderr.read()
    rows = open_registry(uri, token=owner_token).rows()
    assert sorted(r.model_id for r in rows) == [f"org/m{i}" for i in range(n)]
    if repo_id:  # they collided, were told 412, and retried
        commits = [s for m, p, s in hub.requests if m == "POST" and p.startswith(f"/api/datasets/{repo_id}/commit/")]
        assert 412 in commits and commits.count(200) == n


def test_load_dataset_reads_a_hub_registry(hub_registry, owner_token):
    from datasets import load_dataset

    uri, repo_id = hub_registry
    registry = open_registry(uri, token=owner_token)
    registry.add([row("org/a", 1), row("org/b", 2)])
    registry.add([row("org/c", 3)])
    loaded = load_dataset(repo_id, split="train", token=owner_token)
    assert sorted(loaded["model_id"]) == ["org/a", "org/b", "org/c"]
    assert len(loaded[0]["vector"]) == 128 and loaded.features["declared_parents"].feature.dtype == "string"
    explicit = load_dataset(repo_id, data_files="entries/**/*.parquet", split="train", token=owner_token)
    assert explicit.num_rows == 3


# ----------------------------------------------------------------------------- CLI


def test_cli_subcommands(tmp_path):
    reg = ["--registry", str(tmp_path / "registry")]
    for name, seed in (("a", 1), ("b", 2)):
        dna(f"org/{name}", seed).save(tmp_path / f"{name}.json")
    added = run_cli("registry", "add", str(tmp_path / "a.json"), str(tmp_path / "b.json"),
                    "--declared-parent", "org/base", "--json", *reg)
    assert added.returncode == 0, added.stderr
    assert json.loads(added.stdout)["rows"] == 2
    listed = json.loads(run_cli("registry", "list", "--json", *reg).stdout)
    assert [r["model_id"] for r in listed] == ["org/a", "org/b"] and listed[0]["source"] == "import"
    shown = json.loads(run_cli("registry", "show", "org/b", "--json", *reg).stdout)
    assert shown["declared_parents"] == ["org/base"] and len(shown["vector"]) == 128
    table = run_cli("registry", "list", *reg).stdout
    assert "org/a" in table and "aaaaaaaaaaaa " in table
    compacted = json.loads(run_cli("registry", "compact", "--json", *reg).stdout)
    assert compacted["written"] == [] and compacted["rows"] == 2  # one add, one file: already compact
    exported = run_cli("registry", "export", str(tmp_path / "out.csv"), "--json", *reg)
    assert json.loads(exported.stdout)["rows"] == 2
    missing = run_cli("registry", "show", "org/none", *reg)
    assert missing.returncode == 1 and "No entry for org/none" in missing.stderr


def test_cli_reports_problems_and_compacts(tmp_path):
    uri = str(tmp_path / "registry")
    registry = open_registry(uri)
    registry.add([row("org/a", 1)])
    registry.add([row("org/b", 2)])
    bad = tmp_path / "registry/entries/dna-1/088e259d/2026-01-01/bad.parquet"
    bad.parent.mkdir(parents=True)
    bad.write_bytes(b"garbage")
    listed = run_cli("registry", "list", "--registry", uri)
    assert listed.returncode == 0 and "bad.parquet" in listed.stderr and "org/b" in listed.stdout
    compacted = json.loads(run_cli("registry", "compact", "--json", "--registry", uri).stdout)
    assert compacted["files_merged"] == 2 and compacted["rows"] == 2
    assert len(list(Path(uri).rglob("*.parquet"))) == 2  # the merged file + the unreadable one


def test_readers_never_see_rows_missing_during_local_compaction(tmp_path):
    import threading

    uri = str(tmp_path / "registry")
    registry = open_registry(uri)
    for i in range(6):
        registry.add([row(f"org/m{i}", i)])
    stop = threading.Event()

    def churn() -> None:  # keep compacting, and adding duplicates so there is always work
        writer = open_registry(uri)
        while not stop.is_set():
            writer.add([row("org/m0", 0)])
            writer.compact()

    thread = threading.Thread(target=churn)
    thread.start()
    try:
        counts = {len(open_registry(uri).rows()) for _ in range(40)}
    finally:
        stop.set()
        thread.join()
    assert counts == {6}
