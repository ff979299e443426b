"""Frozen dataclasses to JSON and back, strictly: with .npz arrays, the cache's only formats.

Decoding checks every value against the dataclass's type hints and raises
:class:`SchemaError` at the first mismatch, so a damaged or hostile cache entry
is rebuilt, never trusted; nothing read back can run code (no pickle).
"""

from __future__ import annotations

import dataclasses
import enum
import functools
import sys
import types
import typing
from typing import Any, Mapping, Sequence

import numpy as np


class SchemaError(ValueError):
    """Stored data does not have the shape its type declares."""


#: The largest whole number float() takes (the largest finite float, as an int).
MAX_FLOAT_INT = int(sys.float_info.max)


def encode(value: Any) -> Any:
    """Return ``value`` (dataclasses, tuples, enums, scalars) as JSON-able data; arrays are refused."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: encode(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, (tuple, list)):
        return [encode(v) for v in value]
    if isinstance(value, dict):
        return {str(k): encode(v) for k, v in value.items()}
    if isinstance(value, np.generic):
        return value.item()
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    raise TypeError(f"cannot store {type(value).__name__} as JSON")


def columns(cls: type, values: Sequence[Any]) -> dict[str, list[Any]]:
    """Return dataclasses of class ``cls`` as one list per field but the arrays (which go in an .npz).

    A column store: its fields must be JSON's own types, tuples and string enums, which ``json`` writes as they
    are. Read back by :func:`decode_columns`, which checks a whole column at once.
    """
    return {name: [getattr(v, name) for v in values] for name in _fields(cls)[0]}


def decode_columns(cls: type, data: Any, count: int, arrays: Sequence[Mapping[str, np.ndarray]] | None = None) -> list:
    """Return ``count`` instances of dataclass ``cls`` from :func:`columns`' lists; array fields from ``arrays``."""
    if not isinstance(data, dict):
        raise SchemaError(f"{cls.__name__}: expected an object of columns, got {type(data).__name__}")
    hints, _ = _fields(cls)
    if set(data) != set(hints):
        raise SchemaError(f"{cls.__name__}: unexpected or missing column {sorted(set(data) ^ set(hints))[0]!r}")
    for name in hints:
        if not isinstance(data[name], list) or len(data[name]) != count:
            raise SchemaError(f"{cls.__name__}.{name}: expected a list of {count} values")
    names = list(hints)
    checked = [_column(hints[name], data[name], f"{cls.__name__}.{name}") for name in names]
    rows = zip(*checked) if names else [()] * count
    return [_instance(cls, dict(zip(names, row)), arrays[i] if arrays is not None else None)
            for i, row in enumerate(rows)]


def _column(hint: Any, column: list[Any], where: str) -> list[Any]:
    """Return a column of values of type ``hint``: one check for the whole column where the type allows it."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    kinds = set(map(type, column))
    arms = args if origin in (typing.Union, types.UnionType) else (hint,)
    simple = {float: {float, int}, int: {int}, str: {str}, bool: {bool}, type(None): {type(None)}}
    if all(arm in simple for arm in arms) and kinds <= set().union(*(simple[arm] for arm in arms)):
        if float in arms and int not in arms and int in kinds:  # JSON writes 2.0 as 2.0; a hand-made entry, 2
            return [_float(v, f"{where}[{i}]") if type(v) is int else v for i, v in enumerate(column)]
        return column
    if origin is tuple and kinds <= {list} and args and args[-1] is not Ellipsis:
        if any(len(v) != len(args) for v in column):
            raise SchemaError(f"{where}: expected {len(args)} values each")
        parts = [_column(arg, list(part), f"{where}[{i}]") for i, (arg, part) in enumerate(zip(args, zip(*column)))]
        return list(zip(*parts)) if column else []
    return [_value(hint, v, f"{where}[{i}]") for i, v in enumerate(column)]


def decode(cls: type, data: Any, arrays: Mapping[str, np.ndarray] | None = None) -> Any:
    """Return an instance of dataclass ``cls`` from ``data``; its array fields come from ``arrays``."""
    if not isinstance(data, dict):
        raise SchemaError(f"{cls.__name__}: expected an object, got {type(data).__name__}")
    hints, _ = _fields(cls)
    if set(data) != set(hints):
        odd = sorted(set(data) ^ set(hints))
        raise SchemaError(f"{cls.__name__}: unexpected or missing field {odd[0]!r}")
    return _instance(cls, {name: _value(hint, data[name], f"{cls.__name__}.{name}") for name, hint in hints.items()},
                     arrays)


def _instance(cls: type, values: dict[str, Any], arrays: Mapping[str, np.ndarray] | None) -> Any:
    """Make ``cls`` from its checked values and its array fields, which ``arrays`` must hold."""
    for name in _fields(cls)[1]:
        array = (arrays or {}).get(name)
        if not isinstance(array, np.ndarray):
            raise SchemaError(f"{cls.__name__}.{name}: no array")
        values[name] = array
    return cls(**values)


@functools.cache
def _fields(cls: type) -> tuple[dict[str, Any], tuple[str, ...]]:
    """Return a dataclass's fields stored as JSON (name: type hint), and the names of its array fields."""
    hints = _hints(cls)
    return ({name: hint for name, hint in hints.items() if hint is not np.ndarray},
            tuple(name for name, hint in hints.items() if hint is np.ndarray))


def _float(data: int | float, where: str) -> float:
    """Return a number as a float; a whole number beyond every float is a SchemaError (float() would overflow)."""
    if isinstance(data, int) and abs(data) > MAX_FLOAT_INT:
        raise SchemaError(f"{where}: {data} is beyond every float")
    return float(data)


@functools.cache
def _hints(cls: type) -> dict[str, Any]:
    hints = typing.get_type_hints(cls)
    return {f.name: hints[f.name] for f in dataclasses.fields(cls) if f.init}


def _value(hint: Any, data: Any, where: str) -> Any:
    """Return ``data`` as type ``hint``, or raise SchemaError."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        for arm in args:
            try:
                return _value(arm, data, where)
            except SchemaError:
                continue
        raise SchemaError(f"{where}: {data!r} is none of {hint}")
    if hint is type(None):
        if data is not None:
            raise SchemaError(f"{where}: expected null")
        return None
    if dataclasses.is_dataclass(hint):
        return decode(hint, data)
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        try:
            return hint(data)
        except ValueError:
            raise SchemaError(f"{where}: {data!r} is not a {hint.__name__}") from None
    if origin is tuple:
        if not isinstance(data, list):
            raise SchemaError(f"{where}: expected a list")
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_value(args[0], v, f"{where}[{i}]") for i, v in enumerate(data))
        if len(args) != len(data):
            raise SchemaError(f"{where}: expected {len(args)} values, got {len(data)}")
        return tuple(_value(a, v, f"{where}[{i}]") for i, (a, v) in enumerate(zip(args, data)))
    if origin is dict:
        if not isinstance(data, dict):
            raise SchemaError(f"{where}: expected an object")
        return {k: _value(args[1], v, f"{where}.{k}") for k, v in data.items()}
    if hint is float and isinstance(data, (int, float)) and not isinstance(data, bool):
        return _float(data, where)
    if hint in (int, str, bool) and type(data) is hint:
        return data
    raise SchemaError(f"{where}: expected {getattr(hint, '__name__', hint)}, got {type(data).__name__}")
