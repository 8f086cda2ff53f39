"""What a backend provides: run the encoder and one decoder step. Decoding logic above it is shared."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np

KV = list[tuple[np.ndarray, np.ndarray]]  # per decoder layer: (keys, values) [B, H, T, Dh]


@dataclass
class StepOutput:
    logits: np.ndarray  # [B, N - logits_start, V]
    cache: KV
    alignment: np.ndarray  # [B, A, N, S] cross-attention of the alignment heads


class ModelRuntime(Protocol):
    backend: str
    providers: tuple[str, ...]
    n_text_layer: int
    n_text_head: int
    d_head: int

    def encode(self, mel: np.ndarray) -> KV: ...

    def decode(self, tokens: np.ndarray, cache: KV | None, cross: KV, logits_start: int) -> StepOutput: ...


def empty_cache(batch: int, n_layer: int, n_head: int, d_head: int) -> KV:
    z = np.zeros((batch, n_head, 0, d_head), dtype=np.float32)
    return [(z, z) for _ in range(n_layer)]


def repeat_batch(kv: KV, times: int) -> KV:
    return [(np.repeat(k, times, axis=0), np.repeat(v, times, axis=0)) for k, v in kv]


def reorder_batch(kv: KV, index: np.ndarray) -> KV:
    return [(k[index], v[index]) for k, v in kv]
