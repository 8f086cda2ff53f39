"""Reader and writer for Hugging Face transformers Whisper folders.

A folder holds ``config.json`` (``model_type: whisper``, d_model, encoder_layers, ...), the weights in
``model.safetensors`` (or shards listed by ``model.safetensors.index.json``; ``pytorch_model.bin`` is read too,
without torch), optionally ``generation_config.json`` with ``alignment_heads`` and ``tokenizer.json``.
Tensor names follow transformers' ``WhisperForConditionalGeneration`` (``model.encoder.layers.0.fc1.weight``);
``proj_out.weight`` is tied to ``model.decoder.embed_tokens.weight`` and usually not stored.
"""

from __future__ import annotations

import json
import logging
import re
import shutil
import struct
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ModelError
from . import ModelDims, WhisperWeights, default_alignment_heads, expected_shapes
from .openai_pt import parse_alignment_heads
from .torch_pickle import read_torch_file

log = logging.getLogger(__name__)

SAFETENSORS = "model.safetensors"
SAFETENSORS_INDEX = "model.safetensors.index.json"
PYTORCH_BIN = "pytorch_model.bin"
PYTORCH_BIN_INDEX = "pytorch_model.bin.index.json"

# Canonical (OpenAI) name -> transformers name, without the "model." prefix.
_TOP = {
    "encoder.conv1": "encoder.conv1",
    "encoder.conv2": "encoder.conv2",
    "encoder.positional_embedding": "encoder.embed_positions.weight",
    "encoder.ln_post": "encoder.layer_norm",
    "decoder.token_embedding": "decoder.embed_tokens",
    "decoder.positional_embedding": "decoder.embed_positions.weight",
    "decoder.ln": "decoder.layer_norm",
}
_LAYER = {
    "attn.query": "self_attn.q_proj",
    "attn.key": "self_attn.k_proj",
    "attn.value": "self_attn.v_proj",
    "attn.out": "self_attn.out_proj",
    "attn_ln": "self_attn_layer_norm",
    "cross_attn.query": "encoder_attn.q_proj",
    "cross_attn.key": "encoder_attn.k_proj",
    "cross_attn.value": "encoder_attn.v_proj",
    "cross_attn.out": "encoder_attn.out_proj",
    "cross_attn_ln": "encoder_attn_layer_norm",
    "mlp.0": "fc1",
    "mlp.2": "fc2",
    "mlp_ln": "final_layer_norm",
}
_BLOCK = re.compile(r"^(encoder|decoder)\.blocks\.(\d+)\.(.+)\.(weight|bias)$")


def hf_name(canonical: str) -> str:
    """The transformers name (with the ``model.`` prefix) of a canonical OpenAI tensor name."""
    m = _BLOCK.match(canonical)
    if m:
        side, layer, module, kind = m.groups()
        if module not in _LAYER:
            raise ModelError(f"no transformers name for {canonical}")
        return f"model.{side}.layers.{layer}.{_LAYER[module]}.{kind}"
    if canonical in _TOP:
        return f"model.{_TOP[canonical]}"
    stem, _, kind = canonical.rpartition(".")
    if stem in _TOP:
        return f"model.{_TOP[stem]}.{kind}"
    raise ModelError(f"no transformers name for {canonical}")


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ModelError(f"cannot read {path}: {exc.strerror}") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ModelError(f"{path}: invalid JSON ({exc})") from None
    if not isinstance(data, dict):
        raise ModelError(f"{path}: expected a JSON object")
    return data


def dims_from_config(config: dict[str, Any], source: str = "config.json") -> ModelDims:
    """ModelDims from a transformers ``WhisperConfig`` dict."""
    model_type = config.get("model_type", "whisper")
    if model_type != "whisper":
        raise ModelError(f"{source}: is a {model_type!r} model, not Whisper")
    keys = {
        "n_mels": "num_mel_bins",
        "n_audio_ctx": "max_source_positions",
        "n_audio_state": "d_model",
        "n_audio_head": "encoder_attention_heads",
        "n_audio_layer": "encoder_layers",
        "n_vocab": "vocab_size",
        "n_text_ctx": "max_target_positions",
        "n_text_state": "d_model",
        "n_text_head": "decoder_attention_heads",
        "n_text_layer": "decoder_layers",
    }
    missing = sorted({hf for hf in keys.values() if hf not in config})
    if missing:
        raise ModelError(f"{source}: lacks {', '.join(missing)}")
    try:
        return ModelDims(**{ours: int(config[hf]) for ours, hf in keys.items()})
    except (TypeError, ValueError) as exc:
        raise ModelError(f"{source}: bad model dimensions ({exc})") from None


def _safetensors_header(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            head = fh.read(8)
            if len(head) < 8:
                raise ModelError(f"{path}: truncated safetensors file")
            (n,) = struct.unpack("<Q", head)
            if n > 100_000_000:
                raise ModelError(f"{path}: implausible safetensors header size {n}")
            raw = fh.read(n)
    except OSError as exc:
        raise ModelError(f"cannot read {path}: {exc.strerror}") from None
    try:
        header = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ModelError(f"{path}: corrupt safetensors header ({exc})") from None
    if not isinstance(header, dict):
        raise ModelError(f"{path}: corrupt safetensors header")
    header["__data_start__"] = 8 + n
    return header


def _read_safetensors(path: Path, wanted: set[str]) -> dict[str, np.ndarray]:
    """The wanted tensors of one safetensors file; bfloat16 (which numpy lacks) is widened to float32 here."""
    from safetensors import SafetensorError, safe_open

    header = _safetensors_header(path)
    start = int(header["__data_start__"])
    out: dict[str, np.ndarray] = {}
    try:
        with safe_open(str(path), framework="numpy") as sf:
            for name in sf.keys():  # noqa: SIM118 (safe_open is not a mapping)
                if name not in wanted:
                    continue
                info = header.get(name)
                if isinstance(info, dict) and info.get("dtype") == "BF16":
                    begin, end = (int(x) for x in info["data_offsets"])
                    with path.open("rb") as fh:
                        fh.seek(start + begin)
                        raw = fh.read(end - begin)
                    bits = np.frombuffer(raw, dtype="<u2").reshape(info["shape"])
                    out[name] = (bits.astype(np.uint32) << 16).view(np.float32)
                else:
                    out[name] = sf.get_tensor(name)
    except SafetensorError as exc:
        raise ModelError(f"{path}: corrupt safetensors file ({exc})") from None
    except (OSError, ValueError, KeyError) as exc:
        raise ModelError(f"{path}: unreadable safetensors file ({exc})") from None
    return out


def _shards(folder: Path, index_name: str) -> list[Path]:
    index = _read_json(folder / index_name)
    weight_map = index.get("weight_map")
    if not isinstance(weight_map, dict) or not weight_map:
        raise ModelError(f"{folder / index_name}: no weight_map")
    files = sorted({str(v) for v in weight_map.values()})
    paths = [folder / f for f in files]
    for p in paths:
        if not p.is_file() or p.resolve().parent != folder.resolve():
            raise ModelError(f"{folder / index_name}: shard {p.name} is missing")
    return paths


def _read_tensors(folder: Path, wanted: set[str]) -> tuple[dict[str, np.ndarray], str]:
    if (folder / SAFETENSORS).is_file():
        return _read_safetensors(folder / SAFETENSORS, wanted), SAFETENSORS
    if (folder / SAFETENSORS_INDEX).is_file():
        out: dict[str, np.ndarray] = {}
        for shard in _shards(folder, SAFETENSORS_INDEX):
            out.update(_read_safetensors(shard, wanted))
        return out, SAFETENSORS_INDEX
    bins = (
        [folder / PYTORCH_BIN]
        if (folder / PYTORCH_BIN).is_file()
        else _shards(folder, PYTORCH_BIN_INDEX)
        if (folder / PYTORCH_BIN_INDEX).is_file()
        else []
    )
    if not bins:
        raise ModelError(
            f"{folder}: no {SAFETENSORS}, {SAFETENSORS_INDEX} or {PYTORCH_BIN} (not a transformers folder)"
        )
    out = {}
    for b in bins:
        state = read_torch_file(b)
        if not isinstance(state, dict):
            raise ModelError(f"{b}: holds a {type(state).__name__}, not a state dict")
        out.update({k: v for k, v in state.items() if k in wanted and isinstance(v, np.ndarray)})
    return out, bins[0].name


def load_hf_folder(folder: Path | str) -> WhisperWeights:
    """Import a Hugging Face transformers Whisper folder into canonical weights."""
    folder = Path(folder)
    cfg_path = folder / "config.json"
    if not cfg_path.is_file():
        raise ModelError(f"{folder}: no config.json (not a transformers model folder)")
    config = _read_json(cfg_path)
    dims = dims_from_config(config, str(cfg_path))
    names = {canonical: hf_name(canonical) for canonical in expected_shapes(dims)}
    # Checkpoints of a bare WhisperModel have no "model." prefix; accept both spellings.
    wanted = set(names.values()) | {n.removeprefix("model.") for n in names.values()}
    wanted |= {"proj_out.weight"}
    raw, weight_file = _read_tensors(folder, wanted)

    tensors: dict[str, np.ndarray] = {}
    for canonical, name in names.items():
        arr = raw.get(name)
        if arr is None:
            arr = raw.get(name.removeprefix("model."))
        if arr is None:
            raise ModelError(f"{folder}: missing tensor {name} (Whisper's {canonical}) in {weight_file}")
        if arr.dtype.kind != "f":
            raise ModelError(f"{folder}: {name} is not a floating-point tensor ({arr.dtype})")
        tensors[canonical] = arr.astype(np.float32)
    proj = raw.get("proj_out.weight")
    emb = tensors["decoder.token_embedding.weight"]
    if proj is not None and not (proj.shape == emb.shape and np.array_equal(proj.astype(np.float32), emb)):
        raise ModelError(
            f"{folder}: proj_out.weight differs from the token embedding; Whisper ties them and an untied "
            "output projection is not supported"
        )

    heads: tuple[tuple[int, int], ...] = ()
    gen_path = folder / "generation_config.json"
    generation = _read_json(gen_path) if gen_path.is_file() else {}
    if generation.get("alignment_heads"):
        heads = parse_alignment_heads(generation["alignment_heads"], dims, str(gen_path))
    tok = folder / "tokenizer.json"
    weights = WhisperWeights(
        dims=dims,
        tensors=tensors,
        alignment_heads=heads or default_alignment_heads(dims),
        tokenizer_file=tok if tok.is_file() else None,
        source=str(folder),
        extra={"format": "hf", "config": config, "generation_config": generation},
    )
    weights.validate()
    log.debug("imported transformers checkpoint %s: %s", folder, dims)
    return weights


def _special_ids(dims: ModelDims) -> tuple[int, int]:
    """(<|endoftext|>, <|startoftranscript|>) ids for this vocabulary."""
    eot = 50_256 + int(dims.is_multilingual)
    return eot, eot + 1


def hf_config(dims: ModelDims, torch_dtype: str = "float32") -> dict[str, Any]:
    """A transformers ``WhisperConfig`` dict for these dimensions."""
    if dims.n_audio_state != dims.n_text_state:
        raise ModelError("transformers Whisper needs equal encoder and decoder widths")
    eot, sot = _special_ids(dims)
    return {
        "architectures": ["WhisperForConditionalGeneration"],
        "model_type": "whisper",
        "activation_function": "gelu",
        "activation_dropout": 0.0,
        "attention_dropout": 0.0,
        "dropout": 0.0,
        "d_model": dims.n_audio_state,
        "encoder_layers": dims.n_audio_layer,
        "encoder_attention_heads": dims.n_audio_head,
        "encoder_ffn_dim": 4 * dims.n_audio_state,
        "decoder_layers": dims.n_text_layer,
        "decoder_attention_heads": dims.n_text_head,
        "decoder_ffn_dim": 4 * dims.n_text_state,
        "num_hidden_layers": dims.n_audio_layer,
        "num_mel_bins": dims.n_mels,
        "max_source_positions": dims.n_audio_ctx,
        "max_target_positions": dims.n_text_ctx,
        "max_length": dims.n_text_ctx,
        "vocab_size": dims.n_vocab,
        "bos_token_id": 50_257,
        "eos_token_id": eot,
        "pad_token_id": eot,
        "decoder_start_token_id": sot,
        "is_encoder_decoder": True,
        "scale_embedding": False,
        "tie_word_embeddings": True,
        "use_cache": True,
        "torch_dtype": torch_dtype,
    }


def save_hf_folder(weights: WhisperWeights, folder: Path | str, dtype: Any = np.float32) -> Path:
    """Write ``weights`` as a transformers Whisper folder: config.json, generation_config.json, model.safetensors.

    ``dtype`` is float32 or float16. A ``tokenizer.json`` beside the source weights is copied along.
    """
    from safetensors.numpy import save_file

    folder = Path(folder)
    np_dtype = np.dtype(dtype)
    if np_dtype not in (np.dtype(np.float32), np.dtype(np.float16)):
        raise ModelError(f"cannot save a transformers folder as {np_dtype}: choose float32 or float16")
    order = [n for n in expected_shapes(weights.dims) if n in weights.tensors]
    tensors = {hf_name(n): np.ascontiguousarray(weights.tensors[n], dtype=np_dtype) for n in order}
    eot, sot = _special_ids(weights.dims)
    generation = {
        "alignment_heads": [list(h) for h in weights.alignment_heads],
        "bos_token_id": 50_257,
        "decoder_start_token_id": sot,
        "eos_token_id": eot,
        "pad_token_id": eot,
        "max_length": weights.dims.n_text_ctx,
        "is_multilingual": weights.dims.is_multilingual,
    }
    try:
        folder.mkdir(parents=True, exist_ok=True)
        save_file(tensors, str(folder / SAFETENSORS), metadata={"format": "pt"})
        config = hf_config(weights.dims, np_dtype.name)
        (folder / "config.json").write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")
        (folder / "generation_config.json").write_text(json.dumps(generation, indent=2) + "\n", encoding="utf-8")
        tok = weights.tokenizer_file
        if tok is not None and tok.name == "tokenizer.json" and tok.is_file():
            dst = folder / "tokenizer.json"
            if not dst.exists() or not dst.samefile(tok):
                shutil.copyfile(tok, dst)
    except OSError as exc:
        raise ModelError(f"cannot write {folder}: {exc.strerror or exc}") from None
    log.debug("wrote transformers folder %s (%s)", folder, np_dtype)
    return folder
