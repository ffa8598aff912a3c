"""The `hf-dna` command line: a thin layer over the Python API."""

from .app import cli, main

__all__ = ["cli", "main"]
