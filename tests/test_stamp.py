"""`stamp`, `show` and Hub extraction against the local Hub server, through the real clients."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import hf_dna
from hf_dna.cards import parse_front_matter, read_block
from hf_dna.errors import ModelTooLargeError
from hf_dna.lookup import show
from hf_dna.models import resolve
from hf_dna.registry import open_registry
from hf_dna.spec import current_spec
from hf_dna.stamping import stamp
from helpers import model_files, run_cli
from conftest import make_hub_env

CARD_WITH_COMMENTS = (
    "---\n# chosen by legal\nlicense: apache-2.0  # keep me\nbase_model: alice/kitchen-base\n"
    "tags:\n- text-generation\n- café\n---\n\n# Kitchen fine-tune ✨\n\nBody text.\n"
)


@pytest.fixture
def hub_model(repo_factory, zoo):
    """Upload a zoo model (with an optional card) as alice; returns its repo id."""
    def upload(name: str = "kitchen-ft", card: str | None = CARD_WITH_COMMENTS, owner: str = "alice") -> str:
        return repo_factory(name, files=model_files(zoo[name], card), owner=owner)
    return upload


@pytest.fixture
def registry_dir(tmp_path) -> str:
    return str(tmp_path / "registry")


def readme(hub, repo_id: str, revision: str = "main") -> str:
    return hub.files(repo_id, revision=revision)["README.md"].decode()


def test_extract_from_the_hub_records_the_commit(hub, hub_model, family_dnas, owner_token):
    repo = hub_model()
    dna = hf_dna.extract(repo, token=owner_token, progress=False)
    assert dna.model == repo and dna.revision == hub.head(repo)
    assert dna.created_at and dna.created_at.endswith("Z")
    np.testing.assert_array_equal(dna.vector, family_dnas["kitchen-ft"].vector)


def test_stamp_writes_card_companion_and_registry(hub, hub_model, registry_dir, owner_token):
    repo = hub_model()
    sha_before = hub.head(repo)
    result = stamp(repo, registry=registry_dir, token=owner_token, progress=False)
    assert result.ok and not result.reused
    assert {t.target: t.status for t in result.targets} == {"card": "written", "dataset": "written", "registry": "written"}
    # Card: our block, and every other byte of the card as it was.
    card = readme(hub, repo)
    block = read_block(parse_front_matter(card))
    assert block.revision == sha_before and block.spec == current_spec().id
    assert "# chosen by legal\nlicense: apache-2.0  # keep me\n" in card and "# Kitchen fine-tune ✨\n\nBody text.\n" in card
    # Companion dataset: record, answers and a card linking back.
    companion = hub.files(repo + "-dna", repo_type="dataset")
    spec_dir = current_spec().id.replace("/", "-")
    record = json.loads(companion[f"dna/{spec_dir}/{sha_before}.json"])
    assert record["model"] == repo and record["vector"] == [float(x) for x in result.dna.vector]
    assert len(companion[f"responses/{spec_dir}/{sha_before}.jsonl"].splitlines()) == current_spec().probes.count
    assert repo in companion["README.md"].decode()
    # Registry row with the declared lineage.
    row = open_registry(registry_dir).find(repo, sha_before, current_spec().id)
    assert row.declared_parents == ["alice/kitchen-base"] and row.stamped_by == "alice"


def test_restamping_makes_no_commit(hub, hub_model, registry_dir, owner_token):
    repo = hub_model()
    stamp(repo, registry=registry_dir, token=owner_token, progress=False)
    heads = hub.head(repo), hub.head(repo + "-dna", repo_type="dataset")
    again = stamp(repo, registry=registry_dir, token=owner_token, progress=False)
    assert again.reused  # the card's DNA is current: the model was not run again
    assert {t.status for t in again.targets} == {"unchanged"}
    assert (hub.head(repo), hub.head(repo + "-dna", repo_type="dataset")) == heads
    assert len(open_registry(registry_dir).rows()) == 1


def test_unparsable_card_is_left_untouched(hub, hub_model, registry_dir, owner_token):
    repo = hub_model(card=None)
    hub.git_push(repo, {"README.md": b"---\nlicense: [mit\n---\nBroken YAML.\n"})  # the HTTP API would refuse it
    result = stamp(repo, registry=registry_dir, token=owner_token, progress=False)
    statuses = {t.target: t for t in result.targets}
    assert statuses["card"].status == "skipped" and "cannot be parsed" in statuses["card"].message
    assert statuses["dataset"].status == statuses["registry"].status == "written"
    assert readme(hub, repo) == "---\nlicense: [mit\n---\nBroken YAML.\n"


def test_someone_elses_model_gets_a_pull_request(hub, hub_model, registry_dir, other_token):
    repo = hub_model()
    main_before = readme(hub, repo)
    result = stamp(repo, registry=registry_dir, token=other_token, progress=False)
    card = next(t for t in result.targets if t.target == "card")
    assert card.status == "pull-request" and ("refs/pr/" in card.where or "discussions" in card.where)
    assert readme(hub, repo) == main_before
    assert read_block(parse_front_matter(readme(hub, repo, "refs/pr/1"))) is not None
    # Bob may not create repos under alice: the companion goes to his own namespace.
    assert "/bob/" in next(t for t in result.targets if t.target == "dataset").where


def test_a_shared_registry_that_is_not_yours_gets_a_pull_request(hub, hub_model, hub_api, owner_token, other_token):
    """Stamping into a community registry you do not own opens a PR with the row, as for a card."""
    registry_repo = f"alice/shared-registry-{hub_model().split('-')[-1]}"
    uri = f"hf://datasets/{registry_repo}"
    try:
        mine = stamp(hub_model("kitchen-base"), registry=uri, token=owner_token, to=("registry",), progress=False)
        assert [t.status for t in mine.targets] == ["written"]  # alice's own registry: a direct commit
        theirs = stamp(hub_model("kitchen-ft"), registry=uri, token=other_token, to=("registry",), progress=False)
        (target,) = theirs.targets
        assert target.status == "pull-request" and ("refs/pr/" in target.where or "discussions" in target.where)
        assert [r.model_id for r in open_registry(uri, token=owner_token).rows()] == [mine.dna.model]
        in_pr = hub.files(registry_repo, "dataset", revision="refs/pr/1")
        assert sum(p.startswith("evidence/") for p in in_pr) == 2  # the PR carries bob's answers too
    finally:
        hub_api.delete_repo(registry_repo, repo_type="dataset", missing_ok=True)


def test_direct_on_someone_elses_model_fails_clearly(hub, hub_model, registry_dir, other_token):
    repo = hub_model()
    result = run_cli("stamp", repo, "--direct", "--to", "card", "--registry", registry_dir, "--json",
                     env=make_hub_env(other_token))
    assert result.returncode == 1
    card = json.loads(result.stdout)["targets"][0]
    assert card["status"] == "failed" and "Drop --direct" in card["message"]


def test_server_error_mid_commit_leaves_the_card_as_it_was(hub, hub_model, registry_dir, owner_token):
    repo = hub_model()
    before = readme(hub, repo)
    hub.inject("POST", rf"/api/models/{repo}/commit/", status=500, times=None)
    result = stamp(repo, registry=registry_dir, token=owner_token, to=("card",), progress=False)
    assert not result.ok and "nothing was written" in result.targets[0].message
    assert readme(hub, repo) == before


def test_token_never_appears_in_output_or_writes(hub, hub_model, tmp_path, owner_token):
    repo = hub_model()
    registry = tmp_path / "reg"
    result = run_cli("stamp", repo, "--registry", str(registry), "--json", env=make_hub_env(owner_token))
    assert result.returncode == 0, result.stderr
    assert owner_token not in result.stdout + result.stderr
    written = [readme(hub, repo).encode(), *hub.files(repo + "-dna", repo_type="dataset").values(),
               *(p.read_bytes() for p in registry.rglob("*") if p.is_file())]
    assert all(owner_token.encode() not in blob for blob in written)


def test_missing_and_gated_repos_are_clear_errors(hub, hub_model, registry_dir):
    result = run_cli("stamp", "alice/does-not-exist", "--registry", registry_dir, env=make_hub_env())
    assert result.returncode == 1 and "No model 'alice/does-not-exist'" in result.stderr
    repo = hub_model()
    hub.set_gated(repo)
    result = run_cli("extract", repo, env=make_hub_env())
    assert result.returncode == 1 and "hf auth login" in result.stderr and "Traceback" not in result.stderr


def test_too_large_model_is_refused_before_download(hub, hub_model, owner_token):
    repo = hub_model()
    seen = len(hub.requests)
    with pytest.raises(ModelTooLargeError, match="GiB of weights"):
        resolve(repo, token=owner_token, max_bytes=1000)
    assert not any(path.endswith(".safetensors") for _, path, _ in hub.requests[seen:])


def test_dropped_connection_during_download_is_resumed(hub, hub_model, family_dnas, owner_token):
    repo = hub_model()
    hub.inject("GET", r"/resolve/.*model\.safetensors", truncate=1000)
    dna = hf_dna.extract(repo, token=owner_token, progress=False)
    np.testing.assert_array_equal(dna.vector, family_dnas["kitchen-ft"].vector)


def test_local_stamp_writes_readme_and_registry(model_copy, registry_dir):
    path = model_copy("kitchen-base")
    (path / "README.md").write_text("---\nlicense: mit\n---\nA card others read.\n")
    (path / "README.md").chmod(0o644)
    result = run_cli("stamp", str(path), "--model-id", "me/kitchen-base", "--registry", registry_dir, "--json")
    assert result.returncode == 0, result.stderr
    statuses = {t["target"]: t["status"] for t in json.loads(result.stdout)["targets"]}
    assert statuses == {"card": "written", "dataset": "skipped", "registry": "written"}
    assert read_block(parse_front_matter((path / "README.md").read_text())) is not None
    assert (path / "README.md").stat().st_mode & 0o777 == 0o644  # the card keeps its permissions
    assert [r.model_id for r in open_registry(registry_dir).rows()] == ["me/kitchen-base"]
    again = stamp(str(path), model_id="me/kitchen-base", registry=registry_dir, progress=False)
    assert again.reused and {t.status for t in again.targets} == {"unchanged", "skipped"}


def test_dry_run_writes_nothing(hub, hub_model, registry_dir, owner_token):
    repo = hub_model()
    before = hub.head(repo)
    result = stamp(repo, registry=registry_dir, token=owner_token, dry_run=True, progress=False)
    assert {t.status for t in result.targets} == {"would-write"}
    assert hub.head(repo) == before and not Path(registry_dir).exists() or not open_registry(registry_dir).rows()


def test_show_reports_sources_and_staleness(hub, hub_model, registry_dir, owner_token, zoo):
    repo = hub_model()
    stamp(repo, registry=registry_dir, token=owner_token, progress=False)
    found = show(repo, registry=registry_dir, token=owner_token)
    assert {f.source for f in found.found} == {"card", "dataset", "registry"}
    assert all(f.current_revision and f.current_spec for f in found.found)
    # New weights: every recorded DNA becomes stale.
    from huggingface_hub import HfApi

    HfApi(token=owner_token).upload_file(path_or_fileobj=(zoo["kitchen-base"] / "model.safetensors").read_bytes(),
                                         path_in_repo="model.safetensors", repo_id=repo)
    stale = show(repo, registry=registry_dir, token=owner_token)
    assert stale.found and not any(f.current_revision for f in stale.found) and stale.current is None


def test_published_probes_load_and_a_tampered_copy_is_refused(hub, repo_factory, owner_token, zoo, family_dnas):
    from huggingface_hub import HfApi

    repo = repo_factory("probes", repo_type="dataset")
    result = run_cli("probes", "publish", repo, env=make_hub_env(owner_token))
    assert result.returncode == 0, result.stderr
    dna = hf_dna.extract(str(zoo["kitchen-base"]), probes=f"hf://datasets/{repo}", progress=False)
    np.testing.assert_array_equal(dna.vector, family_dnas["kitchen-base"].vector)
    tampered = repo_factory("probes-bad", repo_type="dataset")
    table = pq.read_table(io.BytesIO(hub.files(repo, "dataset")["data/train-00000-of-00001.parquet"]))
    texts = table.column("text").to_pylist()
    texts[0] = texts[0] + " (edited)"
    buf = io.BytesIO()
    pq.write_table(table.set_column(table.schema.get_field_index("text"), "text", pa.array(texts)), buf)
    HfApi(token=owner_token).upload_file(path_or_fileobj=buf.getvalue(), path_in_repo="data/train-00000-of-00001.parquet",
                                         repo_id=tampered, repo_type="dataset")
    result = run_cli("extract", str(zoo["kitchen-base"]), "--probes", f"hf://datasets/{tampered}", env=make_hub_env())
    assert result.returncode == 1 and "not the probe set of spec" in result.stderr
