"""Values between model instances and SQL columns: type mapping, exact storage, decoding.

Type mapping (DESIGN §12.2): string → TEXT, number → DOUBLE PRECISION (SQLite REAL),
integer → BIGINT (SQLite INTEGER), boolean → BOOLEAN, date → TIMESTAMP WITH TIME ZONE
(SQLite: fixed-width ISO-8601 text in UTC, so text order is time order), buffer →
BYTEA/BLOB, object/array/any and embedded models → JSONB (SQLite: JSON text).

A value the backend cannot store exactly is a ValidationError naming the property
(nothing is written): a NUL character in PostgreSQL text (also inside JSON), a string
that is not valid Unicode (lone surrogates), an integer outside 64 bits, NaN, an integer
in a number column that a double cannot hold exactly, infinity inside JSON, and values
JSON has no exact form for (a datetime, bytes, a tuple or set, a non-str key inside an
untyped object or any value). Dates inside embedded models are stored as the same
fixed-width UTC ISO text and decoded back to datetimes by the embedded definition.
"""

from __future__ import annotations

import datetime as _dt
import math
from collections.abc import Callable
from typing import Any

__all__ = [
    "KINDS",
    "column_kind",
    "compile_encoder",
    "date_text",
    "decoder",
    "encode_value",
    "to_utc",
]

UTC = _dt.UTC
INT_MIN, INT_MAX = -(2**63), 2**63 - 1

#: canonical scalar type name → column kind; everything else (object, array, any,
#: embedded models) is stored as JSON.
KINDS: dict[str, str] = {
    "string": "string",
    "number": "number",
    "integer": "integer",
    "boolean": "boolean",
    "date": "date",
    "buffer": "buffer",
}

Errors = list[tuple[str, str]]


def column_kind(prop: Any) -> str:
    """Return the column kind of a property: a KINDS value or ``"json"``."""
    t = prop.type
    return KINDS.get(t, "json") if isinstance(t, str) else "json"


def to_utc(value: _dt.date) -> _dt.datetime:
    """Return a date/datetime as an aware UTC datetime (naive ones are taken as UTC).

    Raises OverflowError when the UTC time falls outside Python's datetime range.
    """
    if not isinstance(value, _dt.datetime):
        return _dt.datetime(value.year, value.month, value.day, tzinfo=UTC)
    if value.tzinfo is None or value.utcoffset() is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def date_text(value: _dt.datetime) -> str:
    """Return the fixed-width UTC ISO text of an aware UTC datetime (sortable as text)."""
    return (
        f"{value.year:04d}-{value.month:02d}-{value.day:02d}T{value.hour:02d}:"
        f"{value.minute:02d}:{value.second:02d}.{value.microsecond:06d}+00:00"
    )


def _check_text(value: str, path: str, errors: Errors, pg: bool) -> bool:
    if pg and "\x00" in value:
        errors.append((path, "contains a NUL character, which PostgreSQL cannot store in text"))
        return False
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        errors.append((path, "is not valid Unicode (a lone surrogate); it cannot be stored"))
        return False
    return True


def _check_int(value: int, path: str, errors: Errors) -> bool:
    if INT_MIN <= value <= INT_MAX:
        return True
    errors.append((path, f"{value} is outside the 64-bit integer range the database stores"))
    return False


def _check_float(value: float, path: str, errors: Errors, *, json: bool) -> bool:
    if math.isnan(value):
        errors.append((path, "NaN cannot be stored (it compares unlike any number); use None"))
        return False
    if json and math.isinf(value):
        errors.append((path, f"{value} cannot be stored in a JSON column"))
        return False
    return True


def encode_value(prop: Any, value: Any, path: str, errors: Errors, pg: bool) -> Any:
    """Return the column value for a validated top-level value; append storage failures."""
    if value is None:
        return None
    kind = column_kind(prop)
    if kind == "string":
        _check_text(value, path, errors, pg)
        return value
    if kind == "integer":
        _check_int(value, path, errors)
        return value
    if kind == "number":
        if isinstance(value, int):
            try:
                exact = float(value) == value
            except OverflowError:
                exact = False
            if not exact:
                errors.append(
                    (path, f"{value} cannot be stored exactly in a number (double) column")
                )
            return value
        _check_float(value, path, errors, json=False)
        return value
    if kind == "boolean" or kind == "buffer":
        return bytes(value) if kind == "buffer" else value
    if kind == "date":
        try:
            utc = to_utc(value)
        except OverflowError:
            errors.append((path, f"{value!r} is outside the datetime range once taken to UTC"))
            return None
        return utc if pg else date_text(utc)
    return _json(prop, value, path, errors, pg)


def _json(prop: Any, value: Any, path: str, errors: Errors, pg: bool) -> Any:
    """Return the JSON form of a value of ``prop`` (None: untyped)."""
    if value is None:
        return None
    t = None if prop is None else prop.type
    if t is not None and not isinstance(t, str):
        return _json_instance(value, path, errors, pg)
    if t == "array" and prop.items is not None and isinstance(value, list):
        return [_json(prop.items, v, f"{path}[{i}]", errors, pg) for i, v in enumerate(value)]
    if t == "date" and isinstance(value, _dt.date):
        try:
            return date_text(to_utc(value))
        except OverflowError:
            errors.append((path, f"{value!r} is outside the datetime range once taken to UTC"))
            return None
    if t == "buffer":
        errors.append((path, "bytes inside an embedded value cannot be stored in a JSON column"))
        return None
    return _plain_json(value, path, errors, pg)


def _json_instance(value: Any, path: str, errors: Errors, pg: bool) -> Any:
    d = getattr(value, "__dict__", None)
    definition = getattr(type(value), "definition", None)
    if d is None or definition is None:
        return _plain_json(value, path, errors, pg)
    props = definition.properties
    out: dict[str, Any] = {}
    for k, v in d.items():
        out[k] = _json(props.get(k), v, f"{path}.{k}", errors, pg)
    return out


def _plain_json(value: Any, path: str, errors: Errors, pg: bool) -> Any:
    """Return an untyped value as JSON, or record why it cannot be stored exactly."""
    if value is None or value is True or value is False:
        return value
    t = type(value)
    if t is str:
        _check_text(value, path, errors, pg)
        return value
    if t is int:
        _check_int(value, path, errors)
        return value
    if t is float:
        _check_float(value, path, errors, json=True)
        return value
    if t is list:
        return [_plain_json(v, f"{path}[{i}]", errors, pg) for i, v in enumerate(value)]
    if t is dict:
        out: dict[str, Any] = {}
        for k, v in value.items():
            if not isinstance(k, str):
                errors.append((path, f"key {k!r} is not a str; JSON keys are strings"))
                continue
            _check_text(k, f"{path}.{k}", errors, pg)
            out[k] = _plain_json(v, f"{path}.{k}", errors, pg)
        return out
    if getattr(t, "definition", None) is not None and hasattr(value, "__dict__"):
        return _json_instance(value, path, errors, pg)
    errors.append(
        (
            path,
            f"a {t.__name__} value cannot be stored exactly in a JSON column; use str, "
            "int, float, bool, None, list or dict (or declare the property's type)",
        )
    )
    return None


# --- compiled encoders (the bulk create path) ----------------------------------------------

Encode = Callable[[Any, str, Errors], Any]


def compile_encoder(prop: Any, pg: bool) -> Encode:
    """Return ``enc(value, path, errors)``: :func:`encode_value` specialised for one property.

    Same results and errors as ``encode_value(prop, value, path, errors, pg)`` for a
    validated, non-None value, with the property's type decided once instead of per value.
    """
    kind = column_kind(prop)
    if kind == "string":

        def enc_str(v: Any, path: str, errors: Errors) -> Any:
            if v.isascii() and not (pg and "\x00" in v):
                return v
            _check_text(v, path, errors, pg)
            return v

        return enc_str
    if kind == "integer":

        def enc_int(v: Any, path: str, errors: Errors) -> Any:
            if INT_MIN <= v <= INT_MAX:
                return v
            _check_int(v, path, errors)
            return v

        return enc_int
    if kind == "number":

        def enc_num(v: Any, path: str, errors: Errors) -> Any:
            if type(v) is float and v == v:  # not NaN
                return v
            return encode_value(prop, v, path, errors, pg)

        return enc_num
    if kind == "boolean":
        return lambda v, path, errors: v
    if kind == "date":

        def enc_date(v: Any, path: str, errors: Errors) -> Any:
            if type(v) is _dt.datetime and v.tzinfo is UTC:
                # isoformat of an aware UTC datetime is date_text's fixed-width text
                return v if pg else v.isoformat(timespec="microseconds")
            return encode_value(prop, v, path, errors, pg)

        return enc_date
    if kind == "buffer":
        return lambda v, path, errors: v if type(v) is bytes else bytes(v)
    if _plain_prop(prop):
        # untyped JSON (object, any, arrays of scalars): a value that needs no change and
        # has nothing to report is stored as it is; anything else takes the checked path
        return lambda v, path, errors: v if _json_ok(v, pg) else _json(prop, v, path, errors, pg)
    return lambda v, path, errors: _json(prop, v, path, errors, pg)


def _plain_prop(prop: Any) -> bool:
    """Return True when a property's JSON form is its plain value (no date, bytes, model)."""
    while prop is not None:
        t = prop.type
        if not isinstance(t, str) or t in ("date", "buffer"):
            return False
        prop = prop.items if t == "array" else None
    return True


def _json_ok(v: Any, pg: bool) -> bool:
    """Return True when ``v`` is JSON that every check of :func:`_plain_json` passes."""
    t = type(v)
    if t is str:
        return (v.isascii() or _encodable(v)) and not (pg and "\x00" in v)
    if t is int:
        return INT_MIN <= v <= INT_MAX
    if t is float:
        return v == v and v not in (math.inf, -math.inf)
    if v is None or t is bool:
        return True
    if t is list:
        return all(_json_ok(x, pg) for x in v)
    if t is dict:
        return all(
            type(k) is str
            and (k.isascii() or _encodable(k))
            and not (pg and "\x00" in k)
            and _json_ok(x, pg)
            for k, x in v.items()
        )
    return False


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


# --- decoding ---------------------------------------------------------------------------

Decode = Callable[[Any], Any]


def _parse_date(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return _dt.datetime.fromisoformat(value)
        except ValueError:
            return value
    if isinstance(value, _dt.datetime):
        return to_utc(value)
    return value


def _iso_utc(value: Any) -> Any:
    """Return SQLite's ISO date text as an aware UTC datetime (text without an offset,
    as tables made by someone else hold it, is UTC; text that does not parse stays)."""
    if value is None:
        return None
    try:
        d = _dt.datetime.fromisoformat(value)
    except (TypeError, ValueError):
        return value
    return d if d.tzinfo is UTC else to_utc(d)


def decoder(prop: Any, kind: str, pg: bool) -> Decode | None:
    """Return the function turning a column value into the stored form (None: as is)."""
    if kind == "date":
        if pg:
            return lambda v: None if v is None else to_utc(v)
        return _iso_utc
    if kind == "buffer":
        return lambda v: None if v is None else bytes(v)
    if kind == "number":  # NUMERIC columns of discovered tables come back as Decimal
        return lambda v: v if v is None or type(v) is float else float(v)
    if kind == "json":
        return _json_decoder(prop)
    return None


def _json_decoder(prop: Any) -> Decode | None:
    """Return a decoder rebuilding typed values (dates, embedded instances) inside JSON."""
    if prop is None:
        return None
    t = prop.type
    if isinstance(t, str):
        if t == "date":
            return _parse_date
        if t == "array" and prop.items is not None:
            inner = _json_decoder(prop.items)
            if inner is None:
                return None
            return lambda v: [inner(x) for x in v] if isinstance(v, list) else v
        return None
    model = t
    subs = {name: _json_decoder(p) for name, p in model.definition.properties.items()}

    def build(v: Any) -> Any:
        if not isinstance(v, dict):
            return v
        inst = object.__new__(model)
        inst.__dict__ = {
            k: (x if x is None or subs.get(k) is None else subs[k](x))  # type: ignore[misc]
            for k, x in v.items()
        }
        return inst

    return build
