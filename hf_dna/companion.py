"""The companion dataset repo (`{owner}/{name}-dna`): DNA records and raw answers, one file
per spec and revision, with a dataset card linking back to the model."""

from __future__ import annotations

from importlib import resources
from string import Template

from .dna import DNA


def default_repo(model_id: str, user: str | None, can_write_owner: bool) -> str:
    """`{owner}/{name}-dna`; under the user's own namespace when the model's is not theirs
    (a pull request needs a repo that exists, and we may not create one there)."""
    owner, _, name = model_id.rpartition("/")
    if not owner or (not can_write_owner and user):
        owner = user or owner
    return f"{owner}/{name}-dna"


def spec_path(spec_id: str) -> str:
    return spec_id.replace("/", "-")


def record_path(dna: DNA) -> str:
    return f"dna/{spec_path(dna.spec)}/{dna.revision}.json"


def responses_path(dna: DNA) -> str:
    return f"responses/{spec_path(dna.spec)}/{dna.revision}.jsonl"


def render_card(dna: DNA, endpoint: str) -> str:
    template = resources.files("hf_dna").joinpath("templates/companion_card.md").read_text(encoding="utf-8")
    return Template(template).substitute(
        model_id=dna.model, model_url=f"{endpoint.rstrip('/')}/{dna.model}", spec=dna.spec,
        revision=dna.revision, computed_at=dna.computed_at, tool=dna.tool)


def companion_files(dna: DNA, responses_jsonl: bytes | None, endpoint: str) -> dict[str, bytes]:
    """Every file of one companion commit."""
    files = {record_path(dna): (dna.to_json() + "\n").encode(), "README.md": render_card(dna, endpoint).encode()}
    if responses_jsonl is not None:
        files[responses_path(dna)] = responses_jsonl
    return files
