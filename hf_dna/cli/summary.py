"""`hf-dna whois-summary`: the JSON of `whois` (and `stamp`) as a markdown job summary.

The GitHub Action appends its output to `$GITHUB_STEP_SUMMARY`; any other CI can use it
the same way. Rendering is pure (dicts in, markdown out); the command only reads files.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import click

from .whois_cmd import weights_text

FLAGGED_MARK = "⚠️ "
REPO_ID = re.compile(r"[\w.-]+/[\w.-]+")


@click.command("whois-summary")
@click.argument("report", required=False, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--stamp", "stamp_json", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Also show this `hf-dna stamp --json` result.")
def whois_summary(report: Path | None, stamp_json: Path | None) -> None:
    """Render `hf-dna whois --json` output (and `stamp --json` output) as a markdown summary.

    Example: hf-dna whois-summary report.json --stamp stamp.json >> "$GITHUB_STEP_SUMMARY"
    """
    if report is None and stamp_json is None:
        raise click.UsageError("Give a whois report, a --stamp result, or both.")
    click.echo(render(_load(report), _load(stamp_json)))


def _load(path: Path | None) -> dict | None:
    if path is None:
        return None
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise click.BadParameter(f"{path} is not JSON ({exc}); pass the output of a --json command.") from exc


def render(report: dict | None, stamp: dict | None = None) -> str:
    """Markdown for a job summary: a heading, the stamp targets, the whois table, the conclusion
    and whois's notes."""
    first = report or stamp or {}
    parts = [f"### hf-dna: {_model(first.get('model', '?'))}", ""]
    if stamp is not None:
        parts += _stamp_section(stamp)
    if report is not None:
        parts += _whois_section(report)
    return "\n".join(parts).rstrip() + "\n"


def _stamp_section(stamp: dict) -> list[str]:
    how = "reused from the card" if stamp.get("reused") else "computed"
    lines = [f"**stamp** `{_short(stamp.get('revision'))}` · spec `{stamp.get('spec', '?')}` · DNA {how}", ""]
    rows = [[t.get("target"), t.get("status"), t.get("where"), t.get("message")] for t in stamp.get("targets", [])]
    return lines + _table(["target", "status", "where", "note"], rows) + [""]


def _whois_section(report: dict) -> list[str]:
    declared = ", ".join(_model(p) for p in report.get("declared_parents") or []) or "none"
    flagged = report.get("undocumented") or []
    lines = [f"**whois** `{_short(report.get('revision'))}` · spec `{report.get('spec', '?')}` · "
             f"DNA from {report.get('dna_source', '?')} · registry `{report.get('registry', '?')}`", "",
             f"Declared base model(s): {declared}", ""]
    rows = [[_model(n["model"]), _number(n.get("distance")), weights_text(n), _number(n.get("phrases"), 3),
             _number(n.get("score")), _verdict(n.get("verdict")), n.get("created_at")]
            for n in report.get("neighbors", [])]
    headers = ["model", "distance", "weights", "phrases", "score", "verdict", "created"]
    lines += _table(headers, rows) if rows else ["_No neighbours in the registry._"]
    status = f"**{len(flagged)} undocumented relative(s).**" if flagged else "**Nothing flagged.**"
    notes = [f"- {_cell(note)}" for note in report.get("notes") or []]
    return lines + ["", f"{status} {report.get('conclusion', '')}".rstrip()] + (["", "Notes:", *notes] if notes else [])


def _table(headers: list[str], rows: list[list[Any]]) -> list[str]:
    align = ["---:" if h in ("distance", "phrases", "score") else "---" for h in headers]
    return [_row(headers), _row(align), *(_row(r) for r in rows)]


def _row(cells: list[Any]) -> str:
    return "| " + " | ".join(_cell(c) for c in cells) + " |"


def _cell(value: Any) -> str:
    return "" if value is None else str(value).replace("|", "\\|").replace("\n", " ")


def _model(name: str) -> str:
    """A Hub repo id becomes a link to its page on the Hub the job talked to."""
    if not REPO_ID.fullmatch(name):
        return f"`{name}`"
    from huggingface_hub import constants

    return f"[{name}]({constants.ENDPOINT.rstrip('/')}/{name})"


def _verdict(verdict: str | None) -> str:
    from ..lineage import FLAGGED

    return f"{FLAGGED_MARK}**{verdict}**" if verdict in FLAGGED else f"{verdict}"


def _number(value: Any, digits: int = 4) -> str:
    return f"{value:.{digits}f}" if isinstance(value, (int, float)) else _cell(value)


def _short(revision: str | None) -> str:
    return (revision or "?")[:12]


COMMANDS = (whois_summary,)
