"""Small helpers shared by the tests."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

# The console script installed beside this interpreter: tests exercise the real entry point.
HF_DNA = str(Path(sys.executable).with_name("hf-dna"))


def run_cli(*args: str, env: dict | None = None, timeout: int = 300) -> subprocess.CompletedProcess:
    """Run `hf-dna ARGS` in a subprocess, as a user or a CI job would."""
    return subprocess.run([HF_DNA, *args], capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, **(env or {})}, stdin=subprocess.DEVNULL)


def model_files(folder: Path, card: str | None = None) -> dict[str, bytes]:
    """A model folder's files (dotfiles left out), with `card` as its README.md: what to upload."""
    files = {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file() and not p.name.startswith(".")}
    if card is not None:
        files["README.md"] = card.encode()
    return files
