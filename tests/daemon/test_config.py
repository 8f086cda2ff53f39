"""The daemon's configuration: defaults, TOML, environment, CLI precedence, validation messages, reload rules."""

from __future__ import annotations

import argparse
import subprocess
import sys
from dataclasses import fields
from pathlib import Path

import pytest

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib  # type: ignore[no-redef]

from edge_asr.daemon.config import DaemonConfig
from edge_asr.daemon.config_file import DOCS, SECTIONS, build_config, load_config, reload_changes, render_toml
from edge_asr.daemon.launch import add_arguments, overrides_from_args
from edge_asr.errors import ConfigError

pytestmark = pytest.mark.timeout(60)

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "edge_asr" / "data" / "config.example.toml"


def _cli(*argv: str) -> dict:
    p = argparse.ArgumentParser()
    add_arguments(p)
    return overrides_from_args(p.parse_args(list(argv)))


def test_rendered_defaults_parse_back_to_the_defaults_and_document_every_key() -> None:
    text = render_toml(DaemonConfig())
    assert build_config(tomllib.loads(text)) == DaemonConfig()
    for name, cls in SECTIONS.items():
        for key in (f.name for f in fields(cls)):
            assert f"{name}.{key}" in DOCS
            assert f"\n{key} = " in text or f"\n# {key} = " in text


def test_the_shipped_example_is_the_documented_defaults() -> None:
    assert EXAMPLE.read_text() == render_toml(DaemonConfig()), (
        "edge_asr/data/config.example.toml is stale: regenerate it with `edge-asr config show --defaults`")


def test_file_then_environment_then_cli(tmp_path: Path) -> None:
    cfg = tmp_path / "c.toml"
    cfg.write_text('[server]\nport = 9000\nmax_upload_bytes = 1024\n[live]\ndevice = "USB mic"\n')
    env = {"EDGE_ASR_SERVER_PORT": "9100", "EDGE_ASR_LIVE_ENABLED": "false", "EDGE_ASR_TOKEN": "s3cr3t-tok"}
    c = load_config(cfg, environ=env).config
    assert (c.server.port, c.server.max_upload_bytes, c.live.device, c.live.enabled) == (9100, 1024, "USB mic", False)
    assert c.server.resolved_token() == "s3cr3t-tok"
    c = load_config(cfg, _cli("--port", "9200", "--set", "live.enabled=true", "--device", "2"), env).config
    assert (c.server.port, c.live.enabled, c.live.device) == (9200, True, "2")
    assert "s3cr3t-tok" not in repr(c), "the token leaks into logs"


def test_the_default_search_path_uses_xdg_then_etc(tmp_path: Path) -> None:
    user = tmp_path / "edge-asr" / "config.toml"
    user.parent.mkdir()
    user.write_text("[log]\nlevel = \"debug\"\n")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("XDG_CONFIG_HOME", str(tmp_path))
        mp.delenv("EDGE_ASR_CONFIG", raising=False)
        loaded = load_config(environ={})
    assert loaded.path == user and loaded.config.log.level == "debug"


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        ("[server]\nportt = 1\n", "unknown key server.portt (did you mean 'port'?)"),
        ("[sever]\nport = 1\n", "unknown key sever (did you mean 'server'?)"),
        ("[server]\nport = \"eighty\"\n", "server.port: expected int, got 'eighty'"),
        ("[server]\nport = 70000\n", "server.port must be 0..65535"),
        ("[server]\nhost = \"0.0.0.0\"\n", "not a loopback address"),
        ("[grpc]\nenabled = true\nhost = \"0.0.0.0\"\n", "grpc.host = '0.0.0.0' is not a loopback address"),
        ("[live]\nretry_initial = 10.0\nretry_max = 1.0\n", "live.retry_max must be at least live.retry_initial"),
        ("[model]\nbackend = \"cuda\"\n", "backend must be auto, onnxruntime or tflite"),
        ("[log]\nlevel = \"loud\"\n", "log.level must be one of"),
        ("[journal]\nmax_bytes = 0\n", "journal.max_bytes must be positive"),
        ("server = 3\n", "[server] must be a table"),
        ("[server\n", "not valid TOML"),
    ],
)
def test_bad_configs_say_what_is_wrong(tmp_path: Path, toml: str, message: str) -> None:
    cfg = tmp_path / "bad.toml"
    cfg.write_text(toml)
    with pytest.raises(ConfigError) as err:
        load_config(cfg, environ={})
    assert message in str(err.value)
    assert str(cfg) in str(err.value)


def test_off_loopback_needs_a_readable_token(tmp_path: Path) -> None:
    token = tmp_path / "token"
    c = build_config({"server": {"host": "0.0.0.0", "token_file": str(token)}})
    with pytest.raises(ConfigError, match="cannot read"):
        c.server.resolved_token()
    token.write_text("abc\n")
    assert c.server.resolved_token() == "abc"
    assert build_config({"server": {"host": "::1"}}).server.host == "::1"  # IPv6 loopback needs none


def test_reload_keeps_socket_and_model_and_applies_the_rest() -> None:
    old = DaemonConfig()
    new = build_config({"server": {"port": 1, "max_upload_bytes": 5}, "model": {"threads": 1},
                        "scheduler": {"max_queue": 2}})
    applied, ignored = reload_changes(old, new)
    assert applied.server.port == old.server.port and applied.model == old.model
    assert applied.server.max_upload_bytes == 5 and applied.scheduler.max_queue == 2
    assert set(ignored) == {"server.port", "model"}


def test_config_check_and_show_commands(tmp_path: Path) -> None:
    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "edge_asr.cli.main", "config", *args], cwd=ROOT,
                              capture_output=True, text=True, timeout=60,
                              env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT), "HOME": str(tmp_path)})

    good = tmp_path / "good.toml"
    good.write_text('[server]\ntoken = "hunter2"\nport = 9999\n')
    r = run("check", "--config", str(good))
    assert r.returncode == 0 and "ok" in r.stdout
    shown = run("show", "--config", str(good))
    assert shown.returncode == 0 and "port = 9999" in shown.stdout and "hunter2" not in shown.stdout
    assert tomllib.loads(shown.stdout)["server"]["port"] == 9999
    bad = tmp_path / "bad.toml"
    bad.write_text("[scheduler]\nmax_queue = 0\n")
    r = run("check", "--config", str(bad))
    assert r.returncode == 2 and "scheduler.max_queue must be positive" in r.stderr


def test_wyoming_off_loopback_needs_an_explicit_opt_in() -> None:
    """Wyoming has no authentication in its protocol: a non-loopback bind must be asked for (issue 11, defect 2)."""
    with pytest.raises(ConfigError, match=r"wyoming\.host = '0\.0\.0\.0' .*no authentication.*allow_remote"):
        build_config({"wyoming": {"enabled": True, "host": "0.0.0.0"}})
    with pytest.raises(ConfigError, match="allow_remote"):  # a server token does not cover Wyoming
        build_config({"server": {"token": "t"}, "wyoming": {"enabled": True, "host": "192.168.1.5"}})
    assert build_config({"wyoming": {"enabled": True, "host": "0.0.0.0", "allow_remote": True}}).wyoming.allow_remote
    assert not build_config({"wyoming": {"enabled": False, "host": "0.0.0.0"}}).wyoming.enabled
    assert build_config({"wyoming": {"enabled": True, "host": "::1"}}).wyoming.host == "::1"


def test_the_daemon_refuses_an_unauthenticated_wyoming_on_the_network(tmp_path: Path) -> None:
    """The command of the report; the daemon must exit with the reason before it listens on anything."""
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT), "HOME": str(tmp_path),
           "XDG_CONFIG_HOME": str(tmp_path / "config"), "XDG_STATE_HOME": str(tmp_path / "state")}
    proc = subprocess.Popen([sys.executable, "-m", "edge_asr.daemon", "--no-live", "--port", "0",
                             "--set", "wyoming.enabled=true", "--set", "wyoming.host=0.0.0.0",
                             "--set", "wyoming.port=0"], cwd=ROOT, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        out, _ = proc.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, _ = proc.communicate()
        raise AssertionError(f"the daemon started with an unauthenticated Wyoming on 0.0.0.0:\n{out}") from None
    assert proc.returncode == 2, out
    assert "allow_remote" in out and "listening" not in out, out
