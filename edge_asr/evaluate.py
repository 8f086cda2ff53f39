"""Accuracy on a manifest of clips with references: Whisper's English normalizer, then corpus WER (jiwer)."""

from __future__ import annotations

import csv
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from .distribution import eval_module
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


SCORING_MODULES = ("jiwer", "whisper_normalizer.english")  # the [eval] extra


def require_scoring(who: str) -> None:
    """A MissingExtraError naming ``pip install '...[eval]'`` now, before anything is transcribed, when the
    evaluation stack is not installed."""
    for module in SCORING_MODULES:
        eval_module(module, who)


@lru_cache(maxsize=1)
def _english_normalizer() -> Callable[[str], str]:
    EnglishTextNormalizer = eval_module("whisper_normalizer.english").EnglishTextNormalizer

    return EnglishTextNormalizer()  # type: ignore[no-any-return]


@lru_cache(maxsize=1)
def _basic_normalizer() -> Callable[[str], str]:
    BasicTextNormalizer = eval_module("whisper_normalizer.basic").BasicTextNormalizer

    return BasicTextNormalizer()  # type: ignore[no-any-return]


def normalize(text: str, language: str = "en") -> str:
    norm = _english_normalizer() if language == "en" else _basic_normalizer()
    return " ".join(norm(text).split())


def wer(references: Iterable[str], hypotheses: Iterable[str], language: str = "en") -> float:
    """Corpus word error rate in [0, inf) after normalisation; empty references are skipped."""
    jiwer = eval_module("jiwer")

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


# ---- non-English scoring: character/mixed error rates and language groups --------------------------------------
# Chinese, Japanese and Korean are scored by character error rate (CER; no word boundaries, or ones that vary
# between transcribers), a code-switch clip such as "zh+en" by mixed error rate (MER: each CJK character and each
# other word is one token), every other language by WER. Text is normalised first by Whisper's basic
# (multilingual) normalizer, and Chinese additionally to simplified characters with OpenCC, so that a transcript
# in traditional characters is not counted wrong for its script.
CJK_LANGUAGES = frozenset({"zh", "ja", "ko", "yue"})
_CJK_RANGES = (
    (0x1100, 0x11FF),  # Hangul Jamo
    (0x2E80, 0x9FFF),  # CJK radicals, kana, CJK unified ideographs
    (0xAC00, 0xD7AF),  # Hangul syllables
    (0xF900, 0xFAFF),  # CJK compatibility ideographs
    (0xFF66, 0xFF9F),  # half-width katakana
    (0x20000, 0x2FA1F),  # CJK extensions
)


def _is_cjk(ch: str) -> bool:
    o = ord(ch)
    return any(lo <= o <= hi for lo, hi in _CJK_RANGES)


def _languages(language: str) -> list[str]:
    return [p.strip().lower() for p in language.split("+") if p.strip()]


def metric_for(language: str) -> str:
    """"cer" (zh, ja, ko), "mer" (a code-switch tag with a CJK language, e.g. "zh+en") or "wer"."""
    parts = _languages(language)
    if any(p in CJK_LANGUAGES for p in parts):
        return "cer" if len(parts) == 1 else "mer"
    return "wer"


def language_group(language: str) -> str:
    """The row a clip is reported under: English, each CJK language, code-switch, or other languages."""
    parts = _languages(language)
    if len(parts) > 1:
        return "code-switch (MER)"
    if parts and parts[0] in CJK_LANGUAGES:
        return f"{parts[0]} (CER)"
    if parts == ["en"]:
        return "en (WER)"
    return "other languages (WER)"


@lru_cache(maxsize=1)
def _to_simplified() -> Callable[[str], str]:
    try:
        import opencc
    except ImportError:
        raise ConfigError(
            "scoring Chinese needs OpenCC (traditional -> simplified characters): pip install opencc "
            "(part of pip install 'edge-asr[bench]')"
        ) from None
    return opencc.OpenCC("t2s").convert  # type: ignore[no-any-return]


def normalize_multilingual(text: str, language: str) -> str:
    """Whisper's basic normalizer (lower case, symbols and punctuation removed, NFKC), Chinese simplified."""
    if language == "en":
        return normalize(text, "en")
    out = _basic_normalizer()(text)
    if "zh" in _languages(language) or "yue" in _languages(language):
        out = _to_simplified()(out)
    return " ".join(out.split())


def score_tokens(text: str, language: str) -> list[str]:
    """The units an error rate counts for ``language``: characters (CER), CJK characters and other words (MER),
    or words (WER), after normalisation."""
    norm = normalize_multilingual(text, language)
    metric = metric_for(language)
    if metric == "wer":
        return norm.split()
    if metric == "cer":
        return [c for c in norm if not c.isspace()]
    tokens: list[str] = []
    for word in norm.split():
        run = ""
        for c in word:
            if _is_cjk(c):
                if run:
                    tokens.append(run)
                    run = ""
                tokens.append(c)
            else:
                run += c
        if run:
            tokens.append(run)
    return tokens


def error_counts(reference: str, hypothesis: str, language: str) -> tuple[int, int]:
    """(edit distance, reference length) in the units of ``metric_for(language)``."""
    jiwer = eval_module("jiwer")

    ref, hyp = score_tokens(reference, language), score_tokens(hypothesis, language)
    if not ref:
        return len(hyp), 0
    if not hyp:
        return len(ref), len(ref)
    out = jiwer.process_words(" ".join(ref), " ".join(hyp))
    return out.substitutions + out.deletions + out.insertions, len(ref)


def error_rate(references: Iterable[str], hypotheses: Iterable[str], languages: Iterable[str]) -> float:
    """Corpus error rate (edits / reference units) with each clip scored in its language's units."""
    edits = units = 0
    for r, h, lang in zip(references, hypotheses, languages, strict=True):
        e, n = error_counts(r, h, lang)
        edits, units = edits + e, units + n
    return edits / units if units else 0.0


@dataclass(frozen=True)
class GroupScore:
    group: str
    metric: str
    clips: int
    edits: int
    units: int

    @property
    def rate(self) -> float:
        return self.edits / self.units if self.units else 0.0


def group_scores(clips: Iterable[Clip], hypotheses: Iterable[str]) -> list[GroupScore]:
    """Error rates per language group (corpus-level within a group), in order of first appearance."""
    acc: dict[str, list[int]] = {}
    metric: dict[str, str] = {}
    for clip, hyp in zip(clips, hypotheses, strict=True):
        g = language_group(clip.language)
        e, n = error_counts(clip.reference, hyp, clip.language)
        a = acc.setdefault(g, [0, 0, 0])
        a[0], a[1], a[2] = a[0] + 1, a[1] + e, a[2] + n
        metric[g] = metric_for(clip.language)
    return [GroupScore(g, metric[g], c, e, n) for g, (c, e, n) in acc.items()]


# The most frequent English function words: a translation into English contains some of them, a transcript in
# German, Spanish, French, Italian or Portuguese (or in a non-Latin script) next to none.
_ENGLISH_FUNCTION_WORDS = (
    "the of and to in is was that it for on with as by at this be are were from his her he she they we you "
    "i not but or have has had which an will would their its there what been one all can also who more"
)
_ENGLISH_WORDS = frozenset(_ENGLISH_FUNCTION_WORDS.split())
ENGLISH_MIN_LATIN = 0.9  # share of letters that must be ASCII
ENGLISH_MIN_FUNCTION_WORDS = 0.15  # share of words that must be frequent English function words


def looks_english(text: str) -> bool:
    """True when ``text`` reads as English: mostly ASCII letters and a normal share of English function words
    (a check that ``--task translate`` produced English; no reference translation is needed)."""
    letters = [c for c in text if c.isalpha()]
    if not letters or sum(c.isascii() for c in letters) / len(letters) < ENGLISH_MIN_LATIN:
        return False
    words = normalize(text, "en").split()
    hits = sum(w in _ENGLISH_WORDS for w in words)
    return bool(words) and hits >= 1 and hits / len(words) >= ENGLISH_MIN_FUNCTION_WORDS


def print_group_table(
    manifests: Mapping[Path, list[Clip]], scores: list[Score], out: Callable[[str], None] = print
) -> None:
    """Per language group (CER for zh/ja/ko, MER for code-switch, WER otherwise) and system, over all manifests:
    the figures to read when clips are not English (the WER table above counts a CJK sentence as one word)."""
    systems = list(dict.fromkeys(s.system for s in scores))
    by_system: dict[str, tuple[list[Clip], list[str]]] = {name: ([], []) for name in systems}
    for s in scores:
        clips = next(c for m, c in manifests.items() if (m.parent.name or str(m)) == s.manifest)
        by_system[s.system][0].extend(clips)
        by_system[s.system][1].extend(s.hypotheses)
    table = {name: group_scores(*by_system[name]) for name in systems}
    first = table[systems[0]]
    out("")
    out(f"| {'language group':22s} | {'clips':>5s} | " + " | ".join(f"{n[:40]:>40s}" for n in systems) + " |")
    out(f"|{'-' * 24}|{'-' * 7}|" + "|".join("-" * 42 for _ in systems) + "|")
    for i, g in enumerate(first):
        cells = " | ".join(f"{100 * table[n][i].rate:39.2f} %" for n in systems)
        out(f"| {g.group[:22]:22s} | {g.clips:5d} | {cells} |")
