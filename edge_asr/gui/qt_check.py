"""Refuse to start on a Qt binding known to crash this app, with the command that fixes it.

PySide6 6.12.0 returns ``True`` from ``SignalInstance.emit()`` without taking a reference, so every emit from
Python drops one reference to ``True``. From Python 3.12 on ``True`` is immortal and nothing happens; on 3.10
and 3.11 the interpreter aborts ("deallocating True or False") once the few hundred references are used up:
within a minute of recording, since every live event is an emit. The probe measures the binding itself rather
than trusting version numbers, so a fixed 6.12.x passes.
"""

from __future__ import annotations

import sys

from ..errors import EdgeAsrError

_PROBE_EMITS = 64
_LEAK_THRESHOLD = _PROBE_EMITS // 2  # references lost over the probe that mean "one per emit"


def emit_leaks_true() -> bool:
    """Whether emitting a Python-side signal drops a reference to ``True`` (measured, not guessed)."""
    from PySide6.QtCore import QObject, Signal

    class _Probe(QObject):
        ping = Signal(int)

    probe = _Probe()
    before = sys.getrefcount(True)
    for _ in range(_PROBE_EMITS):
        probe.ping.emit(0)
    lost = before - sys.getrefcount(True)
    if lost >= _LEAK_THRESHOLD:
        # Give the references back, so the probe itself does no harm on the way to the error message.
        _restore.extend([True] * lost)
        return True
    return False


_restore: list[bool] = []


def check_qt_binding() -> None:
    if sys.version_info >= (3, 12):
        return  # True is immortal: the 6.12.0 bug is harmless there
    if emit_leaks_true():
        import PySide6

        raise EdgeAsrError(
            f"PySide6 {PySide6.__version__} drops a reference on every signal emit on Python "
            f"{sys.version_info.major}.{sys.version_info.minor}, which would crash the app within minutes. "
            "Install another version: pip install 'PySide6-Essentials>=6.6,!=6.12.0'"
        )
