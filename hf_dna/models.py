"""Resolve a model reference (Hub id or local folder) and load it safely.

Safety defaults: safetensors weights only unless `allow_pickle`, no remote code unless
`trust_remote_code`, and a size check against free memory before anything is downloaded.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from .errors import ModelLoadError, ModelNotFoundError, ModelTooLargeError, UnsupportedModelError

SAFE_WEIGHTS = ("*.safetensors", "*.safetensors.index.json")
PICKLE_WEIGHTS = ("*.bin", "*.bin.index.json", "*.pt", "*.pth")
# Everything a causal/seq2seq model and its tokenizer need, and nothing else (no README
# images, no ONNX/GGUF copies, no training state).
SIDE_FILES = (
    "config.json", "generation_config.json", "tokenizer.json", "tokenizer_config.json",
    "special_tokens_map.json", "added_tokens.json", "vocab.json", "vocab.txt", "merges.txt",
    "*.model", "chat_template.*",
)
SUPPORTED = "causal language models (…ForCausalLM, …LMHeadModel) and encoder-decoder models (…ForConditionalGeneration)"


@dataclass
class ResolvedModel:
    """Where a model comes from: enough to record it and to find its relatives."""

    model_id: str
    revision: str  # commit sha on the Hub; a content hash for a local folder
    local_dir: Path
    created_at: str | None = None
    card_data: dict = field(default_factory=dict)
    is_local: bool = False


def is_local_ref(ref: str) -> bool:
    return os.path.isdir(ref) or ref.startswith((".", "/", "~"))


def resolve(ref: str, revision: str | None = None, *, token: str | None = None,
            allow_pickle: bool = False, model_id: str | None = None,
            max_bytes: int | None = None) -> ResolvedModel:
    """Find the model and make its files available locally (downloading from the Hub)."""
    if is_local_ref(ref):
        return _resolve_local(Path(ref).expanduser(), model_id)
    return _resolve_hub(ref, revision, token, allow_pickle, max_bytes)


def _resolve_local(path: Path, model_id: str | None) -> ResolvedModel:
    if not path.is_dir():
        raise ModelNotFoundError(f"No model folder at {path}. Pass a folder that holds config.json and weights, or a Hub repo id.")
    if not (path / "config.json").is_file():
        raise ModelNotFoundError(f"{path} is not a model folder: it has no config.json. Save the model with `save_pretrained` first.")
    card_data = _read_local_card(path)
    return ResolvedModel(model_id=model_id or path.resolve().name, revision=local_revision(path),
                         local_dir=path, card_data=card_data, is_local=True)


def local_revision(path: Path) -> str:
    """A local folder has no commit: identify it by a hash of its config and weights, so
    re-stamping an unchanged folder is recognised as the same revision."""
    digest = hashlib.sha256()
    for f in sorted(path.iterdir()):
        if f.name == "config.json" or f.suffix in (".safetensors", ".bin"):
            digest.update(f.name.encode())
            with f.open("rb") as fh:
                for chunk in iter(lambda: fh.read(1 << 20), b""):
                    digest.update(chunk)
    return "local-" + digest.hexdigest()[:12]


def _read_local_card(path: Path) -> dict:
    readme = path / "README.md"
    if not readme.is_file():
        return {}
    from huggingface_hub import ModelCard

    try:
        return ModelCard.load(readme).data.to_dict()
    except Exception:  # an unparsable card declares nothing; stamp reports it separately
        return {}


def _resolve_hub(repo_id: str, revision: str | None, token: str | None,
                 allow_pickle: bool, max_bytes: int | None) -> ResolvedModel:
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import GatedRepoError

    info = hub_model_info(repo_id, revision, token, files_metadata=True)
    patterns = _weight_patterns([s.rfilename for s in info.siblings or []], repo_id, allow_pickle)
    _check_fits(info, patterns, max_bytes)
    try:
        local = snapshot_download(repo_id, revision=info.sha, allow_patterns=list(SIDE_FILES) + patterns, token=token)
    except GatedRepoError as exc:  # info is public on a gated repo; its files are not
        raise ModelNotFoundError(f"{repo_id} is gated: log in with `hf auth login` (or set HF_TOKEN) as a user who was granted access.") from exc
    created = info.created_at.isoformat().replace("+00:00", "Z") if isinstance(info.created_at, datetime) else None
    card = info.card_data.to_dict() if info.card_data is not None else {}
    return ResolvedModel(model_id=info.id, revision=info.sha, local_dir=Path(local), created_at=created, card_data=card)


def hub_model_info(repo_id: str, revision: str | None, token: str | None, files_metadata: bool = False):
    """huggingface_hub's model_info, with its errors turned into ones that say what to do."""
    from huggingface_hub import HfApi
    from huggingface_hub.errors import GatedRepoError, RepositoryNotFoundError, RevisionNotFoundError

    try:
        return HfApi(token=token).model_info(repo_id, revision=revision, files_metadata=files_metadata)
    except GatedRepoError as exc:
        raise ModelNotFoundError(f"{repo_id} is gated or private: log in with `hf auth login` (or set HF_TOKEN) as a user with access to it.") from exc
    except RevisionNotFoundError as exc:
        raise ModelNotFoundError(f"{repo_id} has no revision {revision!r}. Check the branch, tag or commit.") from exc
    except RepositoryNotFoundError as exc:
        raise ModelNotFoundError(f"No model {repo_id!r} on the Hub (or it is private and you are not logged in). Check the id, or pass a local folder.") from exc


def _weight_patterns(files: list[str], repo_id: str, allow_pickle: bool) -> list[str]:
    if any(f.endswith(".safetensors") for f in files):
        return list(SAFE_WEIGHTS)
    if any(f.endswith((".bin", ".pt", ".pth")) for f in files):
        if allow_pickle:
            return list(PICKLE_WEIGHTS)
        raise UnsupportedModelError(
            f"{repo_id} has only pickle weights (.bin/.pt), which can run code when loaded. "
            "Ask the author for safetensors, or pass --allow-pickle if you trust this repo."
        )
    raise UnsupportedModelError(f"{repo_id} has no model weights (no .safetensors file). Is it a model repo?")


def _check_fits(info, patterns: list[str], max_bytes: int | None) -> None:
    from fnmatch import fnmatch

    size = sum(s.size or 0 for s in info.siblings or []
               if any(fnmatch(s.rfilename, p) for p in patterns) and not s.rfilename.endswith(".json"))
    limit = max_bytes if max_bytes is not None else available_memory()
    if limit and size > limit:
        raise ModelTooLargeError(
            f"{info.id} has {size / 2**30:.2f} GiB of weights but only {limit / 2**30:.2f} GiB of memory "
            "is available. Use a machine with more memory (or a GPU with --device cuda)."
        )


def available_memory() -> int | None:
    """Bytes of memory available now (Linux /proc/meminfo); None where unknown."""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def load_model(resolved: ResolvedModel, *, device: str, dtype, trust_remote_code: bool = False,
               allow_pickle: bool = False):
    """Load (model, tokenizer) for generation; the model in eval mode on `device`."""
    import transformers

    transformers.utils.logging.disable_progress_bar()  # hf-dna shows its own per-stage bars
    path = resolved.local_dir
    try:
        config = transformers.AutoConfig.from_pretrained(path, trust_remote_code=trust_remote_code)
    except ValueError as exc:
        raise UnsupportedModelError(f"{resolved.model_id}: {exc}. Pass --trust-remote-code only if you trust its code.") from exc
    except OSError as exc:
        raise ModelLoadError(f"Could not read the config of {resolved.model_id}: {exc}") from exc
    auto_class = model_class(config, resolved.model_id)
    if not allow_pickle and not any(path.glob("*.safetensors")):
        raise UnsupportedModelError(
            f"{resolved.model_id} has no .safetensors weights in {path}. hf-dna loads safetensors only; "
            "pass --allow-pickle to load .bin weights you trust."
        )
    try:
        model = auto_class.from_pretrained(path, dtype=dtype, trust_remote_code=trust_remote_code,
                                           use_safetensors=not allow_pickle)
        tokenizer = transformers.AutoTokenizer.from_pretrained(path, trust_remote_code=trust_remote_code)
    except Exception as exc:  # safetensors/transformers raise many kinds for a broken file
        raise ModelLoadError(
            f"Could not load {resolved.model_id} from {path}: {type(exc).__name__}: {exc}. "
            "The weights or tokenizer files may be corrupt or incomplete: download them again."
        ) from exc
    return model.to(device).eval(), tokenizer


def model_class(config, model_id: str):
    """The Auto class to load this config with; encoder-only and other models are refused."""
    import transformers

    archs = config.architectures or []
    generative = ("ForCausalLM", "LMHeadModel", "ForConditionalGeneration")
    if archs and not any(a.endswith(generative) for a in archs):
        raise UnsupportedModelError(
            f"{model_id} is a {', '.join(archs)} ({config.model_type}), which does not generate text. "
            f"hf-dna supports {SUPPORTED}."
        )
    if getattr(config, "is_encoder_decoder", False):
        return transformers.AutoModelForSeq2SeqLM
    if type(config) in transformers.MODEL_FOR_CAUSAL_LM_MAPPING:
        return transformers.AutoModelForCausalLM
    raise UnsupportedModelError(f"{model_id} ({config.model_type}) is not a generative model. hf-dna supports {SUPPORTED}.")
