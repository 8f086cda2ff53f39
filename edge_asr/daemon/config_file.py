"""The daemon's configuration file: one TOML file, then environment variables, then command-line overrides.

Every key has a default and a one-line doc (``DOCS``) so ``edge-asr config show`` can print a complete, commented
file; ``build_config`` turns nested values into the validated dataclasses of config.py.
"""

from __future__ import annotations

import difflib
import os
import typing
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib  # type: ignore[no-redef]

from ..config_values import coerce_value
from ..constants import APP_NAME
from ..errors import ConfigError
from .config import ENV_PREFIX, TOKEN_ENV, DaemonConfig, default_config_paths

SECTIONS: dict[str, type] = {f.name: f.default_factory for f in fields(DaemonConfig)}  # type: ignore[misc]

DOCS: dict[str, str] = {
    "server.host": "address to bind; anything but loopback requires a token",
    "server.port": "TCP port (0: any free port)",
    "server.token": f"bearer token clients must send (Authorization: Bearer ...); also ${TOKEN_ENV}",
    "server.token_file": "file holding the token (e.g. a systemd credential); used when token is unset",
    "server.max_upload_bytes": "largest accepted request body, bytes",
    "server.max_audio_seconds": "longest accepted upload after decoding, seconds",
    "server.request_timeout": "seconds an upload may wait and run before it is answered 504",
    "server.graceful_timeout": "seconds in-flight requests get to finish on SIGTERM; the rest are answered 503",
    "server.header_timeout": "seconds a client may take to send a request line and headers (slowloris bound)",
    "server.idle_timeout": "seconds a client may stall: an upload body pausing, a /v1/stream sending nothing, "
                           "a /v1/live WebSocket leaving an event unread",
    "server.stream_max_seconds": "longest /v1/stream session, wall-clock seconds",
    "server.max_connections": "open HTTP and WebSocket connections; more are closed at once",
    "model.name": "registered model name or checkpoint path",
    "model.backend": "auto | onnxruntime | tflite",
    "model.device": "cpu | auto | an execution provider (CUDA, QNN, ...)",
    "model.threads": "encoder threads (0: one per core, up to 4)",
    "model.decoder_threads": "decoder-step threads (0: one per core, up to 4)",
    "model.cache_dir": "where built INT8 models are kept (default: the per-user cache)",
    "model.routes": "language routing, e.g. \"en=tiny.en,*=base\": the language (requested, else detected on the "
                    "first seconds by a multilingual model) picks the model; empty: model.name for everything",
    "decoding.language": "language code (multilingual models; default: detect)",
    "decoding.beam_size": "1 = greedy, 5 = Whisper's beam search",
    "decoding.initial_prompt": "text the first window is conditioned on (names, spellings)",
    "live.enabled": "transcribe the microphone continuously",
    "live.device": "input device name or index (default: the system default input)",
    "live.file": "play this audio file as the microphone, in real time (demos, tests); device is then ignored",
    "live.partial_interval": "seconds of speech between partial results",
    "live.min_silence": "seconds of silence that end an utterance (lower: faster finals, more splits)",
    "live.vad_threshold": "speech probability (0-1) that starts an utterance",
    "live.vad_gain": "let the VAD hear quiet input raised, so soft words open an utterance (the text is decoded "
                     "from the audio as captured)",
    "live.retry_initial": "seconds before retrying a missing microphone; doubles up to retry_max",
    "live.retry_max": "ceiling of the retry backoff, seconds",
    "live.max_clients": "concurrent /v1/live subscribers",
    "live.max_session_seconds": "a /v1/live subscription is closed after this many seconds (clients reconnect)",
    "journal.enabled": "append every live final to a JSONL journal",
    "journal.directory": "journal folder (default: $STATE_DIRECTORY/journal or ~/.local/state/edge-asr/journal)",
    "journal.max_bytes": "rotate a journal file past this size, bytes",
    "journal.rotate_daily": "start a new journal file each day (UTC)",
    "journal.keep_files": "journal files kept; older ones are deleted",
    "scheduler.max_queue": "upload and stream jobs that may wait for the model before new ones get 429",
    "scheduler.max_streams": "concurrent /v1/stream sessions",
    "wyoming.enabled": "serve the Wyoming protocol (Home Assistant speech-to-text); needs the wyoming extra",
    "wyoming.host": "Wyoming address; the protocol has no authentication: other than loopback needs allow_remote",
    "wyoming.allow_remote": "allow a non-loopback wyoming.host; anyone who reaches the port can use it",
    "wyoming.port": "Wyoming TCP port",
    "grpc.enabled": "serve gRPC (proto/edge_asr.proto); needs the grpc extra; uses server.token when set",
    "grpc.host": "gRPC address; anything but loopback requires a token",
    "grpc.port": "gRPC TCP port (0: any free port)",
    "log.level": "debug | info | warning | error",
}



def _field_type(cls: type, name: str) -> Any:
    return typing.get_type_hints(cls)[name]


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
        kwargs = {k: coerce_value(f"{name}.{k}", v, _field_type(cls, k)) for k, v in given.items()}
        sections[name] = cls(**kwargs)
    return DaemonConfig(**sections)


def read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as f:
            return tomllib.load(f)
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such file; write one with: edge-asr config show --defaults > {path}") from None
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
    journal = new.journal
    if old.journal.directory != new.journal.directory:
        ignored.append("journal.directory")
        journal = replace(journal, directory=old.journal.directory)
    return replace(new, server=server, model=old.model, wyoming=old.wyoming, grpc=old.grpc, journal=journal), ignored


def changed_keys(old: DaemonConfig, new: DaemonConfig) -> list[str]:
    """``section.key: old -> new`` for every key that differs (secrets by name only), for the reload log."""
    out = []
    for name in SECTIONS:
        before, after = getattr(old, name), getattr(new, name)
        for f in fields(before):
            a, b = getattr(before, f.name), getattr(after, f.name)
            if a != b:
                out.append(f"{name}.{f.name}" if f.name == "token" else f"{name}.{f.name}: {a!r} -> {b!r}")
    return out


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
