"""A small Hugging Face Hub-compatible HTTP server for tests.

The real Hub cannot be reached from where the tests run, so the real clients
(`huggingface_hub`, `transformers`, `datasets`) are pointed at this server
through `HF_ENDPOINT`. It speaks just enough of the Hub's API for those
clients: repos with a git-like history, branches and pull-request refs, the
NDJSON commit endpoint, the git-LFS batch API (basic transfer), `resolve`
downloads with Range support, and the error codes `hf_raise_for_status`
turns into typed exceptions. It also says "no" (401/403/404/409/412) and can
fail on demand (`inject`) so tests can exercise error paths.

Standard library only (PyYAML is used for README front matter if present).
Everything is kept in memory; one `threading.RLock` guards all state.
"""

from __future__ import annotations

import base64
import hashlib
import itertools
import json
import re
import secrets
import socket
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote, urlsplit

try:  # the card's YAML is nicer with PyYAML, but the server must not need it
    import yaml
except ImportError:  # pragma: no cover
    yaml = None

REPO_TYPES = ("model", "dataset")
# Extensions the Hub stores in LFS (from its default .gitattributes).
LFS_SUFFIXES = (
    ".7z", ".arrow", ".bin", ".bz2", ".ckpt", ".ftz", ".gguf", ".gz", ".h5", ".joblib", ".mlmodel",
    ".model", ".msgpack", ".npy", ".npz", ".onnx", ".ot", ".parquet", ".pb", ".pickle", ".pkl", ".pt",
    ".pth", ".rar", ".safetensors", ".tar", ".tflite", ".tgz", ".wasm", ".xz", ".zip", ".zst",
)
LFS_SIZE_THRESHOLD = 10 * 1024 * 1024
GITATTRIBUTES = "".join(f"*{s} filter=lfs diff=lfs merge=lfs -text\n" for s in LFS_SUFFIXES).encode()
YAML_BLOCK = re.compile(r"^\s*---\r?\n([\s\S]*?)\r?\n---[ \t]*(\r?\n|$)")
SPECIAL_REF = re.compile(r"^refs/(pr/\d+|convert/[\w.-]+|heads/.+|tags/.+)$")


# ----------------------------------------------------------------------------- helpers


def git_blob_sha(data: bytes) -> str:
    """The git object id of a blob, which the Hub reports as a regular file's oid/ETag."""
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def lfs_pointer(data: bytes) -> bytes:
    sha = hashlib.sha256(data).hexdigest()
    return f"version https://git-lfs.github.com/spec/v1\noid sha256:{sha}\nsize {len(data)}\n".encode()


def iso(ts: float) -> str:
    """Hub date format, the only one `huggingface_hub.utils.parse_datetime` accepts."""
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ts)) + ".%03dZ" % int((ts % 1) * 1000)


def parse_card(readme: bytes | None) -> dict | None:
    """YAML front matter of a README as a dict (None when absent or invalid)."""
    if not readme:
        return None
    match = YAML_BLOCK.match(readme.decode("utf-8", errors="replace"))
    if not match:
        return None
    if yaml is not None:
        try:
            data = yaml.safe_load(match.group(1))
        except yaml.YAMLError:
            return None
        return data if isinstance(data, dict) else None
    return _minimal_yaml(match.group(1))


def _minimal_yaml(text: str) -> dict:
    """`key: value` and `- item` lists: enough for base_model/tags/license cards."""
    out: dict = {}
    key = None
    for line in text.splitlines():
        if line.lstrip().startswith("- ") and key is not None:
            if not isinstance(out.get(key), list):
                out[key] = []
            out[key].append(line.strip()[2:].strip().strip("'\""))
        elif ":" in line and not line.startswith(" "):
            key, _, value = line.partition(":")
            key = key.strip()
            out[key] = value.strip().strip("'\"") or None
    return out


def card_tags(card: dict | None, files: dict[str, bytes]) -> list[str]:
    """Tags the Hub derives from the card and the files (a subset)."""
    card = card or {}
    tags: list[str] = []

    def as_list(value):
        return [] if value is None else [value] if isinstance(value, str) else list(value)

    for tag in as_list(card.get("library_name")) + as_list(card.get("tags")):
        tags.append(str(tag))
    if any(path.endswith(".safetensors") for path in files):
        tags.append("safetensors")
    for lang in as_list(card.get("language")):
        tags.append(str(lang))
    for ds in as_list(card.get("datasets")):
        tags.append(f"dataset:{ds}")
    for lic in as_list(card.get("license")):
        tags.append(f"license:{lic}")
    if card.get("pipeline_tag"):
        tags.append(str(card["pipeline_tag"]))
    relation = card.get("base_model_relation") or "finetune"
    for base in as_list(card.get("base_model")):
        tags += [f"base_model:{base}", f"base_model:{relation}:{base}"]
    return list(dict.fromkeys(tags))  # dedupe, keep order


# ----------------------------------------------------------------------------- model


@dataclass
class Commit:
    sha: str
    parent: str | None
    summary: str
    message: str
    date: float
    author: str
    files: dict[str, bytes]
    lfs: frozenset[str] = frozenset()  # paths stored as LFS objects


@dataclass
class Repo:
    type: str
    id: str
    created_at: float
    private: bool = False
    gated: bool | str = False  # False, "auto" or "manual", as the Hub reports it
    commits: dict[str, Commit] = field(default_factory=dict)
    refs: dict[str, str] = field(default_factory=dict)  # full ref name -> commit sha
    discussions: dict[int, dict] = field(default_factory=dict)
    next_num: int = 1  # the Hub numbers discussions and PRs together

    @property
    def namespace(self) -> str:
        return self.id.split("/")[0]

    @property
    def url_prefix(self) -> str:  # "datasets/" in front of dataset ids in web/resolve urls
        return "" if self.type == "model" else f"{self.type}s/"


class HubError(Exception):
    """An HTTP error answered the way the Hub does (JSON body + X-Error-* headers)."""

    def __init__(self, status: int, message: str, code: str | None = None, headers: dict | None = None):
        super().__init__(message)
        self.status, self.message, self.code, self.headers = status, message, code, headers or {}


def repo_not_found(status: int = 404) -> HubError:
    return HubError(status, "Repository not found", "RepoNotFound")


@dataclass
class Fault:
    method: str
    pattern: re.Pattern
    status: int = 500
    times: int | None = 1  # None: forever
    drop: bool = False  # close the connection without answering
    truncate: int | None = None  # send headers and this many body bytes, then close
    hits: int = 0


@dataclass
class Request:
    method: str
    path: str
    segments: list[str]
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes
    user: str | None

    def arg(self, name: str, default: str | None = None) -> str | None:
        return self.query.get(name, [default])[0]

    def flag(self, name: str) -> bool:
        return (self.arg(name) or "").lower() in ("1", "true")

    def json(self) -> dict:
        try:
            return json.loads(self.body or b"{}")
        except ValueError:
            raise HubError(400, "Invalid JSON body")


@dataclass
class Response:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)


def json_response(data, status: int = 200, **headers) -> Response:
    return Response(status, json.dumps(data).encode(), {"Content-Type": "application/json", **headers})


# ----------------------------------------------------------------------------- server


class HubServer:
    """In-memory Hub. `start()`, then point `HF_ENDPOINT` at `url`."""

    def __init__(self):
        self.tokens = {"alice": "hf_alice_test_token", "bob": "hf_bob_test_token"}
        self.orgs = {"dna-org": {"alice"}}
        self.repos: dict[tuple[str, str], Repo] = {}
        self.lfs_objects: dict[str, bytes] = {}  # sha256 hex -> bytes, shared by all repos
        self.requests: list[tuple[str, str, int]] = []  # (method, path, status), never headers
        self._faults: list[Fault] = []
        self._upload_tickets: dict[str, tuple[str, int]] = {}  # LFS PUTs carry no auth header
        self._lock = threading.RLock()
        self._counter = itertools.count()
        self._httpd: ThreadingHTTPServer | None = None
        self.url = ""

    # -- lifecycle
    def start(self) -> "HubServer":
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self._httpd.daemon_threads = True
        self._httpd.hub = self  # type: ignore[attr-defined]
        self.url = f"http://127.0.0.1:{self._httpd.server_address[1]}"
        threading.Thread(target=self._httpd.serve_forever, name="hub-server", daemon=True).start()
        return self

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    # -- users
    @property
    def users(self) -> list[str]:
        return list(self.tokens)

    def user_orgs(self, user: str) -> list[str]:
        return sorted(org for org, members in self.orgs.items() if user in members)

    def can_write(self, user: str | None, namespace: str) -> bool:
        return user is not None and (namespace == user or namespace in self.user_orgs(user))

    # -- fault injection
    def inject(self, method: str, path_regex: str, status: int = 500, times: int | None = 1,
               drop: bool = False, truncate: int | None = None) -> Fault:
        """Make the next `times` requests matching (method, path regex) fail.

        `status`: answer with that HTTP status; `drop=True`: close the connection
        without an answer; `truncate=N`: send the real headers and N body bytes, then close.
        """
        fault = Fault(method.upper(), re.compile(path_regex), status, times, drop, truncate)
        with self._lock:
            self._faults.append(fault)
        return fault

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()

    def _take_fault(self, method: str, path: str) -> Fault | None:
        with self._lock:
            for fault in self._faults:
                if fault.method in (method, "*") and fault.pattern.search(path):
                    fault.hits += 1
                    if fault.times is not None:
                        fault.times -= 1
                        if fault.times <= 0:
                            self._faults.remove(fault)
                    return fault
        return None

    # -- direct (non-HTTP) access for tests
    def get_repo(self, repo_id: str, repo_type: str = "model") -> Repo:
        repo = self.repos.get((repo_type, repo_id))
        if repo is None:
            raise KeyError(f"{repo_type} {repo_id}")
        return repo

    def set_private(self, repo_id: str, private: bool = True, repo_type: str = "model") -> None:
        self.get_repo(repo_id, repo_type).private = private

    def set_gated(self, repo_id: str, gated: bool | str = "auto", repo_type: str = "model") -> None:
        self.get_repo(repo_id, repo_type).gated = ("auto" if gated is True else gated) or False

    def head(self, repo_id: str, repo_type: str = "model", revision: str = "main") -> str:
        repo = self.get_repo(repo_id, repo_type)
        return self._resolve(repo, revision)[0]

    def files(self, repo_id: str, repo_type: str = "model", revision: str = "main") -> dict[str, bytes]:
        repo = self.get_repo(repo_id, repo_type)
        return dict(repo.commits[self._resolve(repo, revision)[0]].files)

    def git_push(self, repo_id: str, files: dict[str, bytes], repo_type: str = "model", author: str = "alice") -> str:
        """Commit `files` on main as a `git push` would: without the HTTP commit API's checks
        (its YAML validation, say), so tests can make cards the Hub's API would refuse."""
        repo = self.get_repo(repo_id, repo_type)
        parent = repo.refs["refs/heads/main"]
        merged = {**repo.commits[parent].files, **files}
        lfs = repo.commits[parent].lfs
        commit = self._add_commit(repo, parent, "git push", "", author, merged, lfs - set(files))
        repo.refs["refs/heads/main"] = commit.sha
        return commit.sha

    # -- repo internals
    def _new_repo(self, repo_type: str, repo_id: str, author: str, private: bool) -> Repo:
        repo = Repo(type=repo_type, id=repo_id, created_at=time.time(), private=private)
        # Like the Hub, a new repo starts with one commit holding .gitattributes.
        self._add_commit(repo, None, "initial commit", "", author, {".gitattributes": GITATTRIBUTES}, frozenset())
        repo.refs["refs/heads/main"] = next(iter(repo.commits))
        self.repos[(repo_type, repo_id)] = repo
        return repo

    def _add_commit(self, repo: Repo, parent: str | None, summary: str, message: str, author: str,
                    files: dict[str, bytes], lfs: frozenset[str]) -> Commit:
        date = time.time()
        digest = hashlib.sha1(f"{parent}\n{summary}\n{date}\n{next(self._counter)}\n".encode())
        for path in sorted(files):
            digest.update(f"{path}\0{git_blob_sha(files[path])}\n".encode())
        commit = Commit(digest.hexdigest(), parent, summary, message, date, author, files, lfs)
        repo.commits[commit.sha] = commit
        return commit

    def _find_repo(self, req: Request, repo_type: str, repo_id: str) -> Repo:
        """The repo if the caller may read it; 401/404 as the Hub answers otherwise."""
        repo = self.repos.get((repo_type, repo_id))
        if repo is None:
            raise repo_not_found()
        if repo.private and not self.can_write(req.user, repo.namespace):
            raise repo_not_found(401 if req.user is None else 404)
        return repo

    def _check_gate(self, req: Request, repo: Repo) -> None:
        # We treat every authenticated user as granted: only anonymous access is refused.
        if repo.gated and req.user is None:
            raise HubError(401, f"Access to {repo.type} {repo.id} is restricted. You must be authenticated.",
                           "GatedRepo")

    def _require_write(self, req: Request, repo: Repo, ref: str | None = None) -> None:
        """Writers may push anywhere; a PR's author may also push to that PR's ref."""
        if req.user is None:
            raise HubError(401, "You must be authenticated to write to this repo")
        if self.can_write(req.user, repo.namespace):
            return
        pr = re.fullmatch(r"refs/pr/(\d+)", ref or "")
        if pr and repo.discussions.get(int(pr.group(1)), {}).get("author") == req.user:
            return
        raise HubError(403, "You don't have the rights to write to this repo; open a pull request instead")

    def _resolve(self, repo: Repo, revision: str) -> tuple[str, str | None]:
        """(commit sha, full ref name or None for a sha) of a branch/tag/PR ref/sha."""
        candidates = [revision] if revision.startswith("refs/") else [f"refs/heads/{revision}", f"refs/tags/{revision}"]
        for ref in candidates:
            if ref in repo.refs:
                return repo.refs[ref], ref
        if re.fullmatch(r"[0-9a-f]{7,40}", revision):
            matches = [sha for sha in repo.commits if sha.startswith(revision)]
            if len(matches) == 1:
                return matches[0], None
        raise HubError(404, f"Invalid rev id: {revision}", "RevisionNotFound")

    def _commit_at(self, repo: Repo, revision: str) -> Commit:
        return repo.commits[self._resolve(repo, revision)[0]]

    # -- JSON views
    def _entry(self, commit: Commit, path: str) -> dict | None:
        """Tree/paths-info entry for a file or folder at `path` (None if absent)."""
        if path in commit.files:
            data = commit.files[path]
            if path in commit.lfs:
                pointer = lfs_pointer(data)
                lfs = {"oid": hashlib.sha256(data).hexdigest(), "size": len(data), "pointerSize": len(pointer)}
                return {"type": "file", "oid": git_blob_sha(pointer), "size": len(data), "path": path, "lfs": lfs}
            return {"type": "file", "oid": git_blob_sha(data), "size": len(data), "path": path}
        prefix = path.rstrip("/") + "/"
        children = sorted(p for p in commit.files if p.startswith(prefix))
        if not path or not children:
            return None
        oid = hashlib.sha1("".join(f"{p}:{git_blob_sha(commit.files[p])}" for p in children).encode()).hexdigest()
        return {"type": "directory", "oid": oid, "size": 0, "path": path.rstrip("/")}

    def _tree(self, commit: Commit, path: str, recursive: bool) -> list[dict] | None:
        prefix = path.strip("/") + "/" if path.strip("/") else ""
        under = [p for p in commit.files if p.startswith(prefix)]
        if prefix and not under:
            return None
        paths: set[str] = set()
        for file_path in under:
            parts = file_path[len(prefix):].split("/")
            depth = len(parts) if recursive else 1
            for i in range(1, depth + 1):
                paths.add(prefix + "/".join(parts[:i]))
        # folders first, like the Hub's "tree first" listing
        entries = [self._entry(commit, p) for p in sorted(paths)]
        return sorted(entries, key=lambda e: (e["type"] != "directory", e["path"]))

    def _info(self, req: Request, repo: Repo, commit: Commit, full: bool = True) -> dict:
        card = parse_card(commit.files.get("README.md"))
        data = {
            "_id": hashlib.md5(repo.id.encode()).hexdigest()[:24],
            "id": repo.id,
            "author": repo.namespace,
            "sha": commit.sha,
            "createdAt": iso(repo.created_at),
            "lastModified": iso(commit.date),
            "private": repo.private,
            "gated": repo.gated,
            "disabled": False,
            "downloads": 0,
            "likes": 0,
            "tags": card_tags(card, commit.files),
        }
        if repo.type == "model":
            data["modelId"] = repo.id
            if card:
                data["library_name"] = card.get("library_name")
                data["pipeline_tag"] = card.get("pipeline_tag")
        if full:
            blobs = req.flag("blobs")
            siblings = []
            for path in sorted(commit.files):
                sibling = {"rfilename": path}
                if blobs:
                    entry = self._entry(commit, path)
                    sibling.update(size=entry["size"], blobId=entry["oid"])
                    if "lfs" in entry:
                        sibling["lfs"] = {"sha256": entry["lfs"]["oid"], "size": entry["size"],
                                          "pointerSize": entry["lfs"]["pointerSize"]}
                siblings.append(sibling)
            data["siblings"] = siblings
            data["cardData"] = card
            data["usedStorage"] = sum(len(d) for d in commit.files.values())
        return data

    # -- dispatch
    def handle(self, req: Request) -> Response:
        seg = req.segments
        if seg[:1] == ["api"]:
            return self._api(req, seg[1:])
        if seg[:1] == ["_lfs"]:
            return self._lfs_transfer(req, seg[1:])
        repo_type = "model"
        if seg[:1] == ["datasets"]:
            repo_type, seg = "dataset", seg[1:]
        if len(seg) >= 5 and seg[-4:] == ["info", "lfs", "objects", "batch"] and seg[-5].endswith(".git"):
            repo_id = "/".join(seg[:-4])[: -len(".git")]
            return self._lfs_batch(req, repo_type, repo_id)
        if len(seg) >= 2 and seg[1] == "resolve":  # an id without namespace: none exist here
            raise repo_not_found()
        if len(seg) >= 4 and seg[2] == "resolve" and req.method in ("GET", "HEAD"):
            revision, rest = split_revision(seg[3:])
            return self._resolve_file(req, repo_type, f"{seg[0]}/{seg[1]}", revision, "/".join(rest))
        raise HubError(404, "Not found")

    def _api(self, req: Request, seg: list[str]) -> Response:
        route = (req.method, "/".join(seg[:2]))
        if route == ("GET", "agent-harnesses"):  # huggingface_hub's agent detection registry: none here
            return json_response({"standardEnvVars": [], "harnesses": {}})
        if route == ("GET", "whoami-v2"):
            return self._whoami(req)
        if route == ("POST", "repos/create"):
            return self._create_repo(req)
        if route == ("DELETE", "repos/delete"):
            return self._delete_repo(req)
        if route == ("POST", "validate-yaml"):
            return self._validate_yaml(req)
        if seg and seg[0] in ("models", "datasets"):
            repo_type = seg[0][:-1]
            if len(seg) == 1 and req.method == "GET":
                return self._list_repos(req, repo_type)
            if len(seg) >= 3:
                return self._repo_api(req, repo_type, f"{seg[1]}/{seg[2]}", seg[3:])
            raise repo_not_found()
        raise HubError(404, "Not found")

    def _repo_api(self, req: Request, repo_type: str, repo_id: str, rest: list[str]) -> Response:
        action = rest[0] if rest else ""
        revision, tail = split_revision(rest[1:]) if len(rest) > 1 else ("main", [])
        routes = {
            ("GET", ""): lambda: self._repo_info(req, repo_type, repo_id, "main"),
            ("GET", "revision"): lambda: self._repo_info(req, repo_type, repo_id, revision),
            ("GET", "tree"): lambda: self._list_tree(req, repo_type, repo_id, revision, "/".join(tail)),
            ("POST", "paths-info"): lambda: self._paths_info(req, repo_type, repo_id, revision),
            ("GET", "refs"): lambda: self._refs(req, repo_type, repo_id),
            ("GET", "commits"): lambda: self._commits(req, repo_type, repo_id, revision),
            ("POST", "preupload"): lambda: self._preupload(req, repo_type, repo_id, revision),
            ("POST", "commit"): lambda: self._commit(req, repo_type, repo_id, revision),
            ("PUT", "settings"): lambda: self._settings(req, repo_type, repo_id),
            ("POST", "branch"): lambda: self._branch(req, repo_type, repo_id, revision, create=True),
            ("DELETE", "branch"): lambda: self._branch(req, repo_type, repo_id, revision, create=False),
            ("POST", "discussions"): lambda: self._discussions_post(req, repo_type, repo_id, rest[1:]),
            ("GET", "discussions"): lambda: self._discussion_get(req, repo_type, repo_id, rest[1:]),
        }
        handler = routes.get((req.method, action))
        if handler is None:
            raise HubError(404, f"Unknown endpoint {req.method} {action}")
        with self._lock:
            return handler()

    # -- users & repos
    def _whoami(self, req: Request) -> Response:
        if req.user is None:
            raise HubError(401, "Invalid credentials in Authorization header")
        orgs = [{"type": "org", "name": org, "fullname": org, "roleInOrg": "admin"} for org in self.user_orgs(req.user)]
        return json_response({
            "type": "user", "id": hashlib.md5(req.user.encode()).hexdigest()[:24], "name": req.user,
            "fullname": req.user.title(), "email": f"{req.user}@example.com", "emailVerified": True,
            "isPro": False, "orgs": orgs,
            "auth": {"type": "access_token", "accessToken": {"displayName": "test", "role": "write"}},
        })

    def _create_repo(self, req: Request) -> Response:
        body = req.json()
        repo_type = body.get("type") or "model"
        if repo_type not in REPO_TYPES:
            raise HubError(400, f"Unsupported repo type {repo_type}")
        if req.user is None:
            raise HubError(401, "You must be authenticated to create a repo")
        namespace = body.get("organization") or req.user
        repo_id = f"{namespace}/{body['name']}"
        if not re.fullmatch(r"[\w.-]+/[\w.-]+", repo_id):
            raise HubError(400, f"Invalid repo name {repo_id}")
        if not self.can_write(req.user, namespace):
            raise HubError(403, f"You don't have the rights to create a {repo_type} under {namespace}")
        with self._lock:
            url = f"{self.url}/{'' if repo_type == 'model' else repo_type + 's/'}{repo_id}"
            if (repo_type, repo_id) in self.repos:
                return json_response({"error": f"You already created this {repo_type} repo", "url": url}, 409)
            private = body.get("private") or body.get("visibility") == "private"
            self._new_repo(repo_type, repo_id, req.user, bool(private))
        return json_response({"url": url, "name": repo_id, "id": repo_id})

    def _delete_repo(self, req: Request) -> Response:
        body = req.json()
        repo_type = body.get("type") or "model"
        repo_id = f"{body.get('organization') or req.user}/{body['name']}"
        with self._lock:
            repo = self._find_repo(req, repo_type, repo_id)
            self._require_write(req, repo)
            del self.repos[(repo_type, repo_id)]
        return Response(200)

    def _settings(self, req: Request, repo_type: str, repo_id: str) -> Response:
        repo = self._find_repo(req, repo_type, repo_id)
        self._require_write(req, repo)
        body = req.json()
        if "private" in body:
            repo.private = bool(body["private"])
        if "visibility" in body:
            repo.private = body["visibility"] == "private"
        if "gated" in body:
            repo.gated = body["gated"] or False
        return json_response({})

    def _validate_yaml(self, req: Request) -> Response:
        content = req.json().get("content", "")
        match = YAML_BLOCK.match(content)
        if match and yaml is not None:
            try:
                yaml.safe_load(match.group(1))
            except yaml.YAMLError as exc:
                return json_response({"errors": [{"message": f"Invalid YAML: {exc}"}], "warnings": []}, 400)
        return json_response({"errors": [], "warnings": []})

    def _list_repos(self, req: Request, repo_type: str) -> Response:
        author, search = req.arg("author"), (req.arg("search") or "").lower()
        filters = req.query.get("filter", [])
        full = req.flag("full") or req.flag("cardData") or bool(filters)
        out = []
        with self._lock:
            for (rtype, repo_id), repo in sorted(self.repos.items()):
                if rtype != repo_type or (repo.private and not self.can_write(req.user, repo.namespace)):
                    continue
                if (author and repo.namespace != author) or search not in repo_id.lower():
                    continue
                info = self._info(req, repo, repo.commits[repo.refs["refs/heads/main"]], full=full)
                if all(f in info["tags"] or f == info.get("library_name") for f in filters):
                    out.append(info)
        sort = req.arg("sort")
        if sort in ("lastModified", "createdAt"):
            out.sort(key=lambda info: info[sort], reverse=req.arg("direction", "-1") == "-1")
        limit = req.arg("limit")
        return json_response(out[: int(limit)] if limit else out)

    # -- reading a repo
    def _repo_info(self, req: Request, repo_type: str, repo_id: str, revision: str) -> Response:
        repo = self._find_repo(req, repo_type, repo_id)
        return json_response(self._info(req, repo, self._commit_at(repo, revision)))

    def _list_tree(self, req: Request, repo_type: str, repo_id: str, revision: str, path: str) -> Response:
        repo = self._find_repo(req, repo_type, repo_id)
        entries = self._tree(self._commit_at(repo, revision), path, req.flag("recursive"))
        if entries is None:
            raise HubError(404, f"Entry not found: {path}", "EntryNotFound")
        return json_response(entries)

    def _paths_info(self, req: Request, repo_type: str, repo_id: str, revision: str) -> Response:
        repo = self._find_repo(req, repo_type, repo_id)
        commit = self._commit_at(repo, revision)
        if req.headers.get("content-type", "").startswith("application/json"):
            paths = req.json().get("paths", [])
        else:  # huggingface_hub sends a form: paths=a&paths=b&expand=False
            paths = parse_qs(req.body.decode()).get("paths", [])
        entries = [self._entry(commit, p) for p in paths]
        return json_response([e for e in entries if e is not None])

    def _refs(self, req: Request, repo_type: str, repo_id: str) -> Response:
        repo = self._find_repo(req, repo_type, repo_id)
        out: dict[str, list] = {"branches": [], "converts": [], "tags": [], "pullRequests": []}
        kinds = {"heads": "branches", "tags": "tags", "convert": "converts", "pr": "pullRequests"}
        for ref, sha in sorted(repo.refs.items()):
            kind = ref.split("/")[1]
            name = ref if kind == "pr" else ref.split("/", 2)[2]
            out[kinds[kind]].append({"name": name, "ref": ref, "targetCommit": sha})
        if not req.arg("include_prs"):
            del out["pullRequests"]
        return json_response(out)

    def _commits(self, req: Request, repo_type: str, repo_id: str, revision: str) -> Response:
        repo = self._find_repo(req, repo_type, repo_id)
        commit, out = self._commit_at(repo, revision), []
        while commit is not None:
            out.append({"id": commit.sha, "title": commit.summary, "message": commit.message,
                        "date": iso(commit.date), "authors": [{"user": commit.author}]})
            commit = repo.commits.get(commit.parent) if commit.parent else None
        return json_response(out)

    def _resolve_file(self, req: Request, repo_type: str, repo_id: str, revision: str, path: str) -> Response:
        with self._lock:
            repo = self._find_repo(req, repo_type, repo_id)
            self._check_gate(req, repo)
            commit = self._commit_at(repo, revision)
            if path not in commit.files:  # the client caches the absence per commit
                raise HubError(404, f"Entry not found: {path}", "EntryNotFound", {"X-Repo-Commit": commit.sha})
            data, entry = commit.files[path], self._entry(commit, path)
        headers = {"X-Repo-Commit": commit.sha, "Accept-Ranges": "bytes", "Content-Type": "application/octet-stream"}
        if "lfs" in entry:  # the Hub reports the LFS sha256 (not the pointer's git oid) for those
            etag = entry["lfs"]["oid"]
            headers.update({"X-Linked-Etag": f'"{etag}"', "X-Linked-Size": str(len(data))})
        else:
            etag = entry["oid"]
        headers["ETag"] = f'"{etag}"'
        return range_response(data, req.headers.get("range"), headers)

    # -- writing
    def _preupload(self, req: Request, repo_type: str, repo_id: str, revision: str) -> Response:
        repo = self._find_repo(req, repo_type, repo_id)
        sha, ref = self._resolve(repo, revision)
        if not req.flag("create_pr"):
            self._require_write(req, repo, ref)
        commit = repo.commits[sha]
        files = []
        for item in req.json().get("files", []):
            path, sample = item["path"], base64.b64decode(item.get("sample", ""))
            lfs = path.lower().endswith(LFS_SUFFIXES) or item.get("size", 0) > LFS_SIZE_THRESHOLD or b"\0" in sample
            info = {"path": path, "uploadMode": "lfs" if lfs else "regular", "shouldIgnore": False}
            if path in commit.files:  # lets the client skip unchanged files
                data = commit.files[path]
                info["oid"] = hashlib.sha256(data).hexdigest() if lfs else git_blob_sha(data)
            files.append(info)
        return json_response({"files": files, "commitOid": commit.sha})

    def _commit(self, req: Request, repo_type: str, repo_id: str, revision: str) -> Response:
        repo = self._find_repo(req, repo_type, repo_id)
        if req.user is None:
            raise HubError(401, "You must be authenticated to commit")
        lines = [json.loads(line) for line in req.body.splitlines() if line.strip()]
        header = next((line["value"] for line in lines if line["key"] == "header"), {})
        ops = [line for line in lines if line["key"] != "header"]
        create_pr = req.flag("create_pr")
        head, ref = self._resolve(repo, revision)
        parent = header.get("parentCommit")
        if create_pr:  # any reader may open a PR; it starts from parentCommit if given
            if parent:
                head = self._resolve(repo, parent)[0]
        else:
            self._require_write(req, repo, ref)
            if ref is None or ref.startswith("refs/tags/"):
                raise HubError(400, f"Cannot commit to {revision}: not a branch")
            # Optimistic concurrency: the writer must have seen the current head.
            if parent and not head.startswith(parent):
                raise HubError(412, "A commit has happened since. Please refresh and try again.")
        base = repo.commits[head]
        files, lfs = dict(base.files), set(base.lfs)
        for op in ops:
            self._apply_op(op["key"], op["value"], files, lfs)
        summary = header.get("summary") or "Upload files"
        commit = self._add_commit(repo, head, summary, header.get("description", ""), req.user, files, frozenset(lfs))
        pr_url = None
        if create_pr:
            num = self._open_pr(repo, req.user, summary, header.get("description", ""), ref or "refs/heads/main")
            repo.refs[f"refs/pr/{num}"] = commit.sha
            pr_url = f"{self.url}/{repo.url_prefix}{repo.id}/discussions/{num}"
        else:
            repo.refs[ref] = commit.sha
        return json_response({
            "success": True, "commitOid": commit.sha, "commitMessage": summary, "hookOutput": "",
            "commitUrl": f"{self.url}/{repo.url_prefix}{repo.id}/commit/{commit.sha}", "pullRequestUrl": pr_url,
        })

    def _apply_op(self, key: str, value: dict, files: dict[str, bytes], lfs: set[str]) -> None:
        path = value.get("path", "").strip("/")
        if key == "file":
            files[path] = base64.b64decode(value["content"]) if value.get("encoding") == "base64" \
                else value["content"].encode()
            lfs.discard(path)
        elif key == "lfsFile":
            if value["oid"] not in self.lfs_objects:
                raise HubError(400, f"LFS object {value['oid']} was not uploaded")
            files[path] = self.lfs_objects[value["oid"]]
            lfs.add(path)
        elif key == "deletedFile":
            if files.pop(path, None) is None:
                raise HubError(404, f"A file with this name doesn't exist: {path}", "EntryNotFound")
            lfs.discard(path)
        elif key == "deletedFolder":
            doomed = [p for p in files if p.startswith(path + "/")]
            if not doomed:
                raise HubError(404, f"A folder with this name doesn't exist: {path}", "EntryNotFound")
            for p in doomed:
                del files[p]
                lfs.discard(p)
        else:
            raise HubError(400, f"Unsupported commit operation {key}")

    def _branch(self, req: Request, repo_type: str, repo_id: str, branch: str, create: bool) -> Response:
        repo = self._find_repo(req, repo_type, repo_id)
        self._require_write(req, repo)
        ref = f"refs/heads/{branch}"
        if not create:
            if repo.refs.pop(ref, None) is None:
                raise HubError(404, f"Branch {branch} not found", "RevisionNotFound")
            return json_response({})
        if ref in repo.refs:
            raise HubError(409, f"Branch {branch} already exists")
        start = req.json().get("startingPoint") or "main"
        repo.refs[ref] = self._resolve(repo, start)[0]
        return json_response({})

    # -- pull requests (the discussions API, minimal)
    def _open_pr(self, repo: Repo, author: str, title: str, description: str, target: str) -> int:
        num, repo.next_num = repo.next_num, repo.next_num + 1
        repo.discussions[num] = {"num": num, "title": title, "description": description, "author": author,
                                 "isPullRequest": True, "status": "open", "createdAt": iso(time.time()),
                                 "target": target}
        return num

    def _discussions_post(self, req: Request, repo_type: str, repo_id: str, rest: list[str]) -> Response:
        repo = self._find_repo(req, repo_type, repo_id)
        if req.user is None:
            raise HubError(401, "You must be authenticated to open a discussion")
        if not rest:  # create a discussion or an (empty) pull request
            body = req.json()
            if not body.get("pullRequest"):
                num, repo.next_num = repo.next_num, repo.next_num + 1
                repo.discussions[num] = {"num": num, "title": body.get("title", ""), "author": req.user,
                                         "isPullRequest": False, "status": "open", "createdAt": iso(time.time())}
                return json_response({"num": num})
            num = self._open_pr(repo, req.user, body.get("title", ""), body.get("description", ""), "refs/heads/main")
            repo.refs[f"refs/pr/{num}"] = repo.refs["refs/heads/main"]
            return json_response({"num": num, "url": f"{self.url}/{repo.url_prefix}{repo.id}/discussions/{num}"})
        num, action = int(rest[0]), rest[1] if len(rest) > 1 else ""
        pr = repo.discussions.get(num)
        if pr is None:
            raise HubError(404, f"Discussion {num} not found")
        if action == "merge":
            self._require_write(req, repo)
            self._merge_pr(repo, num, req.user)
            return json_response({})
        if action == "status":
            self._require_write(req, repo)
            pr["status"] = req.json().get("status", pr["status"])
            return json_response({})
        raise HubError(404, f"Unknown discussion action {action}")

    def _merge_pr(self, repo: Repo, num: int, user: str) -> None:
        """Replay the PR's changes (against the main head it started from) on top of its target."""
        pr, pr_head = repo.discussions[num], repo.commits[repo.refs[f"refs/pr/{num}"]]
        target, on_target = pr["target"], self._ancestors(repo, repo.refs[pr["target"]])
        base = pr_head  # the last commit the PR shares with its target
        while base.parent and base.sha not in on_target:
            base = repo.commits[base.parent]
        head = repo.commits[repo.refs[target]]
        files, lfs = dict(head.files), set(head.lfs)
        for path in set(base.files) | set(pr_head.files):
            if path not in pr_head.files:
                files.pop(path, None)
                lfs.discard(path)
            elif base.files.get(path) != pr_head.files[path]:
                files[path] = pr_head.files[path]
                if path in pr_head.lfs:
                    lfs.add(path)
                else:
                    lfs.discard(path)
        commit = self._add_commit(repo, head.sha, f"Merge pull request #{num}: {pr['title']}", "",
                                  user, files, frozenset(lfs))
        repo.refs[target] = commit.sha
        pr["status"] = "merged"
        pr["mergeCommitId"] = commit.sha

    def _ancestors(self, repo: Repo, sha: str) -> set[str]:
        out = set()
        while sha:
            out.add(sha)
            sha = repo.commits[sha].parent
        return out

    def _discussion_get(self, req: Request, repo_type: str, repo_id: str, rest: list[str]) -> Response:
        repo = self._find_repo(req, repo_type, repo_id)
        if not rest:
            items = [self._discussion_json(repo, d) for d in repo.discussions.values()]
            return json_response({"discussions": items, "count": len(items), "start": 0, "numClosedDiscussions": 0})
        pr = repo.discussions.get(int(rest[0]))
        if pr is None:
            raise HubError(404, f"Discussion {rest[0]} not found")
        return json_response(self._discussion_json(repo, pr))

    def _discussion_json(self, repo: Repo, d: dict) -> dict:
        out = {"num": d["num"], "title": d["title"], "status": d["status"], "createdAt": d["createdAt"],
               "isPullRequest": d["isPullRequest"], "author": {"name": d["author"]}, "events": [],
               "repo": {"name": repo.id, "type": repo.type}, "pinned": False, "numComments": 0,
               "filesWithConflicts": []}
        if d["isPullRequest"]:
            out["changes"] = {"base": d["target"]}
            if "mergeCommitId" in d:
                out["changes"]["mergeCommitId"] = d["mergeCommitId"]
        return out

    # -- git LFS
    def _lfs_batch(self, req: Request, repo_type: str, repo_id: str) -> Response:
        body = req.json()
        with self._lock:
            repo = self._find_repo(req, repo_type, repo_id)
            if req.user is None:
                raise HubError(401, "You must be authenticated to upload")
            ref = (body.get("ref") or {}).get("name")
            if ref:  # no ref is sent when uploading for a new PR, which any reader may open
                self._require_write(req, repo, self._resolve(repo, ref)[1])
            objects = []
            for obj in body.get("objects", []):
                oid, size = obj["oid"], obj["size"]
                if oid in self.lfs_objects:  # already stored: nothing to upload
                    objects.append({"oid": oid, "size": size})
                    continue
                ticket = secrets.token_urlsafe(16)
                self._upload_tickets[ticket] = (oid, size)
                objects.append({"oid": oid, "size": size, "authenticated": True, "actions": {
                    "upload": {"href": f"{self.url}/_lfs/upload/{oid}?ticket={ticket}"},
                    "verify": {"href": f"{self.url}/_lfs/verify"},
                }})
        return json_response({"transfer": "basic", "objects": objects, "hash_algo": "sha256"},
                             **{"Content-Type": "application/vnd.git-lfs+json"})

    def _lfs_transfer(self, req: Request, seg: list[str]) -> Response:
        if req.method == "PUT" and seg[:1] == ["upload"] and len(seg) == 2:
            with self._lock:
                expected = self._upload_tickets.pop(req.arg("ticket") or "", None)
            if expected is None or expected[0] != seg[1]:
                raise HubError(403, "Invalid or expired upload ticket")
            oid, size = expected
            if len(req.body) != size or hashlib.sha256(req.body).hexdigest() != oid:
                raise HubError(400, "Uploaded content does not match its sha256/size")
            with self._lock:
                self.lfs_objects[oid] = req.body
            return Response(200)
        if req.method == "POST" and seg == ["verify"]:
            body = req.json()
            data = self.lfs_objects.get(body.get("oid"))
            if data is None or len(data) != body.get("size"):
                raise HubError(404, "LFS object not found")
            return json_response({})
        raise HubError(404, "Not found")


def split_revision(segments: list[str]) -> tuple[str, list[str]]:
    """Split url segments into (revision, rest).

    The revision is either one url-encoded segment (`refs%2Fpr%2F1`, already
    unquoted here) or, as HfFileSystem sends it, three raw ones (`refs/pr/1`).
    """
    if not segments:
        return "main", []
    if segments[0] == "refs" and len(segments) >= 3 and SPECIAL_REF.match("/".join(segments[:3])):
        return "/".join(segments[:3]), segments[3:]
    return segments[0], segments[1:]


def range_response(data: bytes, range_header: str | None, headers: dict[str, str]) -> Response:
    """200 with the whole body, or 206/416 for a `bytes=start-[end]` / `bytes=-suffix` Range."""
    size = len(data)
    match = re.fullmatch(r"bytes=(\d*)-(\d*)", (range_header or "").strip())
    if not match or match.groups() == ("", ""):
        return Response(200, data, headers)
    first, last = match.groups()
    if first == "":  # suffix range: the last N bytes
        start, end = max(size - int(last), 0), size - 1
    else:
        start, end = int(first), min(int(last), size - 1) if last else size - 1
    if start >= size or start > end:
        return Response(416, b"", {**headers, "Content-Range": f"bytes */{size}"})
    return Response(206, data[start:end + 1], {**headers, "Content-Range": f"bytes {start}-{end}/{size}"})


# ----------------------------------------------------------------------------- HTTP glue


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as httpx expects from the Hub
    server_version = "hub-test-server"

    def do_GET(self):
        self._handle()

    do_HEAD = do_POST = do_PUT = do_DELETE = do_GET

    def log_message(self, format, *args):  # silence the default stderr log
        pass

    def _read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass  # trailers
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def _user(self) -> str | None:
        auth = self.headers.get("Authorization") or ""
        if not auth:
            return None
        token = auth.removeprefix("Bearer ").strip()
        for user, user_token in self.server.hub.tokens.items():
            if secrets.compare_digest(token, user_token):
                return user
        raise HubError(401, "Invalid credentials in Authorization header")

    def _handle(self) -> None:
        hub: HubServer = self.server.hub
        url = urlsplit(self.path)
        body = self._read_body()
        fault = hub._take_fault(self.command, url.path)
        if fault is not None and fault.drop:
            return self._drop(hub, url.path)
        try:
            if fault is not None and fault.truncate is None:
                raise HubError(fault.status, f"Injected fault ({fault.status})")
            req = Request(self.command, url.path, [unquote(s) for s in url.path.strip("/").split("/")],
                          parse_qs(url.query), {k.lower(): v for k, v in self.headers.items()}, body, self._user())
            response = hub.handle(req)
        except HubError as err:
            headers = {"X-Error-Message": err.message, **err.headers}
            if err.code:
                headers["X-Error-Code"] = err.code
            response = json_response({"error": err.message}, err.status, **headers)
        except Exception as err:  # a bug in the server: answer 500 rather than hang the client
            response = json_response({"error": f"Internal error: {type(err).__name__}: {err}"}, 500)
        hub.requests.append((self.command, url.path, response.status))
        self._send(response, fault.truncate if fault is not None else None)

    def _send(self, response: Response, truncate: int | None) -> None:
        self.send_response(response.status)
        for key, value in response.headers.items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(response.body)))
        self.end_headers()
        if self.command == "HEAD":
            return
        if truncate is not None:  # simulate a connection lost mid-download
            self.wfile.write(response.body[:truncate])
            self.wfile.flush()
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        self.wfile.write(response.body)

    def _drop(self, hub: HubServer, path: str) -> None:
        hub.requests.append((self.command, path, 0))
        self.close_connection = True
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
