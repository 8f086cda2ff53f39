"""Recording control: start and stop the core's LivePipeline on a microphone, off the GUI thread.

The window only talks to the small :class:`Recorder` interface; :class:`PipelineRecorder` is the one
implementation, over ``edge_asr.live.pipeline.LivePipeline`` and ``edge_asr.live.capture.MicSource``.
Capture, VAD and decoding all happen in the core; events reach the window through the :class:`EventBridge`.
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Callable
from typing import Any, Protocol

from PySide6.QtCore import QObject, Signal

from ..engine.base import Transcriber
from ..errors import DeviceError
from ..options import TranscribeOptions
from .bridge import EventBridge
from .constants import PIPELINE_STOP_TIMEOUT_S
from .jobs import Job, Progress
from .workers import human_message

log = logging.getLogger(__name__)


class RecState(enum.Enum):
    IDLE = "idle"
    STARTING = "starting"
    RECORDING = "recording"
    STOPPING = "stopping"


class Recorder(Protocol):
    """What the window needs from a recorder. Both calls return at once; the outcome arrives as a signal."""

    state_changed: Any  # Signal(RecState)
    failed: Any  # Signal(str): a human message

    @property
    def state(self) -> RecState: ...

    def start(self, transcriber: Transcriber, device: str, options: TranscribeOptions) -> None: ...

    def stop(self) -> None: ...

    def shutdown(self, timeout_s: float) -> None: ...


def list_input_devices() -> list[Any]:
    """The core's device list (``InputDevice`` records); raises DeviceError when live capture is not installed."""
    try:
        from ..live.capture import list_input_devices as core_list

        return list(core_list())  # PortAudio (sounddevice) is imported on first use, so this may fail too
    except ImportError as exc:
        raise DeviceError(f"Live capture is not available in this installation ({exc}).") from exc


class PipelineRecorder(QObject):
    state_changed = Signal(object)  # RecState
    failed = Signal(str)

    def __init__(self, bridge: EventBridge, parent: QObject | None = None,
                 source_factory: Callable[[str], Any] | None = None) -> None:
        super().__init__(parent)
        self._bridge = bridge
        # Builds the capture source from the chosen device name; the default is the core's MicSource.
        # The GUI benchmark replays a file through the same pipeline with a FileSource instead.
        self._source_factory = source_factory
        self._pipeline: Any = None
        self._pipelines: Any = None  # a SharedVadPipelines: one VAD session for every recording (imported late)
        self._opened: Any = None  # set on the start job's thread, so shutdown can stop a pipeline not yet handed over
        self._state = RecState.IDLE
        self._job: Job | None = None
        self._stop_requested = False

    @property
    def state(self) -> RecState:
        return self._state

    @property
    def pipeline(self) -> Any:
        """The running LivePipeline, or None."""
        return self._pipeline

    def _set_state(self, state: RecState) -> None:
        if state is not self._state:
            log.info("recording: %s -> %s", self._state.value, state.value)
            self._state = state
            self.state_changed.emit(state)

    # -- start ----------------------------------------------------------------------------------------------
    def start(self, transcriber: Transcriber, device: str, options: TranscribeOptions) -> None:
        if self._state is not RecState.IDLE:
            log.warning("start ignored: recorder is %s", self._state.value)
            return
        self._stop_requested = False
        self._set_state(RecState.STARTING)
        bridge = self._bridge

        def open_and_start(_progress: Progress) -> Any:
            try:
                from ..live.capture import MicSource
                from ..live.pipeline import SharedVadPipelines
            except ImportError as exc:
                raise DeviceError(f"Live recording is not available in this installation ({exc}).") from exc
            source = self._source_factory(device) if self._source_factory else MicSource(device or None)
            if self._pipelines is None:
                self._pipelines = SharedVadPipelines()
            pipeline = self._pipelines.pipeline(transcriber, source, transcribe_options=options)
            bridge.attach(pipeline.subscribe)  # before start: the first events must not be missed
            try:
                pipeline.start()
            except BaseException:
                bridge.detach()
                raise
            self._opened = pipeline
            return pipeline

        self._job = Job("starting the microphone", open_and_start)
        self._job.finished.connect(self._on_started)
        self._job.failed.connect(self._on_start_failed)
        self._job.start()

    def _on_started(self, pipeline: Any) -> None:
        self._pipeline, self._opened = pipeline, None
        self._set_state(RecState.RECORDING)
        if self._stop_requested:  # Stop pressed while the device was opening
            self.stop()

    def _on_start_failed(self, exc: BaseException) -> None:
        self._set_state(RecState.IDLE)
        self.failed.emit(f"Could not start recording: {human_message(exc)}")

    # -- stop -----------------------------------------------------------------------------------------------
    def stop(self) -> None:
        if self._state is RecState.STARTING:
            self._stop_requested = True
            return
        if self._state is not RecState.RECORDING or self._pipeline is None:
            return
        pipeline, self._pipeline = self._pipeline, None
        self._set_state(RecState.STOPPING)

        def flush_and_stop(_progress: Progress) -> None:
            pipeline.stop(timeout=PIPELINE_STOP_TIMEOUT_S)  # flushes the utterance in flight: nothing is lost

        self._job = Job("stopping the microphone", flush_and_stop)
        self._job.finished.connect(self._on_stopped)
        self._job.failed.connect(self._on_stop_failed)
        self._job.start()

    def _on_stopped(self, _result: object) -> None:
        # Events the pipeline published while flushing were queued before this signal, so they are already shown.
        self._bridge.detach()
        self._set_state(RecState.IDLE)

    def _on_stop_failed(self, exc: BaseException) -> None:
        self._bridge.detach()
        self._set_state(RecState.IDLE)
        self.failed.emit(f"Recording did not stop cleanly: {human_message(exc)}")

    def on_fatal_error(self) -> None:
        """A fatal Error event: the pipeline has given up; release it and return to idle."""
        if self._state is RecState.RECORDING:
            self.stop()

    def shutdown(self, timeout_s: float) -> None:
        """Window closing: stop synchronously (bounded), so the flushed utterance is not cut off mid-write."""
        if self._job is not None and not self._job.done.wait(timeout_s):
            log.error("a recorder job was still running at shutdown")
        pipeline = self._pipeline or self._opened
        self._pipeline = self._opened = None
        if pipeline is not None:
            try:
                pipeline.stop(timeout=timeout_s)
            except Exception:
                log.exception("stopping the pipeline on shutdown failed")
        self._bridge.detach()
        self._state = RecState.IDLE
