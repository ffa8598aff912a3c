"""The card block is spliced in without changing anything else in the card."""

from __future__ import annotations

import numpy as np
import pytest
from huggingface_hub import ModelCard

from hf_dna.cards import CardBlock, parse_front_matter, read_block, with_block
from hf_dna.dna import DNA
from hf_dna.errors import CardError
from hf_dna.spec import current_spec


def make_block(seed: int = 0) -> CardBlock:
    vector = np.random.default_rng(seed).normal(size=128).astype(np.float32)
    dna = DNA(model="o/m", revision="a" * 40, spec=current_spec().id, vector=vector, tool="hf-dna 0.1.0",
              computed_at="2026-12-04T19:00:00Z")
    return CardBlock.from_dna(dna)


CARDS = {
    "comments-lists-unicode": (
        "---\n# Licence chosen by the legal team\nlicense: apache-2.0  # keep\nlanguage:\n- en\n- fr\n"
        "tags: [text-generation, 'café']\nbase_model: org/base\nmodel-index:\n  - name: x\n    results: []\n---\n\n"
        "# Modèle ✨\n\nSome *markdown* body.\n"
    ),
    "no-front-matter": "# A card with no YAML\n\nJust text.\n",
    "empty": "",
    "crlf": "---\r\nlicense: mit\r\ntags:\r\n- a\r\n---\r\n\r\nBody\r\n",
    "block-in-the-middle": (
        "---\nlicense: mit\nhf_dna:\n  spec: old\n  revision: r\n  vector: AAAA\n  tool: t\n  computed_at: c\n"
        "# a comment about tags\ntags:\n- x\n---\nBody\n"
    ),
}


@pytest.mark.parametrize("name", sorted(CARDS))
def test_block_is_added_and_nothing_else_changes(name):
    text = CARDS[name]
    block = make_block()
    new_text = with_block(text, block)
    before, after = parse_front_matter(text), parse_front_matter(new_text)
    assert read_block(after) == block
    assert {k: v for k, v in after.items() if k != "hf_dna"} == {k: v for k, v in before.items() if k != "hf_dna"}
    # Every line of the original outside the old block survives verbatim, in order.
    kept = [line for line in text.splitlines() if not line.startswith(("hf_dna:", "  spec: old", "  revision: r",
                                                                        "  vector: AAAA", "  tool: t", "  computed_at: c"))]
    remaining = iter(new_text.splitlines())
    assert all(any(line == new for new in remaining) for line in kept)  # kept is a subsequence
    # huggingface_hub reads the result as a card with the same body and our block.
    card = ModelCard(new_text)
    assert read_block(card.data.to_dict()) == block
    assert card.text.strip() == ModelCard(text).text.strip() if text.strip() else True


def test_replacing_the_block_is_idempotent():
    text = with_block(CARDS["comments-lists-unicode"], make_block(1))
    replaced = with_block(text, make_block(2))
    assert read_block(parse_front_matter(replaced)) == make_block(2)
    assert with_block(replaced, make_block(2)) == replaced
    assert replaced.count("hf_dna:") == 1
    assert "# Licence chosen by the legal team" in replaced and "license: apache-2.0  # keep" in replaced


def test_unparsable_yaml_is_refused():
    with pytest.raises(CardError, match="cannot be parsed"):
        with_block("---\nlicense: [mit\n---\nBody\n", make_block())


def test_malformed_block_reads_as_absent():
    assert read_block({"hf_dna": {"spec": "x"}}) is None
    assert read_block({"hf_dna": "nonsense"}) is None
    assert read_block({}) is None
