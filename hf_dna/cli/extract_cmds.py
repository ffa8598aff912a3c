"""`hf-dna extract`, `compare` and `spec`."""

from __future__ import annotations

import click

from . import output
from .options import extract_kwargs, json_option, model_loading_options


@click.command()
@click.argument("model")
@model_loading_options
@click.option("-o", "--output", "output_path", type=click.Path(dir_okay=False), help="Write the DNA record here (JSON).")
@click.option("--responses", "responses_path", type=click.Path(dir_okay=False),
              help="Also save the raw answers here (JSONL): a later spec can reuse them.")
@click.option("--model-id", help="Name to record for a local folder (default: the folder name).")
@click.option("--spec", "spec_name", metavar="SPEC",
              help="Compute under another known spec, by name or id (default: the current spec; see `hf-dna spec`).")
@json_option
def extract(model: str, output_path: str | None, responses_path: str | None, model_id: str | None,
            spec_name: str | None, as_json: bool, **params) -> None:
    """Compute the DNA of MODEL (a Hub repo id or a local folder).

    Example: hf-dna extract gpt2 -o gpt2.dna.json --responses gpt2.answers.jsonl
    """
    from ..extraction import extract as run_extract
    from ..spec import find_spec

    spec = find_spec(spec_name) if spec_name else None
    dna = run_extract(model, model_id=model_id, responses_path=responses_path, spec=spec, **extract_kwargs(params))
    if output_path:
        dna.save(output_path)
        output.info(f"Wrote {output_path}")
    if as_json:
        output.emit_json(dna.to_dict())
    else:
        seconds = dna.stats.get("seconds", {})
        click.echo(f"{dna.model}@{dna.revision[:12]}  spec {dna.spec}  "
                   f"({sum(seconds.values()):.1f}s, {dna.stats.get('empty_answers', 0)} empty answers)")
        click.echo("DNA: " + " ".join(f"{x:+.3f}" for x in dna.vector[:8]) + " …")


@click.command()
@click.argument("a")
@click.argument("b")
@model_loading_options
@json_option
def compare(a: str, b: str, as_json: bool, **params) -> None:
    """Distance between two DNAs: saved records (*.json) or models.

    The distance is per probe, in [0, 2]: 0 means the same behaviour.

    Example: hf-dna compare base.dna.json org/fine-tune
    """
    from ..comparison import as_dna

    kwargs = extract_kwargs(params)
    kwargs.pop("revision", None)  # one --revision cannot apply to two models
    dna_a, dna_b = as_dna(a, **kwargs), as_dna(b, **kwargs)
    dist = dna_a.distance(dna_b)
    if as_json:
        output.emit_json({"a": dna_a.model, "b": dna_b.model, "spec": dna_a.spec, "distance": dist})
    else:
        click.echo(f"{dist:.4f}  {dna_a.model} <-> {dna_b.model}  ({dna_a.spec})")


@click.command()
@click.option("--id", "id_only", is_flag=True, help="Print only the spec id.")
def spec(id_only: bool) -> None:
    """Print the current DNA spec as JSON (everything that changes a DNA's numbers)."""
    from ..spec import current_spec

    current = current_spec()
    if id_only:
        click.echo(current.id)
    else:
        output.emit_json({"id": current.id, **current.to_dict()})


COMMANDS = (extract, compare, spec)
