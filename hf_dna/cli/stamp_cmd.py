"""`hf-dna stamp`, `show` and `probes publish`."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from . import output
from .options import extract_kwargs, json_option, model_loading_options, registry_option

ENGINES = ("local", "ray")  # hf_dna.batch.Engine; not imported here, it would load torch at start-up


def batch_options(func):
    """Stamping many models: where the list comes from, and the engine that runs them."""
    options = [
        click.option("--from", "from_file", metavar="FILE", type=click.Path(dir_okay=False),
                     help="Stamp every model listed in FILE: one ORG/NAME[@REVISION] or folder per line (# comments)."),
        click.option("--search", metavar="QUERY",
                     help="Stamp the Hub models matching QUERY: words of the id, author:NAME, "
                          "base_model:ORG/NAME or another KEY:VALUE tag filter."),
        click.option("--limit", type=click.IntRange(1), help="With --search: at most this many models."),
        click.option("--engine", type=click.Choice(ENGINES), default="local", show_default=True,
                     help='Where DNAs are computed: this process, or one Ray task per model (pip install "hf-dna[ray]").'),
        click.option("--workers", type=click.IntRange(1), help="Ray: tasks at a time (default: as the cluster's resources allow)."),
        click.option("--cpus-per-task", type=click.FloatRange(min=0, min_open=True), default=1.0, show_default=True,
                     help="Ray: CPUs each task requests (and the torch threads it uses)."),
        click.option("--gpus-per-task", type=click.FloatRange(min=0), default=0.0, show_default=True,
                     help="Ray: GPUs each task requests (use with --device cuda or auto)."),
        click.option("--report", "report_path", metavar="FILE", type=click.Path(dir_okay=False),
                     help="Write the batch report (JSON: one entry per model) to FILE."),
    ]
    for option in reversed(options):
        func = option(func)
    return func


BATCH_ONLY = {"limit": "--limit", "workers": "--workers", "report_path": "--report"}
SINGLE_ONLY = {"revision": "--revision", "model_id": "--model-id", "companion_repo": "--companion"}


@click.command()
@click.argument("model", required=False)
@model_loading_options
@registry_option
@click.option("--to", "targets", default="card,dataset,registry", show_default=True,
              help="Where to write, comma-separated: card, dataset, registry.")
@click.option("--create-pr/--direct", "create_pr", default=None,
              help="Force a pull request, or a direct commit (default: a PR only for repos you do not own).")
@click.option("--dry-run", is_flag=True, help="Compute the DNA and report what would be written; write nothing.")
@click.option("--companion", "companion_repo", help="Companion dataset repo (default: OWNER/NAME-dna).")
@click.option("--model-id", help="Registry id for a local folder (default: the folder name).")
@click.option("--recompute", is_flag=True, help="Run the model even if its card (or, in a batch, the registry) has a current DNA.")
@batch_options
@json_option
def stamp(model: str | None, registry: str | None, targets: str, create_pr: bool | None, dry_run: bool,
          companion_repo: str | None, model_id: str | None, recompute: bool, as_json: bool, **params) -> None:
    """Compute MODEL's DNA and write it to its card, a companion dataset and the registry.

    MODEL is a Hub repo id or a local folder (then its README.md and the registry are written).
    Instead of MODEL, --from FILE or --search QUERY stamp many models: models the registry
    already holds at their current revision are skipped (so a rerun resumes), a failed model
    is reported and the rest go on, and the exit code is 1 if any model failed.

    Examples:

      hf-dna stamp my-org/my-model --registry hf://datasets/my-org/dna-registry

      hf-dna stamp --from models.txt --report report.json

      hf-dna stamp --search "author:my-org base_model:my-org/base" --engine ray --workers 4
    """
    sources = [name for name, value in (("MODEL", model), ("--from", params["from_file"]), ("--search", params["search"]))
               if value is not None]
    if len(sources) != 1:
        raise click.UsageError("Give exactly one of MODEL, --from FILE or --search QUERY"
                               + (f" (got {', '.join(sources)})." if sources else "."))
    wanted = _targets(targets)
    mode = "auto" if create_pr is None else ("pr" if create_pr else "direct")
    if model is None:
        _reject(SINGLE_ONLY, dict(params, model_id=model_id, companion_repo=companion_repo), "with --from or --search")
        _stamp_batch(registry, wanted, mode, dry_run, recompute, as_json, params)
        return
    _reject(BATCH_ONLY, params, "with MODEL")
    if params["engine"] != "local":
        raise click.UsageError("--engine applies to --from and --search batches; stamp one MODEL without it.")
    _stamp_one(model, registry, wanted, mode, dry_run, companion_repo, model_id, recompute, as_json, params)


def _targets(targets: str) -> tuple[str, ...]:
    from ..stamping import ALL_TARGETS

    wanted = tuple(t.strip() for t in targets.split(",") if t.strip())
    unknown = set(wanted) - set(ALL_TARGETS)
    if unknown:
        raise click.BadParameter(f"unknown target(s) {sorted(unknown)}; choose from {', '.join(ALL_TARGETS)}", param_hint="--to")
    return wanted


def _reject(options: dict[str, str], given: dict, where: str) -> None:
    used = [flag for name, flag in options.items() if given.get(name) is not None]
    if used:
        raise click.UsageError(f"{', '.join(used)} cannot be used {where}.")


def _stamp_one(model, registry, wanted, mode, dry_run, companion_repo, model_id, recompute, as_json, params) -> None:
    from ..stamping import stamp as run_stamp

    result = run_stamp(model, registry=registry, to=wanted, write_mode=mode, dry_run=dry_run,
                       companion_repo=companion_repo, model_id=model_id, recompute=recompute, **extract_kwargs(params))
    targets_out = [t.__dict__ for t in result.targets]
    if as_json:
        output.emit_json({"model": result.dna.model, "revision": result.dna.revision, "spec": result.dna.spec,
                          "reused": result.reused, "ok": result.ok, "targets": targets_out})
    else:
        how = "reused from the card" if result.reused else "computed"
        click.echo(f"{result.dna.model}@{result.dna.revision[:12]}  spec {result.dna.spec}  (DNA {how})")
        click.echo(output.table(["target", "status", "where", "note"],
                                [[t.target, t.status, t.where, t.message] for t in result.targets]))
    if not result.ok:
        sys.exit(1)


def _stamp_batch(registry, wanted, mode, dry_run, recompute, as_json, params) -> None:
    from ..batch import read_model_list, search_models, stamp_many

    if params["from_file"] is not None:
        models = read_model_list(params["from_file"])
    else:
        models = search_models(params["search"], limit=params["limit"])
    output.info(f"Stamping {len(models)} model(s) with the {params['engine']} engine…")
    kwargs = extract_kwargs(params)
    kwargs.pop("revision", None)  # per model, as ID@REVISION
    result = stamp_many(models, registry=registry, engine=params["engine"], to=wanted, write_mode=mode,
                        dry_run=dry_run, recompute=recompute, progress=not as_json, workers=params["workers"],
                        cpus_per_task=params["cpus_per_task"], gpus_per_task=params["gpus_per_task"], **kwargs)
    report = result.to_dict()
    if params["report_path"]:
        Path(params["report_path"]).write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        output.info(f"Wrote {params['report_path']}")
    if as_json:
        output.emit_json(report)
    else:
        click.echo(output.table(["model", "revision", "status", "seconds", "note"],
                                [[i.model, (i.revision or "")[:12], i.status, f"{i.seconds:.1f}", i.error or i.note]
                                 for i in result.items]))
        click.echo(f"\n{result.count('stamped')} stamped, {result.count('skipped')} skipped, "
                   f"{result.count('failed')} failed in {result.seconds:.1f} s "
                   f"(spec {result.spec}, engine {result.engine}, registry {result.registry})")
    if not result.ok:
        sys.exit(1)


@click.command()
@click.argument("model")
@click.option("--revision", help="Branch, tag or commit of a Hub model (default: main).")
@registry_option
@click.option("--companion", "companion_repo", help="Companion dataset repo (default: OWNER/NAME-dna).")
@click.option("--model-id", help="Registry id for a local folder (default: the folder name).")
@json_option
def show(model: str, revision: str | None, registry: str | None, companion_repo: str | None,
         model_id: str | None, as_json: bool) -> None:
    """Print the DNA recorded for MODEL (card, companion repo, registry) and whether it is current.

    Example: hf-dna show my-org/my-model
    """
    from ..lookup import show as run_show

    result = run_show(model, revision, registry=registry, companion_repo=companion_repo, model_id=model_id)
    for problem in result.problems:
        output.info(f"Warning: {problem}")
    rows = [{"source": f.source, "where": f.where, "revision": f.dna.revision, "spec": f.dna.spec,
             "current_revision": f.current_revision, "current_spec": f.current_spec,
             "computed_at": f.dna.computed_at, "vector": [float(x) for x in f.dna.vector]} for f in result.found]
    if as_json:
        output.emit_json({"model": result.model, "revision": result.revision, "found": rows})
        return
    if not rows:
        click.echo(f"No DNA recorded for {result.model}. Run `hf-dna stamp {model}` to make one.")
        return
    click.echo(f"{result.model}@{result.revision[:12]}")
    click.echo(output.table(["source", "revision", "spec", "current revision", "current spec", "computed"],
                            [[r["source"], r["revision"][:12], r["spec"], _yes(r["current_revision"]),
                              _yes(r["current_spec"]), r["computed_at"]] for r in rows]))


def _yes(value: bool) -> str:
    return "yes" if value else "no"


@click.group()
def probes() -> None:
    """The probe set: publish it as an HF dataset."""


@probes.command("publish")
@click.argument("repo")
@click.option("--private", is_flag=True, help="Create the dataset as private.")
def publish(repo: str, private: bool) -> None:
    """Push the bundled probe set to the dataset REPO (parquet plus a card with its hash).

    Example: hf-dna probes publish my-org/hf-dna-probes
    """
    from ..probes import publish_probes
    from ..spec import current_spec

    url = publish_probes(repo, current_spec(), private=private)
    click.echo(f"Published the probe set of {current_spec().id} to {url}")
    click.echo(f"Use it with: hf-dna extract MODEL --probes hf://datasets/{repo}")


COMMANDS = (stamp, show, probes)
