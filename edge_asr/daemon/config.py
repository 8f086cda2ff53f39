"""The daemon's configuration: frozen dataclasses, one per TOML section, validated once in ``__post_init__``
(ConfigError naming the key). Reading, layering and printing them is in config_file.py."""

from __future__ import annotations

import ipaddress
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..constants import APP_NAME, DEFAULT_MODEL
from ..errors import ConfigError
from ..options import EngineOptions, TranscribeOptions

log = logging.getLogger(__name__)

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8765
MAX_UPLOAD_BYTES = 100 * 1024 * 1024  # bytes
MAX_AUDIO_SECONDS = 3600.0  # s of decoded audio per upload
REQUEST_TIMEOUT = 900.0  # s from the end of an upload to its answer
GRACEFUL_TIMEOUT = 20.0  # s allowed for in-flight work on SIGTERM before connections are cut
HEADER_TIMEOUT = 10.0  # s a client may take to send a request line and its headers
IDLE_TIMEOUT = 30.0  # s a client may stall: a body that stops arriving, a stream that sends nothing
STREAM_SLACK = 600.0  # s a /v1/stream session may last beyond its longest audio (pauses, decoding)
MAX_CONNECTIONS = 256  # open HTTP/WebSocket connections; beyond it new ones are closed at once
LIVE_SESSION_SECONDS = 86_400.0  # s a /v1/live subscription lasts before the client must reconnect
MAX_QUEUE = 16  # upload and stream jobs waiting for the model
MAX_STREAMS = 4  # concurrent /v1/stream sessions
MAX_LIVE_CLIENTS = 32  # concurrent /v1/live subscribers
PARTIAL_INTERVAL = 0.5  # s of speech between live partial results
MIN_SILENCE = 0.5  # s of silence that ends a live utterance
VAD_THRESHOLD = 0.5  # speech probability that starts a live utterance
RETRY_INITIAL = 1.0  # s before the first retry to open the microphone
RETRY_MAX = 60.0  # s, ceiling of the exponential backoff
JOURNAL_MAX_BYTES = 10 * 1024 * 1024  # bytes per journal file before rotation
JOURNAL_KEEP_FILES = 30  # rotated journal files kept
ENV_PREFIX = "EDGE_ASR_"
CONFIG_ENV = "EDGE_ASR_CONFIG"
TOKEN_ENV = "EDGE_ASR_TOKEN"
SYSTEM_CONFIG = Path("/etc") / APP_NAME / "config.toml"
LOG_LEVELS = ("debug", "info", "warning", "error")
WYOMING_PORT = 10300  # Home Assistant's usual port for a Wyoming speech-to-text service
GRPC_PORT = 50051  # gRPC's customary port


def _user_config_path() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / APP_NAME / "config.toml"


def default_config_paths() -> list[Path]:
    """Where the daemon looks for its file when none is given: $EDGE_ASR_CONFIG, the user's XDG file, /etc."""
    env = os.environ.get(CONFIG_ENV)
    return [Path(env)] if env else [_user_config_path(), SYSTEM_CONFIG]


def default_state_dir() -> Path:
    """systemd's StateDirectory when run as a service, otherwise the XDG state directory."""
    state = os.environ.get("STATE_DIRECTORY")
    if state:
        return Path(state.split(":")[0])
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / APP_NAME


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _positive(section: str, obj: Any, *names: str) -> None:
    for name in names:
        value = getattr(obj, name)
        if value <= 0:
            raise ConfigError(f"{section}.{name} must be positive, not {value}")


@dataclass(frozen=True)
class ServerConfig:
    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    token: str | None = field(default=None, repr=False)  # never in logs
    token_file: str | None = None
    max_upload_bytes: int = MAX_UPLOAD_BYTES
    max_audio_seconds: float = MAX_AUDIO_SECONDS
    request_timeout: float = REQUEST_TIMEOUT
    graceful_timeout: float = GRACEFUL_TIMEOUT
    header_timeout: float = HEADER_TIMEOUT
    idle_timeout: float = IDLE_TIMEOUT
    stream_max_seconds: float = MAX_AUDIO_SECONDS + STREAM_SLACK
    max_connections: int = MAX_CONNECTIONS

    def __post_init__(self) -> None:
        if not 0 <= self.port <= 65535:
            raise ConfigError(f"server.port must be 0..65535, not {self.port}")
        if not self.host:
            raise ConfigError("server.host must not be empty")
        _positive("server", self, "max_upload_bytes", "max_audio_seconds", "request_timeout", "graceful_timeout",
                  "header_timeout", "idle_timeout", "stream_max_seconds", "max_connections")
        if self.token is not None and not self.token.strip():
            raise ConfigError("server.token must not be blank")

    def resolved_token(self) -> str | None:
        """The bearer token: inline, from token_file (systemd credentials), or None."""
        if self.token:
            return self.token
        if self.token_file:
            try:
                text = Path(self.token_file).read_text(encoding="utf-8").strip()
            except OSError as exc:
                raise ConfigError(f"server.token_file: cannot read {self.token_file} ({exc.strerror})") from None
            if not text:
                raise ConfigError(f"server.token_file: {self.token_file} is empty")
            return text
        return None


@dataclass(frozen=True)
class ModelConfig:
    name: str = DEFAULT_MODEL
    backend: str = "auto"
    device: str = "auto"
    threads: int = 0  # 0: one per core, up to 4 (EngineOptions' default)
    decoder_threads: int = 0
    cache_dir: str | None = None
    routes: str = ""  # language routing, e.g. "en=tiny.en,*=base" (edge_asr.routing); "" = just name

    def __post_init__(self) -> None:
        if self.threads < 0 or self.decoder_threads < 0:
            raise ConfigError("model.threads and model.decoder_threads must be >= 0 (0: automatic)")
        self.engine_options()  # EngineOptions validates the rest

    def engine_options(self) -> EngineOptions:
        kw: dict[str, Any] = {"model": self.name, "backend": self.backend, "device": self.device,
                              "cache_dir": self.cache_dir, "routes": self.routes}
        if self.threads:
            kw["threads"] = self.threads
        if self.decoder_threads:
            kw["decoder_threads"] = self.decoder_threads
        return EngineOptions(**kw)


@dataclass(frozen=True)
class DecodingConfig:
    language: str | None = None
    beam_size: int = 1
    initial_prompt: str | None = None

    def __post_init__(self) -> None:
        self.transcribe_options()

    def transcribe_options(self) -> TranscribeOptions:
        return TranscribeOptions(language=self.language, beam_size=self.beam_size, initial_prompt=self.initial_prompt)


@dataclass(frozen=True)
class LiveConfig:
    enabled: bool = True
    device: str | None = None
    file: str | None = None
    partial_interval: float = PARTIAL_INTERVAL
    min_silence: float = MIN_SILENCE
    vad_threshold: float = VAD_THRESHOLD
    vad_gain: bool = True  # the VAD hears quiet input raised (live/vad_gain.py)
    retry_initial: float = RETRY_INITIAL
    retry_max: float = RETRY_MAX
    max_clients: int = MAX_LIVE_CLIENTS
    max_session_seconds: float = LIVE_SESSION_SECONDS

    def __post_init__(self) -> None:
        _positive("live", self, "retry_initial", "retry_max", "max_clients", "partial_interval", "min_silence",
                  "max_session_seconds")
        if not 0 < self.vad_threshold < 1:
            raise ConfigError(f"live.vad_threshold must be between 0 and 1, not {self.vad_threshold}")
        if self.retry_max < self.retry_initial:
            raise ConfigError("live.retry_max must be at least live.retry_initial")


@dataclass(frozen=True)
class JournalConfig:
    enabled: bool = True
    directory: str | None = None
    max_bytes: int = JOURNAL_MAX_BYTES
    rotate_daily: bool = True
    keep_files: int = JOURNAL_KEEP_FILES

    def __post_init__(self) -> None:
        _positive("journal", self, "max_bytes", "keep_files")

    def path(self) -> Path:
        return Path(self.directory) if self.directory else default_state_dir() / "journal"


@dataclass(frozen=True)
class SchedulerConfig:
    max_queue: int = MAX_QUEUE
    max_streams: int = MAX_STREAMS

    def __post_init__(self) -> None:
        _positive("scheduler", self, "max_queue", "max_streams")


@dataclass(frozen=True)
class WyomingConfig:
    enabled: bool = False
    host: str = DEFAULT_HOST
    port: int = WYOMING_PORT
    allow_remote: bool = False  # Wyoming has no authentication: a non-loopback host must be asked for explicitly

    def __post_init__(self) -> None:
        if not 0 <= self.port <= 65535:
            raise ConfigError(f"wyoming.port must be 0..65535, not {self.port}")


@dataclass(frozen=True)
class GrpcConfig:
    enabled: bool = False
    host: str = DEFAULT_HOST
    port: int = GRPC_PORT

    def __post_init__(self) -> None:
        if not 0 <= self.port <= 65535:
            raise ConfigError(f"grpc.port must be 0..65535, not {self.port}")


@dataclass(frozen=True)
class LogConfig:
    level: str = "info"

    def __post_init__(self) -> None:
        if self.level not in LOG_LEVELS:
            raise ConfigError(f"log.level must be one of {', '.join(LOG_LEVELS)}, not {self.level!r}")


@dataclass(frozen=True)
class DaemonConfig:
    server: ServerConfig = field(default_factory=ServerConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    decoding: DecodingConfig = field(default_factory=DecodingConfig)
    live: LiveConfig = field(default_factory=LiveConfig)
    journal: JournalConfig = field(default_factory=JournalConfig)
    scheduler: SchedulerConfig = field(default_factory=SchedulerConfig)
    wyoming: WyomingConfig = field(default_factory=WyomingConfig)
    grpc: GrpcConfig = field(default_factory=GrpcConfig)
    log: LogConfig = field(default_factory=LogConfig)

    def __post_init__(self) -> None:
        has_token = bool(self.server.token or self.server.token_file)
        listeners = (("server.host", self.server.host, True), ("grpc.host", self.grpc.host, self.grpc.enabled))
        for key, host, on in listeners:
            if on and not is_loopback(host) and not has_token:
                raise ConfigError(
                    f"{key} = {host!r} is not a loopback address: set server.token, server.token_file "
                    f"or ${TOKEN_ENV} so that clients on the network must authenticate"
                )
        if self.wyoming.enabled and not is_loopback(self.wyoming.host) and not self.wyoming.allow_remote:
            raise ConfigError(
                f"wyoming.host = {self.wyoming.host!r} is not a loopback address, and the Wyoming protocol has no "
                "authentication: anyone who can reach the port could use the model and read transcripts. Keep it "
                "on 127.0.0.1, or set wyoming.allow_remote = true to serve a network you trust"
            )
