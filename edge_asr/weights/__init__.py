"""Whisper weights in one canonical in-memory form, whatever checkpoint format they came from.

Canonical tensor names are those of OpenAI's ``model_state_dict`` (``encoder.blocks.0.attn.query.weight``, ...),
as float32 numpy arrays; importers for CTranslate2, OpenAI ``*.pt`` and Hugging Face folders translate to it.
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ModelError

# Vocabulary sizes fix the special-token layout (see edge_asr.tokenizer).
ENGLISH_VOCAB_TEXT = 50_257  # gpt2 ranks, <|endoftext|> included
MULTILINGUAL_VOCAB_MIN = 51_865


@dataclass(frozen=True)
class ModelDims:
    n_mels: int
    n_audio_ctx: int
    n_audio_state: int
    n_audio_head: int
    n_audio_layer: int
    n_vocab: int
    n_text_ctx: int
    n_text_state: int
    n_text_head: int
    n_text_layer: int

    @property
    def is_multilingual(self) -> bool:
        return self.n_vocab >= MULTILINGUAL_VOCAB_MIN

    @property
    def num_languages(self) -> int:
        return self.n_vocab - 51_765 - int(self.is_multilingual)

    def to_dict(self) -> dict[str, int]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ModelDims:
        try:
            return cls(**{k: int(d[k]) for k in cls.__dataclass_fields__})
        except KeyError as exc:
            raise ModelError(f"model dimensions lack {exc.args[0]!r}") from None


@dataclass
class WhisperWeights:
    dims: ModelDims
    tensors: dict[str, np.ndarray]
    alignment_heads: tuple[tuple[int, int], ...] = ()  # (decoder layer, head) pairs used for word timing
    tokenizer_file: Path | None = None  # tokenizer.json or *.tiktoken beside the weights, if any
    source: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def validate(self) -> None:
        """Check that every tensor a Whisper model needs is present with the right shape."""
        for name, shape in expected_shapes(self.dims).items():
            t = self.tensors.get(name)
            if t is None:
                raise ModelError(f"{self.source or 'checkpoint'}: missing tensor {name}")
            if tuple(t.shape) != shape:
                raise ModelError(
                    f"{self.source or 'checkpoint'}: tensor {name} has shape {tuple(t.shape)}, expected {shape}"
                )

    def fingerprint(self) -> str:
        """A checksum over names, shapes and values: equal fingerprints mean identical weights."""
        h = hashlib.sha256()
        for name in sorted(self.tensors):
            t = np.ascontiguousarray(self.tensors[name], dtype=np.float32)
            h.update(name.encode())
            h.update(str(t.shape).encode())
            h.update(t.tobytes())
        return h.hexdigest()


def default_alignment_heads(dims: ModelDims) -> tuple[tuple[int, int], ...]:
    """Whisper's fallback when a checkpoint names no alignment heads: every head of the upper half of layers."""
    return tuple(
        (layer, head) for layer in range(dims.n_text_layer // 2, dims.n_text_layer) for head in range(dims.n_text_head)
    )


def expected_shapes(d: ModelDims) -> dict[str, tuple[int, ...]]:
    a, t = d.n_audio_state, d.n_text_state
    shapes: dict[str, tuple[int, ...]] = {
        "encoder.conv1.weight": (a, d.n_mels, 3),
        "encoder.conv1.bias": (a,),
        "encoder.conv2.weight": (a, a, 3),
        "encoder.conv2.bias": (a,),
        "encoder.positional_embedding": (d.n_audio_ctx, a),
        "encoder.ln_post.weight": (a,),
        "encoder.ln_post.bias": (a,),
        "decoder.token_embedding.weight": (d.n_vocab, t),
        "decoder.positional_embedding": (d.n_text_ctx, t),
        "decoder.ln.weight": (t,),
        "decoder.ln.bias": (t,),
    }

    def block(prefix: str, n: int, cross: bool) -> None:
        attns = ["attn", "cross_attn"] if cross else ["attn"]
        for kind in attns:
            for proj in ("query", "key", "value", "out"):
                shapes[f"{prefix}.{kind}.{proj}.weight"] = (n, n)
                if proj != "key":
                    shapes[f"{prefix}.{kind}.{proj}.bias"] = (n,)
            shapes[f"{prefix}.{kind}_ln.weight"] = (n,)
            shapes[f"{prefix}.{kind}_ln.bias"] = (n,)
        shapes[f"{prefix}.mlp.0.weight"] = (4 * n, n)
        shapes[f"{prefix}.mlp.0.bias"] = (4 * n,)
        shapes[f"{prefix}.mlp.2.weight"] = (n, 4 * n)
        shapes[f"{prefix}.mlp.2.bias"] = (n,)
        shapes[f"{prefix}.mlp_ln.weight"] = (n,)
        shapes[f"{prefix}.mlp_ln.bias"] = (n,)

    for i in range(d.n_audio_layer):
        block(f"encoder.blocks.{i}", a, cross=False)
    for i in range(d.n_text_layer):
        block(f"decoder.blocks.{i}", t, cross=True)
    return shapes
