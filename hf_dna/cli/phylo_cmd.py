"""`hf-dna tree`, `map` and `matrix`: thin commands over `hf_dna.phylo` and `hf_dna.plots`."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import get_args

import click

from ..phylo import MapMethod, TreeMethod
from . import output
from .options import json_option, registry_option

spec_option = click.option(
    "--spec", metavar="ID", help="Spec id, e.g. dna-1/088e259d (default: the current spec, or the one MODELS share).")
PICTURE_SUFFIXES = (".png", ".svg")


def _picture_path(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """Refuse a picture format we do not draw before any work is done."""
    if value is not None and Path(value).suffix.lower() not in PICTURE_SUFFIXES:
        raise click.BadParameter(f"{value}: use a .png or .svg file name.", ctx=ctx, param=param)
    return value


def _plot_option(required: bool = False):
    return click.option("--plot", "plot_path", metavar="FILE", required=required, callback=_picture_path,
                        type=click.Path(dir_okay=False), help="Write a picture: FILE.png or FILE.svg.")


def _warn(result) -> None:
    for problem in result.problems:
        output.info(f"Warning: {problem}")


def _wrote(picture) -> None:
    output.info(f"Wrote {picture.path} ({picture.width_px}x{picture.height_px} px)")


@click.command()
@click.argument("models", nargs=-1)
@registry_option
@spec_option
@click.option("--newick", "newick_path", metavar="FILE", type=click.Path(dir_okay=False),
              help="Write the Newick tree to FILE instead of stdout.")
@_plot_option()
@click.option("--method", type=click.Choice(get_args(TreeMethod)), default="nj", show_default=True,
              help="nj: neighbor joining, rooted at the oldest model; upgma: ultrametric clustering.")
@json_option
def tree(models: tuple[str, ...], registry: str | None, spec: str | None, newick_path: str | None,
         plot_path: str | None, method: str, as_json: bool) -> None:
    """Draw the evolutionary tree of the registry's models (or only MODELS, as ID or ID@REVISION).

    Prints the tree in Newick format; --plot draws it, labels coloured by organisation.

    Example: hf-dna tree --registry hf://datasets/ORG/dna-registry --plot tree.png
    """
    from ..phylo import tree as build

    result = build(list(models) or None, registry=registry, spec=spec, method=method)
    _warn(result)
    if newick_path:
        Path(newick_path).write_text(result.newick + "\n", encoding="utf-8")
        output.info(f"Wrote {newick_path} ({len(result.leaves)} models, {result.method})")
    if plot_path:
        _wrote(result.plot(plot_path))
    if result.clipped_branches:
        output.info(f"Note: {result.clipped_branches} negative NJ branch length(s) were set to 0.")
    if as_json:
        output.emit_json(result.to_dict())
    elif not newick_path:
        click.echo(result.newick)


@click.command("map")
@registry_option
@spec_option
@_plot_option(required=True)
@click.option("--method", type=click.Choice(get_args(MapMethod)), default="mds", show_default=True,
              help="mds: classical multidimensional scaling; tsne: t-SNE (needs scikit-learn).")
@click.option("--html", "html_path", metavar="FILE", type=click.Path(dir_okay=False),
              help="Also write a self-contained interactive page (hover a point for its model).")
@json_option
def map_cmd(registry: str | None, spec: str | None, plot_path: str, method: str, html_path: str | None,
            as_json: bool) -> None:
    """Draw a 2-D map of the registry's models, coloured by organisation.

    Example: hf-dna map --plot map.png --html map.html
    """
    from ..phylo import map as build
    from ..plots import write_map_html

    result = build(registry=registry, spec=spec, method=method)
    _warn(result)
    _wrote(result.plot(plot_path))
    if html_path:
        write_map_html(result, html_path)
        output.info(f"Wrote {html_path}")
    if as_json:
        output.emit_json(result.to_dict())
    else:
        click.echo(f"Mapped {len(result.leaves)} models ({result.method}, spec {result.spec}) to {plot_path}")


@click.command()
@click.argument("models", nargs=-1, required=True)
@registry_option
@spec_option
@_plot_option(required=True)
@click.option("--csv", "csv_path", metavar="FILE", type=click.Path(dir_okay=False),
              help="Also write the distances as CSV (clustered order).")
@json_option
def matrix(models: tuple[str, ...], registry: str | None, spec: str | None, plot_path: str, csv_path: str | None,
           as_json: bool) -> None:
    """Draw the distance heatmap of MODELS (ID or ID@REVISION), in clustered order.

    Example: hf-dna matrix org/base org/base-ft other/model --plot matrix.png --csv matrix.csv
    """
    from ..phylo import matrix as build

    result = build(list(models), registry=registry, spec=spec)
    _warn(result)
    _wrote(result.plot(plot_path))
    if csv_path:
        _write_csv(result, csv_path)
        output.info(f"Wrote {csv_path}")
    if as_json:
        output.emit_json(result.to_dict())
    else:
        click.echo(output.table(["model", *range(1, len(result.labels) + 1)],
                                [[f"{i} {label}", *row] for i, (label, row) in
                                 enumerate(zip(result.labels, result.distances.tolist()), 1)]))


def _write_csv(result, path: str) -> None:
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["model", *result.labels])
        for label, row in zip(result.labels, result.distances.tolist()):
            writer.writerow([label, *(f"{d:.6f}" for d in row)])


COMMANDS = (tree, map_cmd, matrix)
