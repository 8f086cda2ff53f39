"""ONNX Runtime backend: the encoder and decoder-step sessions, providers chosen automatically with a CPU fallback."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import BackendUnavailableError, ModelError
from ..options import EngineOptions
from .devices import ACCELERATED_PROVIDERS, CPU_PROVIDER, ORT_DEVICES, device_unavailable
from .runtime import KV, StepOutput, empty_cache

log = logging.getLogger(__name__)

QNN_HTP_BACKEND = "libQnnHtp.so"  # the Hexagon NPU backend of the QNN SDK (onnxruntime-qnn ships it)


def _import_ort() -> Any:
    try:
        import onnxruntime
    except ImportError as exc:
        raise BackendUnavailableError(
            f"onnxruntime is not installed ({exc}); install it with: pip install onnxruntime"
        ) from None
    disable = getattr(onnxruntime, "disable_telemetry_events", None)
    if disable is not None:  # when something imported onnxruntime before edge_asr set ORT_DISABLE_TELEMETRY
        disable()
    return onnxruntime


def choose_providers(device: str, available: list[str]) -> list[str]:
    """The provider list for a device setting: 'auto' picks the best available accelerator, then the CPU;
    a named one (cuda, tensorrt, qnn, or a full provider name) comes first, the CPU catches what it cannot run."""
    key = device.lower()
    if key == "cpu":
        return [CPU_PROVIDER]
    if key == "auto":
        return [p for p in ACCELERATED_PROVIDERS if p in available] + [CPU_PROVIDER]
    wanted = ORT_DEVICES.get(key, device if key.endswith("executionprovider") else f"{device}ExecutionProvider")
    match = [p for p in available if p.lower() == wanted.lower()]
    if not match:
        raise device_unavailable(device, f"onnxruntime has no {wanted}")
    chain = [match[0]]
    if match[0] == "TensorrtExecutionProvider" and "CUDAExecutionProvider" in available:
        chain.append("CUDAExecutionProvider")  # TensorRT hands the nodes it cannot build to CUDA, then the CPU
    return [*chain, CPU_PROVIDER]


def provider_options(providers: list[str], cache_dir: Path) -> list[dict[str, str]]:
    """Per-provider settings: TensorRT keeps its built engines (minutes to build on a Jetson) in the model cache;
    QNN runs on the NPU (HTP) backend."""
    out: list[dict[str, str]] = []
    for p in providers:
        if p == "TensorrtExecutionProvider":
            out.append({"trt_engine_cache_enable": "True", "trt_engine_cache_path": str(cache_dir / "tensorrt"),
                        "trt_fp16_enable": "True"})
        elif p == "QNNExecutionProvider":
            out.append({"backend_path": QNN_HTP_BACKEND})
        else:
            out.append({})
    return out


class OrtRuntime:
    backend = "onnxruntime"

    def __init__(
        self,
        encoder_path: Path,
        decoder_path: Path,
        options: EngineOptions,
        n_text_layer: int,
        n_text_head: int,
        d_head: int,
        optimized: bool = False,
    ) -> None:
        ort = _import_ort()
        self.n_text_layer, self.n_text_head, self.d_head = n_text_layer, n_text_head, d_head
        providers = choose_providers(options.device, list(ort.get_available_providers()))
        # Two sessions own two thread pools on as few as 2 cores: spinning idle threads of one steal the cores
        # from the other (measured: 8.2 s vs 3.3 s for en-dev with both spinning under load), and burn idle CPU.
        self._provider_options = provider_options(providers, Path(encoder_path).parent)
        # The decoder loads first: prepacking briefly holds its weights twice (+19 MB), better before the encoder
        # is resident than after (that moment is the peak RSS of a short transcription).
        self.decoder = self._session(
            ort, decoder_path, options.decoder_threads, options.low_memory, providers, spin=False, optimized=optimized
        )
        self.encoder = self._session(
            ort, encoder_path, options.threads, options.low_memory, providers, spin=False, optimized=optimized
        )
        self.providers = tuple(self.encoder.get_providers())
        self._enc_outputs = [o.name for o in self.encoder.get_outputs()]
        self._dec_outputs = [o.name for o in self.decoder.get_outputs()]

    def _session(
        self, ort: Any, path: Path, threads: int, low_memory: bool, providers: list[str], spin: bool,
        optimized: bool = False,
    ) -> Any:
        so = ort.SessionOptions()
        so.add_session_config_entry("session.intra_op.allow_spinning", "1" if spin else "0")
        # Measured here: ALL fuses MatMul+Transpose in attention; PARALLEL mode was 2x slower. A prepared graph
        # (ort_prepare.py) has had them applied already.
        so.graph_optimization_level = (
            ort.GraphOptimizationLevel.ORT_DISABLE_ALL if optimized else ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        )
        so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        so.intra_op_num_threads = threads
        so.inter_op_num_threads = 1
        so.enable_cpu_mem_arena = not low_memory
        so.log_severity_level = 3
        try:
            return ort.InferenceSession(
                str(path), so, providers=providers, provider_options=self._provider_options
            )
        except Exception as exc:  # ORT raises its own Fail/InvalidGraph types
            if providers != [CPU_PROVIDER]:
                log.warning("could not start %s with %s (%s); falling back to the CPU", path.name, providers[0], exc)
                try:
                    return ort.InferenceSession(str(path), so, providers=[CPU_PROVIDER])
                except Exception as exc2:
                    exc = exc2
            raise ModelError(f"cannot load {path}: {exc}") from None

    def encode(self, mel: np.ndarray) -> KV:
        outs = self.encoder.run(None, {"mel": np.ascontiguousarray(mel, dtype=np.float32)})
        named = dict(zip(self._enc_outputs, outs, strict=False))
        return [(named[f"cross_k_{i}"], named[f"cross_v_{i}"]) for i in range(self.n_text_layer)]

    def decode(self, tokens: np.ndarray, cache: KV | None, cross: KV, logits_start: int) -> StepOutput:
        if cache is None:
            cache = empty_cache(tokens.shape[0], self.n_text_layer, self.n_text_head, self.d_head)
        feed: dict[str, np.ndarray] = {
            "tokens": np.ascontiguousarray(tokens, dtype=np.int64),
            "logits_start": np.array([logits_start], dtype=np.int64),
        }
        for i, ((pk, pv), (ck, cv)) in enumerate(zip(cache, cross, strict=False)):
            feed[f"past_k_{i}"], feed[f"past_v_{i}"] = pk, pv
            feed[f"cross_k_{i}"], feed[f"cross_v_{i}"] = ck, cv
        named = dict(zip(self._dec_outputs, self.decoder.run(None, feed), strict=False))
        new_cache = [(named[f"present_k_{i}"], named[f"present_v_{i}"]) for i in range(self.n_text_layer)]
        return StepOutput(named["logits"], new_cache, named["alignment"])
