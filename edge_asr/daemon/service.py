"""systemd integration without a systemd dependency: sd_notify over $NOTIFY_SOCKET and the watchdog interval.

The protocol is one datagram per state change to the AF_UNIX socket named in $NOTIFY_SOCKET (``@`` marks the
abstract namespace). Outside systemd every call is a no-op.
"""

from __future__ import annotations

import logging
import os
import socket
import sys
import time

log = logging.getLogger(__name__)

NOTIFY_ENV = "NOTIFY_SOCKET"
WATCHDOG_USEC_ENV = "WATCHDOG_USEC"
WATCHDOG_PID_ENV = "WATCHDOG_PID"
WATCHDOG_FRACTION = 0.5  # ping at half the interval systemd allows, as sd_watchdog_enabled(3) advises
USEC_PER_SECOND = 1_000_000


def sd_notify(state: str) -> bool:
    """Send ``state`` (e.g. ``READY=1``) to the service manager; False when not run under systemd."""
    address = os.environ.get(NOTIFY_ENV)
    if not address:
        return False
    if address[0] == "@":
        address = "\0" + address[1:]
    try:
        # Non-blocking: this runs on the event loop (watchdog pings), and a manager that stops reading must not
        # wedge the daemon; a datagram it cannot take now is dropped.
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC | socket.SOCK_NONBLOCK) as s:
            s.connect(address)
            s.sendall(state.encode("utf-8"))
    except OSError as exc:
        log.warning("sd_notify(%s) failed: %s", state.split("=", 1)[0], exc)
        return False
    return True


def ready(status: str) -> bool:
    return sd_notify(f"READY=1\nSTATUS={status}")


def status(text: str) -> bool:
    return sd_notify(f"STATUS={text}")


def stopping(status_text: str = "stopping") -> bool:
    return sd_notify(f"STOPPING=1\nSTATUS={status_text}")


def reloading() -> bool:
    # MONOTONIC_USEC lets Type=notify-reload services (systemd >= 253) match the reload to this signal.
    return sd_notify(f"RELOADING=1\nMONOTONIC_USEC={time.monotonic_ns() // 1000}")


def extend_timeout(seconds: float) -> bool:
    """Ask for more start-up time (a first model build takes minutes on a small board)."""
    return sd_notify(f"EXTEND_TIMEOUT_USEC={int(seconds * USEC_PER_SECOND)}")


def watchdog_ping() -> bool:
    return sd_notify("WATCHDOG=1")


def watchdog_interval() -> float | None:
    """Seconds between watchdog pings systemd expects from this process, or None when the watchdog is off."""
    usec = os.environ.get(WATCHDOG_USEC_ENV)
    if not usec:
        return None
    pid = os.environ.get(WATCHDOG_PID_ENV)
    if pid and pid != str(os.getpid()):
        return None
    try:
        value = int(usec)
    except ValueError:
        log.warning("ignoring %s=%r (not an integer)", WATCHDOG_USEC_ENV, usec)
        return None
    return value / USEC_PER_SECOND * WATCHDOG_FRACTION if value > 0 else None


_SYSLOG_PRIORITY = {logging.DEBUG: 7, logging.INFO: 6, logging.WARNING: 4, logging.ERROR: 3, logging.CRITICAL: 2}


class JournalFormatter(logging.Formatter):
    """``<priority>logger: message``: journald reads the sd-daemon(3) prefix as the line's level; no timestamp
    (the journal has its own)."""

    def format(self, record: logging.LogRecord) -> str:
        prio = _SYSLOG_PRIORITY.get(record.levelno, 6)
        return f"<{prio}>{record.name}: {super().format(record)}"


def log_to_journal() -> None:
    """Under systemd (stderr goes to the journal): level prefixes instead of timestamps on every handler."""
    root = logging.getLogger()
    if not root.handlers:
        root.addHandler(logging.StreamHandler(sys.stderr))
    for handler in root.handlers:
        handler.setFormatter(JournalFormatter("%(message)s"))
