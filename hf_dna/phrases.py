"""Shared phrases: whose characteristic wording does a model repeat?

A distilled student learns from its teacher's *text*, so it keeps the teacher's turns of
phrase, but it has its own tokenizer and weights: the inheritance check (hf_dna.tail) cannot
compare the two, and the DNA places a student about as near its teacher as the teacher's
same-data strangers (benchmarks/RESULTS.md). What does single out the teacher is wording:
the word trigrams of the spec's greedy probe answers that the student shares with a model
*and that few other models use*.

The score is an IDF-weighted overlap among the models being compared (the query and its
candidates): a trigram's weight is log(n / models using it), so phrases that every model of
a domain says weigh nothing, and the overlap is normalised by both models' total weight
(1: the same characteristic phrases; 0: none shared). On the lineage zoo the highest score
was the true teacher for all 8 distilled students of two zoos.

It ranks; it never flags. Same-data models share characteristic phrases as much as a
teacher and its student do (a zoo's second twins scored as high), so a shared-phrase score
cannot say "related" on its own.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Hashable, Mapping, Sequence

PHRASE_WORDS = 3  # word trigrams: 2-, 3- and 4-grams all put every zoo teacher first
_WORD = re.compile(r"\w+|[^\w\s]")


def phrases(answers: Sequence[str]) -> set[str]:
    """The distinct word trigrams of a model's answers (lower-cased; punctuation counts as a
    word; a trigram never spans two answers)."""
    found: set[str] = set()
    for answer in answers:
        words = _WORD.findall(answer.lower())
        found.update(" ".join(words[i:i + PHRASE_WORDS]) for i in range(len(words) - PHRASE_WORDS + 1))
    return found


def shared_phrase_scores(query_answers: Sequence[str],
                         candidates: Mapping[Hashable, Sequence[str]]) -> dict[Hashable, float]:
    """Each candidate's shared-phrase score with the query, weighted by how rare each phrase
    is among the query and these candidates.

    Written here rather than with scikit-learn's TfidfVectorizer: that adds 1 to every weight,
    which keeps the phrases all models of a domain share in the score; with it the teacher came
    first for 5 of the zoo's 8 students, without it for 8 of 8."""
    query = phrases(query_answers)
    sets = {key: phrases(answers) for key, answers in candidates.items()}
    count = len(sets) + 1
    used_by = Counter(query)
    for found in sets.values():
        used_by.update(found)
    weight = {phrase: math.log(count / n) for phrase, n in used_by.items()}
    query_total = sum(weight[p] for p in query)
    scores = {}
    for key, found in sets.items():
        total = math.sqrt(query_total * sum(weight[p] for p in found))
        scores[key] = sum(weight[p] for p in query & found) / total if total > 0 else 0.0
    return scores
