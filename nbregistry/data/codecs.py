"""The JSON encoding of stored values, shared by every store that keeps rows as JSON.

``encode`` turns a validated value into JSON-ready data (dates, bytes and embedded model
instances become tagged objects: ``{"$date": iso}``, ``{"$day": iso}``, ``{"$bytes":
base64}``; a dict that looks like a tag is wrapped as ``{"$dict": ...}``); ``decode``
inverts it. The memory connector's JSON and SQLite files use it, and SQL connectors use it
for JSON columns, so a row round-trips the same way everywhere.
"""

from __future__ import annotations

import base64
import datetime as _dt
from typing import Any

from ..core.typenames import parse_date

__all__ = ["decode", "encode"]

_TAGS = ("$date", "$day", "$bytes", "$dict")


def encode(v: Any) -> Any:
    """Return a JSON-ready form of a stored value; TypeError naming what cannot be stored."""
    t = type(v)
    if v is None or t in (str, int, float, bool):
        return v
    if t is _dt.datetime:
        return {"$date": v.isoformat()}
    if t is _dt.date:
        return {"$day": v.isoformat()}
    if t in (bytes, bytearray):
        return {"$bytes": base64.b64encode(bytes(v)).decode("ascii")}
    if isinstance(v, (list, tuple)):
        return [encode(x) for x in v]
    if isinstance(v, dict):
        out = {}
        for k, x in v.items():
            if not isinstance(k, str):
                raise TypeError(f"a JSON file can only store str dict keys, got {k!r}")
            out[k] = encode(x)
        if len(out) == 1 and next(iter(out)) in _TAGS:
            return {"$dict": out}
        return out
    d = getattr(v, "__dict__", None)
    if d is not None and hasattr(t, "definition") and hasattr(t, "model_name"):
        return encode(dict(d))
    raise TypeError(
        f"a JSON file cannot store {v!r:.60} ({t.__name__}); store str, numbers, bool, "
        "None, dates, bytes, lists and dicts"
    )


def decode(v: Any) -> Any:
    """Invert :func:`encode`; ValueError for a malformed tag."""
    if isinstance(v, list):
        return [decode(x) for x in v]
    if isinstance(v, dict):
        if len(v) == 1:
            tag, x = next(iter(v.items()))
            if tag == "$date":
                parsed = parse_date(x) if isinstance(x, str) else None
                if parsed is None:
                    raise ValueError(f"bad $date value {x!r:.40}")
                return parsed
            if tag == "$day":
                return _dt.date.fromisoformat(x)
            if tag == "$bytes":
                return base64.b64decode(x.encode("ascii"), validate=True)
            if tag == "$dict":
                if not isinstance(x, dict):
                    raise ValueError(f"bad $dict value {x!r:.40}")
                return {k: decode(y) for k, y in x.items()}
        return {k: decode(y) for k, y in v.items()}
    return v
