"""The hallucination guard: Whisper writes text for silence, noise and music ("Thank you for watching.") and loops
on speech it cannot follow. Every live hypothesis passes here before it is published.

It combines what the VAD measured (seconds of speech) with what the decoder reports (no-speech probability,
average log-probability, compression ratio) and looks at the text itself (non-speech annotations, repetition
loops, stock phrases, more characters than the speech could hold).
"""

from __future__ import annotations

import logging
import re
import zlib
from dataclasses import dataclass

from ..errors import ConfigError

log = logging.getLogger(__name__)

# Whisper's stock outputs on silence and noise (compared after lower-casing and dropping punctuation). They are
# rejected only when the decode itself is unsure; a confident "thank you" stays.
STOCK_PHRASES = frozenset({
    "you", "thank you", "thanks", "thank you very much", "thank you so much", "thanks for watching",
    "thank you for watching", "thank you for watching bye", "thanks for watching bye", "bye", "bye bye",
    "please subscribe", "subscribe", "like and subscribe", "see you next time", "see you in the next video",
    "subtitles by the amaraorg community", "i'm sorry", "so", "okay", "oh", "uh", "um", "hmm", "the end",
})
STOCK_MIN_LOGPROB = -0.5  # a stock phrase decoded below this average log-probability is rejected...
STOCK_MAX_NO_SPEECH = 0.2  # ...and so is one whose no-speech probability is above this
# Pieces of the video outros Whisper learnt from subtitles; dictation almost never says them.
OUTRO_MARKERS = ("for watching", "the video", "this video", "next video", "subscribe", "see you next time",
                 "see you in the next", "amaraorg")
OUTRO_MIN_LOGPROB = -0.3  # an outro decoded less surely than this is taken for a hallucination
ANNOTATION = re.compile(r"\[[^\]]*\]|\([^)]*\)|\*[^*]*\*|[♪♫♬🎵🎶]+")  # [Music], (applause), *laughs*, notes
WORD_CHARS = re.compile(r"\w")
MAX_NGRAM = 40  # longest word sequence the loop check looks for
ECHO_MIN_WORDS = 4  # a sequence this long is a loop as soon as it repeats back to back
ECHO_MIN_TAIL = 3  # words of a sentence restarting at the end before they are taken for an echo
SENTENCE_END = (".", "!", "?")
MIN_LOOP_CHARS = 12  # shorter texts are not judged by compression ratio (zlib overhead dominates)
# A decode that is mostly loop keeps its one copy when that copy is long enough to be what the speech said: Whisper
# reads a clean sentence and then repeats it ("And so my fellow Americans." three times, measured on jfk.flac at
# some window alignments, 27 characters for 1.9 s of speech). Slow speech is about 8 characters a second; a loop
# whose copy is far shorter than the speech ("Oh my god." for 10 s) stood in for the words and is dropped.
LOOP_KEEP_CHARS_PER_SECOND = 5.0


@dataclass(frozen=True)
class GuardConfig:
    no_speech_threshold: float = 0.6  # with log_prob_threshold: Whisper itself thinks there was no speech
    log_prob_threshold: float = -1.0
    # Finals decoded less confidently than this are dropped. Measured on ../shared: clean English read speech
    # decodes at -0.06..-0.37; tiny.en on non-English speech at -0.76..-1.4 (it "translates" or invents).
    reject_log_prob: float = -0.75
    partial_reject_log_prob: float = -1.5  # the first words of an utterance decode less surely; a partial is a preview
    compression_ratio_threshold: float = 2.4  # gzip ratio above which text is a loop
    max_repeats: int = 3  # a word sequence repeated more often than this in a row is a loop
    min_speech: float = 0.2  # s of VAD speech a final needs
    max_chars_per_second: float = 28.0  # of VAD speech; fast speech is about 20

    def __post_init__(self) -> None:
        if self.max_repeats < 1 or self.max_chars_per_second <= 0 or self.min_speech < 0:
            raise ConfigError("max_repeats and max_chars_per_second must be positive, min_speech not negative")


@dataclass(frozen=True)
class Verdict:
    text: str  # what may be published ("" when rejected)
    reason: str | None = None  # why the text was rejected or changed

    @property
    def ok(self) -> bool:
        return bool(self.text)


def compression_ratio(text: str) -> float:
    data = text.encode("utf-8")
    return len(data) / len(zlib.compress(data)) if data else 0.0


def _norm(word: str) -> str:
    return re.sub(r"[^\w']", "", word.lower())


def collapse_repeats(text: str, max_repeats: int) -> tuple[str, int]:
    """Remove decoder loops; returns the new text and how many words were removed.

    A word repeated more than ``max_repeats`` times in a row keeps ``max_repeats`` copies; a longer sequence
    repeated more than that keeps one ("the the" is speech, "I am I am I am I am" is a loop); a sequence of
    ECHO_MIN_WORDS or more keeps one copy as soon as it repeats, and so does a sentence that starts over at the
    very end ("And so my fellow Americans. And so my fellow").
    """
    words = text.split()
    keys = [_norm(w) for w in words]
    out: list[str] = []
    out_keys: list[str] = []
    removed = 0
    i = 0
    while i < len(words):
        loop: tuple[int, int] | None = None
        for n in range(1, min(MAX_NGRAM, (len(words) - i) // 2) + 1):
            gram = keys[i : i + n]
            reps = 1
            while keys[i + reps * n : i + (reps + 1) * n] == gram:
                reps += 1
            if reps > (1 if n >= ECHO_MIN_WORDS else max_repeats):
                loop = n, reps
                break
        if loop is None:
            out.append(words[i])
            out_keys.append(keys[i])
            i += 1
        else:
            n, reps = loop
            # A repeated single word keeps max_repeats copies: people say "no no no no", and a decode that heard
            # one "words" too many (en-wild's monologue) must not lose the other four. Longer sequences are loops.
            keep = max_repeats if n == 1 else 1
            out += [*words[i : i + keep * n - 1], words[i + reps * n - 1]]  # the last copy's punctuation ends it
            out_keys += keys[i : i + keep * n]
            removed += (reps - keep) * n
            i += reps * n
    echo = _trailing_echo(out, out_keys)
    if echo:
        out, removed = out[:-echo], removed + echo
    return " ".join(out), removed


def _trailing_echo(words: list[str], keys: list[str]) -> int:
    """How many words at the end restart an earlier sentence (0 if none)."""
    for k in range(len(keys) // 2, ECHO_MIN_TAIL - 1, -1):
        tail = keys[-k:]
        for j in range(len(keys) - 2 * k + 1):
            if keys[j : j + k] == tail and (j == 0 or words[j - 1][-1:] in SENTENCE_END):
                return k
    return 0


def strip_annotations(text: str) -> str:
    return " ".join(ANNOTATION.sub(" ", text).split())


class HallucinationGuard:
    def __init__(self, config: GuardConfig | None = None) -> None:
        self.config = config or GuardConfig()
        self.rejected: dict[str, int] = {}  # reason -> count, for the logs and the bench
        self._counting = True

    def _reject(self, reason: str, text: str) -> Verdict:
        if self._counting:
            self.rejected[reason] = self.rejected.get(reason, 0) + 1
        log.debug("guard: dropped %r (%s)", text, reason)
        return Verdict("", reason)

    def check(self, text: str, *, avg_logprob: float, no_speech_prob: float, compression: float | None = None,
              speech_seconds: float | None = None, speech_span: float | None = None, count: bool = True) -> Verdict:
        """Judge one hypothesis: a final when ``speech_seconds`` (what the VAD measured) is given, else a partial.
        ``count=False`` leaves ``rejected`` alone (a tentative look, such as an early final's).

        ``speech_span`` (s from the first to the last speech window) bounds how much text the audio can hold; the
        seconds of windows above the threshold undercount quiet, slow speech (measured: "and that should be all"
        said softly had 0.6 s of such windows in a 1.5-s span). A partial's span is its audio.
        """
        c = self.config
        self._counting = count
        final = speech_seconds is not None
        raw = text
        text = strip_annotations(text)
        if not WORD_CHARS.search(text):
            return self._reject("no words", raw)
        if speech_seconds is not None and speech_seconds < c.min_speech:
            return self._reject("too little speech", raw)
        if no_speech_prob > c.no_speech_threshold and avg_logprob < c.log_prob_threshold:
            return self._reject("no speech", raw)
        if avg_logprob < (c.reject_log_prob if final else c.partial_reject_log_prob):
            return self._reject("low confidence", raw)
        reason = None
        text, removed = collapse_repeats(text, c.max_repeats)
        if removed:
            reason = f"repetition loop ({removed} words removed)"
            span = speech_span if speech_span is not None else speech_seconds
            if removed >= len(text.split()) and (span is None or len(text) < LOOP_KEEP_CHARS_PER_SECOND * span):
                return self._reject("repetition loop", raw)
        ratio = compression_ratio(text) if compression is None or removed else compression
        if len(text) >= MIN_LOOP_CHARS and ratio > c.compression_ratio_threshold:
            return self._reject("compression ratio", raw)
        key = " ".join(_norm(w) for w in text.split()).replace(".", "")
        if key in STOCK_PHRASES and (avg_logprob < STOCK_MIN_LOGPROB or no_speech_prob > STOCK_MAX_NO_SPEECH):
            return self._reject("stock phrase", raw)
        if avg_logprob < OUTRO_MIN_LOGPROB and any(m in key for m in OUTRO_MARKERS):
            return self._reject("video outro", raw)
        span = speech_span if speech_span is not None else speech_seconds
        if span is not None and len(text) > c.max_chars_per_second * max(span, c.min_speech):
            return self._reject("more text than speech", raw)
        return Verdict(text, reason)
