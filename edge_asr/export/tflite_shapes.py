"""Output shapes of the TFLite operators the Whisper graphs use, from input shapes and constant operands.

Mirrors the Prepare step of the TFLite kernels closely enough to write every tensor's shape into the file;
the runtime recomputes them after each resize, so an error here shows up as a build error, not wrong output.
"""

from __future__ import annotations

from typing import Any

import numpy as np

Shape = tuple[int, ...]


def _broadcast(a: Shape, b: Shape) -> Shape:
    return tuple(int(x) for x in np.broadcast_shapes(a, b))


def _reshape(shape: Shape, new: np.ndarray) -> Shape:
    total = int(np.prod(shape))
    dims = [int(d) for d in new]
    if -1 in dims:
        known = int(np.prod([d for d in dims if d != -1]))
        if known == 0 or total % known:
            raise ValueError(f"cannot reshape {shape} to {dims}")
        dims[dims.index(-1)] = total // known
    if int(np.prod(dims)) != total:
        raise ValueError(f"cannot reshape {shape} to {dims}")
    return tuple(dims)


def _conv_out(size: int, kernel: int, stride: int, padding: int) -> int:
    if padding == 0:  # SAME
        return (size + stride - 1) // stride
    return (size - kernel) // stride + 1  # VALID


def _split(shape: Shape, axis: int, sizes: list[int]) -> list[Shape]:
    axis %= len(shape)
    if -1 in sizes:
        sizes = list(sizes)
        sizes[sizes.index(-1)] = shape[axis] - sum(s for s in sizes if s != -1)
    if sum(sizes) != shape[axis]:
        raise ValueError(f"cannot split axis {axis} of {shape} into {sizes}")
    return [(*shape[:axis], s, *shape[axis + 1 :]) for s in sizes]


def infer(
    kind: str, shapes: list[Shape], values: list[np.ndarray | None], opts: dict[str, Any], n_out: int
) -> list[Shape]:
    """Output shapes of one operator (one entry per output)."""
    s = shapes
    if kind in ("ADD", "SUB", "MUL", "DIV", "SQUARED_DIFFERENCE", "MAXIMUM", "MINIMUM"):
        return [_broadcast(s[0], s[1])]
    if kind in ("GELU", "RSQRT", "SOFTMAX", "CAST", "DEQUANTIZE", "TANH", "LOGISTIC", "EXP", "SQRT", "NEG"):
        return [s[0]]
    if kind == "FULLY_CONNECTED":
        out = s[1][0]
        if opts.get("KeepNumDims"):
            return [(*s[0][:-1], out)]
        return [(int(np.prod(s[0])) // s[1][1], out)]
    if kind == "BATCH_MATMUL":
        a, b = s[0], s[1]
        m = a[-1] if opts.get("AdjX") else a[-2]
        n = b[-2] if opts.get("AdjY") else b[-1]
        return [(*_broadcast(a[:-2], b[:-2]), m, n)]
    if kind == "RESHAPE":
        new = values[1]
        assert new is not None, "RESHAPE needs a constant shape"
        return [_reshape(s[0], new)]
    if kind == "TRANSPOSE":
        perm = values[1]
        assert perm is not None
        return [tuple(s[0][int(p)] for p in perm)]
    if kind == "MEAN" or kind == "SUM":
        axes = values[1]
        assert axes is not None
        reduced = {int(a) % len(s[0]) for a in np.atleast_1d(axes)}
        if opts.get("KeepDims"):
            return [tuple(1 if i in reduced else d for i, d in enumerate(s[0]))]
        return [tuple(d for i, d in enumerate(s[0]) if i not in reduced)]
    if kind == "GATHER":
        axis = opts.get("Axis", 0) % len(s[0])
        return [(*s[0][:axis], *s[1], *s[0][axis + 1 :])]
    if kind == "CONCATENATION":
        axis = opts["Axis"] % len(s[0])
        return [(*s[0][:axis], sum(x[axis] for x in s), *s[0][axis + 1 :])]
    if kind == "SPLIT":  # inputs: axis, value
        axis_v = values[0]
        assert axis_v is not None
        axis, shape = int(np.asarray(axis_v).reshape(-1)[0]), s[1]
        n = opts["NumSplits"]
        return _split(shape, axis, [shape[axis % len(shape)] // n] * n)
    if kind == "SPLIT_V":  # inputs: value, size_splits, axis
        sizes_v, axis_v = values[1], values[2]
        assert sizes_v is not None and axis_v is not None
        return _split(s[0], int(np.asarray(axis_v).reshape(-1)[0]), [int(x) for x in sizes_v])
    if kind == "PAD":
        pads = values[1]
        assert pads is not None
        return [tuple(d + int(p[0]) + int(p[1]) for d, p in zip(s[0], pads, strict=True))]
    if kind == "CONV_2D":  # NHWC input, OHWI filter
        n, h, w, _ = s[0]
        o, kh, kw, _ = s[1]
        pad = opts.get("Padding", 0)
        return [(n, _conv_out(h, kh, opts["StrideH"], pad), _conv_out(w, kw, opts["StrideW"], pad), o)]
    raise NotImplementedError(f"no shape rule for {kind}")
