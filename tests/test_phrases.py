"""The shared-phrase score (hf_dna.phrases): rare shared wording counts, common wording does not."""

from __future__ import annotations

import pytest

from hf_dna.phrases import phrases, shared_phrase_scores


def test_phrases_are_word_trigrams_within_one_answer():
    assert phrases(["The cat sat, on it", "mat"]) == {"the cat sat", "cat sat ,", "sat , on", ", on it"}
    assert phrases(["two words", ""]) == set()


def test_only_wording_few_models_share_counts():
    common = "the soup is hot and the bread is warm"
    scores = shared_phrase_scores(
        [common, "a pinch of saffron goes a long way"],
        {"teacher": [common, "a pinch of saffron goes a long way"],  # the query's rare phrase, word for word
         "twin": [common, "salt the water before the pasta"],
         "stranger": [common, "the harbour lights were out"]})
    assert scores["teacher"] > 0.5
    # What every model says weighs nothing: the twin and the stranger share only that.
    assert scores["twin"] == pytest.approx(0.0) and scores["stranger"] == pytest.approx(0.0)
    assert shared_phrase_scores(["x y z w"], {"same": ["x y z w"]}) == {"same": pytest.approx(0.0)}  # no population
    assert shared_phrase_scores(["x y z w"], {"same": ["x y z w"], "other": ["a b c d"]})["same"] == pytest.approx(1.0)
