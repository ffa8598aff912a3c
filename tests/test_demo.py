"""`hf-dna demo`, the README's first command: stamp, whois and tree on a family built offline."""

from __future__ import annotations

import json
import shutil

from skbio import TreeNode

from hf_dna.cards import parse_front_matter, read_block
from helpers import run_cli


def test_demo_stamps_flags_the_undeclared_parent_and_draws_the_tree(tmp_path, zoo):
    # The demo's two founders have the test family's recipes: start from those builds (a recipe's
    # cache key does not depend on where it lives), so only the fine-tune is trained here.
    for name in ("kitchen-base", "machines-base"):
        shutil.copytree(zoo[name], tmp_path / name)
    first = run_cli("demo", "--workdir", str(tmp_path), "--json", timeout=600)
    assert first.returncode == 0, first.stderr
    report = json.loads(first.stdout)
    assert report["fine_tunes_nearest_their_base"] and report["undeclared_parent_found"]
    assert [s["reused"] for s in report["stamps"]] == [False, False, False]  # each model ran once
    whois = report["whois"]
    assert whois["model"] == "kitchen-base-garden-ft" and whois["declared_parents"] == []
    assert [(n["model"], n["verdict"]) for n in whois["undocumented"]] == [("kitchen-base", "undocumented-parent")]
    assert whois["undocumented"][0]["inherited"] is True  # the inheritance check ran on the stamped records
    tree = TreeNode.read([report["tree"]])
    assert {tip.name for tip in tree.tips()} == {"kitchen-base", "machines-base", "kitchen-base-garden-ft"}
    card = parse_front_matter((tmp_path / "kitchen-base" / "README.md").read_text())
    assert read_block(card).spec == report["spec"]
    # A second run reuses the DNAs the cards carry, into a fresh registry: same answer, no model runs.
    again = run_cli("demo", "--workdir", str(tmp_path), timeout=600)
    assert again.returncode == 0, again.stderr
    assert "reused from the card" in again.stdout and "undocumented-parent" in again.stdout
    assert "The undeclared parent was found: yes" in again.stdout
