"""INT8 dynamic quantization of the exported graphs with onnxruntime.quantization.

What is quantized and why (measured on this kind of machine, see README):
- MatMul with a constant weight (every projection and MLP): int8 per-channel weights, activations quantized at
  run time. QInt8 weights, not QUInt8 (the latter made the encoder 50 % slower on x86).
- Not the attention score/value MatMuls between two activations (``MatMulConstBOnly``): quantizing them cost
  a point of WER and was slower.
- Not the convolutions: slower when quantized, and they are a small share of the weights.
- The token embedding is quantized by the exporter itself (one int8 table shared by lookup and logits).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from ..errors import BackendUnavailableError

log = logging.getLogger(__name__)

QUANT_SETTINGS: dict[str, Any] = {
    "method": "dynamic",
    "weight_type": "QInt8",
    "per_channel": True,
    "op_types": ["MatMul"],
    "matmul_const_b_only": True,
    "embedding": "int8 per-token, shared lookup/logits",
}


def quantize_int8(src: Path, dst: Path) -> None:
    try:
        from onnxruntime.quantization import QuantType, quantize_dynamic
    except ImportError as exc:
        raise BackendUnavailableError(
            f"onnxruntime.quantization is unavailable ({exc}): pip install onnxruntime"
        ) from None
    # The quantizer logs advice and every skipped node on the root logger; none of it is for our users.
    previous = logging.root.manager.disable
    logging.disable(logging.WARNING)
    try:
        quantize_dynamic(
            model_input=str(src),
            model_output=str(dst),
            weight_type=QuantType.QInt8,
            per_channel=QUANT_SETTINGS["per_channel"],
            op_types_to_quantize=QUANT_SETTINGS["op_types"],
            extra_options={"MatMulConstBOnly": QUANT_SETTINGS["matmul_const_b_only"]},
        )
    finally:
        logging.disable(previous)
    log.debug("quantized %s -> %s", src.name, dst.name)
