"""Whisper as LiteRT (TFLite) graphs written straight from canonical numpy weights, no TensorFlow needed.

Dynamic-range INT8: every projection is a FULLY_CONNECTED with per-channel symmetric int8 weights and float
activations (quantized per row at run time, XNNPACK's qd8 kernels); convolutions, norms and attention stay
float. The token embedding is stored once, as int8 rows with a per-token scale, and serves both the lookup
(GATHER + CAST + scale) and the tied output projection (a second tensor on the same buffer).

Each graph keeps exactly one dynamic dimension per reshape, so XNNPACK can run it without shape operators:

encoder.int8.tflite, signature "encode" (batch 1):
    mel [1, n_mels, T] (T even, dynamic), positions int32 [T/2] (0..T/2-1)
    -> cross_k_<l>, cross_v_<l> [1, H, T/2, Dh]
decoder.int8.tflite, two signatures over shared weights:
  "step" (subgraph 0; batch B dynamic, one new token per row, attention over a fixed-capacity cache):
    tokens int32 [B], position int32 [1], mask float [1, L] (0 for filled cache slots, NEG_MASK for the rest),
    cache_k_<l>, cache_v_<l> [B, H, L, Dh],
    cross_k_<l>_<h> [S, Dh], cross_vt_<l>_<h> [Dh, S] (per head, shared by the batch rows)
    -> logits [B, V], new_k_<l>, new_v_<l> [B, H, 1, Dh], alignment [B, A * S] (alignment heads' weights)
  "prefill" (subgraph 1; batch 1, N tokens from an empty cache):
    tokens int32 [N], positions int32 [N], mask float [N, N] (causal), logit_rows int32 [M],
    cross_k_<l>, cross_v_<l> [1, H, S, Dh]
    -> logits [M, V], k_<l>, v_<l> [1, H, N, Dh], alignment [1, A, N, S]
"""

from __future__ import annotations

import numpy as np

from ..weights import WhisperWeights
from .tflite_writer import ModelWriter, Subgraph, Tensor

INT8_MAX = 127
LN_EPS = 1e-5
NEG_MASK = -1e9  # added to masked attention scores: finite, so a stale cache slot can never make NaN
FC_OPTIONS = ("FullyConnectedOptions", {"KeepNumDims": False, "AsymmetricQuantizeInputs": True})
FC_FLOAT_OPTIONS = ("FullyConnectedOptions", {"KeepNumDims": False})
FC_HYBRID_PER_CHANNEL_VERSION = 12  # what the TFLite converter writes for this kind of FULLY_CONNECTED
GATHER_INT8_VERSION = 2
DEQUANTIZE_FP16_VERSION = 3
PADDING_SAME, PADDING_VALID = 0, 1
TFLITE_INT8, TFLITE_FLOAT32 = 9, 0  # TensorType values, for CAST's options

# Example sizes of the dynamic dimensions in the two shape universes (see tflite_writer).
FRAMES = (3000, 2000)
TOKENS = (4, 7)
BATCH = (1, 3)
CACHE = (64, 128)
LOGIT_ROWS = (2, 3)


def quantize_rows(w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Symmetric per-row (output channel) int8: returns (int8 [O, K], float32 scale [O])."""
    scale = np.abs(w).max(axis=1) / INT8_MAX
    scale = np.where(scale == 0, 1.0, scale).astype(np.float32)
    q = np.clip(np.rint(w / scale[:, None]), -INT8_MAX, INT8_MAX).astype(np.int8)
    return q, scale


class Net:
    """Composite layers over one subgraph; weights are named so that subgraphs share their buffers."""

    def __init__(self, g: Subgraph, w: WhisperWeights) -> None:
        self.g, self.t = g, w.tensors

    def binary(self, kind: str, a: Tensor, b: Tensor) -> Tensor:
        return self.g.op1(kind, [a, b], (f"{kind.capitalize()}Options", {"FusedActivationFunction": 0}))

    def add(self, a: Tensor, b: Tensor) -> Tensor:
        return self.binary("ADD", a, b)

    def mul(self, a: Tensor, b: Tensor) -> Tensor:
        return self.binary("MUL", a, b)

    def linear(self, x: Tensor, weight: np.ndarray, bias: np.ndarray | None, name: str) -> Tensor:
        q, scale = quantize_rows(weight.astype(np.float32))
        w = self.g.const(q, f"{name}.weight.int8", quant=(scale, 0))
        b = self.g.const(bias.astype(np.float32), f"{name}.bias") if bias is not None else None
        return self.g.op1("FULLY_CONNECTED", [x, w, b], FC_OPTIONS, version=FC_HYBRID_PER_CHANNEL_VERSION)

    def layer_norm(self, x: Tensor, name: str) -> Tensor:
        g, axis = self.g, self.g.ints([len(x.shape) - 1])
        keep = ("ReducerOptions", {"KeepDims": True})
        d = self.binary("SUB", x, g.op1("MEAN", [x, axis], keep))
        var = g.op1("MEAN", [self.mul(d, d), axis], keep)
        inv = g.op1("RSQRT", [self.add(var, g.const(np.array([LN_EPS], np.float32)))])
        y = self.mul(self.mul(d, inv), g.const(self.t[f"{name}.weight"].astype(np.float32), f"{name}.weight"))
        return self.add(y, g.const(self.t[f"{name}.bias"].astype(np.float32), f"{name}.bias"))

    def half(self, array: np.ndarray, name: str) -> Tensor:
        """A float constant stored as float16 (the checkpoint's own precision: lossless) and widened at load."""
        h = self.g.const(np.asarray(array, np.float16), f"{name}.fp16")
        return self.g.op1("DEQUANTIZE", [h], dtype="float32", version=DEQUANTIZE_FP16_VERSION)

    def gelu(self, x: Tensor) -> Tensor:
        return self.g.op1("GELU", [x], ("GeluOptions", {"Approximate": False}))

    def reshape(self, x: Tensor, shape: list[int]) -> Tensor:
        return self.g.op1("RESHAPE", [x, self.g.ints(shape)])

    def transpose(self, x: Tensor, perm: list[int]) -> Tensor:
        return self.g.op1("TRANSPOSE", [x, self.g.ints(perm)], ("TransposeOptions", {}))

    def split(self, x: Tensor, n: int, axis: int) -> list[Tensor]:
        return self.g.op("SPLIT", [self.g.ints(axis), x], ("SplitOptions", {"NumSplits": n}), n_out=n)

    def matmul(self, a: Tensor, b: Tensor, adj_y: bool = False) -> Tensor:
        return self.g.op1("BATCH_MATMUL", [a, b], ("BatchMatMulOptions", {"AdjX": False, "AdjY": adj_y}))

    def softmax(self, x: Tensor) -> Tensor:
        return self.g.op1("SOFTMAX", [x], ("SoftmaxOptions", {"Beta": 1.0}))

    def gather(self, params: Tensor, indices: Tensor, axis: int = 0, version: int = 1) -> Tensor:
        return self.g.op1(
            "GATHER", [params, indices], ("GatherOptions", {"Axis": axis, "BatchDims": 0}), version=version
        )

    def concat(self, xs: list[Tensor], axis: int) -> Tensor:
        if len(xs) == 1:
            return xs[0]
        return self.g.op1("CONCATENATION", xs, ("ConcatenationOptions", {"Axis": axis, "FusedActivationFunction": 0}))

    # Rows [N, H*Dh] <-> heads [1, H, N, Dh] (batch 1, N dynamic).
    def heads(self, x: Tensor, n_head: int, d_head: int) -> Tensor:
        return self.transpose(self.reshape(x, [1, -1, n_head, d_head]), [0, 2, 1, 3])

    def rows(self, x: Tensor, n_state: int) -> Tensor:
        return self.reshape(self.transpose(x, [0, 2, 1, 3]), [-1, n_state])

    def mlp(self, x: Tensor, p: str) -> Tensor:
        t = self.t
        h = self.layer_norm(x, f"{p}.mlp_ln")
        h = self.gelu(self.linear(h, t[f"{p}.mlp.0.weight"], t[f"{p}.mlp.0.bias"], f"{p}.mlp.0"))
        return self.add(x, self.linear(h, t[f"{p}.mlp.2.weight"], t[f"{p}.mlp.2.bias"], f"{p}.mlp.2"))

    def qkv(self, h: Tensor, p: str, d_head: int) -> list[Tensor]:
        """Q, K, V of self-attention from one fused projection; Whisper's Dh^-1/4 on q and k folded into q."""
        t = self.t
        scale = float(d_head) ** -0.5
        n = t[f"{p}.query.weight"].shape[0]
        weight = np.concatenate([t[f"{p}.query.weight"] * scale, t[f"{p}.key.weight"], t[f"{p}.value.weight"]])
        bias = np.concatenate([t[f"{p}.query.bias"] * scale, np.zeros(n, np.float32), t[f"{p}.value.bias"]])
        return self.split(self.linear(h, weight, bias, f"{p}.qkv"), 3, axis=1)

    def cross_query(self, h: Tensor, p: str, d_head: int) -> Tensor:
        t, scale = self.t, float(d_head) ** -0.5
        return self.linear(h, t[f"{p}.query.weight"] * scale, t[f"{p}.query.bias"] * scale, f"{p}.query")

    def out_proj(self, a: Tensor, p: str) -> Tensor:
        return self.linear(a, self.t[f"{p}.out.weight"], self.t[f"{p}.out.bias"], f"{p}.out")


def _conv_filter(w: np.ndarray) -> np.ndarray:
    """PyTorch conv1d [O, I, K] -> TFLite CONV_2D [O, 1, K, I] (OHWI over a height-1 image)."""
    return np.ascontiguousarray(w.astype(np.float32).transpose(0, 2, 1)[:, None])


def build_encoder(w: WhisperWeights) -> bytes:
    d, t = w.dims, w.tensors
    n_head, n_state = d.n_audio_head, d.n_audio_state
    d_head = n_state // n_head
    model = ModelWriter("Whisper encoder with cross-attention K/V (edge-asr, dynamic-range int8)")
    g = model.subgraph("encode")
    net = Net(g, w)
    mel = g.input("mel", "float32", (1, d.n_mels, FRAMES[0]), (1, d.n_mels, FRAMES[1]))
    positions = g.input("positions", "int32", (FRAMES[0] // 2,), (FRAMES[1] // 2,))
    x = net.reshape(net.transpose(mel, [0, 2, 1]), [1, 1, -1, d.n_mels])  # NHWC image of height 1
    conv = "Conv2DOptions"
    x = g.op1(
        "CONV_2D",
        [
            x,
            net.half(_conv_filter(t["encoder.conv1.weight"]), "conv1.weight"),
            g.const(t["encoder.conv1.bias"].astype(np.float32), "conv1.bias"),
        ],
        (conv, {"Padding": PADDING_SAME, "StrideW": 1, "StrideH": 1}),
    )
    x = net.gelu(x)
    # Whisper pads conv2 by one frame on each side; SAME padding at stride 2 would pad (0, 1) instead.
    x = g.op1("PAD", [x, g.const(np.array([[0, 0], [0, 0], [1, 1], [0, 0]], np.int32))], ("PadOptions", {}))
    x = g.op1(
        "CONV_2D",
        [
            x,
            net.half(_conv_filter(t["encoder.conv2.weight"]), "conv2.weight"),
            g.const(t["encoder.conv2.bias"].astype(np.float32), "conv2.bias"),
        ],
        (conv, {"Padding": PADDING_VALID, "StrideW": 2, "StrideH": 1}),
    )
    x = net.reshape(net.gelu(x), [-1, n_state])
    pos = net.half(t["encoder.positional_embedding"], "encoder.positional_embedding")
    x = net.add(x, net.gather(pos, positions))
    for i in range(d.n_audio_layer):
        p = f"encoder.blocks.{i}"
        q, k, v = (
            net.heads(z, n_head, d_head) for z in net.qkv(net.layer_norm(x, f"{p}.attn_ln"), f"{p}.attn", d_head)
        )
        a = net.matmul(net.softmax(net.matmul(q, k, adj_y=True)), v)
        x = net.mlp(net.add(x, net.out_proj(net.rows(a, n_state), f"{p}.attn")), p)
    x = net.layer_norm(x, "encoder.ln_post")
    td = d.n_text_state // d.n_text_head
    for i in range(d.n_text_layer):
        p = f"decoder.blocks.{i}.cross_attn"
        weight = np.concatenate([t[f"{p}.key.weight"], t[f"{p}.value.weight"]])
        bias = np.concatenate([np.zeros(d.n_text_state, np.float32), t[f"{p}.value.bias"]])
        k, v = net.split(net.linear(x, weight, bias, f"{p}.kv"), 2, axis=1)
        g.output(net.heads(k, d.n_text_head, td), f"cross_k_{i}")
        g.output(net.heads(v, d.n_text_head, td), f"cross_v_{i}")
    return model.serialize()


def _heads_by_layer(w: WhisperWeights) -> dict[int, list[int]]:
    out: dict[int, list[int]] = {}
    for layer, head in w.alignment_heads:
        out.setdefault(layer, []).append(head)
    return out


def _embed(net: Net, tokens: Tensor, w: WhisperWeights) -> tuple[Tensor, Tensor]:
    """Token rows from the shared int8 table; returns (embeddings [.., D], the table as an FC weight)."""
    g = net.g
    q, scale = quantize_rows(w.tensors["decoder.token_embedding.weight"].astype(np.float32))
    table = g.const(q, "token_embedding.int8")
    rows = g.op1(
        "CAST",
        [net.gather(table, tokens, version=GATHER_INT8_VERSION)],
        ("CastOptions", {"InDataType": TFLITE_INT8, "OutDataType": TFLITE_FLOAT32}),
        dtype="float32",
    )
    row_scale = net.gather(g.const(scale[:, None], "token_embedding.scale"), tokens)
    return net.mul(rows, row_scale), g.const(q, "token_embedding.int8", quant=(scale, 0))


def _logits(net: Net, x: Tensor, table: Tensor) -> Tensor:
    return net.g.op1("FULLY_CONNECTED", [x, table, None], FC_OPTIONS, version=FC_HYBRID_PER_CHANNEL_VERSION)


def _cross_inputs(g: Subgraph, w: WhisperWeights, batch: tuple[int, int]) -> list[tuple[Tensor, Tensor]]:
    d = w.dims
    dh = d.n_text_state // d.n_text_head
    a, b = (batch[0], d.n_text_head, FRAMES[0] // 2, dh), (batch[1], d.n_text_head, FRAMES[1] // 2, dh)
    return [
        (g.input(f"cross_k_{i}", "float32", a, b), g.input(f"cross_v_{i}", "float32", a, b))
        for i in range(d.n_text_layer)
    ]


def _build_step(model: ModelWriter, w: WhisperWeights) -> None:
    d, t = w.dims, w.tensors
    n_head, n_state = d.n_text_head, d.n_text_state
    dh = n_state // n_head
    g = model.subgraph("step")
    net = Net(g, w)
    tokens = g.input("tokens", "int32", (BATCH[0],), (BATCH[1],))
    position = g.input("position", "int32", (1,))
    mask = g.input("mask", "float32", (1, CACHE[0]), (1, CACHE[1]))
    kv_a, kv_b = (BATCH[0], n_head, CACHE[0], dh), (BATCH[1], n_head, CACHE[1], dh)
    cache = [
        (g.input(f"cache_k_{i}", "float32", kv_a, kv_b), g.input(f"cache_v_{i}", "float32", kv_a, kv_b))
        for i in range(d.n_text_layer)
    ]
    s_a, s_b = FRAMES[0] // 2, FRAMES[1] // 2
    cross = [
        [
            (
                g.input(f"cross_k_{i}_{h}", "float32", (s_a, dh), (s_b, dh)),
                g.input(f"cross_vt_{i}_{h}", "float32", (dh, s_a), (dh, s_b)),
            )
            for h in range(n_head)
        ]
        for i in range(d.n_text_layer)
    ]
    x, table = _embed(net, tokens, w)
    pos = net.half(t["decoder.positional_embedding"], "decoder.positional_embedding")
    x = net.add(x, net.gather(pos, position))
    heads = _heads_by_layer(w)
    alignment: list[Tensor] = []
    for i in range(d.n_text_layer):
        p = f"decoder.blocks.{i}"
        q, k, v = (
            net.reshape(z, [-1, n_head, 1, dh]) for z in net.qkv(net.layer_norm(x, f"{p}.attn_ln"), f"{p}.attn", dh)
        )
        g.output(k, f"new_k_{i}")
        g.output(v, f"new_v_{i}")
        # Scores over the cache (masked past its filled length) and over the new token itself, softmaxed
        # together; the cache is never concatenated with the new K/V, which would copy it every step.
        scores = net.concat([net.add(net.matmul(q, cache[i][0], adj_y=True), mask), net.matmul(q, k, adj_y=True)], 3)
        probs = net.softmax(scores)
        p_cache, p_new = g.op(
            "SPLIT_V", [probs, g.ints([-1, 1]), g.ints(3)], ("SplitVOptions", {"NumSplits": 2}), n_out=2
        )
        a = net.add(net.matmul(p_cache, cache[i][1]), net.mul(p_new, v))
        x = net.add(x, net.out_proj(net.reshape(a, [-1, n_state]), f"{p}.attn"))
        # Cross-attention per head as two FULLY_CONNECTED with the audio K and V^T as (dynamic) weights: every
        # row of the batch attends to the same window, and XNNPACK's batched matmul with a dynamic right-hand
        # side repacked all of K/V every step (measured 2x slower at 30-s windows).
        h = net.layer_norm(x, f"{p}.cross_attn_ln")
        per_head = net.split(net.cross_query(h, f"{p}.cross_attn", dh), n_head, axis=1)
        head_probs = [
            net.softmax(g.op1("FULLY_CONNECTED", [qh, ck, None], FC_FLOAT_OPTIONS))
            for qh, (ck, _) in zip(per_head, cross[i], strict=True)
        ]
        alignment += [head_probs[j] for j in heads.get(i, [])]
        outs = [
            g.op1("FULLY_CONNECTED", [ph, cvt, None], FC_FLOAT_OPTIONS)
            for ph, (_, cvt) in zip(head_probs, cross[i], strict=True)
        ]
        a = net.concat(outs, 1)
        x = net.mlp(net.add(x, net.out_proj(a, f"{p}.cross_attn")), p)
    x = net.layer_norm(x, "decoder.ln")
    g.output(_logits(net, x, table), "logits")
    g.output(net.concat(alignment, 1), "alignment")


def _build_prefill(model: ModelWriter, w: WhisperWeights) -> None:
    d, t = w.dims, w.tensors
    n_head, n_state = d.n_text_head, d.n_text_state
    dh = n_state // n_head
    g = model.subgraph("prefill")
    net = Net(g, w)
    tokens = g.input("tokens", "int32", (TOKENS[0],), (TOKENS[1],))
    positions = g.input("positions", "int32", (TOKENS[0],), (TOKENS[1],))
    mask = g.input("mask", "float32", (TOKENS[0], TOKENS[0]), (TOKENS[1], TOKENS[1]))
    logit_rows = g.input("logit_rows", "int32", (LOGIT_ROWS[0],), (LOGIT_ROWS[1],))
    cross = _cross_inputs(g, w, (1, 1))
    x, table = _embed(net, tokens, w)
    pos = net.half(t["decoder.positional_embedding"], "decoder.positional_embedding")
    x = net.add(x, net.gather(pos, positions))
    heads = _heads_by_layer(w)
    alignment: list[Tensor] = []
    for i in range(d.n_text_layer):
        p = f"decoder.blocks.{i}"
        q, k, v = (net.heads(z, n_head, dh) for z in net.qkv(net.layer_norm(x, f"{p}.attn_ln"), f"{p}.attn", dh))
        g.output(k, f"k_{i}")
        g.output(v, f"v_{i}")
        a = net.matmul(net.softmax(net.add(net.matmul(q, k, adj_y=True), mask)), v)
        x = net.add(x, net.out_proj(net.rows(a, n_state), f"{p}.attn"))
        h = net.layer_norm(x, f"{p}.cross_attn_ln")
        q = net.heads(net.cross_query(h, f"{p}.cross_attn", dh), n_head, dh)
        probs = net.softmax(net.matmul(q, cross[i][0], adj_y=True))
        if i in heads:
            alignment.append(net.gather(probs, g.ints(heads[i]), axis=1))
        a = net.matmul(probs, cross[i][1])
        x = net.mlp(net.add(x, net.out_proj(net.rows(a, n_state), f"{p}.cross_attn")), p)
    x = net.gather(net.layer_norm(x, "decoder.ln"), logit_rows)
    g.output(_logits(net, x, table), "logits")
    g.output(net.concat(alignment, 1), "alignment")


def build_decoder(w: WhisperWeights) -> bytes:
    model = ModelWriter("Whisper decoder: KV-cache step and prefill over shared weights (edge-asr, int8)")
    _build_step(model, w)  # subgraph 0: the hot path, reachable through the interpreter's raw tensor API
    _build_prefill(model, w)
    return model.serialize()
