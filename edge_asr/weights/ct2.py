"""Reader for CTranslate2 Whisper checkpoints (``model.bin`` + ``config.json`` + ``tokenizer.json``).

model.bin layout (format version 6): uint32 version, string spec name, uint32 spec revision, uint32 variable
count, then per variable: name, uint8 rank, uint32 dims, uint8 dtype, uint32 byte count, raw little-endian
data; then uint32 alias count and (alias, target) string pairs. A string is a uint16 length that counts a
trailing NUL, the bytes, and the NUL. Self-attention stores Q/K/V fused; cross-attention stores K/V fused.
"""

from __future__ import annotations

import json
import logging
import struct
from pathlib import Path

import numpy as np

from ..errors import ModelError
from . import ModelDims, WhisperWeights, default_alignment_heads
from .split import is_split_folder, read_joined

log = logging.getLogger(__name__)

SUPPORTED_VERSIONS = (5, 6)
# CTranslate2's DataType enum.
_DTYPES: dict[int, np.dtype] = {
    0: np.dtype("<f4"),
    1: np.dtype("i1"),
    2: np.dtype("<i2"),
    3: np.dtype("<i4"),
    4: np.dtype("<f2"),
    5: np.dtype("<u2"),  # bfloat16, widened below
}
_BFLOAT16 = 5


class _Reader:
    def __init__(self, data: memoryview, path: Path) -> None:
        self.data, self.pos, self.path = data, 0, path

    def take(self, n: int) -> memoryview:
        if self.pos + n > len(self.data):
            raise ModelError(f"{self.path}: truncated CTranslate2 model (needs {n} bytes at offset {self.pos})")
        out = self.data[self.pos : self.pos + n]
        self.pos += n
        return out

    def unpack(self, fmt: str) -> int:
        size = struct.calcsize(fmt)
        return int(struct.unpack(fmt, self.take(size))[0])

    def string(self) -> str:
        n = self.unpack("<H")
        raw = bytes(self.take(n))
        return raw[:-1].decode("utf-8") if raw.endswith(b"\0") else raw.decode("utf-8")


def read_model_bin(path: Path) -> tuple[str, dict[str, np.ndarray]]:
    """Parse model.bin into (spec name, {variable name: array}), aliases resolved."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ModelError(f"cannot read {path}: {exc.strerror}") from None
    return parse_model_bin(raw, path)


def parse_model_bin(raw: bytes | bytearray, path: Path) -> tuple[str, dict[str, np.ndarray]]:
    """Parse the bytes of a model.bin (``path`` names it in errors); arrays are views of ``raw``."""
    r = _Reader(memoryview(raw), path)
    version = r.unpack("<I")
    if version not in SUPPORTED_VERSIONS:
        raise ModelError(f"{path}: CTranslate2 format version {version} is not supported ({SUPPORTED_VERSIONS})")
    spec = r.string()
    r.unpack("<I")  # spec revision
    count = r.unpack("<I")
    variables: dict[str, np.ndarray] = {}
    for _ in range(count):
        name = r.string()
        rank = r.unpack("<B")
        dims = [r.unpack("<I") for _ in range(rank)]
        dtype_id = r.unpack("<B")
        nbytes = r.unpack("<I")
        if dtype_id not in _DTYPES:
            raise ModelError(f"{path}: variable {name} has unknown dtype id {dtype_id}")
        arr = np.frombuffer(r.take(nbytes), dtype=_DTYPES[dtype_id]).reshape(dims)
        if dtype_id == _BFLOAT16:
            arr = (arr.astype(np.uint32) << 16).view(np.float32)
        variables[name] = arr
    aliases = r.unpack("<I") if r.pos < len(raw) else 0
    for _ in range(aliases):
        alias, target = r.string(), r.string()
        if target not in variables:
            raise ModelError(f"{path}: alias {alias} points to missing {target}")
        variables[alias] = variables[target]
    if r.pos != len(raw):
        raise ModelError(f"{path}: {len(raw) - r.pos} unexpected trailing bytes")
    return spec, variables


def _float(variables: dict[str, np.ndarray], name: str) -> np.ndarray:
    """A weight as float32, dequantizing int8/int16 weights stored with a per-row scale."""
    arr = variables[name]
    if arr.dtype.kind == "f":
        return arr.astype(np.float32)
    scale = variables.get(name + "_scale")
    if scale is None:
        raise ModelError(f"quantized variable {name} has no scale")
    return (arr.astype(np.float32) / scale.astype(np.float32).reshape(-1, *([1] * (arr.ndim - 1)))).astype(np.float32)


def _split(arr: np.ndarray, parts: int) -> list[np.ndarray]:
    return list(np.split(arr, parts, axis=0))


def _count_layers(variables: dict[str, np.ndarray], prefix: str) -> int:
    n = 0
    while f"{prefix}/layer_{n}/ffn/linear_0/weight" in variables:
        n += 1
    return n


def _scalar(variables: dict[str, np.ndarray], name: str) -> int:
    if name not in variables:
        raise ModelError(f"CTranslate2 model lacks {name}")
    return int(np.asarray(variables[name]).reshape(-1)[0])


def load_ct2(folder: Path) -> WhisperWeights:
    """Import a CTranslate2 Whisper folder into canonical weights."""
    folder = Path(folder)
    model_bin = folder / "model.bin"
    if model_bin.is_file():
        spec, v = read_model_bin(model_bin)
    elif is_split_folder(folder):
        spec, v = parse_model_bin(read_joined(folder), model_bin)
    else:
        raise ModelError(f"{folder}: no model.bin (not a CTranslate2 model folder)")
    if spec != "WhisperSpec":
        raise ModelError(f"{model_bin}: is a {spec}, not a Whisper model")

    t: dict[str, np.ndarray] = {}
    t["encoder.conv1.weight"] = _float(v, "encoder/conv1/weight")
    t["encoder.conv1.bias"] = _float(v, "encoder/conv1/bias")
    t["encoder.conv2.weight"] = _float(v, "encoder/conv2/weight")
    t["encoder.conv2.bias"] = _float(v, "encoder/conv2/bias")
    t["encoder.positional_embedding"] = _float(v, "encoder/position_encodings/encodings")
    t["encoder.ln_post.weight"] = _float(v, "encoder/layer_norm/gamma")
    t["encoder.ln_post.bias"] = _float(v, "encoder/layer_norm/beta")
    t["decoder.token_embedding.weight"] = _float(v, "decoder/embeddings/weight")
    t["decoder.positional_embedding"] = _float(v, "decoder/position_encodings/encodings")
    t["decoder.ln.weight"] = _float(v, "decoder/layer_norm/gamma")
    t["decoder.ln.bias"] = _float(v, "decoder/layer_norm/beta")

    def norm(dst: str, src: str) -> None:
        t[f"{dst}.weight"] = _float(v, f"{src}/gamma")
        t[f"{dst}.bias"] = _float(v, f"{src}/beta")

    def linear(dst: str, src: str, with_bias: bool = True) -> None:
        t[f"{dst}.weight"] = _float(v, f"{src}/weight")
        if with_bias:
            t[f"{dst}.bias"] = _float(v, f"{src}/bias")

    def self_attention(dst: str, src: str) -> None:
        norm(f"{dst}.attn_ln", f"{src}/layer_norm")
        q, k, vv = _split(_float(v, f"{src}/linear_0/weight"), 3)
        qb, _kb, vb = _split(_float(v, f"{src}/linear_0/bias"), 3)
        t[f"{dst}.attn.query.weight"], t[f"{dst}.attn.query.bias"] = q, qb
        t[f"{dst}.attn.key.weight"] = k  # Whisper's key projection has no bias; CT2 stores zeros
        t[f"{dst}.attn.value.weight"], t[f"{dst}.attn.value.bias"] = vv, vb
        linear(f"{dst}.attn.out", f"{src}/linear_1")

    def ffn(dst: str, src: str) -> None:
        norm(f"{dst}.mlp_ln", f"{src}/layer_norm")
        linear(f"{dst}.mlp.0", f"{src}/linear_0")
        linear(f"{dst}.mlp.2", f"{src}/linear_1")

    n_audio_layer = _count_layers(v, "encoder")
    n_text_layer = _count_layers(v, "decoder")
    for i in range(n_audio_layer):
        self_attention(f"encoder.blocks.{i}", f"encoder/layer_{i}/self_attention")
        ffn(f"encoder.blocks.{i}", f"encoder/layer_{i}/ffn")
    for i in range(n_text_layer):
        dst, src = f"decoder.blocks.{i}", f"decoder/layer_{i}"
        self_attention(dst, f"{src}/self_attention")
        norm(f"{dst}.cross_attn_ln", f"{src}/attention/layer_norm")
        linear(f"{dst}.cross_attn.query", f"{src}/attention/linear_0")
        k, vv = _split(_float(v, f"{src}/attention/linear_1/weight"), 2)
        _kb, vb = _split(_float(v, f"{src}/attention/linear_1/bias"), 2)
        t[f"{dst}.cross_attn.key.weight"] = k
        t[f"{dst}.cross_attn.value.weight"], t[f"{dst}.cross_attn.value.bias"] = vv, vb
        linear(f"{dst}.cross_attn.out", f"{src}/attention/linear_2")
        ffn(dst, f"{src}/ffn")

    emb = t["decoder.token_embedding.weight"]
    dims = ModelDims(
        n_mels=t["encoder.conv1.weight"].shape[1],
        n_audio_ctx=t["encoder.positional_embedding"].shape[0],
        n_audio_state=t["encoder.conv1.weight"].shape[0],
        n_audio_head=_scalar(v, "encoder/num_heads"),
        n_audio_layer=n_audio_layer,
        n_vocab=emb.shape[0],
        n_text_ctx=t["decoder.positional_embedding"].shape[0],
        n_text_state=emb.shape[1],
        n_text_head=_scalar(v, "decoder/num_heads"),
        n_text_layer=n_text_layer,
    )
    config: dict[str, object] = {}
    cfg_path = folder / "config.json"
    if cfg_path.is_file():
        try:
            config = json.loads(cfg_path.read_text())
        except (OSError, json.JSONDecodeError) as exc:
            raise ModelError(f"{cfg_path}: unreadable config ({exc})") from None
    heads_raw = config.get("alignment_heads")
    heads = (
        tuple((int(a), int(b)) for a, b in heads_raw)  # type: ignore[union-attr]
        if isinstance(heads_raw, list) and heads_raw
        else default_alignment_heads(dims)
    )
    tok = folder / "tokenizer.json"
    weights = WhisperWeights(
        dims=dims,
        tensors=t,
        alignment_heads=heads,
        tokenizer_file=tok if tok.is_file() else None,
        source=str(folder),
        extra={"format": "ctranslate2", "config": config},
    )
    weights.validate()
    log.debug("imported CTranslate2 checkpoint %s: %s", folder, dims)
    return weights
