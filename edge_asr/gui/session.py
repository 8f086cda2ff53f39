"""Glue between a transcript view and the core's writers; no Qt widgets are created here."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING

from ..engine.base import Transcriber
from ..errors import ConfigError, EdgeAsrError
from .constants import EXPORT_FORMATS
from .settings import AppSettings

if TYPE_CHECKING:
    from .transcript_view import TranscriptView

log = logging.getLogger(__name__)


def export_transcript(view: TranscriptView, settings: AppSettings, transcriber: Transcriber | None, fmt: str,
                      path: Path) -> None:
    """Write the view's segments with the core's writer (edge_asr.formats); raises EdgeAsrError on failure."""
    if fmt not in EXPORT_FORMATS:
        raise ConfigError(f"export format must be one of {', '.join(EXPORT_FORMATS)}, not {fmt!r}")
    segments = view.segments()
    if not segments:
        raise EdgeAsrError("The transcript is empty: there is nothing to export yet.")
    multilingual = transcriber.is_multilingual if transcriber is not None else False
    info = view.info_for_export(settings.transcribe_options(multilingual), model=settings.model)
    from ..formats import write_transcript

    try:
        write_transcript(segments, info, fmt, path)
    except OSError as exc:
        raise EdgeAsrError(f"Cannot write {path}: {exc.strerror or exc}") from exc
    log.info("exported %d segments as %s to %s", len(segments), fmt, path)


def model_status_text(transcriber: Transcriber, settings: AppSettings) -> str:
    """``tiny.en ready · English · onnxruntime: CPUExecutionProvider``."""
    name, _, runtime = transcriber.name.partition(" (")
    codes = getattr(getattr(transcriber, "tok", None), "language_codes", ())
    languages = (f"{len(codes)} languages" if codes else "multilingual") if transcriber.is_multilingual else "English"
    parts = [f"{name} ready", languages]
    if runtime:
        parts.append(runtime.rstrip(")"))
    return " · ".join(parts)
