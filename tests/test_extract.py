"""Extraction on real tiny models: determinism, batching, seq2seq, lineage signal, bad input."""

from __future__ import annotations

import dataclasses
import hashlib
import json

import numpy as np
import pytest

import hf_dna
from hf_dna.dna import DNA, decode_vector, encode_vector
from hf_dna.embedding import encoder_dir
from hf_dna.errors import EncoderError, ModelLoadError, ModelNotFoundError, ProbeSetError, UnsupportedModelError
from hf_dna.extraction import responses_sha256
from hf_dna.probes import bundled_probes, verify_probes
from hf_dna.spec import current_spec
from helpers import run_cli

# Greedy answers are batch-independent up to float rounding; a flipped near-tie changes
# one answer, which moves the DNA by at most ~2/sqrt(160) = 0.16. We allow a fraction of that.
BATCH_TOLERANCE = 0.05


def test_fine_tune_is_nearer_its_base_than_an_unrelated_model(family_dnas):
    base, ft, other = family_dnas["kitchen-base"], family_dnas["kitchen-ft"], family_dnas["machines-base"]
    assert ft.distance(base) < ft.distance(other)
    assert base.distance(ft) < base.distance(other)


def test_extracting_twice_gives_the_identical_vector(zoo, family_dnas):
    again = hf_dna.extract(str(zoo["kitchen-base"]), progress=False)
    np.testing.assert_array_equal(again.vector, family_dnas["kitchen-base"].vector)
    assert again.responses_sha256 == family_dnas["kitchen-base"].responses_sha256


def test_dna_does_not_depend_on_batch_size(zoo, family_dnas):
    one_by_one = hf_dna.extract(str(zoo["kitchen-ft"]), batch_size=1, progress=False)
    assert one_by_one.distance(family_dnas["kitchen-ft"]) <= BATCH_TOLERANCE
    assert one_by_one.runtime["batch_size"] == 1


def test_record_fields(family_dnas):
    dna = family_dnas["kitchen-base"]
    assert dna.spec == current_spec().id
    assert dna.vector.shape == (current_spec().vector_dim,) and dna.vector.dtype == np.float32
    assert dna.revision.startswith("local-")
    assert dna.tool == f"hf-dna {hf_dna.__version__}"
    assert dna.runtime["device"] == "cpu" and dna.runtime["dtype"] == "float32"
    assert set(dna.stats["seconds"]) >= {"load", "generate", "likelihood", "embed", "project"}
    assert dna.stats["answers"] == 160


def test_seq2seq_model_works(family_dnas):
    t5 = family_dnas["harbour-t5"]
    assert t5.vector.shape == (current_spec().vector_dim,) and np.isfinite(t5.vector).all()
    assert t5.stats["empty_answers"] < t5.stats["answers"]
    assert t5.distance(family_dnas["kitchen-base"]) > 0


def test_json_and_base64_round_trip(family_dnas, tmp_path):
    dna = family_dnas["kitchen-base"]
    dna.save(tmp_path / "d.json")
    loaded = DNA.load(tmp_path / "d.json")
    np.testing.assert_array_equal(loaded.vector, dna.vector)
    assert loaded.distance(dna) == 0.0
    np.testing.assert_array_equal(decode_vector(encode_vector(dna.vector)), dna.vector)


def test_cli_extract_writes_record_and_responses(zoo, tmp_path):
    out, answers = tmp_path / "dna.json", tmp_path / "answers.jsonl"
    result = run_cli("extract", str(zoo["kitchen-base"]), "-o", str(out), "--responses", str(answers),
                     "--json", "--batch-size", "32")
    assert result.returncode == 0, result.stderr
    printed = json.loads(result.stdout)
    saved = json.loads(out.read_text())
    assert printed["vector"] == saved["vector"]
    lines = [json.loads(line) for line in answers.read_text().splitlines()]
    assert [line["probe_id"] for line in lines] == [p.id for p in bundled_probes()]
    assert responses_sha256([line["answer"] for line in lines]) == saved["responses_sha256"]


def test_cli_compare_records_and_models(zoo, family_dnas, tmp_path):
    family_dnas["kitchen-base"].save(tmp_path / "base.json")
    result = run_cli("compare", str(tmp_path / "base.json"), str(zoo["kitchen-ft"]), "--json")
    assert result.returncode == 0, result.stderr
    distance = json.loads(result.stdout)["distance"]
    assert distance == pytest.approx(family_dnas["kitchen-base"].distance(family_dnas["kitchen-ft"]), abs=1e-6)


def test_compare_refuses_a_spec_mismatch(family_dnas, tmp_path):
    family_dnas["kitchen-base"].save(tmp_path / "a.json")
    other = dataclasses.replace(family_dnas["kitchen-ft"], spec="dna-1/00000000")
    other.save(tmp_path / "b.json")
    result = run_cli("compare", str(tmp_path / "a.json"), str(tmp_path / "b.json"))
    assert result.returncode == 1
    assert "different specs" in result.stderr and "Traceback" not in result.stderr


def test_extract_under_another_spec_and_compare_refuses_mixing(zoo, family_dnas, tmp_path):
    out = tmp_path / "dna3.json"
    result = run_cli("extract", str(zoo["kitchen-ft"]), "--spec", "dna-3", "-o", str(out))
    assert result.returncode == 0, result.stderr
    dna3 = DNA.load(out)
    assert dna3.spec.startswith("dna-3/") and dna3.spec != current_spec().id
    # Same model, other likelihood texts: the stored answers are the current spec's answers.
    assert dna3.responses_sha256 == family_dnas["kitchen-ft"].responses_sha256
    family_dnas["kitchen-base"].save(tmp_path / "base.json")
    mixed = run_cli("compare", str(tmp_path / "base.json"), str(out))
    assert mixed.returncode == 1 and "different specs" in mixed.stderr
    unknown = run_cli("extract", str(zoo["kitchen-ft"]), "--spec", "dna-9")
    assert unknown.returncode == 1 and "Unknown DNA spec 'dna-9'" in unknown.stderr


@pytest.mark.parametrize("make_input, message", [
    (lambda tmp, models: tmp / "no-such-model", "No model folder"),
    (lambda tmp, models: (tmp / "empty").mkdir() or tmp / "empty", "not a model folder"),
    (lambda tmp, models: models["bert"], "does not generate text"),
])
def test_cli_bad_model_inputs(tmp_path, encoder_only_model, make_input, message):
    result = run_cli("extract", str(make_input(tmp_path, {"bert": encoder_only_model})))
    assert result.returncode == 1
    assert message in result.stderr and "Traceback" not in result.stderr


def test_corrupt_weights_file_is_a_clear_error(model_copy):
    path = model_copy("kitchen-base")
    (path / "model.safetensors").write_bytes(b"\x00garbage" * 100)
    with pytest.raises(ModelLoadError, match="corrupt or incomplete"):
        hf_dna.extract(str(path), progress=False)


def test_pickle_only_weights_need_an_opt_in(model_copy):
    import torch
    from safetensors.torch import load_file

    path = model_copy("kitchen-base")
    torch.save(load_file(path / "model.safetensors"), path / "pytorch_model.bin")
    (path / "model.safetensors").unlink()
    with pytest.raises(UnsupportedModelError, match="--allow-pickle"):
        hf_dna.extract(str(path), progress=False)


def test_encoder_weights_are_verified():
    wrong = dataclasses.replace(current_spec().encoder, weights_sha256="0" * 64)
    with pytest.raises(EncoderError, match="not the spec's"):
        encoder_dir(wrong)
    folder = encoder_dir(current_spec().encoder)
    assert hashlib.sha256((folder / "model.safetensors").read_bytes()).hexdigest() == current_spec().encoder.weights_sha256


def test_a_changed_probe_set_is_refused():
    probes = bundled_probes()
    altered = probes[:-1] + [dataclasses.replace(probes[-1], text=probes[-1].text + "!")]
    with pytest.raises(ProbeSetError, match="not the probe set of spec"):
        verify_probes(altered, current_spec(), "a test")


def test_missing_dna_file_is_clear(tmp_path):
    from hf_dna.errors import DnaFormatError

    with pytest.raises(DnaFormatError, match="No DNA record"):
        DNA.load(tmp_path / "missing.json")
    with pytest.raises(ModelNotFoundError):
        hf_dna.extract(str(tmp_path / "missing"), progress=False)


@pytest.mark.parametrize("arch", ["gpt2", "llama"])
def test_batched_greedy_answers_equal_one_generate_call_per_prompt(arch, tmp_path):
    """hf-dna's own decoding loop (which drops finished rows) answers exactly as
    transformers' generate() does one prompt at a time, the paper package's way."""
    import torch

    from hf_dna import zoo
    from hf_dna.generation import generate_answers, pad_token_id

    text = zoo.corpus("kitchen")
    tokenizer = zoo.train_tokenizer(text, vocab_size=400)
    model = zoo.new_model(arch, len(tokenizer), width=32, layers=2)
    zoo.train(model, tokenizer, text, 300, lr=1e-2)
    model.eval()
    # A tiny model rarely says EOS; let "." end an answer so rows leave their batch at
    # different steps: the case the loop must get right.
    tokenizer.eos_token = "."
    prompts = [p.text for p in bundled_probes()[:24]]
    settings = dataclasses.replace(current_spec().generation, max_new_tokens=12)
    batched = generate_answers(model, tokenizer, prompts, settings, batch_size=8, progress=False)
    lengths = {len(tokenizer(a)["input_ids"]) for a in batched.texts}
    assert len(lengths) > 3 and max(lengths) >= 10
    with torch.inference_mode():
        for prompt, answer in zip(prompts, batched.texts):
            ids = tokenizer(prompt, return_tensors="pt")
            out = model.generate(**ids, do_sample=False, max_new_tokens=12, pad_token_id=pad_token_id(tokenizer),
                                 eos_token_id=tokenizer.eos_token_id)
            tokens = out[0, ids["input_ids"].shape[1]:].tolist()
            tokens = tokens[:tokens.index(tokenizer.eos_token_id)] if tokenizer.eos_token_id in tokens else tokens
            expected = tokenizer.decode(tokens, skip_special_tokens=True).strip()
            assert answer == expected
