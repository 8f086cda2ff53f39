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

from .errors import ModelError

# Unicode's White_Space property: what ``\s`` means in the pre-tokenizer pattern of both libraries (Python's
# str.isspace() differs: it also counts U+001C..U+001F).
WHITE_SPACE = frozenset("\t\n\v\f\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009"
                        "\u200a\u2028\u2029\u202f\u205f\u3000")
CONTRACTIONS = ("'s", "'t", "'re", "'ve", "'m", "'ll", "'d")
_LETTER, _NUMBER, _SPACE, _OTHER = "L", "N", "S", "P"
PAIR_KEY = 1 << 20  # above any vocabulary size (Whisper's is 51,866): id(a) * PAIR_KEY + id(b) names a pair


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


def _merge(piece: bytes, rank: Callable[[bytes, bytes], int | None]) -> list[bytes]:
    """Merge adjacent parts, lowest rank first (leftmost on a tie), until no adjacent pair has a rank."""
    parts = [piece[i : i + 1] for i in range(len(piece))]
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


class BytePairEncoding:
    """Encode and decode Whisper's text tokens. ``merges`` None means tiktoken's rule (the ranks of the
    vocabulary); else it maps ``id(a) * PAIR_KEY + id(b)`` to the merge's priority (ints: a third of the memory
    of a dict keyed by pairs of bytes)."""

    def __init__(self, vocab: dict[bytes, int], merges: dict[int, int] | None, name: str) -> None:
        self.vocab = vocab
        self.merges = merges
        self.name = name
        self._bytes: dict[int, bytes] | None = None  # made on first decode (a token table usually decodes)
        self._cache: dict[str, list[int]] = {}

    def _rank(self, a: bytes, b: bytes) -> int | None:
        if self.merges is None:
            return self.vocab.get(a + b)
        return self.merges.get(self.vocab[a] * PAIR_KEY + self.vocab[b])

    def _encode_piece(self, piece: str) -> list[int]:
        raw = piece.encode("utf-8")
        if self.merges is None and raw in self.vocab:
            return [self.vocab[raw]]
        try:
            return [self.vocab[p] for p in _merge(raw, self._rank)]
        except KeyError as exc:
            raise ModelError(f"{self.name}: the tokenizer has no token for byte(s) {exc.args[0]!r}") from None

    def encode(self, text: str) -> list[int]:
        ids: list[int] = []
        for piece in pre_tokenize(text):
            got = self._cache.get(piece)
            if got is None:
                got = self._cache[piece] = self._encode_piece(piece)
            ids.extend(got)
        return ids

    def decode(self, ids: Sequence[int]) -> str:
        if self._bytes is None:
            self._bytes = {i: b for b, i in self.vocab.items()}
        table = self._bytes
        return b"".join(table.get(i, b"") for i in ids).decode("utf-8", errors="replace")


def _read_tiktoken(path: Path) -> dict[bytes, int]:
    vocab: dict[bytes, int] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            token, rank = line.split()
            vocab[base64.b64decode(token)] = int(rank)
    return vocab


def _read_tokenizer_json(path: Path) -> tuple[dict[bytes, int], dict[int, int]]:
    from .token_table import byte_decoder

    model = json.loads(path.read_text(encoding="utf-8"))["model"]
    if model.get("type", "BPE") != "BPE":
        raise ValueError(f"a {model.get('type')} model, not byte-level BPE")
    # GPT-2's byte alphabet -> latin-1 characters, so that one C-level translate + encode gives a token's bytes
    to_latin1 = {ord(c): b for c, b in byte_decoder().items()}
    names: dict[str, int] = model.pop("vocab")
    merges: dict[int, int] = {}
    for rank, m in enumerate(model.pop("merges")):
        a, b = m.split(" ") if isinstance(m, str) else m
        merges.setdefault(names[a] * PAIR_KEY + names[b], rank)
    vocab: dict[bytes, int] = {}
    while names:  # emptying the parsed table as the new one fills keeps the peak RSS near one table's worth
        t, i = names.popitem()
        vocab[t.translate(to_latin1).encode("latin-1")] = int(i)
    return vocab, merges


def load_bpe(path: Path) -> BytePairEncoding:
    """The BPE of a ``*.tiktoken`` rank file or a byte-level BPE ``tokenizer.json``."""
    path = Path(path)
    try:
        if path.suffix == ".tiktoken":
            return BytePairEncoding(_read_tiktoken(path), None, path.name)
        vocab, merges = _read_tokenizer_json(path)
        return BytePairEncoding(vocab, merges, path.name)
    except (OSError, UnicodeDecodeError, ValueError, KeyError, TypeError) as exc:
        kind = "tiktoken rank file" if path.suffix == ".tiktoken" else "tokenizer"
        raise ModelError(f"{path}: unreadable {kind} ({exc})") from None
