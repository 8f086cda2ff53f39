"""The small exception tree of edge-asr. Backends translate their own errors into these."""

from __future__ import annotations


class EdgeAsrError(Exception):
    """Base of every error edge-asr raises on purpose; its message is meant for a human."""


class AudioError(EdgeAsrError):
    """Audio that cannot be decoded or used (missing, empty, corrupt, NaN-filled)."""


class AudioTooLong(AudioError):
    """Audio longer than a limit (a daemon's max_audio_seconds), found from the header or while decoding."""

    def __init__(self, name: str, seconds: float, limit: float) -> None:
        what = f"at least {seconds:.0f} s" if seconds <= limit + 1 else f"{seconds:.0f} s"
        super().__init__(f"{name}: {what} of audio is longer than the limit of {limit:.0f} s")
        self.seconds, self.limit = seconds, limit


class ModelError(EdgeAsrError):
    """A model that cannot be found, imported, built or verified."""


class BackendUnavailableError(EdgeAsrError):
    """An inference runtime that is not installed or cannot run here."""


class ConfigError(EdgeAsrError):
    """Invalid options or configuration."""


class DeviceError(EdgeAsrError):
    """An audio input device that cannot be opened or has failed."""
