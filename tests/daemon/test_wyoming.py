"""The Wyoming adapter (Home Assistant) against a real daemon, with the wyoming package's own client."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest

from edge_asr.audio import decode_audio
from edge_asr.evaluate import wer

wyoming = pytest.importorskip("wyoming", reason="the wyoming extra is not installed")
from wyoming.asr import Transcribe, Transcript  # noqa: E402
from wyoming.audio import AudioChunk, AudioStart, AudioStop  # noqa: E402
from wyoming.client import AsyncTcpClient  # noqa: E402
from wyoming.error import Error  # noqa: E402
from wyoming.info import Describe, Info  # noqa: E402

pytestmark = pytest.mark.timeout(180)

CHUNK_SAMPLES = 1024
IO_TIMEOUT = 60.0  # s


async def _transcribe(port: int, pcm: bytes, rate: int, language: str | None = None) -> tuple[Info, object]:
    async with AsyncTcpClient("127.0.0.1", port) as client:
        await client.write_event(Describe().event())
        info = Info.from_event(await asyncio.wait_for(client.read_event(), IO_TIMEOUT))
        await client.write_event(Transcribe(language=language).event())
        await client.write_event(AudioStart(rate=rate, width=2, channels=1).event())
        step = CHUNK_SAMPLES * 2
        for i in range(0, len(pcm), step):
            await client.write_event(AudioChunk(rate=rate, width=2, channels=1, audio=pcm[i : i + step]).event())
        await client.write_event(AudioStop().event())
        event = await asyncio.wait_for(client.read_event(), IO_TIMEOUT)
        assert event is not None
        if Transcript.is_type(event.type):
            return info, Transcript.from_event(event)
        return info, Error.from_event(event)


def test_home_assistant_style_transcription(start_daemon, jfk_path) -> None:
    d = start_daemon("--set", "wyoming.enabled=true", "--set", "wyoming.port=0")
    port = int(d.wait_for(r"wyoming listening on tcp://127\.0\.0\.1:(\d+)", 30).group(1))
    audio = decode_audio(jfk_path, sample_rate=22050)  # HA satellites often send 16 kHz; the adapter resamples
    pcm = (np.clip(audio, -1, 1) * 32767).astype("<i2").tobytes()
    info, result = asyncio.run(_transcribe(port, pcm, 22050, language="en"))
    assert info.asr and info.asr[0].models[0].name.startswith("tiny.en")
    assert info.asr[0].models[0].languages == ["en"]
    assert isinstance(result, Transcript), result
    assert wer(["And so my fellow Americans, ask not what your country can do for you, ask what you can do for "
                "your country."], [result.text]) < 0.1, result.text
    _, refused = asyncio.run(_transcribe(port, pcm[:32000], 22050, language="de"))
    assert isinstance(refused, Error) and "English-only" in refused.text
    _, empty = asyncio.run(_transcribe(port, b"", 16000))
    assert isinstance(empty, Error) and "no audio" in empty.text
