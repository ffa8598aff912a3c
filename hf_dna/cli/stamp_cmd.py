"""`hf-dna stamp`, `show` and `probes publish`."""

from __future__ import annotations

import sys

import click

from . import output
from .options import extract_kwargs, json_option, model_loading_options

registry_option = click.option("--registry", help="Registry: a local folder or hf://datasets/ORG/NAME (default: $HF_DNA_REGISTRY or the local cache).")


@click.command()
@click.argument("model")
@model_loading_options
@registry_option
@click.option("--to", "targets", default="card,dataset,registry", show_default=True,
              help="Where to write, comma-separated: card, dataset, registry.")
@click.option("--create-pr/--direct", "create_pr", default=None,
              help="Force a pull request, or a direct commit (default: a PR only for repos you do not own).")
@click.option("--dry-run", is_flag=True, help="Compute the DNA and report what would be written; write nothing.")
@click.option("--companion", "companion_repo", help="Companion dataset repo (default: OWNER/NAME-dna).")
@click.option("--model-id", help="Registry id for a local folder (default: the folder name).")
@click.option("--recompute", is_flag=True, help="Run the model even if its card already has a current DNA.")
@json_option
def stamp(model: str, registry: str | None, targets: str, create_pr: bool | None, dry_run: bool,
          companion_repo: str | None, model_id: str | None, recompute: bool, as_json: bool, **params) -> None:
    """Compute MODEL's DNA and write it to its card, a companion dataset and the registry.

    MODEL is a Hub repo id or a local folder (then its README.md and the registry are written).

    Example: hf-dna stamp my-org/my-model --registry hf://datasets/my-org/dna-registry
    """
    from ..stamping import ALL_TARGETS, stamp as run_stamp

    wanted = tuple(t.strip() for t in targets.split(",") if t.strip())
    unknown = set(wanted) - set(ALL_TARGETS)
    if unknown:
        raise click.BadParameter(f"unknown target(s) {sorted(unknown)}; choose from {', '.join(ALL_TARGETS)}", param_hint="--to")
    mode = "auto" if create_pr is None else ("pr" if create_pr else "direct")
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
