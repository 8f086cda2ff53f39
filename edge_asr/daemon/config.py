"""The daemon's configuration: one TOML file, then environment variables, then command-line overrides.

Every key has a default and a one-line doc (``DOCS``) so ``edge-asr config show`` can print a complete, commented
file. Validation happens once, in the frozen dataclasses' ``__post_init__``, and raises ConfigError naming the key.
"""

from __future__ import annotations

import difflib
import ipaddress
import logging
import os
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib  # type: ignore[no-redef]


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

    def __post_init__(self) -> None:
        if not 0 <= self.port <= 65535:
            raise ConfigError(f"server.port must be 0..65535, not {self.port}")
        if not self.host:
            raise ConfigError("server.host must not be empty")
        _positive("server", self, "max_upload_bytes", "max_audio_seconds", "request_timeout", "graceful_timeout")
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

    def __post_init__(self) -> None:
        if self.threads < 0 or self.decoder_threads < 0:
            raise ConfigError("model.threads and model.decoder_threads must be >= 0 (0: automatic)")
        self.engine_options()  # EngineOptions validates the rest

    def engine_options(self) -> EngineOptions:
        kw: dict[str, Any] = {"model": self.name, "backend": self.backend, "device": self.device,
                              "cache_dir": self.cache_dir}
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
    retry_initial: float = RETRY_INITIAL
    retry_max: float = RETRY_MAX
    max_clients: int = MAX_LIVE_CLIENTS

    def __post_init__(self) -> None:
        _positive("live", self, "retry_initial", "retry_max", "max_clients", "partial_interval", "min_silence")
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


SECTIONS: dict[str, type] = {f.name: f.default_factory for f in fields(DaemonConfig)}  # type: ignore[misc]

DOCS: dict[str, str] = {
    "server.host": "address to bind; anything but loopback requires a token",
    "server.port": "TCP port (0: any free port)",
    "server.token": f"bearer token clients must send (Authorization: Bearer ...); also ${TOKEN_ENV}",
    "server.token_file": "file holding the token (e.g. a systemd credential); used when token is unset",
    "server.max_upload_bytes": "largest accepted request body, bytes",
    "server.max_audio_seconds": "longest accepted upload after decoding, seconds",
    "server.request_timeout": "seconds an upload may wait and run before it is answered 504",
    "server.graceful_timeout": "seconds in-flight requests get to finish on SIGTERM",
    "model.name": "registered model name or checkpoint path",
    "model.backend": "auto | onnxruntime | tflite",
    "model.device": "cpu | auto | an execution provider (CUDA, QNN, ...)",
    "model.threads": "encoder threads (0: one per core, up to 4)",
    "model.decoder_threads": "decoder-step threads (0: one per core, up to 4)",
    "model.cache_dir": "where built INT8 models are kept (default: the per-user cache)",
    "decoding.language": "language code (multilingual models; default: detect)",
    "decoding.beam_size": "1 = greedy, 5 = Whisper's beam search",
    "decoding.initial_prompt": "text the first window is conditioned on (names, spellings)",
    "live.enabled": "transcribe the microphone continuously",
    "live.device": "input device name or index (default: the system default input)",
    "live.file": "play this audio file as the microphone, in real time (demos, tests); device is then ignored",
    "live.partial_interval": "seconds of speech between partial results",
    "live.min_silence": "seconds of silence that end an utterance (lower: faster finals, more splits)",
    "live.vad_threshold": "speech probability (0-1) that starts an utterance",
    "live.retry_initial": "seconds before retrying a missing microphone; doubles up to retry_max",
    "live.retry_max": "ceiling of the retry backoff, seconds",
    "live.max_clients": "concurrent /v1/live subscribers",
    "journal.enabled": "append every live final to a JSONL journal",
    "journal.directory": "journal folder (default: $STATE_DIRECTORY/journal or ~/.local/state/edge-asr/journal)",
    "journal.max_bytes": "rotate a journal file past this size, bytes",
    "journal.rotate_daily": "start a new journal file each day (UTC)",
    "journal.keep_files": "journal files kept; older ones are deleted",
    "scheduler.max_queue": "upload and stream jobs that may wait for the model before new ones get 429",
    "scheduler.max_streams": "concurrent /v1/stream sessions",
    "wyoming.enabled": "serve the Wyoming protocol (Home Assistant speech-to-text); needs the wyoming extra",
    "wyoming.host": "Wyoming address; the protocol has no authentication, so keep it on a trusted network",
    "wyoming.port": "Wyoming TCP port",
    "grpc.enabled": "serve gRPC (proto/edge_asr.proto); needs the grpc extra; uses server.token when set",
    "grpc.host": "gRPC address; anything but loopback requires a token",
    "grpc.port": "gRPC TCP port (0: any free port)",
    "log.level": "debug | info | warning | error",
}

# Keys SIGHUP cannot change in a running daemon (the socket and the loaded model).
RESTART_KEYS = frozenset({"server.host", "server.port", "model", "wyoming", "grpc"})


def _positive(section: str, obj: Any, *names: str) -> None:
    for name in names:
        value = getattr(obj, name)
        if value <= 0:
            raise ConfigError(f"{section}.{name} must be positive, not {value}")


def _field_type(cls: type, name: str) -> Any:
    return typing.get_type_hints(cls)[name]


def _coerce(key: str, value: Any, typ: Any) -> Any:
    """Convert a TOML or environment value to the field's type, with an error naming the key."""
    optional = typing.get_origin(typ) in (typing.Union, types.UnionType) and type(None) in typing.get_args(typ)
    base = next(a for a in typing.get_args(typ) if a is not type(None)) if optional else typ
    if optional and (value is None or (isinstance(value, str) and value.strip().lower() in ("", "none"))):
        return None
    if base is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in ("1", "true", "yes", "on", "0", "false", "no", "off"):
            return value.strip().lower() in ("1", "true", "yes", "on")
    elif base is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, str):
            try:
                return int(value.strip().replace("_", ""))
            except ValueError:
                pass
    elif base is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        if isinstance(value, str):
            try:
                return float(value)
            except ValueError:
                pass
    elif base is str:
        if isinstance(value, str):
            return value
        if isinstance(value, int) and not isinstance(value, bool):  # live.device = 2 (an index)
            return str(value)
    raise ConfigError(f"{key}: expected {getattr(base, '__name__', base)}, got {value!r}")


def _check_known(key: str, given: Mapping[str, Any], known: list[str]) -> None:
    for name in given:
        if name not in known:
            hint = difflib.get_close_matches(name, known, n=1)
            suggestion = f" (did you mean {hint[0]!r}?)" if hint else f"; known: {', '.join(known)}"
            raise ConfigError(f"unknown key {key}{name}{suggestion}")


def build_config(values: Mapping[str, Mapping[str, Any]]) -> DaemonConfig:
    """A validated DaemonConfig from nested ``{section: {key: value}}`` (a TOML document's shape)."""
    _check_known("", values, list(SECTIONS))
    sections: dict[str, Any] = {}
    for name, cls in SECTIONS.items():
        given = values.get(name, {})
        if not isinstance(given, Mapping):
            raise ConfigError(f"[{name}] must be a table")
        known = [f.name for f in fields(cls)]
        _check_known(f"{name}.", given, known)
        kwargs = {k: _coerce(f"{name}.{k}", v, _field_type(cls, k)) for k, v in given.items()}
        sections[name] = cls(**kwargs)
    return DaemonConfig(**sections)


def read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as f:
            return tomllib.load(f)
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such file") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read ({exc.strerror})") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML ({exc})") from None


def env_values(environ: Mapping[str, str]) -> dict[str, dict[str, str]]:
    """``EDGE_ASR_<SECTION>_<KEY>=value`` overrides, plus ``EDGE_ASR_TOKEN``."""
    out: dict[str, dict[str, str]] = {}
    for name, cls in SECTIONS.items():
        for f in fields(cls):
            var = f"{ENV_PREFIX}{name.upper()}_{f.name.upper()}"
            if var in environ:
                out.setdefault(name, {})[f.name] = environ[var]
    if TOKEN_ENV in environ and "token" not in out.get("server", {}):
        out.setdefault("server", {})["token"] = environ[TOKEN_ENV]
    return out


def merge(*layers: Mapping[str, Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for layer in layers:
        for section, values in layer.items():
            if not isinstance(values, Mapping):
                raise ConfigError(f"[{section}] must be a table")
            out.setdefault(section, {}).update(values)
    return out


def parse_assignments(items: list[str]) -> dict[str, dict[str, str]]:
    """``section.key=value`` strings (the CLI's --set) as a nested mapping."""
    out: dict[str, dict[str, str]] = {}
    for item in items:
        key, sep, value = item.partition("=")
        section, dot, name = key.strip().partition(".")
        if not sep or not dot or not name:
            raise ConfigError(f"--set expects section.key=value, not {item!r}")
        out.setdefault(section, {})[name] = value
    return out


@dataclass(frozen=True)
class LoadedConfig:
    config: DaemonConfig
    path: Path | None  # the file read, if any


def load_config(path: str | Path | None = None, overrides: Mapping[str, Mapping[str, Any]] | None = None,
                environ: Mapping[str, str] | None = None) -> LoadedConfig:
    """Defaults < the TOML file (given, or the first that exists of default_config_paths) < environment < overrides."""
    environ = os.environ if environ is None else environ
    file_values: dict[str, Any] = {}
    found: Path | None = None
    if path is not None:
        found = Path(path)
        file_values = read_toml(found)
    else:
        for candidate in default_config_paths():
            if candidate.is_file():
                found = candidate
                file_values = read_toml(candidate)
                break
    try:
        config = build_config(merge(file_values, env_values(environ), overrides or {}))
    except ConfigError as exc:
        where = f"{found}: " if found else ""
        raise ConfigError(f"{where}{exc}") from None
    return LoadedConfig(config, found)


def reload_changes(old: DaemonConfig, new: DaemonConfig) -> tuple[DaemonConfig, list[str]]:
    """The config a SIGHUP may apply (restart-only keys kept from ``old``) and the keys that were ignored."""
    ignored = []
    server = new.server
    for key in ("host", "port"):
        if getattr(old.server, key) != getattr(new.server, key):
            ignored.append(f"server.{key}")
            server = replace(server, **{key: getattr(old.server, key)})
    for section in ("model", "wyoming", "grpc"):
        if getattr(old, section) != getattr(new, section):
            ignored.append(section)
    return replace(new, server=server, model=old.model, wyoming=old.wyoming, grpc=old.grpc), ignored


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    s = str(value).replace("\\", "\\\\").replace('"', '\\"')
    return f'"{s}"'


def render_toml(config: DaemonConfig, *, redact: bool = True) -> str:
    """The whole config as a commented TOML document; unset optional keys are shown commented out."""
    lines = [f"# {APP_NAME} daemon configuration. Every key is shown with its value; unset keys are commented out.",
             f"# Environment overrides: {ENV_PREFIX}<SECTION>_<KEY>, e.g. {ENV_PREFIX}SERVER_PORT=9000."]
    for name in SECTIONS:
        section = getattr(config, name)
        lines += ["", f"[{name}]"]
        for f in fields(section):
            value = getattr(section, f.name)
            lines.append(f"# {DOCS[f'{name}.{f.name}']}")
            if value is None:
                lines.append(f'# {f.name} = ""')
            elif redact and f.name == "token":
                lines.append(f'{f.name} = "<redacted>"')
            else:
                lines.append(f"{f.name} = {_toml_value(value)}")
    return "\n".join(lines) + "\n"
