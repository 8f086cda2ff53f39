"""A compact decode table for Whisper's text tokens, so that transcribing reads no whole tokenizer file.

Transcription only turns token ids into text: the prompt is made of tokens the model produced, and the suppressed
symbols are a fixed list. Reading the whole tokenizer file for that (bpe.py) costs time and RSS at
start-up; this table is the bytes of each token (about 0.4 MB) with their offsets, plus the non-speech token ids,
derived once from the model's tokenizer file and kept beside it. The full BPE is still loaded, on first use, for
what needs encoding (``--initial-prompt``, ``--hotwords``).

File layout: MAGIC, a uint32 header length, a JSON header (source checksum, token count, non-speech ids),
uint32 offsets (count + 1), then the token bytes.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import struct
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Protocol

from .bpe import byte_decoder

log = logging.getLogger(__name__)

MAGIC = b"edge-asr token table 1\n"
SUFFIX = ".table"
_U32 = struct.Struct("<I")
# Texts encoded on every transcription (blank suppression encodes " "), kept in the table with their ids.
KNOWN_TEXTS = (" ",)
TABLE_MODE = 0o644  # like the model files beside it (mkstemp makes 0600)


class FullCodec(Protocol):
    def encode(self, text: str) -> list[int]: ...
    def decode(self, ids: Sequence[int]) -> str: ...


def token_bytes(path: Path, n_text: int) -> list[bytes]:
    """The bytes of text tokens 0..n_text-1 of a tokenizer.json (byte-level BPE) or a *.tiktoken rank file."""
    out: list[bytes] = [b""] * n_text
    if path.suffix == ".tiktoken":
        import base64

        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                token, rank = line.split()
                if int(rank) < n_text:
                    out[int(rank)] = base64.b64decode(token)
        return out
    vocab = json.loads(path.read_text(encoding="utf-8"))["model"]["vocab"]
    decoder = byte_decoder()
    for token, i in vocab.items():
        if i < n_text:
            out[i] = bytes(decoder[c] for c in token)
    return out


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def write_table(path: Path, target: Path, n_text: int, non_speech: Sequence[int], full: FullCodec) -> None:
    tokens = token_bytes(path, n_text)
    known = {text: full.encode(text) for text in KNOWN_TEXTS}
    header = json.dumps({"source_sha256": _sha256(path), "count": n_text, "non_speech": list(non_speech),
                         "known": known}).encode()
    offsets = [0]
    for t in tokens:
        offsets.append(offsets[-1] + len(t))
    fd, tmp = tempfile.mkstemp(prefix=".table-", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(MAGIC + _U32.pack(len(header)) + header)
            f.write(struct.pack(f"<{len(offsets)}I", *offsets))
            f.write(b"".join(tokens))
        os.chmod(tmp, TABLE_MODE)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


class TableCodec:
    """Decodes from the table; encodes with the full codec, made on first use."""

    def __init__(self, target: Path, source: Path, full: Callable[[], FullCodec]) -> None:
        raw = target.read_bytes()
        if not raw.startswith(MAGIC):
            raise ValueError(f"{target} is not a token table")
        at = len(MAGIC)
        (n,) = _U32.unpack_from(raw, at)
        header = json.loads(raw[at + 4 : at + 4 + n])
        if header["source_sha256"] != _sha256(source):
            raise ValueError(f"{target} was made from another tokenizer")
        count = int(header["count"])
        at += 4 + n
        self._offsets = memoryview(raw[at : at + 4 * (count + 1)]).cast("I")
        self._data = raw[at + 4 * (count + 1) :]
        self.count = count
        self.non_speech_tokens: tuple[int, ...] = tuple(header["non_speech"])
        self._known: dict[str, list[int]] = header["known"]
        self._full_factory = full
        self._full: FullCodec | None = None

    def decode(self, ids: Sequence[int]) -> str:
        o, d = self._offsets, self._data
        return b"".join(d[o[i] : o[i + 1]] for i in ids if 0 <= i < self.count).decode("utf-8", errors="replace")

    def encode(self, text: str) -> list[int]:
        if text in self._known:
            return list(self._known[text])
        if self._full is None:
            self._full = self._full_factory()
        return self._full.encode(text)


def table_codec(source: Path, directory: Path, n_text: int, full: Callable[[], FullCodec],
                non_speech: Callable[[FullCodec], Sequence[int]]) -> TableCodec | None:
    """The table of ``source`` in ``directory`` (written now from the full codec if missing or stale); None when
    it can be neither read nor written (a read-only model directory): the caller then uses the full codec."""
    target = directory / (source.name + SUFFIX)
    try:
        return TableCodec(target, source, full)
    except (OSError, ValueError, KeyError, struct.error):
        pass
    try:
        codec = full()
        write_table(source, target, n_text, non_speech(codec), codec)
        return TableCodec(target, source, lambda: codec)
    except (OSError, ValueError, KeyError, struct.error) as exc:
        log.debug("no token table for %s (%s)", source, exc)
        return None
