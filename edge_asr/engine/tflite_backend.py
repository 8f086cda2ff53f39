"""LiteRT / tflite-runtime backend entry point.

The exporter does not write .tflite graphs yet, so this backend reports itself unavailable with what to do
instead; `--backend auto` never picks it while ONNX Runtime is installed.
"""

from __future__ import annotations

from typing import Any

from ..errors import BackendUnavailableError
from ..options import EngineOptions


class TfliteRuntime:
    backend = "tflite"

    @classmethod
    def from_built(cls, built: Any, options: EngineOptions) -> TfliteRuntime:
        try:
            import ai_edge_litert  # noqa: F401
        except ImportError:
            try:
                import tflite_runtime  # noqa: F401
            except ImportError:
                raise BackendUnavailableError(
                    "the TFLite backend needs LiteRT: pip install ai-edge-litert (or tflite-runtime on older boards)"
                ) from None
        raise BackendUnavailableError(
            f"{built.name} has no .tflite build yet (the exporter writes ONNX only); use --backend onnxruntime"
        )
