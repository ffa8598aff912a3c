"""The lineage benchmark's model zoo: families with known lineage, and hard negatives.

Four founders (GPT-2 and Llama, BPE and Unigram tokenizers), each trained on its own text.
Per family, in the registry (stamped with declared lineage): the founder, two fine-tunes and
a same-data twin. Queried with nothing declared: a grandchild, a merge of the two
fine-tunes, a float16 copy, a distilled student of another architecture (its own tokenizer,
trained on the teacher's sampled text), a logit-distilled student of another architecture
(the teacher's tokenizer), a third fine-tune, a second same-data twin and a same-data model
of another architecture (whose only "relatives" are same-data models: nothing may be flagged).
"""

from __future__ import annotations

from dataclasses import dataclass

from hf_dna.zoo import CORPORA, Recipe

# Two architectures x two tokenizer kinds, each pair on two different texts: unrelated models
# that share an architecture and a tokenizer kind are the common case on the Hub (zoo 3; zoo
# 1-2 had every founder of its own kind, which hid how close such strangers sit).
FOUNDERS = (("kitchen", "gpt2", "bpe"), ("harbour", "llama", "unigram"),
            ("machines", "gpt2", "bpe"), ("garden", "llama", "unigram"))
FT = dict(steps=80, lr=1e-3)


@dataclass(frozen=True)
class Member:
    recipe: Recipe
    family: str
    true_parents: tuple[str, ...]  # what the model really came from
    in_registry: bool  # stamped with its declared lineage; else queried with nothing declared


def family(index: int, seed_offset: int = 0) -> list[Member]:
    """One founder's family. `seed_offset` shifts every seed: the same recipes, other models (a
    held-out zoo for checking calibrations fitted on the default one)."""
    corpus, arch, tok = FOUNDERS[index]
    index_seed = index + seed_offset
    other = [CORPORA[(CORPORA.index(corpus) + k) % len(CORPORA)] for k in (1, 2, 3)]
    f = corpus
    student_arch = "llama" if arch == "gpt2" else "gpt2"
    spec = [
        (Recipe(f, corpus=corpus, steps=400, arch=arch, tokenizer=tok, seed=index_seed), (), True),
        (Recipe(f"{f}-twin", corpus=corpus, steps=400, arch=arch, tokenizer=tok, seed=index_seed + 100), (), True),
        (Recipe(f"{f}-ft-a", corpus=other[0], parent=f, seed=index_seed + 10, **FT), (f,), True),
        (Recipe(f"{f}-ft-b", corpus=other[1], parent=f, seed=index_seed + 20, **FT), (f,), True),
        (Recipe(f"{f}-ft-a-ft", corpus=other[2], parent=f"{f}-ft-a", seed=index_seed + 30, **FT), (f"{f}-ft-a",), False),
        (Recipe(f"{f}-merge", kind="merge", parent=f"{f}-ft-a", other=f"{f}-ft-b"), (f"{f}-ft-a", f"{f}-ft-b"), False),
        (Recipe(f"{f}-half", kind="half", parent=f"{f}-ft-b"), (f"{f}-ft-b",), False),
        (Recipe(f"{f}-student", kind="distill", corpus=corpus, parent=f, steps=400, arch=student_arch,
                tokenizer=tok, seed=index_seed + 40), (f,), False),
        (Recipe(f"{f}-kd", kind="distill-logits", corpus=corpus, parent=f, steps=400, arch=student_arch,
                seed=index_seed + 60), (f,), False),
        (Recipe(f"{f}-ft-c", corpus=corpus, parent=f, seed=index_seed + 50, **FT), (f,), False),
        (Recipe(f"{f}-twin2", corpus=corpus, steps=400, arch=arch, tokenizer=tok, seed=index_seed + 200), (), False),
        (Recipe(f"{f}-xtwin", corpus=corpus, steps=400, arch=student_arch, tokenizer=tok, seed=index_seed + 300), (),
         False),
    ]
    return [Member(r, f, parents, reg) for r, parents, reg in spec]


def zoo(families: int = len(FOUNDERS), seed_offset: int = 0) -> list[Member]:
    return [m for i in range(families) for m in family(i, seed_offset)]
