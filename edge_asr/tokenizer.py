"""Whisper's tokenizer: text BPE from tokenizer.json or a *.tiktoken rank file (bpe.py, no tokenizer library), and
the special-token layout that follows from the vocabulary size."""

from __future__ import annotations

import string
from collections.abc import Sequence
from functools import cached_property
from pathlib import Path
from typing import Protocol

from .errors import ModelError

# Whisper's language codes in token order (the 100th, yue, only exists in 100-language models).
LANGUAGE_CODES: tuple[str, ...] = (
    "en",
    "zh",
    "de",
    "es",
    "ru",
    "ko",
    "fr",
    "ja",
    "pt",
    "tr",
    "pl",
    "ca",
    "nl",
    "ar",
    "sv",
    "it",
    "id",
    "hi",
    "fi",
    "vi",
    "he",
    "uk",
    "el",
    "ms",
    "cs",
    "ro",
    "da",
    "hu",
    "ta",
    "no",
    "th",
    "ur",
    "hr",
    "bg",
    "lt",
    "la",
    "mi",
    "ml",
    "cy",
    "sk",
    "te",
    "fa",
    "lv",
    "bn",
    "sr",
    "az",
    "sl",
    "kn",
    "et",
    "mk",
    "br",
    "eu",
    "is",
    "hy",
    "ne",
    "mn",
    "bs",
    "kk",
    "sq",
    "sw",
    "gl",
    "mr",
    "pa",
    "si",
    "km",
    "sn",
    "yo",
    "so",
    "af",
    "oc",
    "ka",
    "be",
    "tg",
    "sd",
    "gu",
    "am",
    "yi",
    "lo",
    "uz",
    "fo",
    "ht",
    "ps",
    "tk",
    "nn",
    "mt",
    "sa",
    "lb",
    "my",
    "bo",
    "tl",
    "mg",
    "as",
    "tt",
    "haw",
    "ln",
    "ha",
    "ba",
    "jw",
    "su",
    "yue",
)
TEXT_VOCAB = 50_257  # gpt2 BPE ranks incl. <|endoftext|> at 50256 for English-only models


class _TextCodec(Protocol):
    def encode(self, text: str) -> list[int]: ...
    def decode(self, ids: Sequence[int]) -> str: ...


def _full_codec(path: Path) -> _TextCodec:
    from .bpe import load_bpe

    return load_bpe(path)


class Tokenizer:
    def __init__(self, path: Path, n_vocab: int, num_languages: int, codec: _TextCodec | None = None) -> None:
        path = Path(path)
        self.path = path
        self.codec: _TextCodec = codec or _full_codec(path)
        self.n_vocab = n_vocab
        self.multilingual = n_vocab >= 51_865
        base = TEXT_VOCAB + int(self.multilingual)  # multilingual ranks hold one more text token
        self.eot = base - 1
        self.sot = base
        self.language_codes = tuple(LANGUAGE_CODES[:num_languages])
        self.language_tokens = tuple(range(self.sot + 1, self.sot + 1 + num_languages))
        nxt = self.sot + 1 + num_languages
        self.translate, self.transcribe, self.sot_lm, self.sot_prev, self.no_speech, self.no_timestamps = range(
            nxt, nxt + 6
        )
        self.timestamp_begin = nxt + 6
        if self.timestamp_begin >= n_vocab:
            raise ModelError(f"vocabulary of {n_vocab} leaves no room for timestamp tokens")

    def language_token(self, code: str) -> int:
        try:
            return self.language_tokens[self.language_codes.index(code)]
        except ValueError:
            raise ModelError(f"unknown language {code!r}; known: {', '.join(self.language_codes)}") from None

    def sot_sequence(self, language: str | None, task: str) -> list[int]:
        if not self.multilingual:
            return [self.sot]
        seq = [self.sot]
        if language is not None:
            seq.append(self.language_token(language))
        seq.append(self.translate if task == "translate" else self.transcribe)
        return seq

    def encode(self, text: str) -> list[int]:
        return self.codec.encode(text)

    def decode(self, ids: Sequence[int]) -> str:
        return self.codec.decode([i for i in ids if i < self.eot])

    @cached_property
    def non_speech_tokens(self) -> tuple[int, ...]:
        """Tokens of symbols Whisper never should emit as speech (its ``suppress_tokens=-1`` set)."""
        known = getattr(self.codec, "non_speech_tokens", None)  # a token table has them (token_table.py)
        if known is not None:
            return tuple(known)
        symbols = list('"#()*+/:;<=>@[\\]^_`{|}~「」『』')
        symbols += ["<<", ">>", "<<<", ">>>", "--", "---", "-(", "-[", "('", '("', "((", "))", "(((", ")))", "[[", "]]"]
        symbols += ["{{", "}}", "♪♪", "♪♪♪"]
        miscellaneous = set("♩♪♫♬♭♮♯")
        result = {self.encode(" -")[0], self.encode(" '")[0]}
        for symbol in symbols + sorted(miscellaneous):
            for tokens in (self.encode(symbol), self.encode(" " + symbol)):
                if len(tokens) == 1 or symbol in miscellaneous:
                    result.add(tokens[0])
        return tuple(sorted(result))

    def suppress_tokens(self, requested: Sequence[int]) -> list[int]:
        out = {t for t in requested if t >= 0}
        if -1 in requested:
            out.update(self.non_speech_tokens)
        out.update((self.transcribe, self.translate, self.sot, self.sot_prev, self.sot_lm, self.no_speech))
        return sorted(out)

    def split_to_word_tokens(self, tokens: list[int], no_space: bool = False) -> tuple[list[str], list[list[int]]]:
        """Group tokens into words: by spaces for space-delimited scripts, by Unicode boundaries otherwise."""
        words, word_tokens = self._split_unicode(tokens)
        if no_space:
            return words, word_tokens
        out_w: list[str] = []
        out_t: list[list[int]] = []
        for w, t in zip(words, word_tokens, strict=False):
            special = t[0] >= self.eot
            with_space = w.startswith(" ")
            punct = w.strip() in string.punctuation
            if special or with_space or punct or not out_w:
                out_w.append(w)
                out_t.append(list(t))
            else:
                out_w[-1] += w
                out_t[-1].extend(t)
        return out_w, out_t

    def render(self, tokens: Sequence[int]) -> str:
        """Text with special tokens shown as <|...|> markers (timestamps as <|1.24|>)."""
        out: list[str] = []
        run: list[int] = []
        for t in tokens:
            if t < self.eot:
                run.append(t)
                continue
            if run:
                out.append(self.codec.decode(run))
                run = []
            out.append(f"<|{(t - self.timestamp_begin) * 0.02:.2f}|>" if t >= self.timestamp_begin else f"<|{t}|>")
        if run:
            out.append(self.codec.decode(run))
        return "".join(out)

    def _split_unicode(self, tokens: list[int]) -> tuple[list[str], list[list[int]]]:
        # A token may end inside a multi-byte character: extend the word until it decodes cleanly.
        replacement = "\ufffd"
        decoded_full = self.render(tokens)
        words: list[str] = []
        word_tokens: list[list[int]] = []
        current: list[int] = []
        offset = 0
        for token in tokens:
            current.append(token)
            decoded = self.render(current)
            pos = decoded.find(replacement)
            if pos < 0 or (offset + pos < len(decoded_full) and decoded_full[offset + pos] == replacement):
                words.append(decoded)
                word_tokens.append(current)
                current = []
                offset += len(decoded)
        return words, word_tokens


def load_tokenizer(path: Path, n_vocab: int, num_languages: int, table_dir: Path | None = None) -> Tokenizer:
    """The tokenizer of a model. With ``table_dir`` (a directory edge-asr owns, such as the model's cache
    directory), decoding uses a compact token table kept there (token_table.py) and the tokenizer file itself is
    read only when text has to be encoded."""
    if not Path(path).is_file():
        raise ModelError(f"tokenizer file {path} not found")
    path = Path(path)
    if table_dir is None:
        return Tokenizer(path, n_vocab, num_languages)
    from .token_table import table_codec

    n_text = TEXT_VOCAB - 1 + int(n_vocab >= 51_865)  # ids below <|endoftext|>
    table = table_codec(path, Path(table_dir), n_text, lambda: _full_codec(path),
                        lambda full: Tokenizer(path, n_vocab, num_languages, full).non_speech_tokens)
    return Tokenizer(path, n_vocab, num_languages, table)
