"""Options shared by several commands, as decorators (one definition, one help text)."""

from __future__ import annotations

import click

json_option = click.option("--json", "as_json", is_flag=True, help="Print the result as JSON on stdout.")
registry_option = click.option(
    "--registry", metavar="URI",
    help="The registry: a local folder or hf://datasets/ORG/NAME (default: $HF_DNA_REGISTRY, else hf-dna's cache).")


def model_loading_options(func):
    """How to get and run a model: shared by extract, compare, stamp and whois."""
    options = [
        click.option("--revision", help="Branch, tag or commit of a Hub model (default: main)."),
        click.option("--device", type=click.Choice(["auto", "cpu", "cuda"]), default="auto", show_default=True),
        click.option("--dtype", type=click.Choice(["auto", "float32", "bfloat16", "float16"]), default="auto",
                     show_default=True, help="auto: float32 on CPU, bfloat16 on CUDA."),
        click.option("--batch-size", type=click.IntRange(1), default=32, show_default=True,
                     help="Prompts per batch; the DNA does not depend on it (see README)."),
        click.option("--probes", help="Probe set: hf://datasets/ORG/NAME[@rev] (default: the bundled set)."),
        click.option("--trust-remote-code", is_flag=True, help="Run the model repo's own code (only if you trust it)."),
        click.option("--allow-pickle", is_flag=True, help="Allow .bin/.pt weights (pickle can run code)."),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def extract_kwargs(params: dict) -> dict:
    """The keyword arguments of hf_dna.extract found among a command's parameters."""
    names = ("revision", "device", "dtype", "batch_size", "probes", "trust_remote_code", "allow_pickle")
    return {n: params[n] for n in names if n in params}
