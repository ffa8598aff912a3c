"""`hf-dna demo`: the main job end to end, offline, on the embedded defaults."""

from __future__ import annotations

import click

from . import output
from .options import json_option
from .whois_cmd import neighbour_table


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
                          "fine_tunes_nearest_their_base": result.fine_tunes_nearest_their_base,
                          "registry": result.registry,
                          "stamps": [{"model": s.dna.model, "reused": s.reused, "targets": [t.__dict__ for t in s.targets]}
                                     for s in result.stamps],
                          "whois": result.whois.to_dict(), "undeclared_parent_found": result.undeclared_parent_found,
                          "tree": result.tree.newick})
        return
    click.echo(f"1. stamp: each model's DNA (spec {result.dnas[0].spec}) into its card and the registry "
               f"{result.registry}\n")
    click.echo(output.table(["model", "DNA", "card", "registry"],
                            [[s.dna.model, "reused from the card" if s.reused else "computed",
                              *[next(t.status for t in s.targets if t.target == name) for name in ("card", "registry")]]
                             for s in result.stamps]))
    click.echo("\nDistances (0 = same behaviour):\n")
    click.echo(output.table(["model", *names], [[n, *row] for n, row in zip(names, result.distances.tolist())]))
    report = result.whois
    click.echo(f"\n2. whois {report.model}  (its card declares no base model; true parent: "
               f"{result.parents[report.model]})\n")
    click.echo(neighbour_table(report))
    click.echo(report.conclusion)
    click.echo(f"\n3. tree (neighbor joining, rooted at {result.tree.root.model or 'the midpoint'}):\n"
               f"{result.tree.newick}")
    verdict = "yes" if result.undeclared_parent_found else "NO"
    click.echo(f"\nThe undeclared parent was found: {verdict}. Next: `hf-dna stamp ORG/MODEL`, "
               "`hf-dna whois ORG/MODEL` on the Hub (README).")


COMMANDS = (demo,)
