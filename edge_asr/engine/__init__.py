"""The runtimes behind one ``ModelRuntime`` protocol (ONNX Runtime, LiteRT), their selection, and the
``Transcriber`` interface every backend and router offers. Loading a model is ``edge_asr.factory``'s job."""

from __future__ import annotations

from .base import AudioInput, Transcriber

__all__ = ["AudioInput", "Transcriber"]
