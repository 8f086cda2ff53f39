"""Long and high-rate uploads: refused from the header when over the limit, decoded in bounded memory otherwise."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import numpy as np
import pytest
import soundfile as sf

pytestmark = pytest.mark.timeout(600)

HTTP_TIMEOUT = 300.0  # s
PEAK_RSS_LIMIT_MB = 600.0  # before streaming decode: 2.6 GB for one such upload, 9.3 GB for two at once
REFUSAL_SECONDS = 10.0  # s: a refusal from the header, not after decoding ten minutes of 96-kHz 7.1


def _silence_flac(path: Path, minutes: int) -> Path:
    block = np.zeros((96_000 * 10, 8), dtype=np.int16)
    with sf.SoundFile(path, "w", samplerate=96_000, channels=8, subtype="PCM_16", format="FLAC") as f:
        for _ in range(minutes * 6):
            f.write(block)
    return path


def _post(url: str, path: Path) -> httpx.Response:
    with path.open("rb") as f:
        return httpx.post(f"{url}/v1/audio/transcriptions", files={"file": (path.name, f)}, timeout=HTTP_TIMEOUT)


def _peak_rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmHWM:")) / 1024


@pytest.fixture(scope="module")
def ten_minutes(tmp_path_factory) -> Path:
    return _silence_flac(tmp_path_factory.mktemp("uploads") / "ten-minutes-96k-7.1.flac", 10)


def test_an_over_long_upload_is_refused_from_its_header(start_daemon, ten_minutes, jfk_path) -> None:
    d = start_daemon("--set", "server.max_audio_seconds=60")
    t = time.monotonic()
    r = _post(d.url, ten_minutes)
    took = time.monotonic() - t
    assert r.status_code == 413, r.text
    assert "600 s of audio is longer than the limit of 60 s" in r.json()["error"]["message"]
    assert took < REFUSAL_SECONDS, took
    assert _post(d.url, jfk_path).status_code == 200


def test_two_ten_minute_96_khz_uploads_at_once_stay_in_bounded_memory(start_daemon, ten_minutes) -> None:
    d = start_daemon()
    with ThreadPoolExecutor(2) as pool:
        answers = list(pool.map(lambda _: _post(d.url, ten_minutes), range(2)))
    for r in answers:
        assert r.status_code == 200, r.text
        assert r.json()["text"] == ""
    peak = _peak_rss_mb(d.proc.pid)
    print(f"daemon peak RSS after two 10-min 96-kHz 7.1 uploads at once: {peak:.0f} MiB")
    assert peak < PEAK_RSS_LIMIT_MB
