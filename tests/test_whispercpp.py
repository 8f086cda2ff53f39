"""The ggml converter writes what whisper.cpp reads (parsed back here field by field), and `--vs whisper.cpp`
refuses bad specs with a clear message. With EDGE_ASR_WHISPER_CLI set, whisper.cpp transcribes JFK from it."""

from __future__ import annotations

import os
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from edge_asr.bench.peers import WhisperCpp
from edge_asr.bench.whispercpp import FTYPE_F16, FTYPE_F32, GGML_MAGIC, convert
from edge_asr.errors import ConfigError


def _ints(f, n: int) -> tuple[int, ...]:
    return struct.unpack(f"<{n}i", f.read(4 * n))


@pytest.fixture(scope="module")
def ggml(tmp_path_factory) -> Path:
    return convert("tiny.en", tmp_path_factory.mktemp("ggml") / "ggml-tiny.en.bin")


def test_ggml_file_parses_back(ggml: Path) -> None:
    from edge_asr.export.registry import resolve
    from edge_asr.weights import expected_shapes
    from edge_asr.weights.loader import load_weights

    src = resolve("tiny.en")
    assert src.path is not None, src.install_hint
    w = load_weights(src.path)
    with ggml.open("rb") as f:
        assert _ints(f, 1) == (GGML_MAGIC,)
        d = w.dims
        assert _ints(f, 11) == (d.n_vocab, d.n_audio_ctx, d.n_audio_state, d.n_audio_head, d.n_audio_layer,
                                d.n_text_ctx, d.n_text_state, d.n_text_head, d.n_text_layer, d.n_mels, FTYPE_F16)
        rows, cols = _ints(f, 2)
        assert (rows, cols) == (80, 201)
        filters = np.frombuffer(f.read(4 * rows * cols), "<f4").reshape(rows, cols)
        assert filters.max() > 0 and np.all(filters >= 0)
        (n_tokens,) = _ints(f, 1)
        assert n_tokens == 50_256  # text tokens of tiny.en, below <|endoftext|>
        tokens = []
        for _ in range(n_tokens):
            (n,) = _ints(f, 1)
            tokens.append(f.read(n))
        assert tokens[1212] == b"This" and tokens[220] == b" "
        seen = {}
        while header := f.read(12):
            n_dims, n_name, ftype = struct.unpack("<3i", header)
            dims = _ints(f, n_dims)
            name = f.read(n_name).decode()
            size = 2 if ftype == FTYPE_F16 else 4
            data = np.frombuffer(f.read(size * int(np.prod(dims))), "<f2" if size == 2 else "<f4")
            seen[name] = (tuple(reversed(dims)), ftype)
            ref = w.tensors[name].reshape(-1)
            assert np.allclose(data.astype(np.float32), ref, atol=1e-2 * max(1.0, float(np.abs(ref).max()))), name
    shapes = expected_shapes(w.dims)
    assert set(seen) == set(shapes)
    assert seen["encoder.conv1.bias"] == ((384, 1), FTYPE_F32)
    assert seen["encoder.positional_embedding"][1] == FTYPE_F32
    assert seen["decoder.blocks.0.attn.query.weight"] == ((384, 384), FTYPE_F16)
    assert seen["decoder.ln.bias"][1] == FTYPE_F32


def test_bad_whisper_cpp_specs_are_refused(ggml: Path, tmp_path: Path) -> None:
    cases = [("", "PATH_TO_CLI,MODEL"), ("/bin/sh", "PATH_TO_CLI,MODEL"),
             (f"{tmp_path}/none,{ggml}", "not an executable"), (f"/bin/sh,{tmp_path}/none.bin", "not a file")]
    for spec, words in cases:
        with pytest.raises(ConfigError, match=words):
            WhisperCpp.parse(spec, 2)


@pytest.mark.skipif(not os.environ.get("EDGE_ASR_WHISPER_CLI"), reason="set EDGE_ASR_WHISPER_CLI to a whisper-cli")
def test_whisper_cpp_transcribes_jfk_from_our_ggml(ggml: Path, jfk_path: Path, tmp_path: Path) -> None:
    from edge_asr.bench.peers import wav_copies

    peer = WhisperCpp.parse(f"{os.environ['EDGE_ASR_WHISPER_CLI']},{ggml}", 2)
    texts, wall, load, total, peak = peer.run(wav_copies([jfk_path], tmp_path))
    assert "ask not what your country can do for you" in texts[0].lower()
    assert 0 < load < total <= wall + 1 and peak > 50


def test_converter_command_line(tmp_path: Path) -> None:
    out = subprocess.run([sys.executable, "-m", "edge_asr.bench.whispercpp", "tiny.en", str(tmp_path / "m.bin")],
                         capture_output=True, text=True, timeout=600, env={**os.environ})
    assert out.returncode == 0, out.stderr
    assert "wrote" in out.stdout and (tmp_path / "m.bin").stat().st_size > 70 * 2**20
