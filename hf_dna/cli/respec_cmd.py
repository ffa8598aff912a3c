"""`hf-dna respec`: a registry's DNAs under another spec, from stored answers (no model runs)."""

from __future__ import annotations

import sys

import click

from . import output
from .options import json_option, registry_option


@click.command()
@registry_option
@click.option("--spec", "spec", metavar="SPEC", required=True,
              help="The spec to compute: a name (dna-1, dna-2) or a full id (dna-1/088e259d).")
@click.option("--device", type=click.Choice(["cpu", "cuda"]), default="cpu", show_default=True,
              help="Where the sentence encoder runs.")
@click.option("--dry-run", is_flag=True, help="Report what would be written; write nothing.")
@json_option
def respec(registry: str | None, spec: str, device: str, dry_run: bool, as_json: bool) -> None:
    """Add the registry's DNAs under SPEC, computed from the answers stamp stored: no model runs.

    Works when SPEC keeps the probe set and generation settings of the stored answers (and,
    for a likelihood channel, how the profile is scored); other models are listed with the
    reason, to be stamped again. Exit code 1 if any model could not be re-spec'd.

    Example: hf-dna respec --registry hf://datasets/ORG/dna-registry --spec dna-1
    """
    from ..respec import respec as run_respec

    result = run_respec(registry, spec, device=device, dry_run=dry_run, progress=not as_json)
    if as_json:
        output.emit_json(result.to_dict())
    else:
        click.echo(output.table(["model", "revision", "status", "note"],
                                [[i.model, i.revision[:12], i.status, i.message] for i in result.items]))
        click.echo(f"\n{result.count('would-write' if dry_run else 'written')} "
                   f"{'would be ' if dry_run else ''}written, {result.count('skipped')} skipped, "
                   f"{result.count('failed')} failed (spec {result.spec}, registry {result.registry})")
        if result.pull_request:
            click.echo(f"The rows went to a pull request for the registry's owner to merge: {result.pull_request}")
    if not result.ok:
        sys.exit(1)


COMMANDS = (respec,)
