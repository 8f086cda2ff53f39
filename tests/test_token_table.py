"""The compact token table decodes exactly as the tokenizer libraries do, and spares loading them."""

from __future__ import annotations

import base64
import random
import shutil
import subprocess
import sys
from pathlib import Path

from edge_asr.token_table import TableCodec
from edge_asr.tokenizer import Tokenizer, load_tokenizer

ENGLISH_VOCAB = 51_864
MULTILINGUAL_VOCAB = 51_865


def _pair(path: Path, n_vocab: int, table_dir: Path) -> tuple[Tokenizer, Tokenizer]:
    langs = 1 if n_vocab == ENGLISH_VOCAB else 99
    return load_tokenizer(path, n_vocab, langs, table_dir=table_dir), Tokenizer(path, n_vocab, langs)


def _tokenizer_files(transcriber, shared) -> list[tuple[Path, int]]:
    return [
        (transcriber.tok.path, ENGLISH_VOCAB),
        (shared("whisper-assets", "gpt2.tiktoken"), ENGLISH_VOCAB),
        (shared("whisper-assets", "multilingual.tiktoken"), MULTILINGUAL_VOCAB),
    ]


def test_table_decodes_like_the_library(transcriber, shared, tmp_path) -> None:
    for path, n_vocab in _tokenizer_files(transcriber, shared):
        table, full = _pair(path, n_vocab, tmp_path)
        assert isinstance(table.codec, TableCodec), path
        rnd = random.Random(0)
        for _ in range(2000):  # random ids split multi-byte characters too (replacement characters)
            ids = [rnd.randrange(0, table.eot) for _ in range(rnd.randrange(1, 25))]
            assert table.decode(ids) == full.decode(ids), (path.name, ids)
            assert table.split_to_word_tokens(ids) == full.split_to_word_tokens(ids)
        text = " And so, my fellow Americans: ask not what your country can do for you. 日本語 ♪"
        assert table.decode(full.encode(text)) == text
        assert table.non_speech_tokens == full.non_speech_tokens
        assert table.encode(" ") == full.encode(" ")
        assert table.encode(text) == full.encode(text)  # the library, loaded on first use


def test_table_is_remade_for_a_changed_tokenizer(shared, tmp_path) -> None:
    src = tmp_path / "gpt2.tiktoken"
    shutil.copyfile(shared("whisper-assets", "gpt2.tiktoken"), src)
    first, _ = _pair(src, ENGLISH_VOCAB, tmp_path)
    assert first.decode([1212]) == "This"
    this, thxs = base64.b64encode(b"This").decode(), base64.b64encode(b"Thxs").decode()
    src.write_text(src.read_text(encoding="utf-8").replace(f"{this} 1212\n", f"{thxs} 1212\n"), encoding="utf-8")
    second, full = _pair(src, ENGLISH_VOCAB, tmp_path)
    assert second.decode([1212]) == "Thxs" == full.decode([1212])


def test_unwritable_table_dir_falls_back_to_the_library(transcriber, tmp_path) -> None:
    missing = tmp_path / "not-a-dir"
    missing.write_text("a file where the directory should be")
    tok = load_tokenizer(transcriber.tok.path, ENGLISH_VOCAB, 1, table_dir=missing)
    assert not isinstance(tok.codec, TableCodec)
    assert tok.decode(tok.encode(" ask not")) == " ask not"


def test_transcribing_loads_no_tokenizer_library_nor_onnx(transcriber, jfk_path, tmp_path) -> None:
    """What `edge-asr transcribe` of a FLAC imports: not onnx (export only), not tokenizers/tiktoken (the table
    decodes), not PyAV (libsndfile reads FLAC), not the evaluation stack."""
    code = (
        "import sys\n"
        "from edge_asr.cli.main import main\n"
        f"rc = main(['transcribe', {str(jfk_path)!r}, '-q', '-o', {str(tmp_path)!r}])\n"
        "heavy = {'onnx', 'tokenizers', 'tiktoken', 'av', 'jiwer', 'whisper_normalizer', 'fastapi', 'PySide6'}\n"
        "print(rc, sorted(heavy & set(sys.modules)))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split()[-2:] == ["0", "[]"], out.stdout
    assert "ask not what your country" in (tmp_path / "jfk.txt").read_text(encoding="utf-8")
