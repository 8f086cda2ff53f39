"""Whisper's byte-level BPE in pure Python, for both tokenizer formats a Whisper model comes with: a
``tokenizer.json`` (CTranslate2 / Hugging Face) and a ``*.tiktoken`` rank file (OpenAI ``.pt`` checkpoints).

Transcription only decodes (a table lookup, token_table.py); encoding is needed for ``--initial-prompt``,
``--hotwords`` and, once per tokenizer file, the suppressed-symbol list. That is a few hundred characters, so a
Python loop is fast enough, and the core install needs neither ``tokenizers`` (which pulls the Hugging Face hub
client) nor ``tiktoken`` (which pulls ``regex`` and ``requests``). tests/test_bpe.py checks it id for id
against both libraries on real multilingual text.

The two formats merge differently, and each is followed exactly: tiktoken merges the adjacent pair whose
concatenation has the lowest rank (and takes a whole pre-token that is itself a token), HF BPE the pair listed
first in ``merges``. Text is always plain text: ``<|endoftext|>`` written in a prompt is encoded as characters, not
as the special token.
"""

from __future__ import annotations

import base64
import json
import unicodedata
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TypeVar

from .errors import ModelError

# Unicode's White_Space property: what ``\s`` means in the pre-tokenizer pattern of both libraries (Python's
# str.isspace() differs: it also counts U+001C..U+001F).
WHITE_SPACE = frozenset("\t\n\v\f\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009"
                        "\u200a\u2028\u2029\u202f\u205f\u3000")
CONTRACTIONS = ("'s", "'t", "'re", "'ve", "'m", "'ll", "'d")
_LETTER, _NUMBER, _SPACE, _OTHER = "L", "N", "S", "P"
_Sym = TypeVar("_Sym", str, bytes)  # a part being merged: bytes (rank files) or alphabet characters (tokenizer.json)


def _kind(c: str) -> str:
    if c in WHITE_SPACE:
        return _SPACE
    cat = unicodedata.category(c)[0]
    return cat if cat in (_LETTER, _NUMBER) else _OTHER


def pre_tokenize(text: str) -> list[str]:
    """GPT-2's split, ``'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+``,
    as a scanner (the standard library's ``re`` has no ``\\p{L}``)."""
    kinds = [_kind(c) for c in text]
    out: list[str] = []
    i, n = 0, len(text)
    while i < n:
        if text[i] == "'":
            hit = next((c for c in CONTRACTIONS if text.startswith(c, i)), None)
            if hit is not None:
                out.append(hit)
                i += len(hit)
                continue
        start = i
        if text[i] == " " and i + 1 < n and kinds[i + 1] != _SPACE:
            i += 1  # the optional leading space of a word, number or punctuation run
        kind = kinds[i]
        j = i + 1
        while j < n and kinds[j] == kind:
            j += 1
        if kind == _SPACE and j < n and j - i > 1:
            j -= 1  # \s+(?!\S): leave the last space to lead the next word
        out.append(text[start:j])
        i = j
    return out


def _merge(parts: list[_Sym], rank: Callable[[_Sym, _Sym], int | None]) -> list[_Sym]:
    """Merge adjacent parts, lowest rank first (leftmost on a tie), until no adjacent pair has a rank."""
    while len(parts) > 1:
        best, best_rank = -1, None
        for k in range(len(parts) - 1):
            r = rank(parts[k], parts[k + 1])
            if r is not None and (best_rank is None or r < best_rank):
                best, best_rank = k, r
        if best < 0:
            break
        parts[best : best + 2] = [parts[best] + parts[best + 1]]
    return parts


def byte_decoder() -> dict[str, int]:
    """GPT-2's byte-level alphabet: printable bytes stand for themselves, the rest for code points from 256 up."""
    printable = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)]
    chars = list(printable)
    extra = 0
    for b in range(256):
        if b not in printable:
            printable.append(b)
            chars.append(256 + extra)
            extra += 1
    return {chr(c): b for b, c in zip(printable, chars, strict=True)}


class _Encoder:
    """Pre-tokenize, then encode each piece once (a cache: prompts repeat words)."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._cache: dict[str, list[int]] = {}

    def _encode_piece(self, piece: str) -> list[int]:
        raise NotImplementedError

    def encode(self, text: str) -> list[int]:
        ids: list[int] = []
        for piece in pre_tokenize(text):
            got = self._cache.get(piece)
            if got is None:
                try:
                    got = self._cache[piece] = self._encode_piece(piece)
                except KeyError as exc:
                    raise ModelError(f"{self.name}: the tokenizer has no token for {exc.args[0]!r}") from None
            ids.extend(got)
        return ids


class TiktokenBpe(_Encoder):
    """A ``*.tiktoken`` rank file: merge the pair whose bytes have the lowest rank; a piece that is a token is one."""

    def __init__(self, ranks: dict[bytes, int], name: str) -> None:
        super().__init__(name)
        self.ranks = ranks
        self._bytes: dict[int, bytes] | None = None  # made on first decode (a token table usually decodes)

    def _encode_piece(self, piece: str) -> list[int]:
        raw = piece.encode("utf-8")
        if raw in self.ranks:
            return [self.ranks[raw]]
        parts = _merge([raw[i : i + 1] for i in range(len(raw))], lambda a, b: self.ranks.get(a + b))
        return [self.ranks[p] for p in parts]

    def decode(self, ids: Sequence[int]) -> str:
        if self._bytes is None:
            self._bytes = {i: b for b, i in self.ranks.items()}
        table = self._bytes
        return b"".join(table.get(i, b"") for i in ids).decode("utf-8", errors="replace")


class ByteLevelBpe(_Encoder):
    """A tokenizer.json: tokens spelled in GPT-2's byte alphabet, merged in the order of its ``merges`` list. The
    parsed JSON is used as it is (merges keyed by their own ``"a b"`` strings): converting 50,000 entries on load
    would cost more time and memory than HF tokenizers does."""

    def __init__(self, vocab: dict[str, int], merges: dict[str, int], name: str) -> None:
        super().__init__(name)
        self.vocab = vocab
        self.merges = merges
        self._names: dict[int, str] | None = None

    def _encode_piece(self, piece: str) -> list[int]:
        spelled = piece.encode("utf-8").decode("latin-1").translate(_TO_ALPHABET)
        parts = _merge(list(spelled), lambda a, b: self.merges.get(a + " " + b))
        return [self.vocab[p] for p in parts]

    def decode(self, ids: Sequence[int]) -> str:
        if self._names is None:
            self._names = {i: t for t, i in self.vocab.items()}
        names = self._names
        spelled = "".join(names.get(i, "") for i in ids)
        return spelled.translate(_FROM_ALPHABET).encode("latin-1").decode("utf-8", errors="replace")


BytePairEncoding = TiktokenBpe | ByteLevelBpe


def _alphabets() -> tuple[dict[int, str], dict[int, str]]:
    to_byte = byte_decoder()  # GPT-2's alphabet character -> the byte it spells
    return {b: c for c, b in to_byte.items()}, {ord(c): chr(b) for c, b in to_byte.items()}


_TO_ALPHABET, _FROM_ALPHABET = _alphabets()  # str.translate tables: latin-1 character <-> alphabet character


def _read_tiktoken(path: Path) -> dict[bytes, int]:
    ranks: dict[bytes, int] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            token, rank = line.split()
            ranks[base64.b64decode(token)] = int(rank)
    return ranks


def _read_tokenizer_json(path: Path) -> ByteLevelBpe:
    model = json.loads(path.read_text(encoding="utf-8"))["model"]
    if model.get("type", "BPE") != "BPE":
        raise ValueError(f"a {model.get('type')} model, not byte-level BPE")
    listed = model["merges"]
    if listed and not isinstance(listed[0], str):  # newer files list each merge as [a, b]
        listed = [" ".join(m) for m in listed]
    merges = {m: rank for rank, m in enumerate(listed)}
    if len(merges) < len(listed):  # a repeated merge keeps its first (highest-priority) rank
        merges = {}
        for rank, m in enumerate(listed):
            merges.setdefault(m, rank)
    vocab = model["vocab"]
    if not all(isinstance(i, int) for i in vocab.values()):
        raise ValueError("token ids that are not integers")
    return ByteLevelBpe(vocab, merges, path.name)


def load_bpe(path: Path) -> BytePairEncoding:
    """The BPE of a ``*.tiktoken`` rank file or a byte-level BPE ``tokenizer.json``."""
    path = Path(path)
    try:
        if path.suffix == ".tiktoken":
            return TiktokenBpe(_read_tiktoken(path), path.name)
        return _read_tokenizer_json(path)
    except (OSError, UnicodeDecodeError, ValueError, KeyError, TypeError) as exc:
        kind = "tiktoken rank file" if path.suffix == ".tiktoken" else "tokenizer"
        raise ModelError(f"{path}: unreadable {kind} ({exc})") from None
