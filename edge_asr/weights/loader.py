"""Open Whisper weights in whichever of the supported checkpoint layouts a path holds."""

from __future__ import annotations

import zipfile
from pathlib import Path

from ..errors import ModelError
from . import WhisperWeights
from .split import is_split_folder

CTRANSLATE2 = "ctranslate2"
HF = "hf"
OPENAI = "openai"

LAYOUTS = (
    "a CTranslate2 folder (model.bin or model.bin.part1..N, + config.json, e.g. faster-whisper models)",
    "a Hugging Face transformers folder (config.json + model.safetensors or model.safetensors.index.json)",
    "an OpenAI Whisper checkpoint file (*.pt/*.pth/*.bin saved by torch.save)",
)
_TORCH_SUFFIXES = (".pt", ".pth", ".bin")
_HF_WEIGHTS = ("model.safetensors", "model.safetensors.index.json", "pytorch_model.bin", "pytorch_model.bin.index.json")
_LEGACY_HEAD = b"\x80\x02\x8a\x0a\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19"  # pickle of torch's legacy magic number


def _unsupported(path: Path, why: str) -> ModelError:
    return ModelError(f"{path}: {why}. Supported layouts: " + "; ".join(LAYOUTS))


def _is_torch_file(path: Path) -> bool:
    try:
        if zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as zf:
                return any(n.endswith("/data.pkl") and n.count("/") == 1 for n in zf.namelist())
        with path.open("rb") as fh:
            return fh.read(len(_LEGACY_HEAD)) == _LEGACY_HEAD
    except (OSError, zipfile.BadZipFile):
        return False


def detect_format(path: Path | str) -> str:
    """ "ctranslate2", "hf" or "openai" for what ``path`` holds; ModelError naming the supported layouts otherwise."""
    path = Path(path)
    if path.is_dir():
        if (path / "model.bin").is_file() or is_split_folder(path):
            return CTRANSLATE2
        if (path / "config.json").is_file() and any((path / n).is_file() for n in _HF_WEIGHTS):
            return HF
        raise _unsupported(path, "folder holds no known Whisper checkpoint")
    if not path.is_file():
        raise ModelError(f"{path}: no such file or folder")
    if path.suffix.lower() in _TORCH_SUFFIXES and _is_torch_file(path):
        return OPENAI
    # A file inside a model folder stands for its folder.
    if path.name in ("model.bin", "config.json", *_HF_WEIGHTS) or path.name.startswith("model.bin.part"):
        try:
            return detect_format(path.parent)
        except ModelError:
            pass
    why = "is not a recognised Whisper checkpoint"
    if path.suffix.lower() in _TORCH_SUFFIXES:
        why += " (not a PyTorch zip with <archive>/data.pkl nor a legacy torch.save file: truncated or corrupt?)"
    raise _unsupported(path, why)


def load_weights(path: Path | str, *, tokenizer_file: Path | str | None = None) -> WhisperWeights:
    """Import Whisper weights from a CTranslate2 folder, a transformers folder or an OpenAI ``*.pt`` file.

    ``tokenizer_file``, when given, overrides the tokenizer found beside the weights.
    """
    path = Path(path)
    fmt = detect_format(path)
    if fmt == OPENAI:
        from .openai_pt import load_openai_pt

        weights = load_openai_pt(path, tokenizer_file)
    else:
        folder = path if path.is_dir() else path.parent
        if fmt == CTRANSLATE2:
            from .ct2 import load_ct2

            weights = load_ct2(folder)
        else:
            from .hf import load_hf_folder

            weights = load_hf_folder(folder)
    if tokenizer_file is not None:
        weights.tokenizer_file = Path(tokenizer_file)
    return weights
