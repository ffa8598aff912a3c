"""Tiny language models with known lineage, trained here in seconds from bundled text.

Used by `hf-dna demo`, the test suite and the benchmarks: nothing is downloaded. A founder
is trained from scratch on one corpus (with its own tokenizer); a fine-tune continues a
founder on another text; merges, half-precision copies and same-data twins are built from
those. Training is seeded and single-process, so a zoo is reproducible.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Literal

import torch

Arch = Literal["gpt2", "llama", "t5"]
CORPORA = ("kitchen", "harbour", "machines", "garden")
ZOO_VERSION = "2"


def corpus(name: str) -> str:
    """One of the bundled training texts (see CORPORA)."""
    return resources.files("hf_dna").joinpath(f"data/corpora/{name}.txt").read_text(encoding="utf-8")


def train_tokenizer(text: str, vocab_size: int = 512, kind: Literal["bpe", "unigram"] = "bpe"):
    """A byte-level BPE (GPT-2 style) or a Unigram (T5/Llama style) tokenizer trained on `text`."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    specials = ["<|endoftext|>", "<pad>", "<unk>"]
    if kind == "bpe":
        tok = Tokenizer(models.BPE())
        tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
        tok.decoder = decoders.ByteLevel()
        trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=specials,
                                      initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    else:
        tok = Tokenizer(models.Unigram())
        tok.pre_tokenizer = pre_tokenizers.Metaspace()
        tok.decoder = decoders.Metaspace()
        trainer = trainers.UnigramTrainer(vocab_size=vocab_size, special_tokens=specials, unk_token="<unk>",
                                          show_progress=False)
    tok.train_from_iterator(text.split("\n"), trainer)
    # No pad token on purpose for BPE (like GPT-2): extraction must cope without one.
    return PreTrainedTokenizerFast(tokenizer_object=tok, eos_token="<|endoftext|>", unk_token="<unk>",
                                   pad_token="<pad>" if kind == "unigram" else None)


def new_model(arch: Arch, vocab_size: int, width: int = 96, layers: int = 3, seed: int = 0):
    """A freshly initialised ~0.5–1M-parameter model of the given architecture."""
    import transformers as tf

    torch.manual_seed(seed)
    if arch == "gpt2":
        config = tf.GPT2Config(vocab_size=vocab_size, n_positions=256, n_embd=width, n_layer=layers, n_head=4,
                               bos_token_id=0, eos_token_id=0)
        return tf.GPT2LMHeadModel(config)
    if arch == "llama":
        config = tf.LlamaConfig(vocab_size=vocab_size, hidden_size=width, intermediate_size=width * 2,
                                num_hidden_layers=layers, num_attention_heads=4, num_key_value_heads=2,
                                max_position_embeddings=256, bos_token_id=0, eos_token_id=0, tie_word_embeddings=True)
        return tf.LlamaForCausalLM(config)
    if arch == "t5":
        config = tf.T5Config(vocab_size=vocab_size, d_model=width, d_kv=width // 4, d_ff=width * 2, num_layers=2,
                             num_decoder_layers=2, num_heads=4, pad_token_id=1, eos_token_id=0,
                             decoder_start_token_id=1)
        return tf.T5ForConditionalGeneration(config)
    raise ValueError(f"unknown architecture {arch!r}")


def train(model, tokenizer, text: str, steps: int, *, lr: float = 3e-3, seed: int = 0,
          batch: int = 16, seq: int = 64):
    """Next-token training on random windows of `text` (seq2seq: first half -> second half)."""
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.0)
    model.train()
    for windows in training_windows(tokenizer, text, steps, seed=seed, batch=batch, seq=seq):
        if model.config.is_encoder_decoder:
            half = seq // 2
            loss = model(input_ids=windows[:, :half].contiguous(), labels=windows[:, half:].contiguous()).loss
        else:
            loss = model(input_ids=windows, labels=windows).loss
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return model.eval()


def training_windows(tokenizer, text: str, steps: int, *, seed: int, batch: int, seq: int):
    """`steps` batches of random `seq`-token windows of `text`, seeded."""
    generator = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)  # dropout draws from the global generator: seed it, or rebuilds differ
    ids = torch.tensor(token_stream(tokenizer, text), dtype=torch.long)
    for _ in range(steps):
        starts = torch.randint(0, len(ids) - seq - 1, (batch,), generator=generator)
        yield torch.stack([ids[s:s + seq] for s in starts.tolist()])


def token_stream(tokenizer, text: str) -> list[int]:
    """Paragraphs joined by EOS, so models learn to end an answer instead of padding it
    with blank lines (tiny models otherwise collapse into endless newlines)."""
    ids: list[int] = []
    for paragraph in text.split("\n\n"):
        if paragraph.strip():
            ids += tokenizer(" ".join(paragraph.split()))["input_ids"] + [tokenizer.eos_token_id]
    return ids


def save(model, tokenizer, path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(path)  # safetensors: transformers' default
    tokenizer.save_pretrained(path)
    return path


def load(path: Path):
    import transformers as tf

    config = tf.AutoConfig.from_pretrained(path)
    cls = tf.AutoModelForSeq2SeqLM if config.is_encoder_decoder else tf.AutoModelForCausalLM
    return cls.from_pretrained(path), tf.AutoTokenizer.from_pretrained(path)


@dataclass(frozen=True)
class Recipe:
    """How to build one zoo member.

    kind "train": from scratch (no `parent`) or fine-tuning `parent` on `corpus`;
    "merge": the weight average of `parent` and `other` (same architecture and tokenizer);
    "half": `parent` stored in float16; "distill": a new `arch` model with its own tokenizer,
    trained on text sampled from the teacher `parent` (prompted with `corpus`: sequence-level
    distillation, or training on a model's synthetic data); "distill-logits": a new `arch` model
    with the teacher's tokenizer, trained to match the teacher's next-token distributions on
    `corpus` (logit distillation, as DistilGPT2 or Minitron were made).
    """

    name: str
    corpus: str = ""
    steps: int = 0
    arch: Arch = "gpt2"
    parent: str | None = None
    seed: int = 0
    lr: float = 3e-3
    tokenizer: Literal["bpe", "unigram"] = "bpe"
    kind: Literal["train", "merge", "half", "distill", "distill-logits"] = "train"
    other: str | None = None

    @property
    def sources(self) -> list[str]:
        return [s for s in (self.parent, self.other) if s]

    def key(self, source_keys: list[str]) -> str:
        payload = json.dumps([ZOO_VERSION, self.__dict__, source_keys], sort_keys=True)
        return hashlib.sha256(payload.encode()).hexdigest()[:16]


# The demo family: a base, a light fine-tune of it on other text, and an unrelated model.
DEMO_FAMILY = (
    Recipe("kitchen-base", corpus="kitchen", steps=400),
    Recipe("kitchen-base-garden-ft", corpus="garden", steps=60, parent="kitchen-base", lr=1e-3),
    Recipe("machines-base", corpus="machines", steps=400, seed=1),
)


def build(recipes: tuple[Recipe, ...] | list[Recipe], root: Path) -> dict[str, Path]:
    """Build (or reuse, when the recipe and its sources are unchanged) each member under
    `root/name`, in order: a member's sources must come before it."""
    import transformers

    transformers.utils.logging.disable_progress_bar()  # one bar per saved shard is noise here
    transformers.utils.logging.set_verbosity_error()
    paths: dict[str, Path] = {}
    for recipe in recipes:
        paths[recipe.name] = _build_one(recipe, root, paths)
    return paths


def _build_one(recipe: Recipe, root: Path, built: dict[str, Path]) -> Path:
    path = root / recipe.name
    stamp = path / ".zoo-recipe"
    key = recipe.key([(built[s] / ".zoo-recipe").read_text() for s in recipe.sources])
    if stamp.is_file() and stamp.read_text() == key:
        return path
    if path.exists():
        shutil.rmtree(path)
    model, tokenizer = BUILDERS[recipe.kind](recipe, built)
    save(model, tokenizer, path)
    stamp.write_text(key)
    return path


def _train_recipe(recipe: Recipe, built: dict[str, Path]):
    if recipe.parent:
        model, tokenizer = load(built[recipe.parent])
    else:
        tokenizer = train_tokenizer(corpus(recipe.corpus), kind=recipe.tokenizer)
        model = new_model(recipe.arch, len(tokenizer), seed=recipe.seed)
    return train(model, tokenizer, corpus(recipe.corpus), recipe.steps, lr=recipe.lr, seed=recipe.seed), tokenizer


def _merge_recipe(recipe: Recipe, built: dict[str, Path]):
    model, tokenizer = load(built[recipe.parent])
    other, _ = load(built[recipe.other])
    other_state = other.state_dict()
    merged = {k: (v + other_state[k]) / 2 if v.is_floating_point() else v for k, v in model.state_dict().items()}
    model.load_state_dict(merged)
    return model, tokenizer


def _half_recipe(recipe: Recipe, built: dict[str, Path]):
    model, tokenizer = load(built[recipe.parent])
    return model.half(), tokenizer


def _distill_recipe(recipe: Recipe, built: dict[str, Path]):
    teacher, teacher_tok = load(built[recipe.parent])
    text = sample_text(teacher, teacher_tok, corpus(recipe.corpus), seed=recipe.seed)
    tokenizer = train_tokenizer(text, kind=recipe.tokenizer)
    student = new_model(recipe.arch, len(tokenizer), seed=recipe.seed)
    return train(student, tokenizer, text, recipe.steps, lr=recipe.lr, seed=recipe.seed), tokenizer


def _distill_logits_recipe(recipe: Recipe, built: dict[str, Path]):
    teacher, tokenizer = load(built[recipe.parent])
    student = new_model(recipe.arch, len(tokenizer), seed=recipe.seed)
    return distill_logits(student, teacher, tokenizer, corpus(recipe.corpus), recipe.steps, lr=recipe.lr,
                          seed=recipe.seed), tokenizer


def distill_logits(student, teacher, tokenizer, text: str, steps: int, *, lr: float = 3e-3, seed: int = 0,
                   temperature: float = 2.0, batch: int = 16, seq: int = 64):
    """Train `student` on random windows of `text` to match `teacher`'s next-token
    distributions (KL divergence at `temperature`, scaled by its square as in Hinton et al.)."""
    import torch.nn.functional as F

    optimizer = torch.optim.AdamW(student.parameters(), lr=lr, weight_decay=0.0)
    teacher.eval()
    student.train()
    for windows in training_windows(tokenizer, text, steps, seed=seed, batch=batch, seq=seq):
        with torch.no_grad():
            target = F.log_softmax(teacher(input_ids=windows).logits / temperature, dim=-1)
        predicted = F.log_softmax(student(input_ids=windows).logits / temperature, dim=-1)
        loss = F.kl_div(predicted.flatten(0, 1), target.flatten(0, 1), log_target=True,
                        reduction="batchmean") * temperature ** 2
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return student.eval()


@torch.inference_mode()
def sample_text(model, tokenizer, prompt_text: str, *, seed: int, n: int = 192, tokens: int = 96) -> str:
    """Text sampled from a teacher, prompted with the first words of `prompt_text`'s paragraphs:
    the training data of a distilled student."""
    torch.manual_seed(seed)
    starts = [" ".join(p.split()[:4]) for p in prompt_text.split("\n\n") if p.strip()]
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    paragraphs = []
    for i in range(0, n, 32):
        batch = [starts[(i + j) % len(starts)] for j in range(32)]
        enc = [tokenizer(b)["input_ids"] for b in batch]
        width = max(map(len, enc))
        ids = torch.tensor([[pad] * (width - len(e)) + e for e in enc])
        mask = torch.tensor([[0] * (width - len(e)) + [1] * len(e) for e in enc])
        out = model.generate(input_ids=ids, attention_mask=mask, do_sample=True, top_k=40, max_new_tokens=tokens,
                             pad_token_id=pad)
        paragraphs += tokenizer.batch_decode(out, skip_special_tokens=True)
    return "\n\n".join(p.strip() for p in paragraphs if p.strip())


BUILDERS = {"train": _train_recipe, "merge": _merge_recipe, "half": _half_recipe, "distill": _distill_recipe,
            "distill-logits": _distill_logits_recipe}
