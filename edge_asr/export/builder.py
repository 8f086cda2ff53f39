"""A terse helper for writing ONNX graphs node by node from numpy weights (no PyTorch needed)."""

from __future__ import annotations

from typing import Any

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OPSET = 17  # LayerNormalization needs 17; ORT everywhere we ship supports it
MS_DOMAIN = "com.microsoft"


class GraphBuilder:
    def __init__(self, name: str) -> None:
        self.name = name
        self.nodes: list[onnx.NodeProto] = []
        self.initializers: list[onnx.TensorProto] = []
        self.inputs: list[onnx.ValueInfoProto] = []
        self.outputs: list[onnx.ValueInfoProto] = []
        self._count = 0
        self._consts: dict[tuple[str, bytes], str] = {}
        self._alias: dict[str, str] = {}  # values renamed into graph outputs

    def _fresh(self, hint: str) -> str:
        self._count += 1
        return f"{hint}_{self._count}"

    def input(self, name: str, elem: int, shape: list[Any]) -> str:
        self.inputs.append(helper.make_tensor_value_info(name, elem, shape))
        return name

    def output(self, value: str, name: str, elem: int, shape: list[Any]) -> None:
        """Expose ``value`` as graph output ``name`` by renaming it (an Identity copy costs time every step)."""
        if value in {i.name for i in self.inputs} or any(t.name == value for t in self.initializers):
            self.op("Identity", [value], name=name, out=name)
        else:
            for node in self.nodes:
                node.output[:] = [name if o == value else o for o in node.output]
                node.input[:] = [name if i == value else i for i in node.input]
            self._alias[value] = name
        self.outputs.append(helper.make_tensor_value_info(name, elem, shape))

    def weight(self, name: str, array: np.ndarray) -> str:
        self.initializers.append(numpy_helper.from_array(np.ascontiguousarray(array), name))
        return name

    def const(self, value: Any, dtype: Any = np.int64) -> str:
        arr = np.asarray(value, dtype=dtype)
        key = (str(arr.dtype) + str(arr.shape), arr.tobytes())
        if key not in self._consts:
            self._consts[key] = self.weight(self._fresh("const"), arr)
        return self._consts[key]

    def op(
        self,
        op_type: str,
        inputs: list[str],
        *,
        out: str | None = None,
        name: str | None = None,
        domain: str = "",
        **attrs: Any,
    ) -> str:
        return self.op_multi(op_type, inputs, 1, out=out, name=name, domain=domain, **attrs)[0]

    def op_multi(
        self,
        op_type: str,
        inputs: list[str],
        n_out: int,
        *,
        out: str | None = None,
        name: str | None = None,
        domain: str = "",
        **attrs: Any,
    ) -> list[str]:
        outs = [out or self._fresh(op_type.lower())] + [self._fresh(op_type.lower()) for _ in range(n_out - 1)]
        inputs = [self._alias.get(i, i) for i in inputs]
        self.nodes.append(
            helper.make_node(op_type, inputs, outs, name=name or self._fresh("n_" + op_type), domain=domain, **attrs)
        )
        return outs

    # Small compositions used by both encoder and decoder.
    def linear(self, x: str, w: np.ndarray, b: np.ndarray | None, name: str) -> str:
        """x @ w.T (+ b); the weight is stored transposed so dynamic quantization sees a constant MatMul B."""
        y = self.op("MatMul", [x, self.weight(f"{name}.weight_t", w.T.astype(np.float32))], name=f"{name}/MatMul")
        if b is not None:
            y = self.op("Add", [y, self.weight(f"{name}.bias", b.astype(np.float32))], name=f"{name}/Add")
        return y

    def layer_norm(self, x: str, w: np.ndarray, b: np.ndarray, name: str) -> str:
        return self.op(
            "LayerNormalization",
            [x, self.weight(f"{name}.weight", w.astype(np.float32)), self.weight(f"{name}.bias", b.astype(np.float32))],
            axis=-1,
            epsilon=1e-5,
            name=name,
        )

    def gelu(self, x: str) -> str:
        # Exact erf GELU, the form ORT's optimizer fuses into its Gelu kernel.
        half = self.op("Mul", [x, self.const(0.5, np.float32)])
        scaled = self.op("Div", [x, self.const(np.sqrt(2.0), np.float32)])
        erf = self.op("Erf", [scaled])
        return self.op("Mul", [half, self.op("Add", [erf, self.const(1.0, np.float32)])])

    def split_heads(self, x: str, n_head: int, d_head: int) -> str:
        """[B, T, H*Dh] -> [B, H, T, Dh]"""
        r = self.op("Reshape", [x, self.const([0, -1, n_head, d_head])])
        return self.op("Transpose", [r], perm=[0, 2, 1, 3])

    def merge_heads(self, x: str, n_state: int) -> str:
        t = self.op("Transpose", [x], perm=[0, 2, 1, 3])
        return self.op("Reshape", [t, self.const([0, -1, n_state])])

    def model(self, doc: str = "") -> onnx.ModelProto:
        graph = helper.make_graph(self.nodes, self.name, self.inputs, self.outputs, self.initializers)
        m = helper.make_model(
            graph,
            opset_imports=[helper.make_opsetid("", OPSET), helper.make_opsetid(MS_DOMAIN, 1)],
            producer_name="edge-asr",
            doc_string=doc,
        )
        m.ir_version = 8  # readable by every onnxruntime since 1.14
        return m


FLOAT = TensorProto.FLOAT
INT64 = TensorProto.INT64
