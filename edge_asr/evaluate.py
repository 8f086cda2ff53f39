"""Accuracy on a manifest of clips with references: Whisper's English normalizer, then corpus WER (jiwer)."""

from __future__ import annotations

import csv
import time
from collections.abc import Callable, Iterable, Mapping
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


@dataclass(frozen=True)
class Score:
    """One system on one manifest."""

    manifest: str
    system: str
    clips: int
    wer: float  # corpus WER in [0, inf)
    seconds: float  # wall time of the whole manifest
    hypotheses: tuple[str, ...]


def evaluate(
    manifests: Mapping[Path, list[Clip]],
    systems: Mapping[str, Callable[[Clip], str]],
    per_clip: Callable[[str], None] | None = None,
) -> list[Score]:
    """Every system over every manifest, clip by clip (systems interleaved per clip, so load hits all alike)."""
    scores: list[Score] = []
    for manifest, clips in manifests.items():
        hyps: dict[str, list[str]] = {name: [] for name in systems}
        spent = dict.fromkeys(systems, 0.0)
        for clip in clips:
            for name, fn in systems.items():
                t = time.perf_counter()
                text = fn(clip)
                spent[name] += time.perf_counter() - t
                hyps[name].append(text)
                if per_clip is not None:
                    per_clip(f"{clip.path.name:40s} {name[:28]:28s} WER {100 * wer([clip.reference], [text]):6.2f} %"
                             f"  {text}")
        refs = [c.reference for c in clips]
        for name in systems:
            scores.append(Score(manifest.parent.name or str(manifest), name, len(clips), wer(refs, hyps[name]),
                                spent[name], tuple(hyps[name])))
    return scores


def print_table(scores: list[Score], out: Callable[[str], None] = print) -> None:
    """A Markdown table: one row per manifest and system."""
    out("")
    out(f"| {'set':16s} | {'system':56s} | {'clips':>5s} | {'WER %':>6s} | {'time s':>7s} |")
    out(f"|{'-' * 18}|{'-' * 58}|{'-' * 7}|{'-' * 8}|{'-' * 9}|")
    for s in scores:
        out(f"| {s.manifest[:16]:16s} | {s.system[:56]:56s} | {s.clips:5d} | {100 * s.wer:6.2f} | {s.seconds:7.1f} |")
