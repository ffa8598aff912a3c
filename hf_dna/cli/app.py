"""The `hf-dna` command group and the one place where errors become messages and exit codes.

Exit codes: 0 success, 1 error (the message says what to do), 2 bad usage,
3 `whois --fail-on-undocumented` found undocumented relatives.
"""

from __future__ import annotations

import os
import sys

import click

from .. import __version__
from ..errors import HfDnaError
from . import demo_cmd, extract_cmds, phylo_cmd, registry_cmd, respec_cmd, stamp_cmd, summary, whois_cmd

EXIT_ERROR = 1


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="hf-dna")
def cli() -> None:
    """Fingerprint language models by their behaviour (LLM DNA) and trace their lineage."""


for module in (extract_cmds, stamp_cmd, respec_cmd, whois_cmd, summary, registry_cmd, phylo_cmd, demo_cmd):
    for command in module.COMMANDS:
        cli.add_command(command)


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point: run the CLI, turning hf-dna errors into clear messages."""
    debug = os.environ.get("HF_DNA_DEBUG") == "1"
    try:
        cli.main(args=argv, prog_name="hf-dna", standalone_mode=False)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        sys.exit(EXIT_ERROR)
    except HfDnaError as exc:
        if debug:
            raise
        click.echo(f"Error: {exc}", err=True)
        sys.exit(EXIT_ERROR)
    except OSError as exc:  # network and Hub failures (huggingface_hub's HTTP errors are OSErrors)
        if debug:
            raise
        click.echo(f"Error: {exc}\nCheck your connection and HF_ENDPOINT, or run with HF_DNA_DEBUG=1 for details.", err=True)
        sys.exit(EXIT_ERROR)
    except KeyboardInterrupt:
        sys.exit(130)
    sys.exit(0)
