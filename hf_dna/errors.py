"""Every error hf-dna raises on purpose.

Each class also inherits the built-in exception a caller would naturally catch, and its
message says what happened and what to do next. The CLI maps them to exit codes in one
place (`hf_dna.cli.main`).
"""

from __future__ import annotations


class HfDnaError(Exception):
    """Base class of hf-dna's errors."""


class ModelNotFoundError(HfDnaError, FileNotFoundError):
    """The model reference is neither a local model folder nor a reachable Hub repo."""


class UnsupportedModelError(HfDnaError, ValueError):
    """The model is not a causal or seq2seq language model, or needs an opt-in to load."""


class ModelLoadError(HfDnaError, RuntimeError):
    """The model's files are there but could not be loaded (corrupt or incomplete)."""


class ModelTooLargeError(HfDnaError, MemoryError):
    """The model's weights will not fit in the memory available."""


class SpecMismatchError(HfDnaError, ValueError):
    """Two DNAs (or a DNA and a probe set) were made under different specs."""


class UnknownSpecError(HfDnaError, KeyError):
    """A spec id that this version of hf-dna does not know."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class ProbeSetError(HfDnaError, ValueError):
    """The probe set is missing, malformed, or does not match the spec's hash."""


class EncoderError(HfDnaError, RuntimeError):
    """The spec's sentence encoder is unavailable or its weights do not match the spec."""


class DnaFormatError(HfDnaError, ValueError):
    """A DNA record or card block could not be read."""


class CardError(HfDnaError, ValueError):
    """A model card cannot take the hf_dna block (its YAML does not parse, say)."""


class HubWriteError(HfDnaError, PermissionError):
    """A write to a Hub repo was refused or failed; the repo is left as it was."""


class RegistryError(HfDnaError, RuntimeError):
    """The DNA registry could not be read or written."""


class RegistryPermissionError(RegistryError, PermissionError):
    """The user may not write to this registry (not logged in, or not the owner)."""


class RegistryWriteError(RegistryError):
    """A write to the registry failed (server error, dropped connection); nothing was written."""


class RegistryConflictError(RegistryError):
    """Too many concurrent writers: the registry's commit kept moving while we retried."""


class NotInRegistryError(HfDnaError, LookupError):
    """A model (or any DNA of a spec) is not in the registry: stamp it first."""


class PhyloError(HfDnaError, ValueError):
    """A tree, map or matrix cannot be drawn from these models (too few, or a bad option)."""


class WhoisError(HfDnaError, LookupError):
    """whois cannot answer: the registry is empty or holds another spec."""


class BatchError(HfDnaError, ValueError):
    """A batch cannot start: its model list or query is empty or unreadable."""


class EngineUnavailableError(HfDnaError, ImportError):
    """The chosen engine (Ray) is not installed or cannot start."""


class RespecError(HfDnaError, ValueError):
    """A re-spec cannot run: the target spec is unknown, or the registry holds no evidence."""
