"""The ``.pt`` importer against checkpoints that real torch + openai-whisper made (tests/fixtures/torch_made/).

Every other ``.pt`` test reads files from the tests' own writer; these are the independent check: what torch
recorded about each tensor when it saved the file (expected.json) must be what edge_asr reads back.
"""

from __future__ import annotations

import hashlib
import json
import struct
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from edge_asr.weights import ModelDims, default_alignment_heads, expected_shapes
from edge_asr.weights.loader import detect_format, load_weights
from edge_asr.weights.openai_pt import load_openai_pt
from edge_asr.weights.torch_pickle import read_torch_file
from tests.fixtures.pt_writer import ALIGNMENT, save_openai_pt

FIXTURES = Path(__file__).parent / "fixtures" / "torch_made"
EXPECTED: dict[str, Any] = json.loads((FIXTURES / "expected.json").read_text())
FILES = sorted(EXPECTED["files"])
NUMPY_DTYPES = {"float16": np.float16, "float32": np.float32, "bfloat16": np.float32}  # bfloat16 is widened


def test_fixtures_are_what_torch_wrote() -> None:
    assert len(FILES) == 3 and {EXPECTED["files"][f]["format"] for f in FILES} == {"zip", "legacy"}
    assert EXPECTED["torch"] and EXPECTED["openai-whisper"]  # how they were made is on record
    for name in FILES:
        raw = (FIXTURES / name).read_bytes()
        assert hashlib.sha256(raw).hexdigest() == EXPECTED["files"][name]["sha256"], f"{name} changed since make.py"


@pytest.mark.parametrize("name", FILES)
def test_import_matches_what_torch_saved(name: str) -> None:
    path = FIXTURES / name
    want = EXPECTED["files"][name]["tensors"]
    dims = ModelDims.from_dict(EXPECTED["dims"])
    got = load_openai_pt(path)
    assert got.dims == dims
    assert set(got.tensors) == set(want) == set(expected_shapes(dims))
    for tensor, info in want.items():
        arr = got.tensors[tensor]
        assert arr.dtype == np.float32 and list(arr.shape) == info["shape"], tensor
        values = np.ascontiguousarray(arr, dtype="<f4")
        assert hashlib.sha256(values.tobytes()).hexdigest() == info["sha256_float32"], tensor
        assert float(values.astype(np.float64).sum()) == pytest.approx(info["sum"], rel=1e-9, abs=1e-9), tensor
    assert got.alignment_heads == default_alignment_heads(dims)  # OpenAI's files carry none
    assert got.extra == {"format": "openai"} and got.source == str(path)
    assert detect_format(path) == "openai"
    assert load_weights(path).fingerprint() == got.fingerprint()


@pytest.mark.parametrize("name", FILES)
def test_raw_tensors_keep_torch_dtype_and_strides(name: str) -> None:
    ckpt = read_torch_file(FIXTURES / name)
    assert ckpt["dims"] == EXPECTED["dims"]
    state = ckpt["model_state_dict"]
    strided = 0
    for tensor, info in EXPECTED["files"][name]["tensors"].items():
        arr = state[tensor]
        assert arr.dtype == NUMPY_DTYPES[info["dtype"]], tensor
        assert arr.flags.c_contiguous, tensor  # materialised, whatever the stride on disk
        contiguous = [int(np.prod(info["shape"][i + 1 :])) for i in range(len(info["shape"]))]
        strided += info["stride"] != contiguous
    # The bf16 file holds one column-major tensor; reading it by its strides is what the sha256 above checked.
    assert strided == (1 if "strided" in name else 0)


def _records(path: Path) -> tuple[set[str], list[str], list[int]]:
    """Names of the non-data records, sha256 of each data record, and each record's data offset."""
    raw = path.read_bytes()
    names, blobs, offsets = set(), [], []
    with zipfile.ZipFile(path) as zf:
        for info in zf.infolist():
            rel = info.filename.split("/", 1)[1]
            if rel.startswith("data/"):
                blobs.append(hashlib.sha256(zf.read(info)).hexdigest())
            else:
                names.add(rel)
            name_len, extra_len = struct.unpack("<HH", raw[info.header_offset + 26 : info.header_offset + 30])
            offsets.append(info.header_offset + 30 + name_len + extra_len)
    return names, sorted(blobs), offsets


def test_tests_writer_matches_torch_layout(tmp_path: Path) -> None:
    """The tests' writer makes the same records, data bytes and 64-byte alignment as torch (so its files are fair)."""
    theirs = FIXTURES / "whisper-2layer-fp16.pt"
    ours = save_openai_pt(load_openai_pt(theirs), tmp_path / "whisper-2layer-fp16.pt", alignment_heads=False)
    t_names, t_blobs, t_offsets = _records(theirs)
    o_names, o_blobs, o_offsets = _records(ours)
    assert o_names == t_names
    assert o_blobs == t_blobs
    assert all(off % ALIGNMENT == 0 for off in t_offsets + o_offsets)
