"""The hallucination guard's rules, one by one, on the texts Whisper produces on silence, noise and loops."""

from __future__ import annotations

import pytest

from edge_asr.live.guard import GuardConfig, HallucinationGuard, collapse_repeats, compression_ratio

SURE = {"avg_logprob": -0.2, "no_speech_prob": 0.05}


@pytest.fixture
def guard() -> HallucinationGuard:
    return HallucinationGuard()


def test_clean_speech_passes_unchanged(guard) -> None:
    v = guard.check(" Ask what you can do for your country.", **SURE, speech_seconds=2.2)
    assert v.ok and v.text == "Ask what you can do for your country." and v.reason is None


@pytest.mark.parametrize("text", [" [Music]", " (upbeat music)", " ♪ ♪", " *applause*", " ...", " -"])
def test_annotations_and_symbols_are_not_words(guard, text) -> None:
    assert not guard.check(text, **SURE, speech_seconds=3.0).ok


def test_annotations_are_stripped_from_speech(guard) -> None:
    assert guard.check(" [Music] Hello there. (laughs)", **SURE, speech_seconds=1.5).text == "Hello there."


@pytest.mark.parametrize("text, logprob, no_speech", [
    (" Thank you for watching.", -0.6, 0.1),
    (" Thank you.", -0.3, 0.4),
    (" Thanks for watching!", -0.7, 0.05),
    (" I hope you enjoyed the video, and I'll see you in the next one.", -0.5, 0.1),
    (" Please subscribe to my channel.", -0.45, 0.1),
])
def test_stock_phrases_of_an_unsure_decode_are_dropped(guard, text, logprob, no_speech) -> None:
    v = guard.check(text, avg_logprob=logprob, no_speech_prob=no_speech, speech_seconds=1.5)
    assert not v.ok and v.reason in ("stock phrase", "video outro")


def test_a_confident_thank_you_is_speech(guard) -> None:
    assert guard.check(" Thank you.", avg_logprob=-0.1, no_speech_prob=0.05, speech_seconds=0.8).ok


def test_whispers_own_no_speech_rule(guard) -> None:
    v = guard.check(" Okay.", avg_logprob=-1.1, no_speech_prob=0.8)
    assert not v.ok and v.reason == "no speech"


def test_finals_need_more_confidence_than_partials(guard) -> None:
    c = GuardConfig()
    middle = (c.reject_log_prob + c.partial_reject_log_prob) / 2
    assert guard.check(" Their hint of this", avg_logprob=middle, no_speech_prob=0.1).ok  # partial
    assert not guard.check(" Their hint of this", avg_logprob=middle, no_speech_prob=0.1, speech_seconds=2.0).ok


def test_too_little_speech_and_too_much_text(guard) -> None:
    assert guard.check(" Yes.", **SURE, speech_seconds=0.1).reason == "too little speech"
    long = " It was the first great sorrow of his life, it was not so much the loss of the cotton itself."
    assert guard.check(long, **SURE, speech_seconds=1.0).reason == "more text than speech"


@pytest.mark.parametrize("text, expected", [
    ("I am I am I am I am I am here.", "I am here."),
    ("the the the the the end", "the the the end"),  # collapse_repeats(text, 3): a word keeps three copies
    ("more words, words, words, words, words.", "more words, words, words."),
    ("And so my fellow Americans. And so my fellow Americans.", "And so my fellow Americans."),
    ("And so my fellow Americans. And so my fellow", "And so my fellow Americans."),
    ("the the end", "the the end"),  # people do say that
    ("what your country can do for you ask what you can do for your country",
     "what your country can do for you ask what you can do for your country"),
    ("It was the first great sorrow of his life. It was not so much the loss",
     "It was the first great sorrow of his life. It was not so much the loss"),
])
def test_loops_keep_one_copy(text, expected) -> None:
    assert collapse_repeats(text, 3)[0] == expected


def test_a_text_that_is_mostly_loop_is_dropped(guard) -> None:
    text = " " + "Oh my god. " * 30
    v = guard.check(text, avg_logprob=-0.3, no_speech_prob=0.1, compression=compression_ratio(text),
                    speech_seconds=10.0)
    assert not v.ok and v.reason == "repetition loop"
    assert guard.rejected["repetition loop"] == 1


def test_a_sentence_said_once_and_looped_keeps_its_copy(guard) -> None:
    """tiny.en on jfk.flac's first utterance at some window alignments (the figures of that decode)."""
    text = " And so my fellow Americans. And so my fellow Americans. And so my fellow Americans."
    v = guard.check(text, avg_logprob=-0.24, no_speech_prob=0.03, compression=compression_ratio(text),
                    speech_seconds=1.12, speech_span=1.79)
    assert v.ok and v.text == "And so my fellow Americans." and v.reason and "repetition" in v.reason


def test_a_loop_tail_is_cut_and_reported(guard) -> None:
    v = guard.check(" We went home after a long day at the office and then and then and then and then.", **SURE,
                    speech_seconds=4.0)
    assert v.ok and v.text == "We went home after a long day at the office and then."
    assert v.reason and "repetition" in v.reason


def test_a_partial_is_held_to_the_text_per_second_rule(guard) -> None:
    """"Printing Printing Printing ..." out of half a second of audio is a loop, not a preview."""
    v = guard.check(" Printing, Printing, Printing, Printing, Printing...", avg_logprob=-0.4, no_speech_prob=0.1,
                    speech_span=0.6)
    assert not v.ok and v.reason in ("more text than speech", "repetition loop")
    assert guard.check(" Printing, in the only", avg_logprob=-0.4, no_speech_prob=0.1, speech_span=1.5).ok


def test_quiet_slow_speech_is_judged_by_its_span(guard) -> None:
    """The VAD's windows above the threshold undercount soft speech: the text must fit the span, not the count."""
    text = " and that should be all, thanks."
    assert guard.check(text, **SURE, speech_seconds=0.6, speech_span=1.5).ok
    assert guard.check(text, **SURE, speech_seconds=0.6).reason == "more text than speech"
