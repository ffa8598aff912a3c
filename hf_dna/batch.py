"""Stamp many models: `hf-dna stamp --from FILE | --search QUERY [--engine local|ray]`.

    collect   model ids from a file (one `ORG/NAME[@REVISION]` or folder per line) or a Hub query
    plan      resolve each model's revision; skip what the registry holds at that revision and spec
    compute   each DNA on an engine: this process (`local`), or one Ray task per model (`ray`)
    write     as results arrive: card and companion repo per model, registry rows (and their
              evidence) in batches, one commit every `flush_every` models or `flush_seconds`
    report    one item per model: stamped, skipped or failed, with revision, seconds and error

One model's failure is reported and the batch goes on. A batch run again skips every model
the registry already holds, so an interrupted batch resumes where it stopped (rows are written
in batches: at most the last unwritten batch is computed again).
"""

from __future__ import annotations

import itertools
import os
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Iterator, Literal

from tqdm.auto import tqdm

from . import stamping
from .errors import BatchError, EngineUnavailableError, HfDnaError
from .models import hub_model_info, is_local_ref, resolve
from .cards import read_block
from .spec import Spec, current_spec
from .stamping import ALL_TARGETS, Computed, Target, TargetResult

Engine = Literal["local", "ray"]
Status = Literal["stamped", "skipped", "failed"]
ENGINES: tuple[Engine, ...] = ("local", "ray")


@dataclass
class Job:
    """One model to run: `ref` as listed, resolved to the registry's (model, revision)."""

    index: int
    ref: str
    model: str
    revision: str


@dataclass
class Outcome:
    """What an engine returns for one job: the computed DNA, or why it failed."""

    job: Job
    computed: Computed | None
    error: str | None
    seconds: float


@dataclass
class BatchItem:
    model: str  # as listed
    status: Status
    revision: str | None = None
    model_id: str | None = None  # the registry's id (a local folder's name)
    seconds: float = 0.0
    error: str | None = None  # why it failed
    note: str | None = None  # why it was skipped
    reused: bool = False  # the DNA came from a current card block: the model was not run
    targets: list[TargetResult] = field(default_factory=list)
    index: int = field(default=0, repr=False)

    def fail(self, message: str) -> None:
        self.status, self.error = "failed", "; ".join(filter(None, [self.error, message]))

    def to_dict(self) -> dict:
        data = asdict(self)
        data.pop("index")
        data["seconds"] = round(self.seconds, 3)
        return data


@dataclass
class BatchResult:
    spec: str
    registry: str
    engine: Engine
    items: list[BatchItem]
    seconds: float

    def count(self, status: Status) -> int:
        return sum(1 for item in self.items if item.status == status)

    @property
    def ok(self) -> bool:
        return self.count("failed") == 0

    def to_dict(self) -> dict:
        return {"spec": self.spec, "registry": self.registry, "engine": self.engine,
                "seconds": round(self.seconds, 3), "ok": self.ok,
                "counts": {s: self.count(s) for s in ("stamped", "skipped", "failed")},
                "models": [item.to_dict() for item in self.items]}


# -- collect

def read_model_list(path: str | Path) -> list[str]:
    """Model refs from a file: one per line; blank lines and `#` comments are ignored."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise BatchError(f"Cannot read the model list {path}: {exc.strerror or exc}.") from exc
    refs = [line.split("#", 1)[0].strip() for line in text.splitlines()]
    return _unique([r for r in refs if r], f"The model list {path} names no model: write one model id per line.")


def parse_query(query: str) -> tuple[str | None, str | None, list[str]]:
    """`--search` syntax: `author:NAME` picks the owner, any other `KEY:VALUE` word is a Hub
    tag filter (`base_model:ORG/NAME`, `license:mit`, ...), the other words are searched for in
    model ids. Returns (text, author, filters)."""
    words, author, filters = [], None, []
    for word in query.split():
        key, sep, value = word.partition(":")
        if sep and key == "author":
            author = value
        elif sep and key and value:
            filters.append(word)
        else:
            words.append(word)
    return " ".join(words) or None, author, filters


def search_models(query: str, *, limit: int | None = None, token: str | None = None) -> list[str]:
    """Model ids on the Hub that match `query` (see `parse_query`), via `HfApi.list_models`."""
    from huggingface_hub import HfApi

    text, author, filters = parse_query(query)
    if not (text or author or filters):
        raise BatchError("--search needs something to look for: words of the model id, author:NAME, "
                         "or a filter such as base_model:ORG/NAME.")
    found = HfApi(token=token).list_models(search=text, author=author, filter=filters or None, limit=limit)
    return _unique([m.id for m in found], f"No model on the Hub matches {query!r}.")


def _unique(refs: list[str], empty_message: str) -> list[str]:
    if not refs:
        raise BatchError(empty_message)
    return list(dict.fromkeys(refs))


# -- plan

def plan(refs: list[str], spec: Spec, held: set[tuple[str, str]], token: str | None,
         recompute: bool = False, progress: bool = False) -> tuple[list[Job], list[BatchItem]]:
    """Resolve each ref (8 at a time: each is a Hub call); a model the registry holds at that
    revision and spec (`held`) is skipped unless `recompute`. Returns the jobs to run and the
    items already settled (skipped, or failed to resolve)."""
    def attempt(ref: str) -> tuple[str, str] | Exception:
        try:
            return resolve_ref(ref, token, spec, set() if recompute else held)
        except Exception as exc:  # noqa: BLE001 -- one model's failure must not stop the batch
            return exc
    with ThreadPoolExecutor(max_workers=8) as pool:
        resolved = list(tqdm(pool.map(attempt, refs), total=len(refs), desc="resolve", unit="model",
                             disable=not progress, leave=False))
    jobs, settled, seen = [], [], set()
    for index, (ref, found) in enumerate(zip(refs, resolved)):
        if isinstance(found, Exception):
            settled.append(BatchItem(ref, "failed", error=describe(found), index=index))
        elif found in seen or (not recompute and found in held):
            why = "listed twice" if found in seen else f"already in the registry under {spec.id}"
            settled.append(BatchItem(ref, "skipped", found[1], model_id=found[0], note=why, index=index))
        else:
            seen.add(found)
            jobs.append(Job(index, ref, *found))
    return jobs, settled


def resolve_ref(ref: str, token: str | None, spec: Spec, held: set[tuple[str, str]] = frozenset()) -> tuple[str, str]:
    """(registry id, revision) of `ORG/NAME[@REVISION]` on the Hub or of a local folder. When
    the registry (`held`) has the DNA its card carries and a later commit only edited the card
    (stamping itself commits the card), that DNA's revision: it is still the model's DNA."""
    if is_local_ref(ref):
        resolved = resolve(ref)
        return resolved.model_id, resolved.revision
    name, _, revision = ref.partition("@")
    info = hub_model_info(name, revision or None, token)
    card = info.card_data.to_dict() if info.card_data else {}
    block = read_block(card)
    if (info.id, info.sha) not in held and block and (info.id, block.revision) in held:
        if stamping.current_card_dna(card, info.id, info.sha, token, spec) is not None:
            return info.id, block.revision
    return info.id, info.sha


# -- compute (runs on an engine)

def run_job(job: Job, token: str | None, recompute: bool, extract_kwargs: dict) -> Outcome:
    """Compute one model's DNA; any failure becomes the outcome's error, never an exception."""
    start = time.perf_counter()
    try:
        if is_local_ref(job.ref):
            computed = stamping.compute(job.ref, token=token, recompute=recompute, progress=False, **extract_kwargs)
        else:
            computed = stamping.compute(job.model, job.revision, token=token, recompute=recompute, progress=False,
                                        **extract_kwargs)
        return Outcome(job, computed, None, time.perf_counter() - start)
    except Exception as exc:  # noqa: BLE001 -- reported per model; the batch goes on
        return Outcome(job, None, describe(exc), time.perf_counter() - start)


def describe(exc: BaseException) -> str:
    """Our errors say what to do; anything else also says what it was."""
    return str(exc) if isinstance(exc, HfDnaError) else f"{type(exc).__name__}: {exc}"


def run_local(jobs: list[Job], task: Callable[[Job], Outcome]) -> Iterator[Outcome]:
    """The local engine: one model after another, in this process."""
    for job in jobs:
        yield task(job)


def _ray_task(job: Job, token: str | None, recompute: bool, extract_kwargs: dict, threads: int) -> Outcome:
    import torch

    torch.set_num_threads(threads)  # the task's CPU share, not every core of the node
    return run_job(job, token, recompute, extract_kwargs)


def run_ray(jobs: list[Job], token: str | None, recompute: bool, extract_kwargs: dict, *, cpus: float = 1,
            gpus: float = 0, workers: int | None = None) -> Iterator[Outcome]:
    """The Ray engine: one task per model with `cpus`/`gpus` each, at most `workers` at a time
    (default: as many as the cluster's resources allow). Joins the cluster at `RAY_ADDRESS`, or
    starts a local one (and stops it when done)."""
    ray = _import_ray()
    started = not ray.is_initialized()
    if started:
        if os.environ.get("RAY_ADDRESS"):
            ray.init(log_to_driver=False)
        else:
            ray.init(num_cpus=int(workers * cpus) if workers else None, include_dashboard=False, log_to_driver=False)
    try:
        remote = ray.remote(num_cpus=cpus, num_gpus=gpus, max_retries=0)(_ray_task)
        yield from _drain(ray, remote, jobs, (token, recompute, extract_kwargs, max(1, int(cpus))), workers or len(jobs))
    finally:
        if started:
            ray.shutdown()


def _drain(ray, remote, jobs: list[Job], args: tuple, limit: int) -> Iterator[Outcome]:
    """Keep `limit` tasks in flight; yield each outcome as it completes."""
    queue, pending = iter(jobs), {}

    def submit() -> None:
        for job in itertools.islice(queue, max(0, limit - len(pending))):
            pending[remote.remote(job, *args)] = job
    submit()
    while pending:
        (ref,), _ = ray.wait(list(pending), num_returns=1)
        job = pending.pop(ref)
        submit()
        try:
            yield ray.get(ref)
        except ray.exceptions.RayError as exc:  # the worker died (out of memory, killed)
            yield Outcome(job, None, f"the Ray task failed: {type(exc).__name__}: {str(exc).splitlines()[0]}", 0.0)


def _import_ray():
    try:
        import ray
    except ImportError as exc:
        raise EngineUnavailableError('The Ray engine needs Ray: pip install "hf-dna[ray]" (or use --engine local).') from exc
    return ray


# -- write

class RegistryBatch:
    """Registry rows (and their evidence) of finished models, written in one commit every
    `every` models or `seconds`; `Registry.add` is atomic and retries against other writers."""

    def __init__(self, registry, user: str | None, dry_run: bool, every: int, seconds: float,
                 held: set[tuple[str, str]]):
        self.registry, self.user, self.dry_run = registry, user, dry_run
        self.every, self.seconds, self.held = every, seconds, set(held)
        self.pending: list[tuple[BatchItem, Computed]] = []
        self.last = time.monotonic()

    def put(self, item: BatchItem, computed: Computed) -> None:
        key = (computed.dna.model, computed.dna.revision)
        if key in self.held:  # e.g. a card's DNA that the registry already has
            item.targets.append(TargetResult("registry", "unchanged", self.registry.uri))
            return
        self.held.add(key)
        self.pending.append((item, computed))
        if len(self.pending) >= self.every or time.monotonic() - self.last >= self.seconds:
            self.flush()

    def flush(self) -> None:
        batch, self.pending, self.last = self.pending, [], time.monotonic()
        if not batch:
            return
        status, message = ("would-write", None) if self.dry_run else self._add(batch)
        where = self.registry.pull_request if status == "pull-request" else self.registry.uri
        for item, _ in batch:
            item.targets.append(TargetResult("registry", status, where, message))
            if status == "failed":
                item.fail(f"registry: {message}")

    def _add(self, batch) -> tuple[str, str | None]:
        rows = [stamping.registry_row(c, self.user) for _, c in batch]
        try:
            self.registry.add(rows, evidence=[c.evidence for _, c in batch if c.evidence is not None],
                              tails=[c.tail for _, c in batch if c.tail is not None])
        except HfDnaError as exc:
            return "failed", str(exc)
        return ("pull-request", None) if self.registry.pull_request else ("written", None)


def finish(outcome: Outcome, to: Iterable[Target], rows: RegistryBatch | None, write_kwargs: dict) -> BatchItem:
    """Write one model's card and companion repo now, and queue its registry row."""
    job = outcome.job
    item = BatchItem(job.ref, "stamped", job.revision, job.model, outcome.seconds, index=job.index)
    if outcome.computed is None:
        item.fail(outcome.error or "unknown error")
        return item
    start, item.reused = time.perf_counter(), outcome.computed.reused
    if item.reused:
        item.note = "DNA reused from the card: the model was not run"
    item.targets = stamping.write(outcome.computed, to=[t for t in to if t != "registry"], **write_kwargs)
    for target in item.targets:
        if target.status == "failed":
            item.fail(f"{target.target}: {target.message}")
    item.seconds += time.perf_counter() - start
    if rows is not None and "registry" in to:
        rows.put(item, outcome.computed)
    return item


# -- the whole batch

def stamp_many(models: list[str], *, registry: str | None = None, engine: Engine = "local",
               to: tuple[Target, ...] | list[Target] = ALL_TARGETS, write_mode: str = "auto", dry_run: bool = False,
               token: str | None = None, recompute: bool = False, progress: bool = True,
               workers: int | None = None, cpus_per_task: float = 1, gpus_per_task: float = 0,
               flush_every: int = 10, flush_seconds: float = 60.0, **extract_kwargs) -> BatchResult:
    """Stamp every model in `models` (Hub ids, `ID@REVISION`, or local folders), resumably."""
    from huggingface_hub import get_token

    from . import hub
    from .registry import open_registry

    if engine not in ENGINES:
        raise BatchError(f"Unknown engine {engine!r}: choose one of {', '.join(ENGINES)}.")
    if engine == "ray":
        _import_ray()  # fail before any work when Ray is missing
    start, token = time.perf_counter(), token or get_token()
    spec = extract_kwargs.get("spec") or current_spec()
    reg = open_registry(registry, token=token, write_mode=write_mode)
    held = {(r.model_id, r.revision) for r in reg.rows(spec.id)}
    jobs, items = plan(models, spec, held, token, recompute, progress)
    rows = RegistryBatch(reg, hub.username(token), dry_run, flush_every, flush_seconds,
                         set() if recompute else held) if "registry" in to else None
    outcomes = run_ray(jobs, token, recompute, extract_kwargs, cpus=cpus_per_task, gpus=gpus_per_task,
                       workers=workers) if engine == "ray" and jobs else \
        run_local(jobs, lambda job: run_job(job, token, recompute, extract_kwargs))
    write_kwargs = dict(registry=registry, write_mode=write_mode, dry_run=dry_run, token=token)
    with closing(outcomes), tqdm(total=len(models), initial=len(items), desc="stamp", unit="model",
                                 disable=not progress) as bar:
        try:
            for outcome in outcomes:
                items.append(finish(outcome, to, rows, write_kwargs))
                bar.update()
        finally:  # interrupted or not, keep what was computed: a rerun resumes after it
            if rows is not None:
                rows.flush()
    items.sort(key=lambda item: item.index)
    return BatchResult(spec.id, reg.uri, engine, items, time.perf_counter() - start)
