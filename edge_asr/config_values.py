"""Values for typed option fields from text (a config file, the environment, ``--set name=value``)."""

from __future__ import annotations

import types
import typing
from typing import Any

from .errors import ConfigError


def coerce_value(key: str, value: Any, typ: Any) -> Any:
    """Convert a TOML, environment or command-line value to a dataclass field's type (``typ``, from
    ``typing.get_type_hints``), with an error naming the key. ``none`` or empty is None only where None is
    allowed (not ``off``: a device may be called that)."""
    optional = typing.get_origin(typ) in (typing.Union, types.UnionType) and type(None) in typing.get_args(typ)
    base = next(a for a in typing.get_args(typ) if a is not type(None)) if optional else typ
    if optional and (value is None or (isinstance(value, str) and value.strip().lower() in ("", "none"))):
        return None
    if base is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in ("1", "true", "yes", "on", "0", "false", "no", "off"):
            return value.strip().lower() in ("1", "true", "yes", "on")
    elif base is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, str):
            try:
                return int(value.strip().replace("_", ""))
            except ValueError:
                pass
    elif base is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        if isinstance(value, str):
            try:
                return float(value)
            except ValueError:
                pass
    elif base is str:
        if isinstance(value, str):
            return value
        if isinstance(value, int) and not isinstance(value, bool):  # live.device = 2 (an index)
            return str(value)
    raise ConfigError(f"{key}: expected {getattr(base, '__name__', base)}, got {value!r}")
