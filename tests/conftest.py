"""Test session setup: an isolated HF cache and a local Hub-compatible server.

The environment is set at import time, before anything imports huggingface_hub,
datasets or transformers: they read HF_ENDPOINT and the cache paths once, on import.
Subprocesses (CLI tests) inherit it; use `make_hub_env()` to build theirs explicitly.
"""

from __future__ import annotations

import atexit
import os
import shutil
import sys
import tempfile
import uuid

from hub_server import HubServer

if any(name in sys.modules for name in ("huggingface_hub", "datasets", "transformers")):
    # They would already have read HF_ENDPOINT and point at the real (unreachable) Hub.
    raise RuntimeError("tests/conftest.py must run before huggingface_hub/datasets/transformers are imported")

_SESSION_DIR = tempfile.mkdtemp(prefix="hf-dna-tests-")
atexit.register(shutil.rmtree, _SESSION_DIR, ignore_errors=True)

HUB = HubServer().start()
atexit.register(HUB.stop)

for _var in ("HF_HUB_OFFLINE", "HF_TOKEN", "HUGGING_FACE_HUB_TOKEN", "HF_DATASETS_OFFLINE", "TRANSFORMERS_OFFLINE"):
    os.environ.pop(_var, None)
os.environ.update({
    "HF_ENDPOINT": HUB.url,
    "HF_HOME": os.path.join(_SESSION_DIR, "hf_home"),
    "HF_HUB_CACHE": os.path.join(_SESSION_DIR, "hf_home", "hub"),
    "HF_DATASETS_CACHE": os.path.join(_SESSION_DIR, "hf_home", "datasets"),
    # With hf-xet installed, an "lfs" upload mode switches the client to xet for good; plain LFS is what we serve.
    "HF_HUB_DISABLE_XET": "1",
    "HF_HUB_DISABLE_TELEMETRY": "1",
    # hf-dna's own cache and default registry: per session, never the user's.
    "HF_DNA_CACHE": os.path.join(_SESSION_DIR, "hf_dna_cache"),
    "HF_DNA_REGISTRY": os.path.join(_SESSION_DIR, "registry"),
})

import pytest  # noqa: E402  (after the environment is set)


def make_hub_env(token: str | None = None) -> dict[str, str]:
    """Environment for a subprocess talking to the test Hub, optionally authenticated."""
    env = dict(os.environ)
    env.pop("HF_TOKEN", None)
    if token is not None:
        env["HF_TOKEN"] = token
    return env


@pytest.fixture(scope="session")
def hub() -> HubServer:
    return HUB


@pytest.fixture(scope="session")
def owner_token(hub) -> str:
    return hub.tokens["alice"]


@pytest.fixture(scope="session")
def other_token(hub) -> str:
    return hub.tokens["bob"]


@pytest.fixture(scope="session")
def hub_api(hub, owner_token):
    from huggingface_hub import HfApi

    return HfApi(endpoint=hub.url, token=owner_token)


@pytest.fixture
def repo_factory(hub_api):
    """`repo_factory(name="x", repo_type="model", files={"a.txt": b"..."}, private=False, owner="alice")`.

    Creates a uniquely named repo (one commit with `files`, if any) and returns its id;
    deletes every repo it made after the test.
    """
    from huggingface_hub import CommitOperationAdd

    made: list[tuple[str, str]] = []

    def make(name: str = "repo", repo_type: str = "model", files: dict[str, bytes | str] | None = None,
             private: bool = False, owner: str = "alice") -> str:
        repo_id = f"{owner}/{name}-{uuid.uuid4().hex[:8]}"
        hub_api.create_repo(repo_id, repo_type=repo_type, private=private)
        made.append((repo_id, repo_type))
        if files:
            ops = [CommitOperationAdd(path, content.encode() if isinstance(content, str) else content)
                   for path, content in files.items()]
            hub_api.create_commit(repo_id, ops, commit_message="Add files", repo_type=repo_type)
        return repo_id

    yield make
    for repo_id, repo_type in made:
        hub_api.delete_repo(repo_id, repo_type=repo_type, missing_ok=True)


@pytest.fixture(autouse=True)
def _clear_hub_faults(hub):
    yield
    hub.clear_faults()


from model_fixtures import *  # noqa: E402,F401,F403  (tiny real models, built once per session)
