"""The daemon's options and launcher: what ``edge-asr daemon`` and ``python -m edge_asr.daemon`` run (HTTP API,
live microphone, journal, metrics). The server stack is imported in :func:`run`, so the CLI can register
``edge-asr daemon`` and answer ``--help`` without the ``daemon`` extra installed."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import Any

from ..app_setup import standalone_main
from ..distribution import is_missing_extra, missing_part
from ..errors import EdgeAsrError

SUMMARY = "run the headless server: OpenAI-compatible API, live mic, journal, metrics"
DESCRIPTION = ("Serve transcription on 127.0.0.1:8765: POST /v1/audio/transcriptions (OpenAI-compatible), "
               "WS /v1/stream, GET|WS /v1/live, /healthz, /readyz, /metrics. Settings come from the config file, then "
               "EDGE_ASR_<SECTION>_<KEY> environment variables, then these flags. SIGHUP reloads, SIGTERM stops "
               "cleanly.")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", default=None,
                   help="TOML file (default: $EDGE_ASR_CONFIG, ~/.config/edge-asr/config.toml, "
                   "/etc/edge-asr/config.toml)")
    p.add_argument("--host", default=None, help="address to bind (default: 127.0.0.1; others need a token)")
    p.add_argument("--port", type=int, default=None, help="TCP port (default: 8765; 0 = any free port)")
    p.add_argument("--token-file", default=None, help="file holding the bearer token clients must send")
    p.add_argument("--device", default=None, help="microphone name or index (default: the system default input)")
    p.add_argument("--no-live", action="store_true", help="serve the API only; do not open the microphone")
    p.add_argument("--journal-dir", default=None, help="folder of the live transcript journal")
    p.add_argument("--model", default=None, help="model name or checkpoint path (default: tiny.en)")
    p.add_argument("--threads", type=int, default=None, help="encoder and decoder threads")
    p.add_argument("--log-level", default=None, choices=["debug", "info", "warning", "error"])
    p.add_argument("--set", dest="assignments", action="append", default=[], metavar="SECTION.KEY=VALUE",
                   help="override any config key (repeatable), e.g. --set scheduler.max_queue=4")


def overrides_from_args(args: argparse.Namespace) -> dict[str, dict[str, Any]]:
    """CLI flags as a config layer that wins over the file and the environment."""
    from .config_file import merge, parse_assignments  # stdlib only (tomli on 3.10: checked in run)

    flags: dict[str, dict[str, Any]] = {}

    def put(section: str, key: str, value: Any) -> None:
        if value is not None:
            flags.setdefault(section, {})[key] = value

    put("server", "host", args.host)
    put("server", "port", args.port)
    put("server", "token_file", args.token_file)
    put("live", "device", args.device)
    put("live", "enabled", False if args.no_live else None)
    put("journal", "directory", args.journal_dir)
    put("model", "name", args.model)
    put("model", "threads", args.threads)
    put("model", "decoder_threads", args.threads)
    put("log", "level", args.log_level)
    return merge(parse_assignments(args.assignments), flags)


def run(args: argparse.Namespace) -> int:
    try:
        from .server import run_daemon
    except ImportError as exc:
        if not is_missing_extra(exc, "daemon"):
            raise
        raise EdgeAsrError(f"`edge-asr daemon` needs {exc.name}, which is missing. {missing_part('daemon')}") from None

    return run_daemon(args.config, overrides_from_args(args))


def main(argv: Sequence[str] | None = None, prog: str = "python -m edge_asr.daemon") -> int:
    """The daemon as a program of its own, with `edge-asr daemon`'s options."""
    return standalone_main(prog, DESCRIPTION, add_arguments, run, argv)
