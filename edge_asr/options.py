"""Options as frozen dataclasses, validated once at construction; CLI, config file and GUI all build these."""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields, replace
from typing import Any, Literal

from .constants import DEFAULT_MODEL
from .errors import ConfigError
from .route_table import RouteTable

Task = Literal["transcribe", "translate"]
BackendName = Literal["auto", "onnxruntime", "litert", "tflite"]  # "tflite": the old name of "litert"
BACKENDS = ("auto", "onnxruntime", "litert", "tflite")

DEFAULT_TEMPERATURES = (0.0, 0.2, 0.4, 0.6, 0.8, 1.0)


@dataclass(frozen=True)
class TranscribeOptions:
    """How to decode. Defaults follow Whisper's reference decoder, greedy at temperature 0."""

    language: str | None = None  # None: detect (multilingual models) or "en" (English-only models)
    task: Task = "transcribe"
    beam_size: int = 1
    best_of: int = 5  # samples per temperature > 0
    patience: float = 1.0
    length_penalty: float | None = None
    temperatures: tuple[float, ...] = DEFAULT_TEMPERATURES
    compression_ratio_threshold: float | None = 2.4
    log_prob_threshold: float | None = -1.0
    no_speech_threshold: float | None = 0.6
    condition_on_previous_text: bool = True
    prompt_reset_on_temperature: float = 0.5
    initial_prompt: str | None = None
    hotwords: str | None = None
    word_timestamps: bool = False
    without_timestamps: bool = False
    max_initial_timestamp: float = 1.0  # s
    suppress_blank: bool = True
    suppress_tokens: tuple[int, ...] = (-1,)  # -1: the model's non-speech symbol set
    max_new_tokens: int | None = None
    short_clip: bool = True  # encode only the frames covered by audio (+ margin) on the last window
    vad_filter: bool = False  # decode only the speech Silero VAD finds (see vad_filter.py), times mapped back
    seed: int = 0

    def __post_init__(self) -> None:
        if self.task not in ("transcribe", "translate"):
            raise ConfigError(f"task must be 'transcribe' or 'translate', not {self.task!r}")
        if self.beam_size < 1:
            raise ConfigError(f"beam_size must be at least 1, not {self.beam_size}")
        if self.best_of < 1:
            raise ConfigError(f"best_of must be at least 1, not {self.best_of}")
        if not self.temperatures or any(t < 0 for t in self.temperatures):
            raise ConfigError("temperatures must be a non-empty list of values >= 0")
        if self.max_new_tokens is not None and self.max_new_tokens < 1:
            raise ConfigError("max_new_tokens must be at least 1")
        if self.language is not None and not self.language.strip():
            raise ConfigError("language must not be empty")

    def with_(self, **changes: Any) -> TranscribeOptions:
        return replace(self, **changes)


def _default_threads() -> int:
    return max(1, min(4, os.cpu_count() or 1))


@dataclass(frozen=True)
class EngineOptions:
    """Which model and runtime to use, and how many threads."""

    model: str = DEFAULT_MODEL  # registry name, or a path to a checkpoint folder/file
    backend: BackendName = "auto"
    device: str = "auto"  # auto | cpu | an execution-provider / delegate name
    threads: int = field(default_factory=_default_threads)  # encoder intra-op threads
    decoder_threads: int = field(default_factory=_default_threads)  # 2 threads: 2.6 ms/step vs 4.3 at 1 (logits GEMV)
    cache_dir: str | None = None  # None: the per-user cache directory
    low_memory: bool = True  # disable the CPU memory arena (about -120 MB peak RSS for ~10 % time)
    quantization: str = "dynamic"  # dynamic (default) | static: the calibrated QDQ ONNX build, for NPUs
    routes: str = ""  # language routing, e.g. "en=tiny.en,*=base" (edge_asr.routing); "" = just ``model``
    # ONNX Runtime: encoder attention as one MultiHeadAttention op (flash attention: -28 MB peak on 30-s windows,
    # encoder 12-22 % faster) - off because it cost 0.9 WER points on en-wild (4 clips worse, none better)
    fused_attention: bool = False

    def __post_init__(self) -> None:
        if self.backend not in BACKENDS:
            raise ConfigError(f"backend must be auto, onnxruntime or tflite/litert (LiteRT), not {self.backend!r}")
        if self.backend == "tflite":
            object.__setattr__(self, "backend", "litert")
        if self.quantization not in ("dynamic", "static"):
            raise ConfigError(f"quantization must be dynamic or static, not {self.quantization!r}")
        if self.quantization == "static" and self.backend == "litert":
            raise ConfigError("the static QDQ build is an ONNX Runtime build: use --backend onnxruntime or auto")
        if self.threads < 1 or self.decoder_threads < 1:
            raise ConfigError("thread counts must be at least 1")
        if not self.model:
            raise ConfigError("model must not be empty")
        if self.routes.strip():
            RouteTable.parse(self.routes)  # raises ConfigError naming the bad route


def option_names(cls: type) -> list[str]:
    return [f.name for f in fields(cls)]
