"""Peak memory of `edge-asr transcribe` does not grow with the file: long real speech and long high-rate,
many-channel audio are decoded, resampled and featurised a block and a window at a time."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from tests.conftest import read_manifest

pytestmark = pytest.mark.timeout(900)

RSS_LIMIT_MB = 300.0  # the bar for 2 h of speech or silence at any rate and channel count
GROWTH_LIMIT_MB = 25.0  # a ten-times longer file may cost this much more at the peak, no more


def _peak_rss_mb(*args: str) -> float:
    """Peak RSS (VmHWM) of a fresh `python -m edge_asr ARGS` process; fails when it does."""
    from edge_asr.bench.common import run_process

    _wall, peak, _out = run_process(["-m", "edge_asr", *args])
    return peak


@pytest.fixture(scope="module")
def long_speech(tmp_path_factory) -> tuple[Path, Path]:
    """One en-wild clip (1 min) and all of en-wild twice over (11 min), as 16-kHz WAV files."""
    from edge_asr.audio import decode_audio

    rows = read_manifest("en-wild")
    audio = np.concatenate([decode_audio(r["abspath"]) for r in rows])
    folder = tmp_path_factory.mktemp("long")
    short, long = folder / "one-minute.wav", folder / "eleven-minutes.wav"
    sf.write(short, decode_audio(next(r["abspath"] for r in rows if r["path"].startswith("earnings22_1"))), 16_000)
    sf.write(long, np.concatenate([audio, audio]), 16_000)
    return short, long


def test_peak_rss_is_flat_in_the_length_of_real_speech(long_speech, tmp_path) -> None:
    short, long = long_speech
    small = _peak_rss_mb("transcribe", str(short), "-q", "-f", "srt", "-o", str(tmp_path))
    big = _peak_rss_mb("transcribe", str(long), "-q", "-f", "srt", "-o", str(tmp_path))
    print(f"peak RSS: {small:.0f} MiB for 1 min, {big:.0f} MiB for 11 min of speech")
    assert big <= RSS_LIMIT_MB and big - small <= GROWTH_LIMIT_MB, (small, big)
    cues = (tmp_path / "eleven-minutes.srt").read_text().count(" --> ")
    assert cues > 100


def test_ten_minutes_of_96_khz_7_1_silence_is_skipped_in_bounded_memory(tmp_path) -> None:
    path = tmp_path / "silence-96k-8ch.flac"
    block = np.zeros((96_000 * 10, 8), dtype=np.int16)
    with sf.SoundFile(path, "w", samplerate=96_000, channels=8, subtype="PCM_16", format="FLAC") as f:
        for _ in range(60):  # 10 minutes
            f.write(block)
    peak = _peak_rss_mb("transcribe", str(path), "-q", "-o", str(tmp_path))
    assert (tmp_path / "silence-96k-8ch.txt").read_text() == ""
    print(f"peak RSS: {peak:.0f} MiB for 10 min of 96-kHz 7.1 silence ({path.stat().st_size // 1024} KiB of FLAC)")
    assert peak <= RSS_LIMIT_MB
