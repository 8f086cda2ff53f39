"""Whisper as two ONNX graphs written straight from canonical numpy weights.

encoder: mel [B, n_mels, T] (T dynamic and even: the short-clip encoder feeds only the frames it needs)
         -> cross_k_<l>, cross_v_<l> [B, H, T/2, Dh] for every decoder layer, so the decoder never recomputes them.
decoder: one step with a self-attention KV cache.
         tokens [B, N], past_k_<l>/past_v_<l> [B, H, P, Dh], cross_k_<l>/cross_v_<l>, logits_start [1]
         -> logits [B, N - logits_start, V], present_k_<l>/present_v_<l> [B, H, P+N, Dh],
            alignment [B, A, N, T/2] (cross-attention of the alignment heads, for word timestamps).

With ``shared_int8_embedding`` the token embedding is stored once, as int8 [D, V] with a per-token scale, and
serves both the lookup (Gather along axis 1) and the tied output projection (DynamicQuantizeMatMul): the
embedding dominates the decoder and a second, transposed copy would double it.
"""

from __future__ import annotations

import numpy as np
import onnx

from ..weights import WhisperWeights
from .builder import FLOAT, INT64, MS_DOMAIN, GraphBuilder

INT8_MAX = 127  # symmetric int8 range
MAX_INT64 = np.iinfo(np.int64).max


def _attention(g: GraphBuilder, q: str, k: str, v: str, mask: str | None) -> tuple[str, str]:
    """softmax(q @ k^T + mask) @ v on head-split tensors; returns (output, weights)."""
    kt = g.op("Transpose", [k], perm=[0, 1, 3, 2])
    scores = g.op("MatMul", [q, kt])
    if mask is not None:
        scores = g.op("Add", [scores, mask])
    weights = g.op("Softmax", [scores], axis=-1)
    return g.op("MatMul", [weights, v]), weights


def _scaled_query(g: GraphBuilder, x: str, w: WhisperWeights, prefix: str, d_head: int) -> str:
    # Whisper scales q and k by Dh^-1/4 each; folding Dh^-1/2 into the query weights saves a Mul per layer.
    scale = float(d_head) ** -0.5
    t = w.tensors
    return g.linear(x, t[f"{prefix}.query.weight"] * scale, t[f"{prefix}.query.bias"] * scale, f"{prefix}.query")


def _self_attention_qkv(g: GraphBuilder, h: str, w: WhisperWeights, p: str, n_head: int, d_head: int) -> list[str]:
    """Q, K and V from one fused projection (one dynamic quantization of the input instead of three)."""
    t = w.tensors
    scale = float(d_head) ** -0.5  # Whisper's Dh^-1/4 on q and on k, folded into the query
    n = n_head * d_head
    weight = np.concatenate([t[f"{p}.query.weight"] * scale, t[f"{p}.key.weight"], t[f"{p}.value.weight"]])
    bias = np.concatenate([t[f"{p}.query.bias"] * scale, np.zeros(n, np.float32), t[f"{p}.value.bias"]])
    qkv = g.linear(h, weight, bias, f"{p}.qkv")
    parts = g.op_multi("Split", [qkv, g.const([n, n, n])], 3, axis=-1)
    return [g.split_heads(x, n_head, d_head) for x in parts]


def _mlp(g: GraphBuilder, x: str, w: WhisperWeights, p: str) -> str:
    t = w.tensors
    h = g.layer_norm(x, t[f"{p}.mlp_ln.weight"], t[f"{p}.mlp_ln.bias"], f"{p}.mlp_ln")
    h = g.gelu(g.linear(h, t[f"{p}.mlp.0.weight"], t[f"{p}.mlp.0.bias"], f"{p}.mlp.0"))
    h = g.linear(h, t[f"{p}.mlp.2.weight"], t[f"{p}.mlp.2.bias"], f"{p}.mlp.2")
    return g.op("Add", [x, h])


def build_encoder(w: WhisperWeights) -> onnx.ModelProto:
    d, t = w.dims, w.tensors
    n_head, n_state = d.n_audio_head, d.n_audio_state
    d_head = n_state // n_head
    g = GraphBuilder("whisper_encoder")
    mel = g.input("mel", FLOAT, ["batch", d.n_mels, "frames"])
    x = g.op(
        "Conv",
        [mel, g.weight("conv1.weight", t["encoder.conv1.weight"]), g.weight("conv1.bias", t["encoder.conv1.bias"])],
        pads=[1, 1],
        strides=[1],
        kernel_shape=[3],
    )
    x = g.gelu(x)
    x = g.op(
        "Conv",
        [x, g.weight("conv2.weight", t["encoder.conv2.weight"]), g.weight("conv2.bias", t["encoder.conv2.bias"])],
        pads=[1, 1],
        strides=[2],
        kernel_shape=[3],
    )
    x = g.gelu(x)
    x = g.op("Transpose", [x], perm=[0, 2, 1])  # [B, S, D]
    positions = g.op("Shape", [x], start=1, end=2)
    pos = g.op(
        "Slice",
        [g.weight("positional_embedding", t["encoder.positional_embedding"]), g.const([0]), positions, g.const([0])],
    )
    x = g.op("Add", [x, pos])
    for i in range(d.n_audio_layer):
        p = f"encoder.blocks.{i}"
        h = g.layer_norm(x, t[f"{p}.attn_ln.weight"], t[f"{p}.attn_ln.bias"], f"{p}.attn_ln")
        q, k, v = _self_attention_qkv(g, h, w, f"{p}.attn", n_head, d_head)
        a, _ = _attention(g, q, k, v, None)
        a = g.linear(g.merge_heads(a, n_state), t[f"{p}.attn.out.weight"], t[f"{p}.attn.out.bias"], f"{p}.attn.out")
        x = _mlp(g, g.op("Add", [x, a]), w, p)
    x = g.layer_norm(x, t["encoder.ln_post.weight"], t["encoder.ln_post.bias"], "encoder.ln_post")
    td = d.n_text_state // d.n_text_head
    for i in range(d.n_text_layer):
        p = f"decoder.blocks.{i}.cross_attn"
        k = g.split_heads(g.linear(x, t[f"{p}.key.weight"], None, f"{p}.key"), d.n_text_head, td)
        v = g.split_heads(g.linear(x, t[f"{p}.value.weight"], t[f"{p}.value.bias"], f"{p}.value"), d.n_text_head, td)
        g.output(k, f"cross_k_{i}", FLOAT, ["batch", d.n_text_head, "positions", td])
        g.output(v, f"cross_v_{i}", FLOAT, ["batch", d.n_text_head, "positions", td])
    return g.model("Whisper encoder with cross-attention K/V (edge-asr)")


def quantize_embedding(emb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Symmetric per-token int8: returns (int8 table transposed to [D, V], float32 scale [V])."""
    scale = np.abs(emb).max(axis=1) / INT8_MAX
    scale = np.where(scale == 0, 1.0, scale).astype(np.float32)
    q = np.clip(np.rint(emb / scale[:, None]), -INT8_MAX, INT8_MAX).astype(np.int8)
    return np.ascontiguousarray(q.T), scale


def build_decoder(w: WhisperWeights, shared_int8_embedding: bool = True) -> onnx.ModelProto:
    d, t = w.dims, w.tensors
    n_head, n_state = d.n_text_head, d.n_text_state
    d_head = n_state // n_head
    g = GraphBuilder("whisper_decoder")
    tokens = g.input("tokens", INT64, ["batch", "tokens"])
    logits_start = g.input("logits_start", INT64, [1])
    kv_shape: list[int | str] = ["batch", n_head, "past", d_head]
    past = [
        (g.input(f"past_k_{i}", FLOAT, kv_shape), g.input(f"past_v_{i}", FLOAT, kv_shape))
        for i in range(d.n_text_layer)
    ]
    cross_shape: list[int | str] = ["batch", n_head, "positions", d_head]
    cross = [
        (g.input(f"cross_k_{i}", FLOAT, cross_shape), g.input(f"cross_v_{i}", FLOAT, cross_shape))
        for i in range(d.n_text_layer)
    ]

    emb = t["decoder.token_embedding.weight"]
    if shared_int8_embedding:
        table, scale = quantize_embedding(emb)
        table_name = g.weight("token_embedding.int8_t", table)
        scale_name = g.weight("token_embedding.scale", scale)
        looked_up = g.op("Gather", [table_name, tokens], axis=1)  # [D, B, N]
        x = g.op("Cast", [g.op("Transpose", [looked_up], perm=[1, 2, 0])], to=FLOAT)
        tok_scale = g.op("Unsqueeze", [g.op("Gather", [scale_name, tokens], axis=0), g.const([-1])])
        x = g.op("Mul", [x, tok_scale])
    else:
        x = g.op("Gather", [g.weight("token_embedding", emb.astype(np.float32)), tokens], axis=0)

    past_len = g.op("Shape", [past[0][0]], start=2, end=3)
    n_new = g.op("Shape", [tokens], start=1, end=2)
    total = g.op("Add", [past_len, n_new])
    pos = g.op(
        "Slice",
        [g.weight("decoder.positional_embedding", t["decoder.positional_embedding"]), past_len, total, g.const([0])],
    )
    x = g.op("Add", [x, pos])

    # Causal mask [N, P+N]: a new token sees the cache and the new tokens up to itself.
    scalar = g.const([])
    q_pos = g.op(
        "Unsqueeze",
        [
            g.op("Range", [g.op("Reshape", [past_len, scalar]), g.op("Reshape", [total, scalar]), g.const(1)]),
            g.const([1]),
        ],
    )
    k_pos = g.op("Unsqueeze", [g.op("Range", [g.const(0), g.op("Reshape", [total, scalar]), g.const(1)]), g.const([0])])
    mask = g.op("Where", [g.op("Greater", [k_pos, q_pos]), g.const(-np.inf, np.float32), g.const(0.0, np.float32)])

    heads_by_layer: dict[int, list[int]] = {}
    for layer, head in w.alignment_heads:
        heads_by_layer.setdefault(layer, []).append(head)
    alignment_parts: list[str] = []
    for i in range(d.n_text_layer):
        p = f"decoder.blocks.{i}"
        h = g.layer_norm(x, t[f"{p}.attn_ln.weight"], t[f"{p}.attn_ln.bias"], f"{p}.attn_ln")
        q, k, v = _self_attention_qkv(g, h, w, f"{p}.attn", n_head, d_head)
        k_all = g.op("Concat", [past[i][0], k], axis=2)
        v_all = g.op("Concat", [past[i][1], v], axis=2)
        g.output(k_all, f"present_k_{i}", FLOAT, ["batch", n_head, "total", d_head])
        g.output(v_all, f"present_v_{i}", FLOAT, ["batch", n_head, "total", d_head])
        a, _ = _attention(g, q, k_all, v_all, mask)
        a = g.linear(g.merge_heads(a, n_state), t[f"{p}.attn.out.weight"], t[f"{p}.attn.out.bias"], f"{p}.attn.out")
        x = g.op("Add", [x, a])

        h = g.layer_norm(x, t[f"{p}.cross_attn_ln.weight"], t[f"{p}.cross_attn_ln.bias"], f"{p}.cross_attn_ln")
        q = g.split_heads(_scaled_query(g, h, w, f"{p}.cross_attn", d_head), n_head, d_head)
        a, weights = _attention(g, q, cross[i][0], cross[i][1], None)
        if i in heads_by_layer:
            alignment_parts.append(g.op("Gather", [weights, g.const(heads_by_layer[i])], axis=1))
        a = g.linear(
            g.merge_heads(a, n_state),
            t[f"{p}.cross_attn.out.weight"],
            t[f"{p}.cross_attn.out.bias"],
            f"{p}.cross_attn.out",
        )
        x = _mlp(g, g.op("Add", [x, a]), w, p)

    x = g.layer_norm(x, t["decoder.ln.weight"], t["decoder.ln.bias"], "decoder.ln")
    x = g.op("Slice", [x, logits_start, g.const([MAX_INT64]), g.const([1])])
    if shared_int8_embedding:
        logits = g.op(
            "DynamicQuantizeMatMul",
            [x, table_name, scale_name, g.const(np.zeros(1, np.int8), np.int8)],
            domain=MS_DOMAIN,
            name="logits/DynamicQuantizeMatMul",
        )
    else:
        logits = g.op(
            "MatMul",
            [x, g.weight("token_embedding_t", np.ascontiguousarray(emb.T.astype(np.float32)))],
            name="logits/MatMul",
        )
    g.output(logits, "logits", FLOAT, ["batch", "logit_tokens", d.n_vocab])
    alignment = g.op("Concat", alignment_parts, axis=1) if len(alignment_parts) > 1 else alignment_parts[0]
    g.output(alignment, "alignment", FLOAT, ["batch", len(w.alignment_heads), "tokens", "positions"])
    return g.model("Whisper decoder step with KV cache (edge-asr)")
