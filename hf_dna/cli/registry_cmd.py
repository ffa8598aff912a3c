"""`hf-dna registry list|show|add|compact|export`: thin commands over `hf_dna.registry`."""

from __future__ import annotations

import click

from . import output
from .options import json_option, registry_option



def _open(registry: str | None):
    from ..registry import open_registry

    return open_registry(registry)


def _report_problems(registry) -> None:
    """Unreadable files do not stop a read, but the user must hear about them."""
    for problem in registry.problems:
        output.info(f"Warning: {problem}")


@click.group()
def registry() -> None:
    """Read and write the DNA registry (a local folder or an HF dataset repo)."""


@registry.command("list")
@registry_option
@click.option("--spec", help="Only rows of this spec id (e.g. dna-1/088e259d).")
@json_option
def list_rows(registry: str | None, spec: str | None, as_json: bool) -> None:
    """List the registry's entries (the latest row per model, revision and spec).

    Example: hf-dna registry list --registry hf://datasets/ORG/dna-registry
    """
    reg = _open(registry)
    rows = reg.rows(spec)
    _report_problems(reg)
    if as_json:
        output.emit_json([r.to_dict(vector=False) for r in rows])
    else:
        click.echo(output.table(["model", "revision", "spec", "stamped_at"],
                                [(r.model_id, r.revision[:12], r.spec, r.stamped_at) for r in rows]))


@registry.command()
@click.argument("model_id")
@click.option("--revision", help="Commit (or a prefix of it); default: the latest entry.")
@click.option("--spec", help="Spec id; default: any.")
@registry_option
@json_option
def show(model_id: str, revision: str | None, spec: str | None, registry: str | None, as_json: bool) -> None:
    """Show one model's registry entry, its DNA included.

    Example: hf-dna registry show org/model --revision 0123abcd
    """
    reg = _open(registry)
    row = reg.find(model_id, revision=revision, spec=spec)
    _report_problems(reg)
    if row is None:
        raise click.ClickException(f"No entry for {model_id}{'@' + revision if revision else ''} in {reg.uri}.")
    if as_json:
        output.emit_json(row.to_dict())
        return
    for key, value in row.to_dict(vector=False).items():
        click.echo(f"{key + ':':<18}{', '.join(value) if isinstance(value, list) else value or ''}")
    click.echo(f"{'vector:':<18}" + " ".join(f"{x:+.3f}" for x in row.vector[:8]) + " …")


@registry.command()
@click.argument("dna_json", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False))
@click.option("--declared-parent", "parents", multiple=True, help="A base model the card declares (repeatable).")
@click.option("--relation", help="The card's base_model_relation (finetune, merge, quantized, adapter).")
@registry_option
@json_option
def add(dna_json: tuple[str, ...], parents: tuple[str, ...], relation: str | None, registry: str | None,
        as_json: bool) -> None:
    """Import DNA records saved by `hf-dna extract -o` (one new file, one commit).

    Example: hf-dna registry add gpt2.dna.json --declared-parent openai/gpt2-base
    """
    from ..dna import DNA
    from ..registry import RegistryRow

    rows = [RegistryRow.from_dna(DNA.load(p), declared_parents=parents, relation=relation, source="import")
            for p in dna_json]
    reg = _open(registry)
    written = reg.add(rows)
    if as_json:
        output.emit_json({"registry": reg.uri, "rows": len(rows), "file": written})
    else:
        click.echo(f"Added {len(rows)} row(s) to {reg.uri} ({written})")


@registry.command()
@registry_option
@json_option
def compact(registry: str | None, as_json: bool) -> None:
    """Merge the registry's small files into one per spec (keeps every latest row).

    Example: hf-dna registry compact --registry hf://datasets/ORG/dna-registry
    """
    reg = _open(registry)
    result = reg.compact()
    _report_problems(reg)
    if as_json:
        output.emit_json({"registry": reg.uri, "files_merged": result.files_merged, "rows": result.rows,
                          "written": result.written})
    elif result.written:
        click.echo(f"Merged {result.files_merged} files ({result.rows} rows) into {', '.join(result.written)}")
    else:
        click.echo(f"{reg.uri} is already compact.")


@registry.command()
@click.argument("path", type=click.Path(dir_okay=False))
@click.option("--spec", help="Only rows of this spec id.")
@registry_option
@json_option
def export(path: str, spec: str | None, registry: str | None, as_json: bool) -> None:
    """Export the latest rows to PATH: .parquet, or .csv (vector as base64 of float32).

    Example: hf-dna registry export dna.csv
    """
    reg = _open(registry)
    try:
        count = reg.export(path, spec=spec)
    except ValueError as exc:  # an unknown file suffix
        raise click.BadParameter(str(exc), param_hint="PATH") from exc
    _report_problems(reg)
    if as_json:
        output.emit_json({"registry": reg.uri, "path": path, "rows": count})
    else:
        click.echo(f"Exported {count} rows to {path}")


COMMANDS = (registry,)
