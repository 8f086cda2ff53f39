"""`edge-asr config show|check`: the daemon's effective configuration, and its validation with clear errors."""

from __future__ import annotations

import argparse
import sys

from ..distribution import is_missing_extra, missing_part
from ..errors import EdgeAsrError


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("config", help="show or check the daemon configuration",
                       description="`show` prints the effective configuration (file < environment) as commented "
                       "TOML; `check` validates it and exits 2 with the reason when it is wrong.")
    p.add_argument("action", choices=["show", "check"])
    p.add_argument("--config", default=None, help="TOML file (default: the daemon's search path)")
    p.add_argument("--defaults", action="store_true", help="show: the built-in defaults, ignoring files and env")
    p.add_argument("--show-secrets", action="store_true", help="show: print the token instead of <redacted>")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    try:
        from ..daemon.config import DaemonConfig, default_config_paths
        from ..daemon.config_file import load_config, render_toml
    except ImportError as exc:  # tomli, on Python 3.10
        if not is_missing_extra(exc, "daemon"):
            raise
        raise EdgeAsrError(f"`edge-asr config` needs {exc.name}, which is missing. {missing_part('daemon')}") from None

    if args.action == "show" and args.defaults:
        sys.stdout.write(render_toml(DaemonConfig()))
        return 0
    loaded = load_config(args.config)  # raises ConfigError, which the CLI prints and exits 2 on
    config = loaded.config
    config.server.resolved_token()  # an unreadable token file is an error now, not at the first request
    searched = ", ".join(map(str, default_config_paths()))
    where = str(loaded.path) if loaded.path else f"no file found (searched {searched})"
    if args.action == "show":
        sys.stdout.write(f"# source: {where}\n" + render_toml(config, redact=not args.show_secrets))
    else:
        print(f"ok: {where}")
    return 0
