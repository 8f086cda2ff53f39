"""The daemon's main: bind, load the model off the event loop, start live mode, serve, reload on SIGHUP and stop
gracefully on SIGTERM (stop capture, finish the utterance in flight, flush the journal, answer in-flight requests).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import socket
import sys
import threading
import time
from collections.abc import Callable, Generator, Mapping
from pathlib import Path
from typing import Any

import uvicorn

from ..distribution import missing_part
from ..engine.base import Transcriber
from ..errors import ConfigError, EdgeAsrError
from . import service
from .app import DaemonState, create_app
from .config import DaemonConfig, is_loopback
from .config_file import changed_keys, load_config, reload_changes
from .http_limits import limited_protocol
from .journal import Journal
from .live import EventHub, LiveManager, MicPipelines, PipelineFactory
from .metrics import Metrics
from .scheduler import MAX_QUEUED_AUDIO, ScheduledTranscriber, Scheduler

log = logging.getLogger(__name__)

BUILD_TIMEOUT_EXTENSION = 60.0  # s of start-up time asked of systemd at each model-build progress report
KEEP_ALIVE_TIMEOUT = 5  # s an idle keep-alive connection is kept (uvicorn's default, stated)
STEP_WAIT = 60.0  # s for the scheduler's step in progress (one window) at exit
QUICK_CLOSE = 1.0  # s an idle scheduler needs to stop
SHUTDOWN_MARGIN = 5.0  # s uvicorn waits beyond the grace period, so the 503s of unfinished uploads go out
WS_MAX_MESSAGE = 1024 * 1024  # bytes in one WebSocket message (a second of 48 kHz stereo float is 384 kB)
LISTEN_BACKLOG = 128  # pending connections

TranscriberLoader = Callable[[DaemonConfig, Callable[[str, float], None]], Transcriber]


def load_real_transcriber(config: DaemonConfig, progress: Callable[[str, float], None]) -> Transcriber:
    from ..factory import load_transcriber

    return load_transcriber(config.model.engine_options(), progress)


class _Server(uvicorn.Server):
    """uvicorn without its own signal handling (the daemon's handlers order the shutdown)."""

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise ConfigError(f"cannot listen on {host}:{port} ({exc.strerror})") from None
    sock.listen(LISTEN_BACKLOG)
    sock.set_inheritable(True)
    return sock


def _apply_log_level(level: str) -> None:
    logging.getLogger("edge_asr").setLevel(level.upper())
    root = logging.getLogger()
    if root.level > logging.INFO:
        root.setLevel(logging.INFO)  # edge_asr's level decides; third-party loggers stay at WARNING via the CLI filter


class Daemon:
    def __init__(self, config_path: str | None, overrides: Mapping[str, Mapping[str, Any]],
                 loader: TranscriberLoader = load_real_transcriber,
                 live_factory: PipelineFactory | None = None) -> None:
        self.config_path, self.overrides = config_path, overrides
        loaded = load_config(config_path, overrides)
        self.source: Path | None = loaded.path
        # one factory for the daemon's lifetime: every LiveManager (one per reload) shares its VAD session
        self.loader, self.live_factory = loader, live_factory or MicPipelines()
        config = loaded.config
        self.state = DaemonState(config, Metrics(), config.server.resolved_token())
        self.journal: Journal | None = None
        self.adapters: list[Any] = []  # optional protocol servers (Wyoming), each with async stop()
        self._stop: asyncio.Event | None = None
        self._reload_lock: asyncio.Lock | None = None  # one reload at a time, in signal order
        self._reloads: set[asyncio.Task[None]] = set()

    # ---- lifecycle ----------------------------------------------------------------------------------------
    async def run(self) -> int:
        loop = asyncio.get_running_loop()
        st, config = self.state, self.state.config
        _apply_log_level(config.log.level)
        self._stop = asyncio.Event()
        self._reload_lock = asyncio.Lock()
        st.hub = EventHub(loop, config.live.max_clients, st.metrics)
        sock = _bind(config.server.host, config.server.port)
        host, port = sock.getsockname()[:2]
        # h11 with a header deadline and a connection cap (http_limits); uvicorn closes idle keep-alive connections.
        uv = uvicorn.Config(create_app(st), log_level="warning", access_log=False, lifespan="off",
                            http=limited_protocol(st), timeout_keep_alive=KEEP_ALIVE_TIMEOUT,
                            timeout_graceful_shutdown=int(config.server.graceful_timeout + SHUTDOWN_MARGIN),
                            ws_max_size=WS_MAX_MESSAGE,
                            server_header=False, proxy_headers=False)
        server = _Server(uv)
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self._stop.set)
        loop.add_signal_handler(signal.SIGHUP, self._on_sighup)
        serving = asyncio.create_task(server.serve(sockets=[sock]))
        log.info("edge-asr daemon listening on http://%s:%d (config: %s)", host, port, self.source or "defaults")
        if not config.live.enabled:
            log.info("live mode disabled")
        watchdog = asyncio.create_task(self._watchdog())
        loading = asyncio.create_task(self._load(loop))
        stop_wait = asyncio.create_task(self._stop.wait())
        await asyncio.wait({loading, stop_wait, serving}, return_when=asyncio.FIRST_COMPLETED)
        if loading.done() and not loading.exception() and not self._stop.is_set():
            self._start_work()
            await self._start_adapters()
            service.ready(f"serving on {host}:{port}")
            await asyncio.wait({stop_wait, serving}, return_when=asyncio.FIRST_COMPLETED)
        elif loading.done() and loading.exception():
            service.ready(f"serving on {host}:{port} without a model: {st.load_error}")
            await asyncio.wait({stop_wait, serving}, return_when=asyncio.FIRST_COMPLETED)
        code = await self._shutdown(server, serving)
        for task in (watchdog, stop_wait, loading):
            task.cancel()
        return code

    async def _load(self, loop: asyncio.AbstractEventLoop) -> None:
        """Build/load the model in a daemon thread: a SIGTERM during a first build must not wait for it."""
        done: asyncio.Future[Transcriber] = loop.create_future()
        st = self.state
        started = time.monotonic()

        def progress(stage: str, fraction: float) -> None:
            service.extend_timeout(BUILD_TIMEOUT_EXTENSION)
            service.status(f"building the model: {stage} {fraction:.0%}")

        def deliver(value: Transcriber | None, error: BaseException | None) -> None:
            if done.done():
                return
            if error is not None:
                done.set_exception(error)
            else:
                done.set_result(value)  # type: ignore[arg-type]

        def work() -> None:
            try:
                value = self.loader(st.config, progress)
            except BaseException as exc:  # handed to the loop, which reports it
                loop.call_soon_threadsafe(deliver, None, exc)
            else:
                loop.call_soon_threadsafe(deliver, value, None)

        service.status("loading the model")
        threading.Thread(target=work, name="edge-asr-load", daemon=True).start()
        try:
            transcriber = await done
        except Exception as exc:
            st.load_error = str(exc) if isinstance(exc, EdgeAsrError) else f"{type(exc).__name__}: {exc}"
            log.error("cannot load the model: %s; serving health and metrics only", st.load_error)
            raise
        seconds = time.monotonic() - started
        st.metrics.model_load.set(seconds)
        st.metrics.model_ready.set(1)
        st.model_name, st.is_multilingual = transcriber.name, transcriber.is_multilingual
        st.scheduler = Scheduler(transcriber, st.config.scheduler.max_queue, MAX_QUEUED_AUDIO, st.metrics.observe_job)
        st.metrics.set_depth_source(st.scheduler.depth)
        log.info("model %s ready in %.1f s", transcriber.name, seconds)

    def _start_work(self) -> None:
        st, config = self.state, self.state.config
        assert st.scheduler is not None and st.hub is not None
        self._sync_journal(config)
        st.live = LiveManager(ScheduledTranscriber(st.scheduler), config.live, config.decoding.transcribe_options(),
                              st.hub, st.metrics, self.journal, self.live_factory)
        st.live.start()

    async def _start_adapters(self) -> None:
        """Optional protocols over the same scheduler; a missing extra or a busy port is logged, not fatal."""
        config = self.state.config
        for name, section in (("wyoming", config.wyoming), ("grpc", config.grpc)):
            if not section.enabled:
                continue
            try:
                if name == "wyoming":
                    from .wyoming_server import WyomingServer as Adapter
                else:
                    from .grpc_server import GrpcServer as Adapter  # type: ignore[assignment]
                adapter = Adapter(self.state, section.host, section.port)
                host, port = await adapter.start()
            except ModuleNotFoundError as exc:
                log.error("%s is enabled but cannot start (%s): %s", name, exc, missing_part(name))
                continue
            except ConfigError as exc:
                log.error("%s", exc)
                continue
            self.adapters.append(adapter)
            log.info("%s listening on tcp://%s:%d", name, host, port)
            if name == "wyoming" and not is_loopback(section.host):
                log.warning("wyoming is reachable beyond this machine (wyoming.allow_remote = true) and has no "
                            "authentication: anyone who can reach port %d can use the model", port)

    def _sync_journal(self, config: DaemonConfig) -> bool:
        """Open or close the journal as the config asks; True when it was opened or closed."""
        j = config.journal
        wanted = j.enabled and config.live.enabled
        if wanted and self.journal is None:
            try:
                self.journal = Journal(j.path(), j.max_bytes, j.rotate_daily, j.keep_files)
            except OSError as exc:
                log.error("journal disabled: cannot use %s (%s)", j.path(), exc)
                return False
            log.info("journal in %s", self.journal.directory)
            return True
        if not wanted and self.journal is not None:
            self.journal.close()
            self.journal = None
            return True
        if self.journal is not None:
            self.journal.reconfigure(j.max_bytes, j.rotate_daily, j.keep_files)
        return False

    async def _shutdown(self, server: _Server, serving: asyncio.Task[None]) -> int:
        st = self.state
        loop = asyncio.get_running_loop()
        grace_end = loop.time() + st.config.server.graceful_timeout
        st.shutting_down = True
        service.stopping()
        log.info("stopping: finishing the live utterance and in-flight requests")
        if self._reload_lock is not None:
            async with self._reload_lock:
                pass  # a reload in flight finishes (its pipeline is then the one stopped below); none starts after
        for adapter in self.adapters:
            await adapter.stop()
        if st.scheduler is not None:
            st.scheduler.stop_accepting()
        live, journal = st.live, self.journal
        if live is not None:
            await asyncio.to_thread(live.stop)  # flushes the utterance in flight through the scheduler
        if journal is not None:
            await asyncio.to_thread(journal.close)
        if st.hub is not None:
            st.hub.close()
        server.should_exit = True  # uvicorn stops listening, then waits for in-flight requests
        if st.scheduler is not None:  # uploads and streams get what is left of the grace period, then 503
            idle = await asyncio.to_thread(st.scheduler.wait_idle, grace_end - loop.time())
            if not idle:
                log.warning("grace period over: answering the unfinished uploads 503")
        st.grace_over.set()
        failed = False
        try:
            await asyncio.wait_for(serving, 2 * SHUTDOWN_MARGIN)
        except asyncio.TimeoutError:  # not the builtin TimeoutError on Python 3.10
            log.warning("requests still open after %.0f s; closing them", st.config.server.graceful_timeout)
            server.force_exit = True
            failed = True
        except (Exception, SystemExit) as exc:
            log.error("server stopped with an error: %s", exc)
            failed = True
        if st.scheduler is not None and not await asyncio.to_thread(st.scheduler.close, QUICK_CLOSE):
            # Exiting while onnxruntime runs in the worker aborts the process: let the step in progress end.
            log.info("waiting for the model to finish the step in progress")
            if not await asyncio.to_thread(st.scheduler.close, STEP_WAIT):
                log.error("the model did not finish its step within %.0f s", STEP_WAIT)
                failed = True
        log.info("stopped")
        return 1 if failed else 0

    async def _watchdog(self) -> None:
        """Ping systemd's watchdog from the event loop, so a wedged loop gets the service restarted."""
        interval = service.watchdog_interval()
        if interval is None or self._stop is None:
            return
        while not self._stop.is_set():
            service.watchdog_ping()
            with contextlib.suppress(asyncio.TimeoutError):  # not the builtin TimeoutError on Python 3.10
                await asyncio.wait_for(self._stop.wait(), interval)

    # ---- SIGHUP -------------------------------------------------------------------------------------------
    def _on_sighup(self) -> None:
        task = asyncio.ensure_future(self.reload())
        self._reloads.add(task)  # a reference, so the task is not collected mid-reload
        task.add_done_callback(self._reloads.discard)

    async def reload(self) -> None:
        """Apply the configuration file again. Reloads run one at a time in signal order (two overlapping ones
        once left two live pipelines running); each reads the file when its turn comes."""
        assert self._reload_lock is not None
        async with self._reload_lock:
            if self.state.shutting_down:
                log.info("SIGHUP ignored: the daemon is stopping")
                return
            try:
                await self._reload()
            except Exception:
                log.exception("reload failed")
                service.ready("reload failed")

    async def _reload(self) -> None:
        st = self.state
        service.reloading()
        try:
            new = load_config(self.config_path, self.overrides)
            token = new.config.server.resolved_token()
        except ConfigError as exc:
            log.error("reload failed, keeping the running configuration: %s", exc)
            service.ready("reload failed; running configuration kept")
            return
        applied, ignored = reload_changes(st.config, new.config)
        old = st.config
        changes = changed_keys(old, applied)
        st.config, st.token = applied, token
        _apply_log_level(applied.log.level)
        if st.scheduler is not None:
            st.scheduler.max_queue = applied.scheduler.max_queue
        if st.hub is not None:
            st.hub.max_clients = applied.live.max_clients
        live_changed = old.live != applied.live or old.decoding != applied.decoding
        if st.live is not None and (live_changed or old.journal.enabled != applied.journal.enabled):
            if not await asyncio.to_thread(st.live.stop):  # before the journal it writes to may close
                log.error("live: the old pipeline did not stop in time; not starting another one beside it")
                service.ready("reload incomplete: live pipeline did not stop")
                return
            if st.shutting_down:
                return  # SIGTERM came while the old pipeline stopped: no new one
            self._sync_journal(applied)
            assert st.scheduler is not None and st.hub is not None
            st.live = LiveManager(ScheduledTranscriber(st.scheduler), applied.live,
                                  applied.decoding.transcribe_options(), st.hub, st.metrics, self.journal,
                                  self.live_factory)
            st.live.start()
        else:
            self._sync_journal(applied)  # rotation settings
        if ignored:
            log.warning("reloaded; these settings need a restart to change: %s", ", ".join(ignored))
        log.info("reloaded the configuration from %s (%s)", self.source or "defaults",
                 "; ".join(changes) if changes else "no changes")
        service.ready("configuration reloaded")


def run_daemon(config_path: str | None, overrides: Mapping[str, Mapping[str, Any]] | None = None,
               loader: TranscriberLoader = load_real_transcriber, live_factory: PipelineFactory | None = None) -> int:
    """Run until SIGTERM/SIGINT; returns the process exit code."""
    if os.environ.get("JOURNAL_STREAM"):
        service.log_to_journal()
    daemon = Daemon(config_path, overrides or {}, loader, live_factory)
    try:
        return asyncio.run(daemon.run())
    except ConfigError as exc:
        print(f"edge-asr: error: {exc}", file=sys.stderr)
        return 2
    finally:
        # Stopped already: a repeated SIGTERM during the interpreter's own exit must not turn exit 0 into -15.
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, signal.SIG_IGN)
