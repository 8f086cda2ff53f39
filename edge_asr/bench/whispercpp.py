"""Our Whisper weights as the ggml file whisper.cpp loads, so that `edge-asr bench --vs whisper.cpp=CLI,MODEL`
runs both on the very same weights (the runner is edge_asr.bench.peers).

    python -m edge_asr.bench.whispercpp tiny.en ggml-tiny.en.bin    # f16, as whisper.cpp's own converters write
    whisper.cpp/build/bin/whisper-quantize ggml-tiny.en.bin ggml-tiny.en-q8_0.bin q8_0   # optional, theirs

The ggml layout (whisper.cpp's models/convert-*.py document it): the magic, eleven int32 hyper-parameters (n_vocab,
audio ctx/state/head/layer, text ctx/state/head/layer, n_mels, ftype), the mel filterbank (rows, columns, float32
values), the text tokens (count, then each one's length and bytes), then each tensor under its OpenAI name: rank,
name length, type (0 float32, 1 float16), dims innermost first, the name, the data. Matrices are float16; vectors,
conv biases (as [n, 1]) and positional embeddings stay float32, which is what whisper.cpp expects.
"""

from __future__ import annotations

import argparse
import struct
from collections.abc import Sequence
from pathlib import Path
from typing import BinaryIO

import numpy as np

from ..errors import ConfigError
from ..weights import ModelDims
from .common import MIB

GGML_MAGIC = 0x67676D6C  # "ggml"
FTYPE_F32, FTYPE_F16 = 0, 1
F32_TENSORS = ("encoder.conv1.bias", "encoder.conv2.bias", "encoder.positional_embedding",
               "decoder.positional_embedding")


def _pack(f: BinaryIO, *ints: int) -> None:
    f.write(struct.pack(f"<{len(ints)}i", *ints))


def write_ggml(out: Path, d: ModelDims, tensors: dict[str, np.ndarray], tokens: Sequence[bytes],
               filters: np.ndarray, f16: bool = True) -> None:
    with out.open("wb") as f:
        _pack(f, GGML_MAGIC)
        _pack(f, d.n_vocab, d.n_audio_ctx, d.n_audio_state, d.n_audio_head, d.n_audio_layer,
              d.n_text_ctx, d.n_text_state, d.n_text_head, d.n_text_layer, d.n_mels, FTYPE_F16 if f16 else FTYPE_F32)
        _pack(f, *filters.shape)
        f.write(np.ascontiguousarray(filters, dtype="<f4").tobytes())
        _pack(f, len(tokens))
        for t in tokens:
            _pack(f, len(t))
            f.write(t)
        for name, value in tensors.items():
            data = np.asarray(value)
            if name in ("encoder.conv1.bias", "encoder.conv2.bias"):
                data = data.reshape(-1, 1)
            half = f16 and data.ndim >= 2 and name not in F32_TENSORS
            data = np.ascontiguousarray(data, dtype="<f2" if half else "<f4")
            key = name.encode()
            _pack(f, data.ndim, len(key), FTYPE_F16 if half else FTYPE_F32)
            _pack(f, *reversed(data.shape))
            f.write(key)
            f.write(data.tobytes())


def convert(model: str, out: Path, f16: bool = True) -> Path:
    """Write the ggml file of a registered model name or checkpoint path (what `edge-asr models` builds from)."""
    from ..export.registry import resolve
    from ..features import mel_filters
    from ..token_table import token_bytes
    from ..tokenizer import TEXT_VOCAB
    from ..weights import expected_shapes
    from ..weights.loader import load_weights

    src = resolve(model)
    if src.path is None:
        raise ConfigError(f"model {src.name!r} is not installed here. {src.install_hint}")
    w = load_weights(src.path)
    tokenizer = src.tokenizer or w.tokenizer_file
    if tokenizer is None:
        raise ConfigError(f"{src.path}: no tokenizer beside the weights")
    n_text = TEXT_VOCAB - 1 + int(w.dims.is_multilingual)  # the text tokens, below <|endoftext|>
    names = list(expected_shapes(w.dims))
    write_ggml(out, w.dims, {n: w.tensors[n] for n in names}, token_bytes(Path(tokenizer), n_text),
               mel_filters(w.dims.n_mels), f16)
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m edge_asr.bench.whispercpp", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("model", help="registered model name (tiny.en) or checkpoint path")
    p.add_argument("out", type=Path, help="the ggml .bin to write")
    p.add_argument("--f32", action="store_true", help="write float32 matrices instead of float16")
    a = p.parse_args(argv)
    path = convert(a.model, a.out, f16=not a.f32)
    print(f"wrote {path} ({path.stat().st_size / MIB:.1f} MiB)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
