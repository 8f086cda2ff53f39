"""The level the VAD hears (live/vad_gain.py): JFK's quiet "ask not" opens an utterance at every alignment of the
stream to the VAD's windows and at a lower microphone level, which it did not before; quiet noise still does not;
the decoder gets the audio as captured."""

from __future__ import annotations

import numpy as np
import pytest

from edge_asr.live.vad import VAD_WINDOW, End, Onset, Segmenter, SegmenterConfig
from edge_asr.live.vad_gain import VadGain

from .signals import pink, tones, white

RATE = 16_000  # Hz
LEAD = 0.5  # s of silence before the clip
ASK_NOT = (3.4, 4.3)  # s into jfk.flac: the two quiet words
PHASES = range(0, VAD_WINDOW, 64)  # samples of extra lead: where the 512-sample windows fall
QUIET = 0.6  # gain of a quieter microphone (-4.4 dB): the level the daemon on PulseAudio captured


def _covers_ask_not(x: np.ndarray, lead: float, config: SegmenterConfig) -> bool:
    seg = Segmenter(config)
    events = seg.feed(x) + seg.flush()
    lo, hi = lead + ASK_NOT[0], lead + ASK_NOT[1]
    return any(e.utterance.speech_start <= hi and e.utterance.speech_end >= lo for e in events if isinstance(e, End))


@pytest.mark.parametrize("gain", [1.0, QUIET])
def test_ask_not_opens_an_utterance_at_every_window_phase(jfk_path, clip_audio, gain) -> None:
    clip = clip_audio(str(jfk_path)) * np.float32(gain)
    tail = np.zeros(RATE, np.float32)
    covered = {True: 0, False: 0}
    for phase in PHASES:
        lead = LEAD + phase / RATE
        x = np.concatenate([np.zeros(round(lead * RATE), np.float32), clip, tail])
        for on in (True, False):
            covered[on] += _covers_ask_not(x, lead, SegmenterConfig(vad_peak_dbfs=-6.0 if on else None))
    assert covered[True] == len(PHASES), covered
    if gain == QUIET:  # what was lost before: most phases (measured 3 of 16 kept); the test can tell the two apart
        assert covered[False] < len(PHASES) // 2, covered


@pytest.mark.parametrize("name, make", [
    ("quiet white noise", lambda: white(60, -42)),
    ("quiet pink noise", lambda: pink(60, -40)),
    ("quiet music-like tones", lambda: tones(60, -38)),
])
def test_quiet_non_speech_raised_by_the_gain_still_opens_nothing(name, make) -> None:
    seg = Segmenter()
    events = seg.feed(make()) + seg.flush()
    assert not [e for e in events if isinstance(e, Onset)], name


def test_the_decoder_gets_the_audio_as_captured(jfk_path, clip_audio) -> None:
    x = clip_audio(str(jfk_path)) * np.float32(QUIET)
    seg = Segmenter()
    utts = [e.utterance for e in seg.feed(x) + seg.flush() if isinstance(e, End)]
    assert utts
    for u in utts:
        start = round(u.start * RATE)
        np.testing.assert_array_equal(u.audio, x[start : start + len(u.audio)])


def test_the_gain_follows_the_peak_and_is_bounded() -> None:
    gain = VadGain(peak_dbfs=-6.0, max_gain=18.0, decay=0.5)
    loud = np.full(VAD_WINDOW, 0.9, np.float32)
    out = gain.apply(loud, -1.0)
    assert gain.gain_db == 0.0 and out is loud  # loud input is passed as it is
    quiet = np.full(VAD_WINDOW, 1e-3, np.float32)
    for _ in range(100):  # 3.2 s of quiet: the remembered peak falls 1.6 dB, still above -6: no pumping
        out = gain.apply(quiet, -60.0)
    assert gain.gain_db == 0.0 and out is quiet
    for _ in range(250):  # 8 s more: 4 dB more, so the peak is now 0.6 dB under the target
        out = gain.apply(quiet, -60.0)
    assert gain.gain_db == pytest.approx(0.6, abs=0.01)
    for _ in range(10_000):  # minutes of quiet: the gain stops at its cap
        out = gain.apply(quiet, -60.0)
    assert gain.gain_db == 18.0
    np.testing.assert_allclose(out, quiet * 10 ** (18.0 / 20), rtol=1e-5)
    clipped = gain.apply(np.full(VAD_WINDOW, 0.5, np.float32), -20.0)  # a louder window: followed at once
    assert gain.gain_db == pytest.approx(14.0) and float(np.max(np.abs(clipped))) <= 1.0
