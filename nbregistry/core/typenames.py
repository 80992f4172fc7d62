"""Canonical property types: names, Python spellings, and the value checks behind them."""

from __future__ import annotations

import datetime as _dt
from collections.abc import Callable
from typing import Any

__all__ = ["PYTHON_TYPES", "TYPE_NAMES", "UTC", "check_scalar", "parse_date", "to_utc"]

#: Canonical type names, in the order error messages list them.
TYPE_NAMES: tuple[str, ...] = (
    "string",
    "number",
    "integer",
    "boolean",
    "date",
    "object",
    "array",
    "any",
    "buffer",
)
_TYPE_NAME_SET = frozenset(TYPE_NAMES)

#: Python types accepted as spellings → canonical type name.
PYTHON_TYPES: dict[type, str] = {
    str: "string",
    float: "number",
    int: "integer",
    bool: "boolean",
    _dt.datetime: "date",
    _dt.date: "date",
    dict: "object",
    list: "array",
    bytes: "buffer",
    object: "any",
}


def canonical_type_name(name: str) -> str | None:
    """Return the canonical spelling of a type name (case-insensitive), or None."""
    low = name.lower()
    return low if low in _TYPE_NAME_SET else None


def _check_string(v: Any) -> tuple[bool, Any]:
    return isinstance(v, str), v


def _check_number(v: Any) -> tuple[bool, Any]:
    return (isinstance(v, (int, float)) and not isinstance(v, bool)), v


def _check_integer(v: Any) -> tuple[bool, Any]:
    return (isinstance(v, int) and not isinstance(v, bool)), v


def _check_boolean(v: Any) -> tuple[bool, Any]:
    return isinstance(v, bool), v


UTC = _dt.UTC


def to_utc(v: Any) -> _dt.datetime | None:
    """Return ``v`` as an aware UTC datetime (DESIGN §12.3), or None if it is no date.

    An aware datetime (or ISO string with an offset) is converted to UTC; a naive one, a
    ``date`` and an ISO string without an offset (``"2024-06-15"``) are taken as UTC.
    A time that falls outside Python's datetime range once taken to UTC (year 1 with a
    positive offset, year 9999 with a negative one) is no date either: None, so every
    caller reports it as the invalid value it is (ValidationError, FilterError), never
    as an OverflowError.
    """
    if isinstance(v, _dt.datetime):
        tz = v.tzinfo
        if tz is UTC:
            return v
        if tz is None or v.utcoffset() is None:
            return v.replace(tzinfo=UTC)
        try:
            return v.astimezone(UTC)
        except OverflowError:
            return None
    if isinstance(v, _dt.date):
        return _dt.datetime(v.year, v.month, v.day, tzinfo=UTC)
    if isinstance(v, str):
        try:
            parsed = _dt.datetime.fromisoformat(v.replace("Z", "+00:00"))
        except ValueError:
            return None
        return to_utc(parsed)
    return None


#: The one date parser of the package: value checks, filter values and the persistence
#: codec all use it, so every date is an aware UTC datetime.
parse_date = to_utc


def _check_date(v: Any) -> tuple[bool, Any]:
    out = to_utc(v)
    return (False, v) if out is None else (True, out)


def _check_object(v: Any) -> tuple[bool, Any]:
    return isinstance(v, dict), v


def _check_array(v: Any) -> tuple[bool, Any]:
    return isinstance(v, list), v


def _check_any(v: Any) -> tuple[bool, Any]:
    return True, v


def _check_buffer(v: Any) -> tuple[bool, Any]:
    return isinstance(v, (bytes, bytearray)), v


_CHECKS: dict[str, Callable[[Any], tuple[bool, Any]]] = {
    "string": _check_string,
    "number": _check_number,
    "integer": _check_integer,
    "boolean": _check_boolean,
    "date": _check_date,
    "object": _check_object,
    "array": _check_array,
    "any": _check_any,
    "buffer": _check_buffer,
}

_EXPECTED: dict[str, str] = {
    "string": "a str",
    "number": "an int or float (not bool)",
    "integer": "an int (not bool)",
    "boolean": "a bool",
    "date": "a datetime, a date or an ISO-8601 str (in years 1-9999 once taken to UTC)",
    "object": "a dict",
    "array": "a list",
    "any": "anything",
    "buffer": "bytes",
}


def check_scalar(type_name: str, value: Any) -> tuple[bool, Any]:
    """Return ``(ok, stored_value)`` for ``value`` against a canonical scalar type."""
    return _CHECKS[type_name](value)


def expected(type_name: str) -> str:
    """Return a phrase naming what a type accepts, for error messages."""
    return _EXPECTED[type_name]
