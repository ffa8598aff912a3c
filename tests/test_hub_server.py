"""The test Hub server, exercised only through the real clients (no mocks)."""

from __future__ import annotations

import hashlib
import os

import pytest
from huggingface_hub import (
    CommitOperationAdd,
    HfApi,
    HfFileSystem,
    ModelCard,
    get_hf_file_metadata,
    hf_hub_download,
    hf_hub_url,
    metadata_update,
    snapshot_download,
)
from huggingface_hub.errors import (
    EntryNotFoundError,
    GatedRepoError,
    HfHubHTTPError,
    RepositoryNotFoundError,
    RevisionNotFoundError,
)

CARD = """---
license: apache-2.0
base_model: alice/parent-model
tags:
- dna-test
---
# A model card
"""


def weights(n: int = 4096) -> bytes:
    return hashlib.sha256(b"seed").digest() * (n // 32)


def test_round_trip_regular_and_lfs(hub, hub_api, owner_token, repo_factory, tmp_path):
    repo_id = repo_factory("roundtrip")
    folder = tmp_path / "up"
    (folder / "sub").mkdir(parents=True)
    (folder / "config.json").write_text('{"a": 1}')
    (folder / "sub" / "model.safetensors").write_bytes(weights())
    hub_api.upload_folder(repo_id=repo_id, folder_path=folder, commit_message="folder")

    assert sorted(hub_api.list_repo_files(repo_id)) == [".gitattributes", "config.json", "sub/model.safetensors"]
    assert hub.get_repo(repo_id).commits[hub.head(repo_id)].lfs == {"sub/model.safetensors"}

    path = hf_hub_download(repo_id, "sub/model.safetensors", token=owner_token)
    assert open(path, "rb").read() == weights()
    meta = get_hf_file_metadata(hf_hub_url(repo_id, "sub/model.safetensors"), token=owner_token)
    assert meta.etag == hashlib.sha256(weights()).hexdigest()  # LFS files: their sha256
    assert meta.commit_hash == hub.head(repo_id) and meta.size == len(weights())

    at_sha = hf_hub_download(repo_id, "config.json", revision=hub.head(repo_id), token=owner_token)
    assert open(at_sha).read() == '{"a": 1}'
    assert hub_api.model_info(repo_id, revision=hub.head(repo_id)).sha == hub.head(repo_id)
    snap = snapshot_download(repo_id, token=owner_token)
    assert open(os.path.join(snap, "config.json")).read() == '{"a": 1}'

    tree = {e.path: e for e in hub_api.list_repo_tree(repo_id, recursive=True)}
    assert tree["sub/model.safetensors"].lfs.sha256 == meta.etag and "sub" in tree
    assert [e.path for e in hub_api.list_repo_tree(repo_id, "sub")] == ["sub/model.safetensors"]
    info = hub_api.get_paths_info(repo_id, ["config.json", "sub", "nope"])
    assert [e.path for e in info] == ["config.json", "sub"]
    assert [c.title for c in hub_api.list_repo_commits(repo_id)] == ["folder", "initial commit"]
    assert hub_api.list_repo_refs(repo_id).branches[0].target_commit == hub.head(repo_id)
    assert hub_api.file_exists(repo_id, "config.json") and not hub_api.file_exists(repo_id, "x.json")
    assert hub_api.repo_exists(repo_id) and not hub_api.repo_exists("alice/does-not-exist")

    # Same content again: the LFS object is already there, and the unchanged file is skipped.
    puts_before = sum(1 for m, p, _ in hub.requests if m == "PUT")
    hub_api.upload_file(path_or_fileobj=weights(), path_in_repo="copy.safetensors", repo_id=repo_id)
    assert sum(1 for m, p, _ in hub.requests if m == "PUT") == puts_before
    assert open(hf_hub_download(repo_id, "copy.safetensors", token=owner_token), "rb").read() == weights()
    commits_before = len(hub_api.list_repo_commits(repo_id))
    hub_api.upload_file(path_or_fileobj=b'{"a": 1}', path_in_repo="config.json", repo_id=repo_id)
    assert len(hub_api.list_repo_commits(repo_id)) == commits_before  # no-op commit skipped via preupload oid


def test_range_and_resumed_download(hub, owner_token, repo_factory):
    from huggingface_hub.utils import get_session

    repo_id = repo_factory("resume", files={"model.safetensors": weights(8192)})
    url = hf_hub_url(repo_id, "model.safetensors")
    r = get_session().get(url, headers={"Range": "bytes=10-19"})
    assert r.status_code == 206 and r.content == weights(8192)[10:20]
    assert r.headers["Content-Range"] == "bytes 10-19/8192"
    assert get_session().get(url, headers={"Range": "bytes=9000-"}).status_code == 416

    # The connection dies after 1000 bytes: the client resumes with a Range request.
    fault = hub.inject("GET", r"/resolve/.*model\.safetensors$", truncate=1000)
    path = hf_hub_download(repo_id, "model.safetensors", token=owner_token)
    assert open(path, "rb").read() == weights(8192)
    assert fault.hits == 1
    assert ("GET", f"/{repo_id}/resolve/main/model.safetensors", 206) in hub.requests


def test_dropped_connection_and_5xx_on_download(hub, owner_token, repo_factory, tmp_path):
    import httpx2

    repo_id = repo_factory("drop", files={"a.txt": "hello"})
    # Dropped during the body download: the client retries and succeeds.
    fault = hub.inject("GET", r"/resolve/main/a\.txt$", drop=True)
    assert open(hf_hub_download(repo_id, "a.txt", token=owner_token)).read() == "hello"
    assert fault.hits == 1
    # Dropped on the metadata (HEAD) request: huggingface_hub does not retry, the transport error surfaces.
    hub.inject("HEAD", r"/resolve/main/a\.txt$", drop=True)
    with pytest.raises(httpx2.RemoteProtocolError):
        hf_hub_download(repo_id, "a.txt", token=owner_token, cache_dir=tmp_path)
    # A 503 on HEAD: nothing cached -> the client asks again and succeeds; cached -> it uses the cache.
    fault = hub.inject("HEAD", r"/resolve/main/a\.txt$", status=503)
    assert open(hf_hub_download(repo_id, "a.txt", token=owner_token, cache_dir=tmp_path)).read() == "hello"
    assert fault.hits == 1
    hub.inject("HEAD", r"/resolve/main/a\.txt$", status=503)
    assert open(hf_hub_download(repo_id, "a.txt", token=owner_token, cache_dir=tmp_path)).read() == "hello"


def test_model_info_card_data(hub_api, repo_factory):
    repo_id = repo_factory("card", files={"README.md": CARD})
    info = hub_api.model_info(repo_id)
    assert info.card_data["base_model"] == "alice/parent-model"
    assert info.card_data["license"] == "apache-2.0"
    assert {"dna-test", "license:apache-2.0", "base_model:alice/parent-model"} <= set(info.tags)
    assert [s.rfilename for s in info.siblings] == [".gitattributes", "README.md"]
    assert hub_api.model_info(repo_id, files_metadata=True).siblings[1].size == len(CARD)


def test_model_card_load_and_metadata_update(hub_api, owner_token, repo_factory):
    repo_id = repo_factory("mcard")
    card = ModelCard(CARD)
    card.push_to_hub(repo_id, token=owner_token)
    loaded = ModelCard.load(repo_id, token=owner_token)
    assert loaded.data.base_model == "alice/parent-model"

    metadata_update(repo_id, {"license": "mit", "pipeline_tag": "text-generation"}, token=owner_token, overwrite=True)
    loaded = ModelCard.load(repo_id, token=owner_token)
    assert loaded.data.license == "mit" and loaded.data.tags == ["dna-test"]
    assert hub_api.model_info(repo_id).pipeline_tag == "text-generation"


def test_stale_parent_commit_is_refused(hub, hub_api, repo_factory):
    repo_id = repo_factory("cas", files={"rows.jsonl": "1\n"})
    seen = hub_api.model_info(repo_id).sha

    def append(content: str, parent: str):
        op = CommitOperationAdd("rows.jsonl", content.encode())
        return hub_api.create_commit(repo_id, [op], commit_message="append", parent_commit=parent)

    winner = append("1\n2\n", seen)
    with pytest.raises(HfHubHTTPError) as err:
        append("1\n3\n", seen)  # a writer that did not see the winner's commit
    assert err.value.response.status_code == 412
    assert hub.head(repo_id) == winner.oid
    assert hub.files(repo_id)["rows.jsonl"] == b"1\n2\n"


def test_non_owner_gets_403_then_opens_a_pr(hub, owner_token, other_token, repo_factory):
    repo_id = repo_factory("pr", files={"a.txt": "main"})
    head = hub.head(repo_id)
    bob = HfApi(token=other_token)
    with pytest.raises(HfHubHTTPError) as err:
        bob.upload_file(path_or_fileobj=b"bob", path_in_repo="b.txt", repo_id=repo_id)
    assert err.value.response.status_code == 403
    with pytest.raises(HfHubHTTPError) as err:
        bob.create_repo("alice/not-yours")
    assert err.value.response.status_code == 403

    pr = bob.upload_file(path_or_fileobj=b"bob", path_in_repo="b.txt", repo_id=repo_id, create_pr=True)
    assert pr.pr_revision == "refs/pr/1" and pr.pr_num == 1
    assert open(hf_hub_download(repo_id, "b.txt", revision="refs/pr/1", token=other_token)).read() == "bob"
    assert hub.head(repo_id) == head and not bob.file_exists(repo_id, "b.txt")
    refs = bob.list_repo_refs(repo_id, include_pull_requests=True)
    assert [r.ref for r in refs.pull_requests] == ["refs/pr/1"]
    assert HfFileSystem(token=other_token).cat(f"{repo_id}@refs/pr/1/b.txt") == b"bob"

    # Large files in a PR go through LFS too; the owner can then merge it.
    bob.upload_file(path_or_fileobj=weights(), path_in_repo="w.safetensors", repo_id=repo_id, revision="refs/pr/1")
    HfApi(token=owner_token).merge_pull_request(repo_id, 1)
    assert set(hub.files(repo_id)) == {".gitattributes", "a.txt", "b.txt", "w.safetensors"}


def test_gated_and_private_repos(hub, hub_api, owner_token, other_token, repo_factory):
    gated = repo_factory("gated", files={"a.txt": "secret"})
    hub_api.update_repo_settings(gated, gated="auto")  # or: hub.set_gated(gated)
    assert hub_api.model_info(gated).gated == "auto"
    with pytest.raises(GatedRepoError) as err:
        hf_hub_download(gated, "a.txt", token=False)
    assert err.value.response.status_code == 401
    assert open(hf_hub_download(gated, "a.txt", token=other_token)).read() == "secret"

    private = repo_factory("private", files={"a.txt": "mine"})
    hub.set_private(private)
    assert HfApi(token=owner_token).model_info(private).private is True
    for token, status in ((False, 401), (other_token, 404)):
        with pytest.raises(RepositoryNotFoundError) as err:
            HfApi(token=token).model_info(private)
        assert err.value.response.status_code == status
    assert not HfApi(token=other_token).repo_exists(private)


def test_not_found_errors(hub_api, owner_token, repo_factory):
    repo_id = repo_factory("nf", files={"a.txt": "x"})
    with pytest.raises(RepositoryNotFoundError):
        hub_api.model_info("alice/nope-nope")
    with pytest.raises(RepositoryNotFoundError):
        hf_hub_download("alice/nope-nope", "a.txt", token=owner_token)
    with pytest.raises(RevisionNotFoundError):
        hf_hub_download(repo_id, "a.txt", revision="no-such-branch", token=owner_token)
    with pytest.raises(RevisionNotFoundError):
        hub_api.model_info(repo_id, revision="no-such-branch")
    with pytest.raises(EntryNotFoundError):
        hf_hub_download(repo_id, "missing.txt", token=owner_token)
    with pytest.raises(EntryNotFoundError):
        list(hub_api.list_repo_tree(repo_id, "no-dir"))


def test_create_repo_conflict_and_orgs(hub_api, other_token):
    repo_id = "dna-org/org-repo"
    hub_api.create_repo(repo_id)
    try:
        with pytest.raises(HfHubHTTPError) as err:
            hub_api.create_repo(repo_id)
        assert err.value.response.status_code == 409
        hub_api.create_repo(repo_id, exist_ok=True)
        with pytest.raises(HfHubHTTPError) as err:
            HfApi(token=other_token).upload_file(path_or_fileobj=b"x", path_in_repo="x", repo_id=repo_id)
        assert err.value.response.status_code == 403
        assert HfApi(token=other_token).whoami()["name"] == "bob"
        assert [o["name"] for o in hub_api.whoami()["orgs"]] == ["dna-org"]
    finally:
        hub_api.delete_repo(repo_id)
    assert not hub_api.repo_exists(repo_id)


def test_injected_500_on_commit_leaves_repo_unchanged(hub, hub_api, repo_factory):
    repo_id = repo_factory("fault", files={"a.txt": "v1"})
    head = hub.head(repo_id)
    hub.inject("POST", r"/commit/main$", status=500)
    with pytest.raises(HfHubHTTPError) as err:
        hub_api.upload_file(path_or_fileobj=b"v2", path_in_repo="a.txt", repo_id=repo_id)
    assert err.value.response.status_code == 500
    assert hub.head(repo_id) == head and hub.files(repo_id)["a.txt"] == b"v1"
    hub_api.upload_file(path_or_fileobj=b"v2", path_in_repo="a.txt", repo_id=repo_id)  # fault was one-shot
    assert hub.files(repo_id)["a.txt"] == b"v2"


def test_delete_and_copy_operations(hub, hub_api, repo_factory):
    from huggingface_hub import CommitOperationCopy, CommitOperationDelete

    repo_id = repo_factory("ops", files={"a.txt": "a", "w.safetensors": weights(), "d/x.txt": "x", "d/y.txt": "y"})
    hub_api.create_commit(repo_id, commit_message="reshuffle", operations=[
        CommitOperationCopy("a.txt", "b.txt"),
        CommitOperationCopy("w.safetensors", "copy/w.safetensors"),
        CommitOperationDelete("d/"),
        CommitOperationDelete("a.txt"),
    ])
    files = hub.files(repo_id)
    assert set(files) == {".gitattributes", "b.txt", "w.safetensors", "copy/w.safetensors"}
    assert files["b.txt"] == b"a" and files["copy/w.safetensors"] == weights()
    with pytest.raises(EntryNotFoundError):
        hub_api.delete_file("nope.txt", repo_id)


def test_concurrent_writers_retry_on_412_and_lose_nothing(hub, hub_api, repo_factory):
    """The registry pattern: read head, write with parent_commit, retry on 412."""
    import threading

    from huggingface_hub.utils import get_session

    repo_id = repo_factory("race", files={"rows.txt": ""})
    conflicts = []

    def writer(i: int) -> None:
        while True:
            sha = hub_api.model_info(repo_id).sha
            rows = get_session().get(hf_hub_url(repo_id, "rows.txt", revision=sha)).content
            op = CommitOperationAdd("rows.txt", rows + f"{i}\n".encode())
            try:
                hub_api.create_commit(repo_id, [op], commit_message=f"row {i}", parent_commit=sha)
                return
            except HfHubHTTPError as err:
                assert err.response.status_code == 412
                conflicts.append(i)

    threads = [threading.Thread(target=writer, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(hub.files(repo_id)["rows.txt"].decode().split()) == [str(i) for i in range(6)]
    assert len(hub_api.list_repo_commits(repo_id)) == 2 + 6


def test_subprocess_env(hub, other_token):
    import subprocess
    import sys

    from conftest import make_hub_env

    code = "from huggingface_hub import HfApi; print(HfApi().whoami()['name'])"
    out = subprocess.run([sys.executable, "-c", code], env=make_hub_env(other_token),
                         capture_output=True, text=True, timeout=60, check=True)
    assert out.stdout.strip() == "bob"


def test_hf_file_system(owner_token, repo_factory):
    repo_id = repo_factory("fs", repo_type="dataset",
                           files={"data/train.csv": "a,b\n1,2\n", "data/test.csv": "a,b\n3,4\n", "README.md": "hi"})
    fs = HfFileSystem(token=owner_token)
    root = f"datasets/{repo_id}"
    assert sorted(fs.ls(root, detail=False)) == sorted(f"{root}/{p}" for p in (".gitattributes", "README.md", "data"))
    assert sorted(fs.glob(f"{root}/data/*.csv")) == [f"{root}/data/test.csv", f"{root}/data/train.csv"]
    with fs.open(f"{root}/data/train.csv", "rb") as f:
        assert f.read() == b"a,b\n1,2\n"
    assert fs.info(f"{root}/data")["type"] == "directory"


def test_list_models(hub_api, repo_factory):
    child = repo_factory("child", files={"README.md": CARD})
    plain = repo_factory("plain")
    repo_factory("a-dataset", repo_type="dataset")
    ids = [m.id for m in hub_api.list_models(author="alice")]
    assert child in ids and plain in ids and not any("a-dataset" in i for i in ids)
    assert [m.id for m in hub_api.list_models(search=child.split("/")[1])] == [child]
    assert [m.id for m in hub_api.list_models(author="alice", filter="base_model:alice/parent-model")] == [child]
    assert list(hub_api.list_models(author="nobody")) == []


def _tiny_tokenizer():
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=300, special_tokens=["<|endoftext|>"],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(["the quick brown fox jumps over the lazy dog", "hello world, hello hub"] * 5, trainer)
    return PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<|endoftext|>", eos_token="<|endoftext|>")


def test_transformers_push_and_from_pretrained(hub, owner_token, repo_factory):
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer, GPT2Config, GPT2LMHeadModel

    torch.manual_seed(0)
    repo_id = repo_factory("tiny-gpt2")
    config = GPT2Config(n_layer=1, n_embd=32, n_head=2, vocab_size=300, n_positions=64, bos_token_id=0, eos_token_id=0)
    model = GPT2LMHeadModel(config)
    tokenizer = _tiny_tokenizer()
    model.push_to_hub(repo_id, token=owner_token)
    tokenizer.push_to_hub(repo_id, token=owner_token)
    assert "model.safetensors" in hub.get_repo(repo_id).commits[hub.head(repo_id)].lfs

    loaded = AutoModelForCausalLM.from_pretrained(repo_id, token=owner_token)
    loaded_tok = AutoTokenizer.from_pretrained(repo_id, token=owner_token)
    ids = loaded_tok("hello world", return_tensors="pt").input_ids
    assert ids.tolist() == tokenizer("hello world", return_tensors="pt").input_ids.tolist()
    with torch.no_grad():
        torch.testing.assert_close(loaded(ids).logits, model.eval()(ids).logits)


def test_datasets_push_and_load(hub, owner_token, repo_factory):
    from datasets import Dataset, load_dataset

    repo_id = repo_factory("tiny-ds", repo_type="dataset")
    data = {"text": ["a", "b", "c"], "label": [0, 1, 0]}
    Dataset.from_dict(data).push_to_hub(repo_id, token=owner_token)
    assert any(p.endswith(".parquet") for p in hub.get_repo(repo_id, "dataset").commits[
        hub.head(repo_id, "dataset")].lfs)
    loaded = load_dataset(repo_id, split="train", token=owner_token)
    assert loaded.to_dict() == data
