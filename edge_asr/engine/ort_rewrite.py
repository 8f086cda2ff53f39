"""Rewrites of the built graphs that only ONNX Runtime's prepared copies get (ort_prepare.py).

- ``rows_lookup``: the decoder's token lookup reads a row-major [V, D] copy of the int8 embedding (see
  ort_prepare.py for why that saves memory).
- ``fused_attention``: each encoder self-attention ``softmax(q k^T) v``, written as two MatMuls around a Softmax
  on head-split tensors, becomes one ``com.microsoft.MultiHeadAttention``. On the CPU that op runs MLAS's flash
  attention, a block of queries at a time, so the [heads, T, T] scores are never held whole: 54 MB for a 30-s
  window (6 x 1500 x 1500 float32), and the same again for the softmax.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

EMBEDDING = "token_embedding.int8_t"  # the shared [D, V] int8 table of the built decoder (export/whisper_onnx.py)
EMBEDDING_ROWS = "token_embedding.rows"  # the [V, D] copy added for the lookup
MS_DOMAIN = "com.microsoft"


def rows_lookup(model: Any) -> bool:
    """Make the decoder's token lookup read a [V, D] copy of the int8 embedding (in place); False when the graph
    does not have the built decoder's Gather(axis=1) -> Transpose(1, 2, 0) lookup."""
    from onnx import helper, numpy_helper

    g = model.graph
    gather = next((n for n in g.node if n.op_type == "Gather" and n.input[0] == EMBEDDING), None)
    if gather is None or any(a.name == "axis" and a.i != 1 for a in gather.attribute):
        return False
    users = [n for n in g.node if gather.output[0] in n.input]
    if len(users) != 1 or users[0].op_type != "Transpose":
        return False
    transpose = users[0]
    table = next((t for t in g.initializer if t.name == EMBEDDING), None)
    if _perm(transpose) != [1, 2, 0] or table is None:
        return False
    rows = numpy_helper.to_array(table).T.copy()
    g.initializer.append(numpy_helper.from_array(rows, EMBEDDING_ROWS))
    at = list(g.node).index(gather)
    lookup = helper.make_node("Gather", [EMBEDDING_ROWS, gather.input[1]], [transpose.output[0]],
                              name="token_embedding_rows_gather", axis=0)
    g.node.remove(gather)
    g.node.remove(transpose)
    g.node.insert(at, lookup)
    return True


def _perm(node: Any) -> list[int] | None:
    return next((list(a.ints) for a in node.attribute if a.name == "perm"), None)


class _Graph:
    def __init__(self, graph: Any) -> None:
        self.g = graph
        self.producer = {o: n for n in graph.node for o in n.output}
        self.users: dict[str, list[Any]] = defaultdict(list)
        for n in graph.node:
            for i in n.input:
                self.users[i].append(n)
        self.inits = {t.name: t for t in graph.initializer}

    def made_by(self, name: str, op: str, perm: list[int] | None = None) -> Any | None:
        n = self.producer.get(name)
        if n is None or n.op_type != op or (perm is not None and _perm(n) != perm):
            return None
        return n

    def only_user(self, name: str, op: str, perm: list[int] | None = None) -> Any | None:
        users = self.users.get(name, [])
        if len(users) != 1 or users[0].op_type != op or (perm is not None and _perm(users[0]) != perm):
            return None
        return users[0]

    def split_heads(self, name: str) -> tuple[str, int, list[Any]] | None:
        """The [B, T, D] tensor and head count behind a Reshape(0, -1, H, Dh) -> Transpose(0, 2, 1, 3)."""
        from onnx import numpy_helper

        t = self.made_by(name, "Transpose", [0, 2, 1, 3])
        r = self.made_by(t.input[0], "Reshape") if t is not None else None
        if t is None or r is None or r.input[1] not in self.inits or len(self.users[t.input[0]]) != 1:
            return None
        shape = [int(v) for v in numpy_helper.to_array(self.inits[r.input[1]])]
        if len(shape) != 4 or shape[0] != 0 or shape[2] <= 0:
            return None
        only_attention = len(self.users[name]) == 1
        return r.input[0], shape[2], [t, r] if only_attention else []


def fused_attention(model: Any) -> int:
    """Replace each unmasked ``MatMul(q, Transpose(k)) -> Softmax -> MatMul(., v)`` on head-split q, k, v whose
    scores are used for nothing else by one MultiHeadAttention (scale 1: the query is pre-scaled); returns how many.
    """
    from onnx import helper

    g = _Graph(model.graph)
    fused = 0
    for softmax in [n for n in model.graph.node if n.op_type == "Softmax"]:
        qk = g.made_by(softmax.input[0], "MatMul")
        kt = g.made_by(qk.input[1], "Transpose", [0, 1, 3, 2]) if qk is not None else None
        av = g.only_user(softmax.output[0], "MatMul")
        merge_t = g.only_user(av.output[0], "Transpose", [0, 2, 1, 3]) if av is not None else None
        merge_r = g.only_user(merge_t.output[0], "Reshape") if merge_t is not None else None
        if qk is None or kt is None or av is None or merge_t is None or merge_r is None:
            continue
        if av.input[0] != softmax.output[0]:
            continue
        if any(a.name == "axis" and a.i not in (-1, 3) for a in softmax.attribute) or len(g.users[kt.output[0]]) != 1:
            continue
        q, k, v = g.split_heads(qk.input[0]), g.split_heads(kt.input[0]), g.split_heads(av.input[1])
        if q is None or k is None or v is None or not q[1] == k[1] == v[1]:
            continue
        node = helper.make_node("MultiHeadAttention", [q[0], k[0], v[0]], [merge_r.output[0]],
                                name=f"fused_attention_{fused}", domain=MS_DOMAIN, num_heads=q[1], scale=1.0)
        nodes = list(model.graph.node)
        model.graph.node.insert(nodes.index(qk), node)
        for dead in [qk, kt, softmax, av, merge_t, merge_r, *q[2], *k[2], *v[2]]:
            model.graph.node.remove(dead)
        g = _Graph(model.graph)
        fused += 1
    return fused
