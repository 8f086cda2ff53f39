"""Reader for ``torch.save`` files (OpenAI Whisper ``*.pt`` checkpoints, HF ``pytorch_model.bin``), without PyTorch.

An OpenAI checkpoint is ``torch.save({"dims": {...}, "model_state_dict": {...}})``. Since torch 1.6 that is a
zip (stored, not deflated) whose entries share one top folder, by default the file's stem:
``<archive>/data.pkl`` (the pickled object graph), ``<archive>/data/<key>`` (one raw little-endian blob per
storage), ``<archive>/byteorder``, ``<archive>/version`` and a few bookkeeping records. In ``data.pkl`` a tensor is
``torch._utils._rebuild_tensor_v2(storage, offset, size, stride, requires_grad, hooks)`` and a storage is the
persistent id ``("storage", torch.HalfStorage, key, location, numel)``.

Older torch wrote a bare stream instead: pickles of a magic number, the protocol version (1001) and system
info, then the object graph (persistent ids carry a sixth field, a view), a pickled list of storage keys, and per
key an int64 element count followed by the raw data. Both are read here.

Pickles can run arbitrary code, so ``data.pkl`` goes through an unpickler that resolves only the handful of
names a checkpoint needs and refuses every other global with :class:`ModelError`. (The tests' checkpoint writer
is ``tests/fixtures/pt_writer.py``; ``tests/fixtures/torch_made/`` holds files made by real torch.)
"""

from __future__ import annotations

import io
import logging
import math
import pickle
import struct
import tarfile
import zipfile
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ModelError

log = logging.getLogger(__name__)

_LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
_LEGACY_PROTOCOL = 1001


@dataclass(frozen=True)
class _StorageType:
    """Stands in for ``torch.HalfStorage`` & co. and for dtype objects such as ``torch.float16``."""

    name: str
    dtype: np.dtype  # element type as stored on disk; bfloat16 is read as <u2 and widened
    bfloat16: bool = False

    def __setstate__(self, state: Any) -> None:
        raise ModelError("checkpoint pickle tries to modify a storage type")

    def decode(self, raw: np.ndarray) -> np.ndarray:
        if self.bfloat16:
            return (raw.astype(np.uint32) << 16).view(np.float32)
        return raw.astype(raw.dtype.newbyteorder("="), copy=False)


def _st(name: str, dtype: str, bfloat16: bool = False) -> _StorageType:
    return _StorageType(name, np.dtype(dtype), bfloat16)


_STORAGE_TYPES: dict[str, _StorageType] = {
    t.name: t
    for t in (
        _st("HalfStorage", "<f2"),
        _st("FloatStorage", "<f4"),
        _st("DoubleStorage", "<f8"),
        _st("BFloat16Storage", "<u2", bfloat16=True),
        _st("LongStorage", "<i8"),
        _st("IntStorage", "<i4"),
        _st("ShortStorage", "<i2"),
        _st("CharStorage", "i1"),
        _st("ByteStorage", "u1"),
        _st("BoolStorage", "?"),
        _st("UntypedStorage", "u1"),
    )
}
_DTYPE_NAMES: dict[str, str] = {
    "float16": "HalfStorage",
    "half": "HalfStorage",
    "float32": "FloatStorage",
    "float": "FloatStorage",
    "float64": "DoubleStorage",
    "double": "DoubleStorage",
    "bfloat16": "BFloat16Storage",
    "int64": "LongStorage",
    "long": "LongStorage",
    "int32": "IntStorage",
    "int": "IntStorage",
    "int16": "ShortStorage",
    "short": "ShortStorage",
    "int8": "CharStorage",
    "uint8": "ByteStorage",
    "bool": "BoolStorage",
}


class _Storage:
    """One storage: a flat array of elements (filled after the object graph in the legacy format)."""

    def __init__(self, stype: _StorageType, numel: int, key: str) -> None:
        self.stype, self.numel, self.key = stype, numel, key
        self.array: np.ndarray | None = None

    def __setstate__(self, state: Any) -> None:
        raise ModelError("checkpoint pickle tries to modify a storage")


class _LazyTensor:
    """What ``_rebuild_tensor_v2`` returns while unpickling; turned into a numpy array once storages are read."""

    def __init__(self, storage: _Storage, offset: int, size: tuple[int, ...], stride: tuple[int, ...]) -> None:
        self.storage, self.offset, self.size, self.stride = storage, offset, size, stride

    def __setstate__(self, state: Any) -> None:
        raise ModelError("checkpoint pickle tries to modify a tensor")

    def materialize(self, source: str) -> np.ndarray:
        arr = self.storage.array
        if arr is None:
            raise ModelError(f"{source}: storage {self.storage.key} has no data")
        if self.offset < 0 or min(self.size, default=0) < 0 or min(self.stride, default=0) < 0:
            raise ModelError(f"{source}: tensor with negative offset, size or stride (corrupt checkpoint)")
        if any(n == 0 for n in self.size):
            return np.zeros(self.size, dtype=arr.dtype)
        if math.prod(self.size) > arr.size:  # broadcast or overlapping views; also stops memory bombs
            raise ModelError(
                f"{source}: a tensor of size {self.size} has more elements than its storage {self.storage.key} "
                f"({arr.size}); expanded or overlapping views are not supported"
            )
        last = self.offset + sum((n - 1) * s for n, s in zip(self.size, self.stride, strict=True))
        if last >= arr.size:
            raise ModelError(
                f"{source}: a tensor of size {self.size} reaches element {last} of storage {self.storage.key}, "
                f"which has {arr.size} (corrupt checkpoint)"
            )
        view = np.lib.stride_tricks.as_strided(
            arr[self.offset :],
            shape=self.size,
            strides=tuple(s * arr.itemsize for s in self.stride),
            writeable=False,
        )
        return np.array(view, copy=True, order="C")


def _int_tuple(value: Any, what: str) -> tuple[int, ...]:
    if not isinstance(value, (tuple, list)) or not all(isinstance(v, int) and v >= 0 for v in value):
        raise ModelError(f"bad tensor {what} {value!r} in checkpoint")
    return tuple(int(v) for v in value)


def _rebuild_tensor_v2(
    storage: Any,
    storage_offset: Any,
    size: Any,
    stride: Any,
    requires_grad: Any = False,
    backward_hooks: Any = None,
    metadata: Any = None,
) -> _LazyTensor:
    if not isinstance(storage, _Storage):
        raise ModelError(f"checkpoint rebuilds a tensor from {type(storage).__name__}, not a storage")
    if not isinstance(storage_offset, int) or storage_offset < 0:
        raise ModelError(f"bad tensor storage offset {storage_offset!r} in checkpoint")
    shape, strides = _int_tuple(size, "size"), _int_tuple(stride, "stride")
    if len(shape) != len(strides):
        raise ModelError(f"tensor size {shape} and stride {strides} disagree in checkpoint")
    return _LazyTensor(storage, int(storage_offset), shape, strides)


def _rebuild_parameter(data: Any, requires_grad: Any = False, backward_hooks: Any = None) -> Any:
    if not isinstance(data, _LazyTensor):
        raise ModelError("checkpoint rebuilds a parameter from something that is not a tensor")
    return data


class _SafeCallable:
    """Wraps the functions a pickle may call, so that a pickle cannot set attributes on them (BUILD)."""

    __slots__ = ("_fn",)

    def __init__(self, fn: Callable[..., Any]) -> None:
        self._fn = fn

    def __call__(self, *args: Any) -> Any:
        return self._fn(*args)

    def __setstate__(self, state: Any) -> None:
        raise ModelError("checkpoint pickle tries to modify a function")


_ALLOWED_FUNCTIONS: dict[tuple[str, str], Any] = {
    ("torch._utils", "_rebuild_tensor_v2"): _SafeCallable(_rebuild_tensor_v2),
    ("torch._utils", "_rebuild_parameter"): _SafeCallable(_rebuild_parameter),
    ("collections", "OrderedDict"): OrderedDict,
    ("torch", "Size"): tuple,
}


class _RestrictedUnpickler(pickle.Unpickler):
    """Resolves only tensor rebuilding, storage types, dtypes and OrderedDict; any other global is refused."""

    def __init__(self, file: io.BytesIO, source: str, load_storage: Callable[[Any], _Storage] | None) -> None:
        super().__init__(file)
        self._source, self._load_storage = source, load_storage

    def find_class(self, module: str, name: str) -> Any:
        found = _ALLOWED_FUNCTIONS.get((module, name))
        if found is not None:
            return found
        if module in ("torch", "torch.storage") and name in _STORAGE_TYPES:
            return _STORAGE_TYPES[name]
        if module == "torch" and name in _DTYPE_NAMES:
            return _STORAGE_TYPES[_DTYPE_NAMES[name]]
        raise ModelError(
            f"{self._source}: refusing to unpickle {module}.{name}: a Whisper checkpoint holds only tensors, "
            "dicts and numbers, and a pickle naming anything else could run code"
        )

    def persistent_load(self, pid: Any) -> Any:
        if self._load_storage is None:
            raise ModelError(f"{self._source}: unexpected storage reference in a checkpoint header")
        return self._load_storage(pid)


def _unpickle(data: bytes | io.BytesIO, source: str, load_storage: Callable[[Any], _Storage] | None) -> Any:
    f = data if isinstance(data, io.BytesIO) else io.BytesIO(data)
    try:
        return _RestrictedUnpickler(f, source, load_storage).load()
    except ModelError as exc:
        raise ModelError(f"{source}: {exc}" if not str(exc).startswith(source) else str(exc)) from None
    except RecursionError:
        raise ModelError(f"{source}: checkpoint pickle nests too deeply") from None
    except Exception as exc:  # untrusted bytes: whatever the unpickler trips on means a corrupt file
        raise ModelError(f"{source}: corrupt checkpoint pickle ({type(exc).__name__}: {exc})") from None


def _parse_pid(pid: Any, source: str, fields: int) -> tuple[_StorageType, str, int, Any]:
    if not (isinstance(pid, tuple) and len(pid) == fields and pid[0] == "storage"):
        raise ModelError(f"{source}: unknown persistent reference {pid!r}")
    stype, key, numel = pid[1], pid[2], pid[4]
    if not isinstance(stype, _StorageType) or not isinstance(key, str) or not isinstance(numel, int) or numel < 0:
        raise ModelError(f"{source}: malformed storage reference {pid!r}")
    return stype, key, numel, pid[5] if fields > 5 else None


def _materialize(obj: Any, source: str) -> Any:
    if isinstance(obj, _LazyTensor):
        return obj.materialize(source)
    if isinstance(obj, dict):
        return {k: _materialize(v, source) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_materialize(v, source) for v in obj]
    if isinstance(obj, tuple):
        return tuple(_materialize(v, source) for v in obj)
    return obj


def _read_zip(path: Path) -> Any:
    source = str(path)
    try:
        zf = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise ModelError(f"{source}: not a readable PyTorch zip checkpoint ({exc})") from None
    with zf:
        pickles = [n for n in zf.namelist() if n.endswith("/data.pkl") and n.count("/") == 1]
        if len(pickles) != 1:
            raise ModelError(f"{source}: zip holds no <archive>/data.pkl, so it is not a PyTorch checkpoint")
        prefix = pickles[0][: -len("data.pkl")]
        names = set(zf.namelist())

        def record(name: str) -> bytes:
            try:
                return zf.read(name)
            except (zipfile.BadZipFile, OSError, EOFError) as exc:
                raise ModelError(f"{source}: cannot read {name} from the checkpoint ({exc})") from None

        byteorder = "little"
        if prefix + "byteorder" in names:
            byteorder = record(prefix + "byteorder").decode("ascii", "replace").strip()
            if byteorder not in ("little", "big"):
                raise ModelError(f"{source}: unknown byte order {byteorder!r}")
        storages: dict[str, _Storage] = {}

        def load_storage(pid: Any) -> _Storage:
            stype, key, numel, _ = _parse_pid(pid, source, 5)
            if key in storages:
                return storages[key]
            name = f"{prefix}data/{key}"
            if name not in names:
                raise ModelError(f"{source}: storage {key} is referenced but missing from the archive")
            raw = record(name)
            nbytes = numel * stype.dtype.itemsize
            if len(raw) < nbytes:
                raise ModelError(f"{source}: storage {key} is truncated ({len(raw)} of {nbytes} bytes)")
            disk = stype.dtype.newbyteorder("<" if byteorder == "little" else ">")
            st = _Storage(stype, numel, key)
            st.array = stype.decode(np.frombuffer(raw, dtype=disk, count=numel))
            storages[key] = st
            return st

        obj = _unpickle(record(pickles[0]), source, load_storage)
    return _materialize(obj, source)


def _read_legacy(path: Path) -> Any:
    source = str(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ModelError(f"cannot read {path}: {exc.strerror}") from None
    f = io.BytesIO(raw)
    magic = _unpickle(f, source, None)
    if magic != _LEGACY_MAGIC:
        raise ModelError(f"{source}: not a PyTorch checkpoint")
    protocol = _unpickle(f, source, None)
    if protocol != _LEGACY_PROTOCOL:
        raise ModelError(f"{source}: legacy PyTorch protocol {protocol!r} is not supported; re-save with torch>=1.6")
    sys_info = _unpickle(f, source, None)
    little = not isinstance(sys_info, dict) or bool(sys_info.get("little_endian", True))
    storages: dict[str, _Storage] = {}

    def load_storage(pid: Any) -> _Storage:
        stype, key, numel, view = _parse_pid(pid, source, 6)
        if view is not None:
            raise ModelError(f"{source}: storage views from a very old PyTorch; re-save it with torch>=1.6")
        return storages.setdefault(key, _Storage(stype, numel, key))

    obj = _unpickle(f, source, load_storage)
    keys = _unpickle(f, source, None)
    if not isinstance(keys, list):
        raise ModelError(f"{source}: corrupt legacy checkpoint (no storage key list)")
    for key in keys:
        st = storages.get(key)
        if st is None:
            raise ModelError(f"{source}: legacy checkpoint lists unknown storage {key!r}")
        head = f.read(8)
        if len(head) < 8:
            raise ModelError(f"{source}: truncated legacy checkpoint (storage {key})")
        (count,) = struct.unpack("<q" if little else ">q", head)
        if count != st.numel:
            raise ModelError(f"{source}: storage {key} holds {count} elements, expected {st.numel}")
        nbytes = count * st.stype.dtype.itemsize
        data = f.read(nbytes)
        if len(data) < nbytes:
            raise ModelError(f"{source}: storage {key} is truncated ({len(data)} of {nbytes} bytes)")
        disk = st.stype.dtype.newbyteorder("<" if little else ">")
        st.array = st.stype.decode(np.frombuffer(data, dtype=disk, count=count))
    return _materialize(obj, source)


def read_torch_file(path: Path | str) -> Any:
    """Unpickle a ``torch.save`` file (zip or legacy format) with tensors as numpy arrays, torch not needed."""
    path = Path(path)
    if not path.is_file():
        raise ModelError(f"{path}: no such checkpoint file")
    if zipfile.is_zipfile(path):
        return _read_zip(path)
    try:
        with path.open("rb") as fh:
            head = fh.read(2)
        is_tar = tarfile.is_tarfile(path)
    except OSError as exc:
        raise ModelError(f"cannot read {path}: {exc.strerror}") from None
    if head == b"\x80\x02":
        return _read_legacy(path)
    if is_tar:
        raise ModelError(f"{path}: a tar checkpoint from PyTorch<0.4 is not supported; re-save it with a newer torch")
    raise ModelError(f"{path}: neither a PyTorch zip checkpoint nor a legacy one (truncated or not a checkpoint?)")
