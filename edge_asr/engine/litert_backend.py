"""LiteRT (TFLite) backend: the int8 encoder and decoder graphs of ``export/whisper_tflite.py`` on
ai-edge-litert's interpreter with its XNNPACK CPU delegate, behind the ModelRuntime protocol.

The decoder step attends over a fixed-capacity cache (a few sizes, so the graph is resized a handful of times
per window instead of every token). The cache lives in the interpreter's input tensors and is written in place,
one new slot per step; the KV lists returned to the decoding loop are views of a mirror kept here, and a cache
that is not the one returned last (beam reordering, a branch) is copied in whole. Cross-attention K/V are
written once per window.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import BackendUnavailableError, ModelError
from ..options import EngineOptions
from .devices import device_unavailable, litert_version
from .runtime import KV, StepOutput

log = logging.getLogger(__name__)

DEVICES = ("auto", "cpu", "xnnpack")  # what LiteRT runs on here: its XNNPACK CPU delegate
DELEGATE = "XNNPACK"
# Cache slots the step graph is sized to (then the model's text context): attention reads every slot each step,
# so the sizes follow the filled length closely; each change costs one re-allocation of the graph.
CACHE_BUCKETS = (32, 64, 96, 128, 192, 256, 320, 384)
NEG_MASK = -1e9  # the exporter's mask value for empty cache slots


def import_interpreter() -> tuple[Any, str]:
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError:
        try:
            from tflite_runtime.interpreter import Interpreter  # older boards; only if it can run the graphs
        except ImportError:
            raise BackendUnavailableError(
                "the LiteRT backend needs ai-edge-litert: pip install 'edge-asr[litert]' (or: pip install "
                "ai-edge-litert); or use --backend onnxruntime"
            ) from None
    return Interpreter, litert_version() or "LiteRT"


def check_device(device: str) -> None:
    if device.lower() not in DEVICES:
        raise device_unavailable(device, f"LiteRT runs on the CPU only here, through {DELEGATE}")


@contextlib.contextmanager
def _native_stderr_to_log() -> Iterator[None]:
    """LiteRT's C++ logger prints INFO lines on file descriptor 2 and has no Python switch: while an interpreter
    is created, fd 2 goes to a file whose lines are then logged (debug for INFO, warning for the rest)."""
    try:
        saved = os.dup(2)
    except OSError:
        yield
        return
    with tempfile.TemporaryFile(mode="w+b") as capture:
        sys.stderr.flush()
        os.dup2(capture.fileno(), 2)
        try:
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            capture.seek(0)
            for line in capture.read().decode(errors="replace").splitlines():
                if line.strip():
                    log.log(logging.DEBUG if line.startswith("INFO:") else logging.WARNING, "LiteRT: %s", line)


def _load(interpreter: Any, version: str, path: Path, threads: int) -> Any:
    try:
        with _native_stderr_to_log():
            it = interpreter(model_path=str(path), num_threads=threads)
            it.allocate_tensors()  # applies the XNNPACK delegate now (it logs), not at the first call
            return it
    except (ValueError, RuntimeError) as exc:
        if version.startswith("tflite-runtime"):
            raise BackendUnavailableError(
                f"{version} cannot run edge-asr's int8 graphs ({exc}); pip install ai-edge-litert"
            ) from None
        raise ModelError(f"cannot load {path}: {exc}") from None


def _bucket(past: int, capacity: int) -> int:
    """Cache slots for a step with ``past`` filled: room for the new token's slot too."""
    return next((b for b in CACHE_BUCKETS if b > past), capacity)


class LitertRuntime:
    backend = "litert"

    def __init__(
        self,
        encoder_path: Path,
        decoder_path: Path,
        options: EngineOptions,
        n_text_layer: int,
        n_text_head: int,
        d_head: int,
        n_text_ctx: int,
    ) -> None:
        check_device(options.device)
        interpreter, self.version = import_interpreter()
        self.n_text_layer, self.n_text_head, self.d_head, self.capacity = n_text_layer, n_text_head, d_head, n_text_ctx
        self.providers: tuple[str, ...] = (DELEGATE,)
        self._enc = _load(interpreter, self.version, encoder_path, options.threads)
        self._dec = _load(interpreter, self.version, decoder_path, options.decoder_threads)
        self._enc_in = {d["name"]: d["index"] for d in self._enc.get_input_details()}
        self._enc_out = {d["name"]: d["index"] for d in self._enc.get_output_details()}
        self._in = {d["name"]: d["index"] for d in self._dec.get_input_details()}
        self._out = {d["name"]: d["index"] for d in self._dec.get_output_details()}
        self._lock = threading.Lock()  # an interpreter runs one call at a time
        self._enc_frames = -1
        self._shape: tuple[int, int, int] | None = None  # (batch, cache slots, cross positions) of the step graph
        self._synced_cache: KV | None = None  # the cache the step graph's inputs hold
        self._synced_cross: KV | None = None
        self._last: KV | None = None  # the cache returned last: views of self._mirror
        self._mirror: KV = []

    # ---- encoder -----------------------------------------------------------------------------------------
    def encode(self, mel: np.ndarray) -> KV:
        with self._lock:
            rows = [self._encode_one(np.ascontiguousarray(mel[b : b + 1], dtype=np.float32)) for b in range(len(mel))]
        if len(rows) == 1:
            return rows[0]
        return [
            (np.concatenate([r[i][0] for r in rows]), np.concatenate([r[i][1] for r in rows]))
            for i in range(self.n_text_layer)
        ]

    def _encode_one(self, mel: np.ndarray) -> KV:
        it, frames = self._enc, mel.shape[-1]
        if frames % 2:
            raise ModelError(f"the encoder needs an even number of mel frames, got {frames}")
        if frames != self._enc_frames:
            it.resize_tensor_input(self._enc_in["mel"], list(mel.shape))
            it.resize_tensor_input(self._enc_in["positions"], [frames // 2])
            it.allocate_tensors()
            self._enc_frames = frames
        it.set_tensor(self._enc_in["mel"], mel)
        it.set_tensor(self._enc_in["positions"], np.arange(frames // 2, dtype=np.int32))
        it.invoke()
        out = self._enc_out
        return [
            (it.get_tensor(out[f"cross_k_{i}"]), it.get_tensor(out[f"cross_v_{i}"])) for i in range(self.n_text_layer)
        ]

    # ---- decoder -----------------------------------------------------------------------------------------
    def decode(self, tokens: np.ndarray, cache: KV | None, cross: KV, logits_start: int) -> StepOutput:
        with self._lock:
            if cache is None or cache[0][0].shape[2] == 0:
                return self._prefill_batch(tokens, cross, logits_start)
            if tokens.shape[1] == 1:
                return self._step(tokens[:, 0], cache, cross)
            steps = []  # more than one new token on top of a cache: one step each
            for j in range(tokens.shape[1]):
                steps.append(self._step(tokens[:, j], cache, cross))
                cache = steps[-1].cache
        return StepOutput(
            np.concatenate([s.logits for s in steps[logits_start:]], axis=1),
            cache,
            np.concatenate([s.alignment for s in steps], axis=2),
        )

    def _prefill_batch(self, tokens: np.ndarray, cross: KV, logits_start: int) -> StepOutput:
        outs: list[dict[str, np.ndarray]] = []
        for b in range(tokens.shape[0]):
            if b and np.array_equal(tokens[b], tokens[0]) and _same_rows(cross, b):
                outs.append(outs[0])  # best-of / beam rows start identical: decode the prompt once
            else:
                outs.append(self._prefill_one(tokens[b], cross, b, logits_start))
        n = tokens.shape[1]
        cat = (lambda key: outs[0][key]) if len(outs) == 1 else (lambda key: np.concatenate([o[key] for o in outs]))
        self._mirror = []
        for i in range(self.n_text_layer):
            pair = []
            for key in (f"k_{i}", f"v_{i}"):
                m = np.empty((tokens.shape[0], self.n_text_head, self.capacity, self.d_head), np.float32)
                m[:, :, :n] = cat(key)
                pair.append(m)
            self._mirror.append((pair[0], pair[1]))
        cache = [(k[:, :, :n], v[:, :, :n]) for k, v in self._mirror]
        self._last, self._synced_cache = cache, None
        return StepOutput(cat("logits"), cache, cat("alignment"))

    def _prefill_one(self, tokens: np.ndarray, cross: KV, b: int, logits_start: int) -> dict[str, np.ndarray]:
        n = len(tokens)
        rows = np.arange(min(logits_start, n - 1), n, dtype=np.int32)  # at least one row: empty tensors fail
        mask = np.triu(np.full((n, n), NEG_MASK, np.float32), k=1)
        feed = {
            "tokens": tokens.astype(np.int32),
            "positions": np.arange(n, dtype=np.int32),
            "mask": mask,
            "logit_rows": rows,
        }
        for i, (ck, cv) in enumerate(cross):
            feed[f"cross_k_{i}"] = np.ascontiguousarray(ck[b : b + 1])
            feed[f"cross_v_{i}"] = np.ascontiguousarray(cv[b : b + 1])
        # A signature runner holds a reference that would block raw tensor access: made per call, then dropped.
        out = self._dec.get_signature_runner("prefill")(**feed)
        out["logits"] = out["logits"][None, logits_start - rows[0] :]
        return out

    def _resize_step(self, batch: int, slots: int, positions: int) -> None:
        it, shape = self._dec, (batch, slots, positions)
        if shape == self._shape:
            return
        h, dh = self.n_text_head, self.d_head
        it.resize_tensor_input(self._in["tokens"], [batch])
        it.resize_tensor_input(self._in["mask"], [1, slots])
        for i in range(self.n_text_layer):
            for kind in ("k", "v"):
                it.resize_tensor_input(self._in[f"cache_{kind}_{i}"], [batch, h, slots, dh])
            for j in range(h):
                it.resize_tensor_input(self._in[f"cross_k_{i}_{j}"], [positions, dh])
                it.resize_tensor_input(self._in[f"cross_vt_{i}_{j}"], [dh, positions])
        it.allocate_tensors()
        self._shape, self._synced_cache, self._synced_cross = shape, None, None
        log.debug("decoder step sized to batch %d, %d cache slots, %d audio positions", *shape)

    def _write_cache(self, cache: KV, past: int) -> None:
        """The whole cache into the step graph's inputs; slots past it zeroed (masked, but never garbage)."""
        for i, pair in enumerate(cache):
            for kind, arr in zip(("k", "v"), pair, strict=True):
                view = self._dec.tensor(self._in[f"cache_{kind}_{i}"])()
                view[:, :, :past] = arr
                view[:, :, past:] = 0.0
                del view  # no view may outlive this call: the interpreter refuses to run while one exists

    def _step(self, tok: np.ndarray, cache: KV, cross: KV) -> StepOutput:
        if len(tok) > 1 and cross[0][0].shape[0] > 1 and cross is not self._synced_cross and not _all_rows_equal(cross):
            return self._step_rows(tok, cache, cross)
        it = self._dec
        batch, past = tok.shape[0], cache[0][0].shape[2]
        if past >= self.capacity:
            raise ModelError(f"the decoder context ({self.capacity} tokens) is full")
        slots = _bucket(past, self.capacity)
        self._resize_step(batch, slots, cross[0][0].shape[2])
        if cross is not self._synced_cross:  # once per window: every batch row attends to row 0's audio
            for i, (ck, cv) in enumerate(cross):
                for j in range(self.n_text_head):
                    it.set_tensor(self._in[f"cross_k_{i}_{j}"], np.ascontiguousarray(ck[0, j], dtype=np.float32))
                    it.set_tensor(self._in[f"cross_vt_{i}_{j}"], np.ascontiguousarray(cv[0, j].T, dtype=np.float32))
            self._synced_cross = cross
        if cache is not self._synced_cache:
            self._write_cache(cache, past)
        mask = np.zeros((1, slots), np.float32)
        mask[:, past:] = NEG_MASK
        it.set_tensor(self._in["tokens"], tok.astype(np.int32))
        it.set_tensor(self._in["position"], np.array([past], np.int32))
        it.set_tensor(self._in["mask"], mask)
        it.invoke()
        new = [
            (it.get_tensor(self._out[f"new_k_{i}"]), it.get_tensor(self._out[f"new_v_{i}"]))
            for i in range(self.n_text_layer)
        ]
        if cache is not self._last or not self._mirror or self._mirror[0][0].shape[0] != batch:
            self._mirror = []
            for k, v in cache:
                mk = np.empty((batch, self.n_text_head, self.capacity, self.d_head), np.float32)
                mv = np.empty_like(mk)
                mk[:, :, :past], mv[:, :, :past] = k, v
                self._mirror.append((mk, mv))
        for (mk, mv), (nk, nv) in zip(self._mirror, new, strict=True):
            mk[:, :, past], mv[:, :, past] = nk[:, :, 0], nv[:, :, 0]
        out_cache = [(mk[:, :, : past + 1], mv[:, :, : past + 1]) for mk, mv in self._mirror]
        for i, (nk, nv) in enumerate(new):  # the new slot into the graph's cache too: it now holds out_cache
            for kind, arr in (("k", nk), ("v", nv)):
                view = it.tensor(self._in[f"cache_{kind}_{i}"])()
                view[:, :, past] = arr[:, :, 0]
                del view
        self._synced_cache = self._last = out_cache
        alignment = it.get_tensor(self._out["alignment"]).reshape(batch, -1, 1, cross[0][0].shape[2])
        return StepOutput(it.get_tensor(self._out["logits"])[:, None], out_cache, alignment)

    def _step_rows(self, tok: np.ndarray, cache: KV, cross: KV) -> StepOutput:
        """Rows that attend to different audio (never the case in decoding.py): one row at a time."""
        outs = [
            self._step(
                tok[b : b + 1],
                [(k[b : b + 1], v[b : b + 1]) for k, v in cache],
                [(k[b : b + 1], v[b : b + 1]) for k, v in cross],
            )
            for b in range(len(tok))
        ]
        merged = [
            (np.concatenate([o.cache[i][0] for o in outs]), np.concatenate([o.cache[i][1] for o in outs]))
            for i in range(self.n_text_layer)
        ]
        self._last = None
        return StepOutput(np.concatenate([o.logits for o in outs]), merged, np.concatenate([o.alignment for o in outs]))


def _same_rows(cross: KV, b: int) -> bool:
    return all(np.array_equal(k[b], k[0]) and np.array_equal(v[b], v[0]) for k, v in cross)


def _all_rows_equal(cross: KV) -> bool:
    return all(_same_rows(cross, b) for b in range(1, cross[0][0].shape[0]))
