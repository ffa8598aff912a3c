"""`hf-dna demo`: the main job end to end, offline, on the embedded defaults."""

from __future__ import annotations

import click

from . import output
from .options import json_option


@click.command()
@click.option("--workdir", type=click.Path(file_okay=False), help="Where to build the demo models (default: hf-dna's cache).")
@json_option
def demo(workdir: str | None, as_json: bool) -> None:
    """Build a tiny model family offline, fingerprint it, and show who is related to whom.

    Example: hf-dna demo
    """
    from ..demo import run_demo

    output.info("Building the demo family (tiny models trained here; cached after the first run)…")
    result = run_demo(workdir)
    names = [d.model for d in result.dnas]
    if as_json:
        output.emit_json({"spec": result.dnas[0].spec, "models": names, "parents": result.parents,
                          "distances": result.distances.round(6).tolist(),
                          "fine_tunes_nearest_their_base": result.fine_tunes_nearest_their_base})
        return
    click.echo(f"DNA distances (spec {result.dnas[0].spec}; per probe, 0 = same behaviour):\n")
    click.echo(output.table(["model", *names], [[n, *row] for n, row in zip(names, result.distances.tolist())]))
    click.echo("")
    rows = [[n, result.parents.get(n) or "-", *result.nearest(n)] for n in names]
    click.echo(output.table(["model", "true parent", "nearest", "distance"], rows))
    verdict = "yes" if result.fine_tunes_nearest_their_base else "NO"
    click.echo(f"\nEach fine-tune sits nearest its own base: {verdict}")


COMMANDS = (demo,)
