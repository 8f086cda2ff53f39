"""The daemon's live-pipeline factory lends one VAD session to pipeline after pipeline (reloads, mic retries).

A Silero ONNX Runtime session built and dropped for every pipeline left ~4 MB of freed heap that glibc kept, per
restart: 20 reloads grew the daemon from 210 to 290 MiB, all of it given back by malloc_trim (issues 11 and 15).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile as sf

from edge_asr.daemon.config import LiveConfig
from edge_asr.daemon.live import MicPipelines

pytestmark = pytest.mark.timeout(60)

SR = 16_000
FILE_SECONDS = 30.0  # s of faint noise: the pipeline is still playing it when the test stops it
NOISE = 10 ** (-65 / 20)  # -65 dBFS
RESTARTS = 5
STOP_WAIT = 10.0  # s


class SilentVad:
    """A speech model that never hears speech (no decode ever runs), counting its resets."""

    def __init__(self) -> None:
        self.resets = 0

    def __call__(self, window: np.ndarray) -> float:
        return 0.0

    def reset(self) -> None:
        self.resets += 1


@pytest.fixture
def config(tmp_path: Path) -> LiveConfig:
    path = tmp_path / "room.wav"
    noise = np.random.default_rng(0).standard_normal(int(FILE_SECONDS * SR)) * NOISE
    sf.write(path, noise.astype(np.float32), SR, subtype="PCM_16")
    return LiveConfig(file=str(path))


@pytest.fixture
def made() -> list[SilentVad]:
    return []


@pytest.fixture
def factory(made: list[SilentVad]) -> MicPipelines:
    def make() -> SilentVad:
        made.append(SilentVad())
        return made[-1]

    return MicPipelines(make)


def _run_and_stop(pipeline: Any) -> None:
    pipeline.start()
    pipeline.stop(STOP_WAIT)
    assert pipeline.wait(0), "the pipeline did not stop"


def test_pipelines_one_after_another_share_one_vad_session(factory, config, made) -> None:
    transcriber: Any = object()  # never called: the VAD hears no speech
    pipelines = []
    for _ in range(RESTARTS):
        pipelines.append(factory(transcriber, config, None))
        _run_and_stop(pipelines[-1])
    assert len(made) == 1, f"{len(made)} VAD sessions built for {RESTARTS} pipelines run one after another"
    assert all(p.segmenter.model is made[0] for p in pipelines)
    assert made[0].resets >= RESTARTS - 1, "the shared session was not reset between pipelines"


def test_a_pipeline_still_running_keeps_its_vad_session_to_itself(factory, config, made) -> None:
    transcriber: Any = object()
    first = factory(transcriber, config, None)
    first.start()
    try:
        assert first.running
        second = factory(transcriber, config, None)  # as after a pipeline that did not stop in time
        _run_and_stop(second)
        assert len(made) == 2 and second.segmenter.model is made[1], "two running pipelines shared one session"
    finally:
        first.stop(STOP_WAIT)
    assert not first.running
    third = factory(transcriber, config, None)
    _run_and_stop(third)
    assert len(made) == 2 and third.segmenter.model is made[0], "the shared session was not lent again"


def test_live_vad_gain_in_the_config_reaches_the_segmenter(factory, config) -> None:
    import dataclasses

    transcriber: Any = object()
    on = factory(transcriber, config, None)
    off = factory(transcriber, dataclasses.replace(config, vad_gain=False), None)
    for pipeline in (on, off):
        _run_and_stop(pipeline)
    assert on.segmenter is not None and on.segmenter._gain is not None
    assert off.segmenter is not None and off.segmenter._gain is None
