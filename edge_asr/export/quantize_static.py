"""A static, calibrated QDQ INT8 ONNX build (``onnxruntime.quantization.quantize_static``) for accelerators that
need fixed activation scales (Qualcomm's QNN HTP and other NPUs). An option beside the default dynamic build:
on CPU it was measured slower and no more accurate (README).

Calibration runs the float graphs on real speech: the encoder on the windows transcription would feed it, the
decoder on the steps the dynamic INT8 model takes while transcribing the same clips.
"""

from __future__ import annotations

import hashlib
import logging
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from .. import __version__
from ..errors import BackendUnavailableError
from .cache import (
    BuiltModel,
    Files,
    Progress,
    Variant,
    ensure_built,
    sha256_file,
)
from .registry import ModelSource
from .staging import output_table, staging, write_manifest

log = logging.getLogger(__name__)

STATIC_EXPORT_VERSION = 2  # bump when the build changes: cached QDQ builds are then rebuilt (2: calibrated on the
# model being built, not always tiny.en)
ENCODER_FILE = "encoder.qdq.onnx"
DECODER_FILE = "decoder.qdq.onnx"
MAX_DECODER_FEEDS = 48  # recorded decoder steps (each holds its window's cross K/V: memory bound)
STEP_STRIDE = 3  # record every third decoder step
STATIC_QUANT: dict[str, Any] = {
    "method": "static QDQ",
    "calibration": "MinMax on real speech",
    "activations": "QUInt8 per tensor",
    "weights": "QInt8 per channel",
    "op_types": ["MatMul", "Gather"],
    "matmul_const_b_only": True,
}


def static_variant(calibration: list[Path]) -> Variant:
    """The QDQ build's kind; the calibration clips' contents are part of its key."""
    clips = hashlib.sha256("|".join(sha256_file(p) for p in sorted(calibration)).encode()).hexdigest()
    return Variant("qdq", STATIC_EXPORT_VERSION, STATIC_QUANT, extra=clips)


def default_calibration() -> list[Path]:
    from ..data import demo_clip

    return [demo_clip()]


def ensure_static_model(
    name_or_path: str,
    cache_dir: str | Path | None = None,
    calibration: list[Path] | None = None,
    progress: Progress | None = None,
    force: bool = False,
) -> BuiltModel:
    clips = sorted(calibration or default_calibration())

    def build(src: ModelSource, directory: Path, key: str, files: Files, progress: Progress) -> BuiltModel:
        return _build(src, directory, key, files, clips, cache_dir, progress)

    return ensure_built(name_or_path, static_variant(clips), build, cache_dir, progress, force)


class _Feeds:
    """CalibrationDataReader over recorded input dicts (the class is duck-typed by onnxruntime)."""

    def __init__(self, feeds: list[dict[str, np.ndarray]]) -> None:
        self._it: Iterator[dict[str, np.ndarray]] = iter(feeds)

    def get_next(self) -> dict[str, np.ndarray] | None:
        return next(self._it, None)


def _record(
    model: str, clips: list[Path], cache_dir: str | Path | None
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Encoder and decoder inputs seen while the dynamic INT8 build of ``model`` transcribes the clips."""
    from ..loading import load_ort
    from ..options import EngineOptions

    tr = load_ort(EngineOptions(model=model, backend="onnxruntime", device="cpu",
                                cache_dir=str(cache_dir or "") or None))
    inner = tr.runtime
    enc_feeds: list[dict[str, Any]] = []
    dec_feeds: list[dict[str, Any]] = []
    calls = [0]

    class Recorder:
        backend, providers = inner.backend, inner.providers
        n_text_layer, n_text_head, d_head = inner.n_text_layer, inner.n_text_head, inner.d_head

        def encode(self, mel: np.ndarray) -> Any:
            enc_feeds.append({"mel": np.ascontiguousarray(mel, dtype=np.float32)})
            return inner.encode(mel)

        def decode(self, tokens: np.ndarray, cache: Any, cross: Any, logits_start: int) -> Any:
            calls[0] += 1
            if (cache is None or calls[0] % STEP_STRIDE == 0) and len(dec_feeds) < MAX_DECODER_FEEDS:
                feed: dict[str, Any] = {
                    "tokens": tokens.astype(np.int64),
                    "logits_start": np.array([logits_start], np.int64),
                }
                for i, (ck, cv) in enumerate(cross):
                    pk, pv = (
                        cache[i]
                        if cache is not None
                        else (np.zeros((tokens.shape[0], ck.shape[1], 0, ck.shape[3]), np.float32),) * 2
                    )
                    feed.update({f"past_k_{i}": pk, f"past_v_{i}": pv, f"cross_k_{i}": ck, f"cross_v_{i}": cv})
                dec_feeds.append(feed)
            return inner.decode(tokens, cache, cross, logits_start)

    tr.runtime = tr.decoder.rt = Recorder()  # type: ignore[assignment]
    for clip in clips:
        list(tr.transcribe(clip)[0])
    return enc_feeds, dec_feeds


def _quantize(src: Path, dst: Path, feeds: list[dict[str, Any]]) -> None:
    try:
        from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static
    except ImportError as exc:
        raise BackendUnavailableError(f"onnxruntime.quantization is unavailable ({exc})") from None
    previous = logging.root.manager.disable
    logging.disable(logging.WARNING)  # the quantizer logs every node it skips on the root logger
    try:
        quantize_static(
            str(src),
            str(dst),
            _Feeds(feeds),
            quant_format=QuantFormat.QDQ,
            op_types_to_quantize=STATIC_QUANT["op_types"],
            per_channel=True,
            activation_type=QuantType.QUInt8,
            weight_type=QuantType.QInt8,
            calibrate_method=CalibrationMethod.MinMax,
            extra_options={"MatMulConstBOnly": STATIC_QUANT["matmul_const_b_only"]},
        )
    finally:
        logging.disable(previous)


def _build(
    src: ModelSource, directory: Path, key: str, files: Files, clips: list[Path], cache_dir: str | Path | None,
    progress: Progress,
) -> BuiltModel:
    import onnx

    from ..weights.loader import load_weights
    from .build import ensure_model
    from .whisper_onnx import build_decoder, build_encoder

    assert src.path is not None
    started = time.monotonic()
    base = ensure_model(src.name, cache_dir, progress)  # the dynamic build: its tokenizer, and it calibrates
    progress("recording calibration inputs", 0.1)
    enc_feeds, dec_feeds = _record(src.name, clips, cache_dir)
    weights = load_weights(src.path)
    with staging(directory, src.name) as work:
        progress("calibrating and quantizing the encoder", 0.3)
        onnx.save(build_encoder(weights), str(work / "encoder.fp32.onnx"))
        _quantize(work / "encoder.fp32.onnx", work / ENCODER_FILE, enc_feeds)
        progress("calibrating and quantizing the decoder", 0.6)
        onnx.save(build_decoder(weights, shared_int8_embedding=False), str(work / "decoder.fp32.onnx"))
        _quantize(work / "decoder.fp32.onnx", work / DECODER_FILE, dec_feeds)
        for f in ("encoder.fp32.onnx", "decoder.fp32.onnx"):
            (work / f).unlink()
        shutil.copyfile(base.tokenizer, work / base.tokenizer.name)
        manifest = {
            "name": src.name,
            "kind": "qdq",
            "backend": "onnxruntime",
            "quantization": STATIC_QUANT,
            "edge_asr_version": __version__,
            "export_version": STATIC_EXPORT_VERSION,
            "cache_key": key,
            "calibration": [str(p) for p in clips],
            "calibration_feeds": [len(enc_feeds), len(dec_feeds)],
            "source": {"path": str(src.path), "files": files},
            "dims": base.manifest["dims"],
            "tokenizer": base.tokenizer.name,
            "files": {"encoder": ENCODER_FILE, "decoder": DECODER_FILE},
            "outputs": output_table(work, [ENCODER_FILE, DECODER_FILE, base.tokenizer.name]),
            "build_seconds": round(time.monotonic() - started, 2),
        }
        write_manifest(work, manifest)
    progress("done", 1.0)
    return BuiltModel(src.name, directory, manifest)
