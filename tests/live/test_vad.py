"""The energy gate, Silero VAD and the segmenter on real speech and on what is not speech."""

from __future__ import annotations

import itertools
import time

import numpy as np
import pytest

from edge_asr.errors import ConfigError
from edge_asr.live.vad import VAD_WINDOW, WINDOW_DURATION, End, Lull, Onset, Pause, Resume, Segmenter, SegmenterConfig

from .signals import pink, tones, white

RATE = 16_000


def segment(x: np.ndarray, config: SegmenterConfig | None = None, block: int = 1600) -> tuple[list, Segmenter]:
    seg = Segmenter(config)
    events = []
    for i in range(0, len(x), block):  # blocks that do not line up with VAD windows, as a device delivers them
        events += seg.feed(x[i : i + block])
    events += seg.flush()
    return events, seg


def utterances(events: list) -> list:
    return [e.utterance for e in events if isinstance(e, End)]


def test_jfk_pauses_split_into_utterances_with_pre_and_post_roll(jfk_path, clip_audio) -> None:
    x = clip_audio(str(jfk_path))
    events, _ = segment(x)
    utts = utterances(events)
    # "And so my fellow Americans, | ask not | what your country can do for you, | ask what you can do ..."
    assert 3 <= len(utts) <= 5, [(u.speech_start, u.speech_end) for u in utts]
    assert sum(isinstance(e, Onset) for e in events) == len(utts)
    cfg = SegmenterConfig()
    prev_end = 0.0
    for u in utts:
        assert u.start >= prev_end - 1e-9  # utterances never overlap
        # the full pre-roll, unless the stream start or the previous utterance's post-roll is closer
        assert u.speech_start - u.start == pytest.approx(min(cfg.pre_roll, u.speech_start - prev_end), abs=0.035)
        # the post-roll follows the last window above the release level; in a soft ending ("ask not", raised by
        # the VAD's gain) windows between release and threshold may trail the last speech window a little
        soft = u.speech_seconds < 1.0
        assert u.end - u.speech_end <= cfg.post_roll + (0.4 if soft else 0.07), (u.speech_end, u.end)
        assert len(u.audio) == pytest.approx((u.end - u.start) * RATE, abs=1)
        np.testing.assert_array_equal(u.audio, x[round(u.start * RATE) : round(u.start * RATE) + len(u.audio)])
        prev_end = u.end
    speech = sum(u.speech_seconds for u in utts)
    assert 6.0 < speech < 10.5  # the clip has about 8 s of speech in 11 s


def test_a_pause_precedes_every_silence_end(jfk_path, clip_audio) -> None:
    events, _ = segment(clip_audio(str(jfk_path)))
    for i, e in enumerate(events):
        if isinstance(e, End) and e.utterance.reason == "silence":
            pauses = [p for p in events[:i] if isinstance(p, Pause)]
            assert pauses and pauses[-1].end == pytest.approx(e.utterance.end)


def test_a_lull_comes_before_each_pause_and_holds_a_prefix_of_its_audio(jfk_path, clip_audio) -> None:
    cfg = SegmenterConfig()
    events, _ = segment(clip_audio(str(jfk_path)))
    gap = round((cfg.post_roll - cfg.lull) / WINDOW_DURATION) * WINDOW_DURATION  # window-aligned
    lulls = [e for e in events if isinstance(e, Lull)]
    assert len(lulls) > sum(isinstance(e, Pause) for e in events) > 0  # some lulls are gaps between words
    for i, e in enumerate(events):
        if isinstance(e, Pause):
            before = [x for x in events[:i] if isinstance(x, Lull | Resume | End | Onset)]
            lull = before[-1]  # the same silence run, with no speech between
            assert isinstance(lull, Lull) and lull.end == pytest.approx(e.end - gap)
            assert lull.utterance is not None and e.utterance is not None
            look, final = lull.utterance.audio, e.utterance.audio
            assert len(look) < len(final)
            np.testing.assert_array_equal(look, final[: len(look)])
        if isinstance(e, Lull):  # what follows a lull in the event stream: its pause, speech resuming, or the end
            nxt = next(x for x in events[i + 1 :] if isinstance(x, Pause | Resume | End | Lull))
            assert isinstance(nxt, Pause | Resume | End), nxt
    no_lull, _ = segment(clip_audio(str(jfk_path)), SegmenterConfig(lull=0.0))
    assert not any(isinstance(e, Lull) for e in no_lull)
    with pytest.raises(ConfigError, match="lull"):
        SegmenterConfig(lull=0.3)


@pytest.mark.parametrize("name, make", [
    ("digital silence", lambda: np.zeros(60 * RATE, np.float32)),
    ("quiet room", lambda: white(60, -70)),
    ("white noise", lambda: white(60, -20)),
    ("pink noise", lambda: pink(60, -15)),
    ("music-like tones", lambda: tones(60, -15)),
])
def test_no_utterance_in_a_minute_of_non_speech(name, make) -> None:
    events, _seg = segment(make())
    assert utterances(events) == [], name


def test_the_energy_gate_keeps_silence_away_from_the_model() -> None:
    _, seg = segment(white(30, -70))
    assert seg.model_calls == 0
    _, seg = segment(white(30, -20))
    assert seg.model_calls == -(-30 * RATE // VAD_WINDOW)  # every window, the padded last one too


def test_the_gate_makes_silence_cheap() -> None:
    x = white(60, -70)
    seg = Segmenter()
    started = time.process_time()
    for i in range(0, len(x), 512):
        seg.feed(x[i : i + 512])
    cpu = time.process_time() - started
    assert cpu < 0.6, f"{cpu:.2f} s of CPU for a minute of silence (1 % of a core)"


def test_long_speech_is_split_at_the_quietest_point_near_the_cap(en_dev, clip_audio) -> None:
    rows = [r for r in en_dev if r["path"].startswith("LJ001-00")][:4]
    x = np.concatenate([clip_audio(r["abspath"]) for r in rows])  # about 30 s; LJ clips have no long pauses
    cfg = SegmenterConfig(max_utterance=8.0, split_window=3.0, min_silence=2.0)  # no pause may end an utterance
    events, _ = segment(x, cfg)
    utts = utterances(events)
    assert len(utts) >= 3 and sum(u.reason == "split" for u in utts) >= 2
    for u in utts:
        assert u.end - u.start <= cfg.max_utterance + 0.04
    for a, b in itertools.pairwise(utts):
        assert b.start == pytest.approx(a.end)  # a split loses no audio
    windows = x[: len(x) // VAD_WINDOW * VAD_WINDOW].reshape(-1, VAD_WINDOW)
    level = 10 * np.log10((windows**2).mean(axis=1) + 1e-12)
    for u in utts[:-1]:
        if u.reason != "split":
            continue
        at = round(u.end * RATE / VAD_WINDOW)
        search = level[at - round(cfg.split_window * RATE / VAD_WINDOW) : at + 1]
        assert level[at] <= np.percentile(search, 25), "the split must fall in a quiet part of the last 3 s"


def test_short_clicks_do_not_open_an_utterance() -> None:
    x = white(10, -70)
    rng = np.random.default_rng(3)
    for t in rng.uniform(0.5, 9.5, 8):
        i = round(t * RATE)
        x[i : i + 160] += rng.standard_normal(160).astype(np.float32) * 0.5  # 10-ms clicks
    events, _ = segment(x)
    assert utterances(events) == []


def test_skip_advances_the_clock(jfk_path, clip_audio) -> None:
    x = clip_audio(str(jfk_path))
    seg = Segmenter()
    seg.feed(x[: 3 * RATE])
    seg.flush()
    seg.skip(100.0)
    events = seg.feed(x[5 * RATE :]) + seg.flush()
    utts = utterances(events)
    assert utts and all(u.start >= 103.0 for u in utts)


@pytest.mark.parametrize("kw", [{"threshold": 1.5}, {"min_silence": 0.1, "post_roll": 0.2}, {"max_utterance": 1.0},
                                {"neg_threshold": 0.9}])
def test_bad_settings_are_refused(kw) -> None:
    with pytest.raises(ConfigError):
        SegmenterConfig(**kw)


