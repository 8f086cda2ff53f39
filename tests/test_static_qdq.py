"""The static, calibrated QDQ INT8 build: an option for NPUs (measured worse on CPU; README)."""

from __future__ import annotations

import pytest

from edge_asr.errors import ConfigError
from edge_asr.options import EngineOptions


def test_static_qdq_build_is_calibrated_and_transcribes(jfk_path) -> None:
    import onnx

    from edge_asr.export.quantize_static import DECODER_FILE, ENCODER_FILE, ensure_static_model
    from edge_asr.factory import load_transcriber

    built = ensure_static_model("tiny.en", calibration=[jfk_path])
    assert built.manifest["quantization"]["method"] == "static QDQ"
    assert built.manifest["calibration"] == [str(jfk_path)] and min(built.manifest["calibration_feeds"]) > 0
    assert (built.encoder.name, built.decoder.name) == (ENCODER_FILE, DECODER_FILE)
    for path in (built.encoder, built.decoder):
        ops = {n.op_type for n in onnx.load(str(path), load_external_data=False).graph.node}
        assert {"QuantizeLinear", "DequantizeLinear"} <= ops, path  # fixed, calibrated activation scales
    from edge_asr.transcribe import WhisperTranscriber

    tr = load_transcriber(EngineOptions(quantization="static", threads=2))
    assert isinstance(tr, WhisperTranscriber) and tr.runtime.backend == "onnxruntime"
    text = "".join(s.text for s in tr.transcribe(jfk_path)[0])
    assert "ask not what your country can do for you" in text.lower()


def test_static_is_an_onnx_build() -> None:
    with pytest.raises(ConfigError, match="onnxruntime"):
        EngineOptions(backend="litert", quantization="static")
    with pytest.raises(ConfigError):
        EngineOptions(quantization="float")
