"""A small writer of TFLite flatbuffers straight from numpy, the way ``builder.py`` writes ONNX: tensors,
operators, subgraphs and signatures, serialised with the TFLite schema classes of the ``tflite`` package.

Every tensor carries a concrete shape, because delegates (XNNPACK) decide what they can run from the shapes
in the file before any input is resized. Shapes are inferred here twice, for two different sizes of every
dynamic input dimension ("universes" A and B): a dimension that differs between the two is dynamic and is
written as -1 in ``shape_signature``.
"""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..errors import BackendUnavailableError

BUFFER_ALIGNMENT = 16  # bytes; constant data is read in place (mmap) and SIMD kernels want it aligned
SCHEMA_VERSION = 3  # the TFLite flatbuffer schema version every runtime since TF 1.x reads
FILE_IDENTIFIER = b"TFL3"
LARGE_OPCODE = 127  # builtin codes above this live only in the int32 `builtin_code` field

Shape = tuple[int, ...]

_NP_TO_TFLITE = {"float32": "FLOAT32", "float16": "FLOAT16", "int32": "INT32", "int64": "INT64", "int8": "INT8"}


def schema() -> Any:
    """The generated TFLite schema classes: LiteRT ships them (``ai_edge_litert.schema_py_generated``); the
    ``tflite`` package has the same functions, for machines that build models without running them."""
    try:
        import flatbuffers
    except ImportError:
        flatbuffers = None
    if flatbuffers is not None:
        for name in ("ai_edge_litert.schema_py_generated", "tflite"):
            try:
                return importlib.import_module(name)
            except ImportError:
                continue
    raise BackendUnavailableError(
        "building LiteRT models needs the TFLite schema that LiteRT ships: pip install ai-edge-litert "
        "(or, to build without running: pip install tflite flatbuffers)"
    )


class _Table:
    """``t.Start(b)`` / ``t.AddShape(b, v)`` / ``t.End(b)`` over the schema's ``TensorStart``-style functions."""

    def __init__(self, module: Any, name: str) -> None:
        self._module, self._name = module, name

    def __getattr__(self, attr: str) -> Any:
        return getattr(self._module, f"{self._name}{attr}")


@dataclass
class Tensor:
    index: int
    name: str
    dtype: str  # numpy dtype name
    shape: Shape  # universe A
    alt: Shape  # universe B
    buffer: int = 0  # 0: no data (activations, inputs)
    quant: tuple[np.ndarray, int] | None = None  # per-channel symmetric int8: (scale, axis)

    @property
    def signature(self) -> list[int]:
        return [a if a == b else -1 for a, b in zip(self.shape, self.alt, strict=True)]


@dataclass
class Op:
    kind: str  # BuiltinOperator name
    inputs: list[int]  # -1: an omitted optional input
    outputs: list[int]
    options: tuple[str, dict[str, Any]] | None
    version: int


class Subgraph:
    """One graph of a model: declare inputs and constants, add operators, mark outputs."""

    def __init__(self, model: ModelWriter, name: str) -> None:
        self.model, self.name = model, name
        self.tensors: list[Tensor] = []
        self.ops: list[Op] = []
        self.inputs: list[int] = []
        self.outputs: list[int] = []
        self.signature_inputs: dict[str, int] = {}
        self.signature_outputs: dict[str, int] = {}
        self._consts: dict[str, Tensor] = {}

    def _tensor(self, name: str, dtype: str, shape: Shape, alt: Shape, **kw: Any) -> Tensor:
        t = Tensor(len(self.tensors), name, dtype, tuple(shape), tuple(alt), **kw)
        self.tensors.append(t)
        return t

    def input(self, name: str, dtype: str, shape: Shape, alt: Shape | None = None) -> Tensor:
        """A graph input; ``alt`` gives other sizes for its dynamic dimensions (default: all static)."""
        t = self._tensor(name, dtype, shape, alt or shape)
        self.inputs.append(t.index)
        self.signature_inputs[name] = t.index
        return t

    def output(self, t: Tensor, name: str) -> None:
        t.name = name
        self.outputs.append(t.index)
        self.signature_outputs[name] = t.index

    def const(self, array: np.ndarray, name: str | None = None, quant: tuple[np.ndarray, int] | None = None) -> Tensor:
        """A constant; named constants share one buffer across the model's subgraphs (shared weights)."""
        arr = np.ascontiguousarray(array)
        key = name or f"const:{arr.dtype}:{arr.shape}:{arr.tobytes().hex()}"
        if key in self._consts and quant is None:
            return self._consts[key]
        buffer = self.model.buffer(key, arr)
        t = self._tensor(
            name or f"const_{len(self.tensors)}", arr.dtype.name, arr.shape, arr.shape, buffer=buffer, quant=quant
        )
        if quant is None:
            self._consts[key] = t
        return t

    def ints(self, values: list[int] | int) -> Tensor:
        return self.const(np.asarray(values, dtype=np.int32))

    def op(
        self,
        kind: str,
        inputs: Sequence[Tensor | None],
        options: tuple[str, dict[str, Any]] | None = None,
        *,
        n_out: int = 1,
        version: int = 1,
        dtype: str | None = None,
    ) -> list[Tensor]:
        from .tflite_shapes import infer

        ins = [t for t in inputs if t is not None]
        opts = options[1] if options else {}
        out_a = infer(kind, [t.shape for t in ins], [self._value(t) for t in ins], opts, n_out)
        out_b = infer(kind, [t.alt for t in ins], [self._value(t) for t in ins], opts, n_out)
        out_dtype = dtype or (ins[1] if kind == "SPLIT" else ins[0]).dtype  # SPLIT's first input is the axis
        outs = [
            self._tensor(f"{kind.lower()}_{len(self.tensors)}", out_dtype, a, b)
            for a, b in zip(out_a, out_b, strict=True)
        ]
        self.ops.append(
            Op(kind, [-1 if t is None else t.index for t in inputs], [t.index for t in outs], options, version)
        )
        return outs

    def op1(
        self, kind: str, inputs: Sequence[Tensor | None], options: tuple[str, dict[str, Any]] | None = None, **kw: Any
    ) -> Tensor:
        return self.op(kind, inputs, options, **kw)[0]

    def _value(self, t: Tensor) -> np.ndarray | None:
        """The value of a small constant (shapes, axes) for shape inference; None for anything else."""
        if t.buffer and t.dtype == "int32":
            return self.model.arrays[t.buffer]
        return None


@dataclass
class ModelWriter:
    description: str
    subgraphs: list[Subgraph] = field(default_factory=list)
    arrays: list[np.ndarray | None] = field(default_factory=lambda: [None])  # buffer 0 is the empty sentinel
    _buffer_keys: dict[str, int] = field(default_factory=dict)

    def subgraph(self, name: str) -> Subgraph:
        g = Subgraph(self, name)
        self.subgraphs.append(g)
        return g

    def buffer(self, key: str, array: np.ndarray) -> int:
        if key not in self._buffer_keys:
            self._buffer_keys[key] = len(self.arrays)
            self.arrays.append(array)
        return self._buffer_keys[key]

    def serialize(self) -> bytes:
        return _Serializer(self).run()


class _Serializer:
    def __init__(self, model: ModelWriter) -> None:
        import flatbuffers

        self.m = model
        self.s = schema()
        total = sum(a.nbytes for a in model.arrays if a is not None)
        self.b = flatbuffers.Builder(total + (1 << 20))
        self.opcodes: dict[tuple[str, int], int] = {}

    def _mod(self, name: str) -> Any:
        return _Table(self.s, name)

    def _ints(self, values: list[int], dtype: Any = np.int32) -> int:
        return int(self.b.CreateNumpyVector(np.asarray(values, dtype=dtype)))

    def _offsets(self, offsets: list[int]) -> int:
        self.b.StartVector(4, len(offsets), 4)
        for off in reversed(offsets):
            self.b.PrependUOffsetTRelative(off)
        return int(self.b.EndVector())

    def _bytes(self, data: bytes) -> int:
        b = self.b
        b.StartVector(1, len(data), BUFFER_ALIGNMENT)
        b.head = b.head - len(data)
        b.Bytes[b.head : b.head + len(data)] = data
        b.vectorNumElems = len(data)
        return int(b.EndVector())

    def _table(self, name: str, fields: dict[str, Any]) -> int:
        mod = self._mod(name)
        vectors = {k: self._ints(list(v)) for k, v in fields.items() if isinstance(v, (list, tuple))}
        mod.Start(self.b)
        for k, v in fields.items():
            getattr(mod, f"Add{k}")(self.b, vectors.get(k, v))
        return int(mod.End(self.b))

    def _buffers(self) -> int:
        Buffer = self._mod("Buffer")
        offs = []
        for arr in self.m.arrays:
            data = None if arr is None else self._bytes(arr.tobytes())
            Buffer.Start(self.b)
            if data is not None:
                Buffer.AddData(self.b, data)
            offs.append(Buffer.End(self.b))
        return self._offsets(offs)

    def _tensor(self, t: Tensor) -> int:
        T, Q = self._mod("Tensor"), self._mod("QuantizationParameters")
        name = self.b.CreateString(t.name)
        shape = self._ints(list(t.shape))
        signature = self._ints(t.signature) if t.shape != t.alt else None
        quant = None
        if t.quant is not None:
            scale, axis = t.quant
            sv = int(self.b.CreateNumpyVector(np.asarray(scale, np.float32)))
            zv = self._ints([0] * len(scale), np.int64)
            Q.Start(self.b)
            Q.AddScale(self.b, sv)
            Q.AddZeroPoint(self.b, zv)
            Q.AddQuantizedDimension(self.b, axis)
            quant = Q.End(self.b)
        T.Start(self.b)
        T.AddShape(self.b, shape)
        T.AddType(self.b, getattr(self.s.TensorType, _NP_TO_TFLITE[t.dtype]))
        T.AddBuffer(self.b, t.buffer)
        T.AddName(self.b, name)
        if quant is not None:
            T.AddQuantization(self.b, quant)
        if signature is not None:
            T.AddShapeSignature(self.b, signature)
        return int(T.End(self.b))

    def _operator(self, op: Op) -> int:
        op_t = self._mod("Operator")
        code = self.opcodes.setdefault((op.kind, op.version), len(self.opcodes))
        ins, outs = self._ints(op.inputs), self._ints(op.outputs)
        opts = self._table(op.options[0], op.options[1]) if op.options else None
        op_t.Start(self.b)
        op_t.AddOpcodeIndex(self.b, code)
        op_t.AddInputs(self.b, ins)
        op_t.AddOutputs(self.b, outs)
        if op.options is not None and opts is not None:
            op_t.AddBuiltinOptionsType(self.b, getattr(self.s.BuiltinOptions, op.options[0]))
            op_t.AddBuiltinOptions(self.b, opts)
        return int(op_t.End(self.b))

    def _subgraph(self, g: Subgraph) -> int:
        S = self._mod("SubGraph")
        tensors = self._offsets([self._tensor(t) for t in g.tensors])
        ops = self._offsets([self._operator(op) for op in g.ops])
        ins, outs, name = self._ints(g.inputs), self._ints(g.outputs), self.b.CreateString(g.name)
        S.Start(self.b)
        S.AddTensors(self.b, tensors)
        S.AddInputs(self.b, ins)
        S.AddOutputs(self.b, outs)
        S.AddOperators(self.b, ops)
        S.AddName(self.b, name)
        return int(S.End(self.b))

    def _tensor_maps(self, names: dict[str, int]) -> int:
        M = self._mod("TensorMap")
        offs = []
        for name, index in names.items():
            s = self.b.CreateString(name)
            M.Start(self.b)
            M.AddName(self.b, s)
            M.AddTensorIndex(self.b, index)
            offs.append(M.End(self.b))
        return self._offsets(offs)

    def _signature(self, i: int, g: Subgraph) -> int:
        D = self._mod("SignatureDef")
        ins, outs = self._tensor_maps(g.signature_inputs), self._tensor_maps(g.signature_outputs)
        key = self.b.CreateString(g.name)
        D.Start(self.b)
        D.AddInputs(self.b, ins)
        D.AddOutputs(self.b, outs)
        D.AddSignatureKey(self.b, key)
        D.AddSubgraphIndex(self.b, i)
        return int(D.End(self.b))

    def _opcodes(self) -> int:
        C = self._mod("OperatorCode")
        offs = []
        for (kind, version), _ in sorted(self.opcodes.items(), key=lambda kv: kv[1]):
            code = getattr(self.s.BuiltinOperator, kind)
            C.Start(self.b)
            C.AddDeprecatedBuiltinCode(self.b, min(code, LARGE_OPCODE))
            C.AddBuiltinCode(self.b, code)
            C.AddVersion(self.b, version)
            offs.append(C.End(self.b))
        return self._offsets(offs)

    def run(self) -> bytes:
        M = self._mod("Model")
        buffers = self._buffers()  # first: the big data sits at the end of the file, tables before it
        subgraphs = self._offsets([self._subgraph(g) for g in self.m.subgraphs])
        signatures = self._offsets([self._signature(i, g) for i, g in enumerate(self.m.subgraphs)])
        opcodes = self._opcodes()
        desc = self.b.CreateString(self.m.description)
        M.Start(self.b)
        M.AddVersion(self.b, SCHEMA_VERSION)
        M.AddOperatorCodes(self.b, opcodes)
        M.AddSubgraphs(self.b, subgraphs)
        M.AddDescription(self.b, desc)
        M.AddBuffers(self.b, buffers)
        M.AddSignatureDefs(self.b, signatures)
        self.b.Finish(M.End(self.b), file_identifier=FILE_IDENTIFIER)
        return bytes(self.b.Output())
