"""Accuracy on a manifest of clips with references: Whisper's English normalizer, then corpus WER (jiwer)."""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from .errors import ConfigError


@dataclass(frozen=True)
class Clip:
    path: Path
    language: str
    reference: str


def read_manifest(path: Path) -> list[Clip]:
    """Rows of a ``path, language, reference_text, ...`` TSV; paths are relative to the manifest."""
    try:
        with Path(path).open(newline="", encoding="utf-8") as f:
            rows = list(csv.DictReader(f, delimiter="\t"))
    except OSError as exc:
        raise ConfigError(f"cannot read manifest {path}: {exc.strerror}") from None
    if not rows or not {"path", "reference_text"} <= set(rows[0]):
        raise ConfigError(f"{path}: expected a TSV with columns path, language, reference_text")
    base = Path(path).parent
    return [Clip(base / r["path"], r.get("language") or "en", r["reference_text"]) for r in rows]


@lru_cache(maxsize=1)
def _english_normalizer() -> Callable[[str], str]:
    from whisper_normalizer.english import EnglishTextNormalizer

    return EnglishTextNormalizer()  # type: ignore[no-any-return]


@lru_cache(maxsize=1)
def _basic_normalizer() -> Callable[[str], str]:
    from whisper_normalizer.basic import BasicTextNormalizer

    return BasicTextNormalizer()  # type: ignore[no-any-return]


def normalize(text: str, language: str = "en") -> str:
    norm = _english_normalizer() if language == "en" else _basic_normalizer()
    return " ".join(norm(text).split())


def wer(references: Iterable[str], hypotheses: Iterable[str], language: str = "en") -> float:
    """Corpus word error rate in [0, inf) after normalisation; empty references are skipped."""
    import jiwer

    pairs = [(normalize(r, language), normalize(h, language)) for r, h in zip(references, hypotheses, strict=False)]
    pairs = [(r, h) for r, h in pairs if r]
    if not pairs:
        return 0.0
    refs, hyps = zip(*pairs, strict=False)
    return float(jiwer.wer(list(refs), [h if h else "<empty>" for h in hyps]))
