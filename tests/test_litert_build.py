"""The LiteRT build: flatbuffers written from numpy (read back with the schema, run in LiteRT), the cache and
manifest rules shared with the ONNX build, and a build that needs neither ONNX, TensorFlow nor PyTorch."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("ai_edge_litert", reason="LiteRT is not installed (pip install 'edge-asr[litert]')")

from edge_asr.errors import ModelError
from edge_asr.export.tflite_shapes import infer
from edge_asr.export.tflite_writer import BUFFER_ALIGNMENT, ModelWriter, schema
from edge_asr.export.whisper_tflite import FC_HYBRID_PER_CHANNEL_VERSION, FC_OPTIONS, quantize_rows

MAX_MODEL_BYTES = 45_000_000  # the bound on the model files, as for ONNX
ROOT = Path(__file__).resolve().parent.parent


def _small_model(tmp_path: Path) -> tuple[Path, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    w = rng.standard_normal((24, 16)).astype(np.float32)
    b = rng.standard_normal(24).astype(np.float32)
    q, scale = quantize_rows(w)
    m = ModelWriter("test")
    g = m.subgraph("main")
    x = g.input("x", "float32", (3, 16), (5, 16))
    y = g.op1(
        "FULLY_CONNECTED",
        [x, g.const(q, "w", quant=(scale, 0)), g.const(b, "b")],
        FC_OPTIONS,
        version=FC_HYBRID_PER_CHANNEL_VERSION,
    )
    g.output(g.op1("RESHAPE", [y, g.ints([-1, 2, 12])]), "y")
    path = tmp_path / "small.tflite"
    path.write_bytes(m.serialize())
    return path, w, b


def test_written_flatbuffer_reads_back_with_the_schema(tmp_path: Path) -> None:
    path, w, _ = _small_model(tmp_path)
    data = path.read_bytes()
    s = schema()
    model = s.Model.GetRootAs(data, 0)
    assert model.Version() == 3 and data[4:8] == b"TFL3"
    g = model.Subgraphs(0)
    x = g.Tensors(g.Inputs(0))
    assert x.Name() == b"x" and list(x.ShapeAsNumpy()) == [3, 16] and list(x.ShapeSignatureAsNumpy()) == [-1, 16]
    out = g.Tensors(g.Outputs(0))
    assert list(out.ShapeSignatureAsNumpy()) == [-1, 2, 12]  # inferred through FC and RESHAPE
    weights = next(g.Tensors(i) for i in range(g.TensorsLength()) if g.Tensors(i).Name() == b"w")
    assert weights.Quantization().ScaleLength() == w.shape[0] and weights.Quantization().QuantizedDimension() == 0
    code = model.OperatorCodes(g.Operators(0).OpcodeIndex())
    assert code.BuiltinCode() == s.BuiltinOperator.FULLY_CONNECTED and code.Version() == FC_HYBRID_PER_CHANNEL_VERSION
    buf = model.Buffers(weights.Buffer())
    assert buf.DataLength() == w.size and buf.DataAsNumpy().ctypes.data % BUFFER_ALIGNMENT == 0
    sig = model.SignatureDefs(0)
    assert sig.SignatureKey() == b"main" and sig.Inputs(0).Name() == b"x"


def test_written_graph_runs_in_litert_with_a_dynamic_dimension(tmp_path: Path) -> None:
    from ai_edge_litert.interpreter import Interpreter

    path, w, b = _small_model(tmp_path)
    runner = Interpreter(model_path=str(path), num_threads=1).get_signature_runner("main")
    for rows in (4, 10):  # neither is the size written into the file
        x = np.random.default_rng(rows).standard_normal((rows, 16)).astype(np.float32)
        y = runner(x=x)["y"]
        ref = (x @ w.T + b).reshape(-1, 2, 12)
        assert y.shape == ref.shape
        assert np.abs(y - ref).max() < 0.05 * np.abs(ref).max()  # int8 weights and activations


def test_shape_rules() -> None:
    assert infer("FULLY_CONNECTED", [(7, 384), (1152, 384)], [None, None], {}, 1) == [(7, 1152)]
    assert infer("BATCH_MATMUL", [(1, 6, 4, 64), (1, 6, 9, 64)], [None, None], {"AdjY": True}, 1) == [(1, 6, 4, 9)]
    assert infer("SPLIT", [(), (7, 1152)], [np.array(1), None], {"NumSplits": 3}, 3) == [(7, 384)] * 3
    assert infer("SPLIT_V", [(2, 6, 1, 65), (2,), ()], [None, np.array([-1, 1]), np.array(3)], {}, 2) == [
        (2, 6, 1, 64),
        (2, 6, 1, 1),
    ]
    assert infer(
        "CONV_2D", [(1, 1, 3002, 384), (384, 1, 3, 384)], [None, None], {"Padding": 1, "StrideW": 2, "StrideH": 1}, 1
    ) == [(1, 1, 1500, 384)]
    with pytest.raises(ValueError):
        infer("RESHAPE", [(7, 384)], [None, np.array([-1, 5])], {}, 1)
    with pytest.raises(NotImplementedError):
        infer("WHILE", [(1,)], [None], {}, 1)


@pytest.fixture(scope="module")
def litert_build(tmp_path_factory: pytest.TempPathFactory):
    from edge_asr.export.tflite_build import ensure_litert_model

    cache = tmp_path_factory.mktemp("litert-cache")
    return ensure_litert_model("tiny.en", cache), cache


def test_build_writes_both_graphs_with_a_manifest_under_the_size_bound(litert_build) -> None:
    from edge_asr.export.build import sha256_file
    from edge_asr.export.tflite_build import DECODER_FILE, ENCODER_FILE

    built, _ = litert_build
    enc, dec = built.encoder, built.decoder  # from the manifest's "files"
    assert (enc.name, dec.name) == (ENCODER_FILE, DECODER_FILE)
    assert "-litert-" in built.directory.name
    manifest = json.loads((built.directory / "manifest.json").read_text())
    assert manifest["backend"] == "litert" and manifest["dims"]["n_text_layer"] == 4
    for name, meta in manifest["outputs"].items():
        assert sha256_file(built.directory / name) == meta["sha256"]
    assert built.size_bytes <= MAX_MODEL_BYTES, built.size_bytes  # encoder + decoder + tokenizer
    assert 8e6 < enc.stat().st_size < 14e6 and 25e6 < dec.stat().st_size < 33e6  # one shared int8 embedding


def test_cached_build_is_reused_and_a_corrupt_file_is_named(litert_build) -> None:
    from edge_asr.export.tflite_build import ensure_litert_model

    built, cache = litert_build
    dec = built.decoder
    mtime = dec.stat().st_mtime_ns
    again = ensure_litert_model("tiny.en", cache)
    assert again.directory == built.directory and dec.stat().st_mtime_ns == mtime
    original = dec.read_bytes()
    try:
        with dec.open("r+b") as f:
            f.seek(len(original) // 2)
            f.write(b"\x00" * 64)
        with pytest.raises(ModelError, match=r"decoder\.int8\.tflite.*corrupt"):
            ensure_litert_model("tiny.en", cache)
    finally:
        dec.write_bytes(original)
    ensure_litert_model("tiny.en", cache)  # whole again


_NO_ONNX_TF_TORCH = """
import sys
for name in ("onnx", "onnxruntime", "tensorflow", "torch", "tflite"):
    sys.modules[name] = None  # importing any of them now raises ImportError
from edge_asr.factory import load_transcriber
from edge_asr.options import EngineOptions
tr = load_transcriber(EngineOptions(backend="litert", threads=2, cache_dir=sys.argv[1]))
segments, _ = tr.transcribe(sys.argv[2])
print("".join(s.text for s in segments).strip())
"""


def test_build_and_run_without_onnx_tensorflow_or_pytorch(tmp_path: Path, jfk_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run(
        [sys.executable, "-c", _NO_ONNX_TF_TORCH, str(tmp_path), str(jfk_path)],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "ask not what your country can do for you" in proc.stdout
    assert any(p.name.startswith("tiny.en-litert-") for p in tmp_path.iterdir())


def test_models_build_cli_reports_the_litert_files(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "edge_asr", "models", "--cache-dir", str(tmp_path), "build", "--backend", "litert"],
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert (
        "LiteRT INT8" in proc.stdout and "encoder.int8.tflite" in proc.stdout and "decoder.int8.tflite" in proc.stdout
    )
