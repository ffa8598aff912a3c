"""The `hf_dna` block in a model card's YAML: read it, and splice it in without touching
anything else.

Why a textual splice instead of huggingface_hub's `metadata_update`: that function parses the
YAML and dumps it again, which drops comments and rewrites quoting and layout. We promise that
nothing but our block changes, so we replace only the lines of the `hf_dna:` key, then parse
the result with huggingface_hub's own card parser and check every other key is unchanged.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import yaml

from .dna import DNA, decode_vector, encode_vector
from .errors import CardError, DnaFormatError

BLOCK_KEY = "hf_dna"
# The same front-matter rule huggingface_hub uses (repocard.REGEX_YAML_BLOCK).
FRONT_MATTER = re.compile(r"^(\s*---[\r\n]+)([\S\s]*?)([\r\n]+---(\r\n|\n|$))")


@dataclass
class CardBlock:
    spec: str
    revision: str
    vector: str  # base64 of 128 little-endian float32
    tool: str
    computed_at: str

    @classmethod
    def from_dna(cls, dna: DNA) -> "CardBlock":
        return cls(spec=dna.spec, revision=dna.revision, vector=encode_vector(dna.vector),
                   tool=dna.tool, computed_at=dna.computed_at)

    def to_dna(self, model_id: str) -> DNA:
        return DNA(model=model_id, revision=self.revision, spec=self.spec, vector=decode_vector(self.vector),
                   tool=self.tool, computed_at=self.computed_at)

    def to_yaml(self) -> str:
        return yaml.safe_dump({BLOCK_KEY: self.__dict__}, sort_keys=False, allow_unicode=True, width=10_000)


def read_block(card_data: dict | None) -> CardBlock | None:
    """The block from a card's parsed YAML (e.g. model_info().card_data), or None."""
    raw = (card_data or {}).get(BLOCK_KEY)
    if not isinstance(raw, dict):
        return None
    try:
        block = CardBlock(**{k: str(raw[k]) for k in ("spec", "revision", "vector", "tool", "computed_at")})
        decode_vector(block.vector)
    except (KeyError, DnaFormatError):
        return None  # a malformed block is treated as absent; stamping replaces it
    return block


def parse_front_matter(card_text: str) -> dict:
    """The card's YAML as a dict ({} without front matter); CardError if it cannot be parsed."""
    match = FRONT_MATTER.search(card_text)
    if not match:
        return {}
    try:
        data = yaml.safe_load(match.group(2))
    except yaml.YAMLError as exc:
        raise CardError(f"the card's YAML cannot be parsed ({str(exc).splitlines()[0]})") from exc
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise CardError("the card's YAML front matter is not a mapping")
    return data


def with_block(card_text: str, block: CardBlock) -> str:
    """The card text with the `hf_dna` block added or replaced; every other byte kept."""
    before = parse_front_matter(card_text)  # refuses a card whose YAML we cannot parse
    match = FRONT_MATTER.search(card_text)
    if not match:
        new_text = f"---\n{block.to_yaml()}---\n" + ("\n" + card_text if card_text.strip() else "")
    else:
        newline = "\r\n" if "\r\n" in match.group(1) else "\n"
        body = _replace_block_lines(match.group(2).split(newline), block.to_yaml().rstrip("\n").split("\n"))
        new_text = card_text[: match.start(2)] + newline.join(body) + card_text[match.end(2):]
    _check_only_block_changed(before, parse_front_matter(new_text), block)
    return new_text


def _replace_block_lines(lines: list[str], block_lines: list[str]) -> list[str]:
    start = next((i for i, line in enumerate(lines) if re.match(rf"{BLOCK_KEY}\s*:", line)), None)
    if start is None:
        while lines and not lines[-1].strip():  # append after the last key, not after blank lines
            lines = lines[:-1]
        return lines + block_lines
    end = start + 1
    # The block is its indented lines; anything at column 0 (a key, a comment) is someone else's.
    while end < len(lines) and lines[end][:1] in (" ", "\t"):
        end += 1
    return lines[:start] + block_lines + lines[end:]


def _check_only_block_changed(before: dict, after: dict, block: CardBlock) -> None:
    expected = {k: v for k, v in before.items() if k != BLOCK_KEY}
    got = {k: v for k, v in after.items() if k != BLOCK_KEY}
    if got != expected or read_block(after) != block:
        raise CardError("adding the hf_dna block would change other parts of the card's YAML")
