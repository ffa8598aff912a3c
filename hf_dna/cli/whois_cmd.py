"""`hf-dna whois`: who are this model's relatives, and are they declared?"""

from __future__ import annotations

import math
import sys

import click

from . import output
from .options import extract_kwargs, json_option, model_loading_options, registry_option

EXIT_UNDOCUMENTED = 3


@click.command()
@click.argument("model")
@model_loading_options
@registry_option
@click.option("--top-k", type=click.IntRange(1), default=10, show_default=True, help="How many models to report: the likeliest relatives among the nearest max(K, 10).")
@click.option("--model-id", help="Registry id for a local folder (default: the folder name).")
@click.option("--recompute", is_flag=True, help="Compute the DNA even if the card or registry has a current one.")
@click.option("--fail-on-undocumented", is_flag=True, help="Exit with code 3 when an undocumented relative is found.")
@click.option("--no-inheritance", "no_inheritance", is_flag=True,
              help="Skip the checks that read the registry's records: inheritance, divergence and shared phrases "
                   "(verdicts and order from the DNA alone; the model is never loaded for them).")
@json_option
def whois(model: str, registry: str | None, top_k: int, model_id: str | None, recompute: bool,
          fail_on_undocumented: bool, no_inheritance: bool, as_json: bool, **params) -> None:
    """Find MODEL's nearest relatives in the registry and flag the undeclared ones.

    Verdicts: declared, undocumented-parent, undocumented-derivative, identical (a copy),
    related (same family as a flagged model), declared-but-distant, unrelated.

    Where MODEL and a neighbour share tokenizer and shapes, the inheritance check decides
    "related" (does it carry the neighbour's weights, or only behave alike?); where they share
    only the tokenizer, the divergence of their next-token distributions does (a logit-distilled
    student). Both use the registry's records and may load MODEL once when the registry has
    none of it.

    Example: hf-dna whois my-org/my-model --registry hf://datasets/my-org/dna-registry --fail-on-undocumented
    """
    from ..whois import whois as run_whois

    report = run_whois(model, registry=registry, top_k=top_k, model_id=model_id, recompute=recompute,
                       inheritance=not no_inheritance, **extract_kwargs(params))
    for note in report.notes:
        output.info(f"Note: {note}")
    if as_json:
        output.emit_json(report.to_dict())
    else:
        _print_report(report)
    if fail_on_undocumented and report.undocumented:
        sys.exit(EXIT_UNDOCUMENTED)


def _print_report(report) -> None:
    declared = ", ".join(report.declared_parents) or "none"
    click.echo(f"{report.model}@{report.revision[:12]}  spec {report.spec}  (DNA from {report.dna_source})")
    click.echo(f"Declared base model(s): {declared}\n")
    click.echo(neighbour_table(report, created=True))
    cal = report.calibration
    click.echo(f"\nscore = P(related | distance), calibrated on {cal.source}; related below "
               f"distance {cal.boundary:.3f}, identical below {cal.identical_below:.3f}.")
    if report.inheritance is not None:
        click.echo(f"weights: the inheritance check (tail similarity; inherited above "
                   f"{1 - report.inheritance.boundary:.3f}, then it decides the score); models that cannot share "
                   f"weights are related only below distance {max(report.unshared.boundary, 0):.3f}.")
    if report.distilled is not None and any(c.divergence is not None for c in report.neighbors):
        click.echo(f"divergence: of the next-token distributions, for a shared tokenizer but another architecture "
                   f"or size; below {math.exp(report.distilled.boundary):.3f} it decides the score (a logit-distilled "
                   f"student and its teacher).")
    if any(c.phrases is not None for c in report.neighbors):
        click.echo("phrases: shared characteristic phrases in the probe answers (0-1); they order the models "
                   "not found related, a distilled model's teacher first.")
    click.echo(report.conclusion)


def neighbour_table(report, created: bool = False) -> str:
    """The neighbours as a text table (also the demo's)."""
    rows = [[c.model, c.distance, weights_text(c.to_dict()) or "-",
             "-" if c.phrases is None else f"{c.phrases:.3f}", c.score, c.verdict]
            + ([c.created_at] if created else []) for c in report.neighbors]
    return output.table(["model", "distance", "weights", "phrases", "score", "verdict"] + (["created"] if created else []),
                        rows)


def weights_text(neighbour: dict) -> str:
    """The inheritance check's finding on one neighbour (`Candidate.to_dict()`) in words (also
    the job summary's); "" when it did not run."""
    if neighbour.get("divergence") is not None:
        return f"{neighbour['weights_unshareable']}; divergence {neighbour['divergence']:.3f}"
    if neighbour.get("weights_unshareable"):
        return neighbour["weights_unshareable"]
    if neighbour.get("similarity") is None:
        return ""
    return f"{'inherited' if neighbour.get('inherited') else 'own'} {neighbour['similarity']:.3f}"


COMMANDS = (whois,)
