"""Importer for OpenAI Whisper ``*.pt`` checkpoints, without PyTorch: ``torch_pickle`` reads the file, this module
turns its ``dims``, ``model_state_dict`` and alignment heads into canonical weights."""

from __future__ import annotations

import base64
import gzip
import logging
import zlib
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ModelError
from . import ModelDims, WhisperWeights, default_alignment_heads, expected_shapes
from .torch_pickle import read_torch_file

log = logging.getLogger(__name__)


# ---------------------------------------------------------------------------------------------------- alignment


def parse_alignment_heads(value: Any, dims: ModelDims, source: str = "checkpoint") -> tuple[tuple[int, int], ...]:
    """Alignment heads from a base85+gzip string, a (layers, heads) bool mask or a list of (layer, head) pairs."""
    try:
        if isinstance(value, (str, bytes)):
            mask = np.frombuffer(gzip.decompress(base64.b85decode(value)), dtype=bool)
            value = mask.reshape(dims.n_text_layer, dims.n_text_head)
        arr = np.asarray(value)
        if arr.dtype == bool and arr.shape == (dims.n_text_layer, dims.n_text_head):
            pairs = [(int(a), int(b)) for a, b in np.argwhere(arr)]
        else:
            pairs = [(int(a), int(b)) for a, b in arr.reshape(-1, 2)]
    except (ValueError, TypeError, OSError, EOFError, zlib.error) as exc:
        raise ModelError(f"{source}: unreadable alignment heads ({exc})") from None
    for layer, head in pairs:
        if not (0 <= layer < dims.n_text_layer and 0 <= head < dims.n_text_head):
            raise ModelError(f"{source}: alignment head ({layer}, {head}) is outside the decoder")
    return tuple(pairs)


def find_tokenizer_beside(folder: Path, dims: ModelDims) -> Path | None:
    """``tokenizer.json``, else the fitting ``*.tiktoken`` (gpt2 or multilingual), else any ``*.tiktoken``."""
    tok = folder / "tokenizer.json"
    if tok.is_file():
        return tok
    tiktokens = sorted(p for p in folder.glob("*.tiktoken") if p.is_file())
    preferred = "multilingual.tiktoken" if dims.is_multilingual else "gpt2.tiktoken"
    for p in tiktokens:
        if p.name == preferred:
            return p
    return tiktokens[0] if tiktokens else None


# ------------------------------------------------------------------------------------------------------- reader


def load_openai_pt(path: Path | str, tokenizer_file: Path | str | None = None) -> WhisperWeights:
    """Import an OpenAI Whisper ``*.pt`` checkpoint into canonical weights (no PyTorch needed)."""
    path = Path(path)
    ckpt = read_torch_file(path)
    if not isinstance(ckpt, dict):
        raise ModelError(f"{path}: holds a {type(ckpt).__name__}, not an OpenAI Whisper checkpoint dict")
    dims_raw, state = ckpt.get("dims"), ckpt.get("model_state_dict")
    if not isinstance(dims_raw, dict) or not isinstance(state, dict):
        raise ModelError(
            f"{path}: no 'dims' and 'model_state_dict' (keys: {sorted(map(str, ckpt))}); "
            "not an OpenAI Whisper checkpoint"
        )
    try:
        dims = ModelDims.from_dict(dims_raw)
    except (TypeError, ValueError) as exc:
        raise ModelError(f"{path}: bad model dimensions ({exc})") from None
    wanted = expected_shapes(dims)
    tensors: dict[str, np.ndarray] = {}
    for name in wanted:
        value = state.get(name)
        if value is None:
            continue  # validate() names it
        if not isinstance(value, np.ndarray) or value.dtype.kind != "f":
            raise ModelError(f"{path}: {name} is not a floating-point tensor")
        tensors[name] = value.astype(np.float32)
    ignored = sorted(set(map(str, state)) - set(wanted))
    if ignored:
        log.warning("%s: ignoring %d tensors Whisper does not use: %s", path, len(ignored), ", ".join(ignored[:5]))
    heads_raw = ckpt.get("alignment_heads")
    heads = parse_alignment_heads(heads_raw, dims, str(path)) if heads_raw is not None else ()
    weights = WhisperWeights(
        dims=dims,
        tensors=tensors,
        alignment_heads=heads or default_alignment_heads(dims),
        tokenizer_file=Path(tokenizer_file) if tokenizer_file is not None else find_tokenizer_beside(path.parent, dims),
        source=str(path),
        extra={"format": "openai"},
    )
    weights.validate()
    log.debug("imported OpenAI checkpoint %s: %s", path, dims)
    return weights
