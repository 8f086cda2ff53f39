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


# Libraries a transcription on ONNX Runtime has no use for, each of which used to be loaded anyway (RSS in MiB,
# measured one at a time): LiteRT 8.4 and the TFLite schema 4.3 (backend selection imported them to see whether
# they were there), tqdm 4.2 with -q, Qt, the web stack, PyAV (libsndfile reads FLAC and WAV).
NOT_FOR_A_TRANSCRIPTION = ("ai_edge_litert", "tflite_runtime", "flatbuffers", "tqdm", "PySide6", "fastapi",
                           "uvicorn", "av", "onnx", "jiwer")


def test_a_transcription_loads_only_what_it_uses(jfk_path: Path, tmp_path: Path) -> None:
    import json
    import subprocess
    import sys

    code = (
        "import json, sys; from edge_asr.cli.main import main; "
        f"rc = main(['transcribe', {str(jfk_path)!r}, '-q', '-o', {str(tmp_path)!r}, '--backend', 'auto']); "
        "print(json.dumps([rc, sorted(sys.modules)]))"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stderr
    rc, modules = json.loads(proc.stdout.strip().splitlines()[-1])
    assert rc == 0 and (tmp_path / "jfk.txt").read_text().lower().count("country") == 2
    loaded = {m.split(".")[0] for m in modules}
    assert not loaded & set(NOT_FOR_A_TRANSCRIPTION), sorted(loaded & set(NOT_FOR_A_TRANSCRIPTION))
