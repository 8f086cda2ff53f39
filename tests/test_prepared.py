"""The prepared ONNX Runtime copy (engine/ort_prepare.py) transcribes exactly like the built model, looks tokens up
by row, is remade when stale, and anything wrong with it falls back to the built files."""

from __future__ import annotations

import json
import os

import onnx

from edge_asr.engine import ort_prepare
from edge_asr.engine.ort_backend import _import_ort
from edge_asr.export.build import ensure_model
from edge_asr.factory import load_transcriber
from edge_asr.loading import ort_files
from edge_asr.options import EngineOptions


def _texts(tr, paths) -> list[tuple[int, ...]]:
    return [tuple(t for s in tr.transcribe(p)[0] for t in s.tokens) for p in paths]


def test_prepared_copy_decodes_the_same_tokens(transcriber, en_dev, monkeypatch) -> None:
    """Same tokens on real speech with the prepared copy (the default) and the built files."""
    paths = [r["abspath"] for r in en_dev[:6]]
    built = ensure_model("tiny.en", verify=False)
    enc, _, optimized = ort_files(built)
    assert optimized and enc.parent.parent == built.directory / "ort"
    monkeypatch.setattr(ort_prepare, "prepared_models", lambda *args: None)
    plain = load_transcriber(EngineOptions(threads=2))
    assert _texts(transcriber, paths) == _texts(plain, paths)


def test_prepared_decoder_looks_tokens_up_by_row() -> None:
    built = ensure_model("tiny.en", verify=False)
    _, dec, _ = ort_files(built)
    graph = onnx.load(str(dec), load_external_data=False).graph
    gathers = [n for n in graph.node if n.op_type == "Gather"]
    assert any(n.input[0] == ort_prepare.EMBEDDING_ROWS for n in gathers)
    assert not any(n.input[0] == ort_prepare.EMBEDDING for n in gathers)
    rows = next(t for t in graph.initializer if t.name == ort_prepare.EMBEDDING_ROWS)
    table = next(t for t in graph.initializer if t.name == ort_prepare.EMBEDDING)
    assert list(rows.dims) == list(reversed(table.dims))
    # both in the mapped data file, not inline in the graph
    assert rows.data_location == table.data_location == onnx.TensorProto.EXTERNAL


def test_fused_attention_is_opt_in() -> None:
    """With EngineOptions.fused_attention each encoder layer's softmax(q k^T) v is one MultiHeadAttention; the
    default prepared copy keeps the built attention."""
    built = ensure_model("tiny.en", verify=False)
    default, _, _ = ort_files(built)
    fused, _, _ = ort_files(built, fused_attention=True)
    assert default.parent != fused.parent
    for enc, count in ((default, 0), (fused, built.dims.n_audio_layer)):
        ops = [n.op_type for n in onnx.load(str(enc), load_external_data=False).graph.node]
        assert ops.count("MultiHeadAttention") == count and ("Softmax" in ops) == (count == 0)


def test_fused_attention_matches_the_unfused_graph() -> None:
    import numpy as np

    from edge_asr.engine.ort_rewrite import fused_attention

    ort = _import_ort()
    built = ensure_model("tiny.en", verify=False)
    model = onnx.load(str(built.encoder))
    assert fused_attention(model) == built.dims.n_audio_layer
    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL  # the two graphs as written
    plain = ort.InferenceSession(str(built.encoder), so, providers=["CPUExecutionProvider"])
    fused = ort.InferenceSession(model.SerializeToString(), so, providers=["CPUExecutionProvider"])
    mel = (np.random.default_rng(0).standard_normal((1, built.dims.n_mels, 600)) * 0.5).astype(np.float32)
    for a, b in zip(plain.run(None, {"mel": mel}), fused.run(None, {"mel": mel}), strict=True):
        # INT8 dynamic quantization amplifies float rounding: ORT's own level-ALL graph is as far off (measured)
        assert np.abs(a - b).max() < 0.5 and np.corrcoef(a.ravel(), b.ravel())[0, 1] > 0.995


def test_stale_prepared_copy_is_remade(tmp_path) -> None:
    built = ensure_model("tiny.en", verify=False)
    ort = _import_ort()
    enc, dec, _ = ort_files(built)
    stamp = json.loads((enc.parent / ort_prepare.STAMP).read_text())
    os.utime(dec.with_suffix(".data"), ns=(1, 1))  # as if the file had been replaced
    again = ort_prepare.prepared_models(built, ort)
    assert again is not None
    fresh = json.loads((again[0].parent / ort_prepare.STAMP).read_text())
    assert fresh["files"]["decoder.data"] != {"size": stamp["files"]["decoder.data"]["size"], "mtime_ns": 1}
    assert ort_prepare._valid(again[0].parent, fresh["sources"])


def test_failed_preparation_loads_the_built_files(monkeypatch, tmp_path) -> None:
    built = ensure_model("tiny.en", verify=False)

    def fail(*args: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(ort_prepare, "machine_key", lambda *args: "some-other-machine")
    monkeypatch.setattr(ort_prepare, "_prepare", fail)
    assert ort_prepare.prepared_models(built, _import_ort()) is None
    enc, dec, optimized = ort_files(built)
    assert (enc, dec, optimized) == (built.encoder, built.decoder, False)
    assert not (built.directory / "ort" / "some-other-machine").exists()
    assert not list((built.directory / "ort").glob(".prepare-*"))


def test_machine_key_names_runtime_and_cpu() -> None:
    a, b = ort_prepare.machine_key("1.32.0"), ort_prepare.machine_key("1.33.0")
    assert a != b and a.startswith("1.32.0-") and a.endswith(f"-v{ort_prepare.PREPARED_VERSION}")


def test_rows_lookup_leaves_other_graphs_alone() -> None:
    from onnx import TensorProto, helper

    g = helper.make_graph([helper.make_node("Relu", ["x"], ["y"])], "g",
                          [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])])
    model = helper.make_model(g)
    assert ort_prepare.rows_lookup(model) is False
    assert len(model.graph.node) == 1
