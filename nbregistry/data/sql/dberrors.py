"""Driver errors of the SQL connectors turned into nbregistry's errors (DESIGN §8, §12.2).

Every ``sqlalchemy.exc.DBAPIError`` a SQL DataSource meets is classified once, by SQLSTATE
on PostgreSQL and by exception class and message on SQLite, into a :data:`Kind`; the
connector words the error for that kind (:class:`DataSourceConnectionError` only for a
real connection failure, :class:`FilterError` for a filter the database cannot evaluate,
:class:`ValidationError` for a write the database refuses, :class:`SchemaError` for a
table the database or the role does not let the model use). Messages carry the driver's
own reason (whitespace collapsed, secrets scrubbed, never the SQL text or parameters).

Also: the JSON deserializer of SQLite engines (a JSON column holding text that is no
JSON raises :class:`BadStoredJSON`, which the connector reports naming table, column and
row) and :func:`largest_part`, which names the part of a filter that made it too big.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Literal

__all__ = ["BadStoredJSON", "Kind", "classify", "largest_part", "loads", "reason_of"]

Kind = Literal[
    "connection",  # cannot reach the server / open the file
    "notdb",  # SQLite: the file is not a SQLite database (or is corrupt)
    "busy",  # locked by another connection, a deadlock, a serialization failure: retry
    "privilege",  # the role (or the file's permissions) forbids the access
    "limit",  # a statement too large / deep / complex for the database
    "integrity",  # a constraint refused the change
    "data",  # a value the column cannot hold
    "schema",  # the table does not fit: missing column, type mismatch
    "function",  # SQLite: a function nbregistry registered raised (a filter value it cannot use)
    "other",
]

_SQLITE_MESSAGES: tuple[tuple[str, Kind], ...] = (
    ("file is not a database", "notdb"),
    ("database disk image is malformed", "notdb"),
    ("malformed json", "schema"),
    ("user-defined function raised exception", "function"),
    ("not a database", "notdb"),
    ("unable to open database", "connection"),
    ("disk i/o error", "connection"),
    ("cannot open", "connection"),
    ("database is locked", "busy"),
    ("database table is locked", "busy"),
    ("readonly database", "privilege"),
    ("read-only", "privilege"),
    ("string or blob too big", "data"),
    ("too large", "limit"),
    ("too complex", "limit"),
    ("too many", "limit"),
    ("stack overflow", "limit"),
    ("too deep", "limit"),
    ("no such table", "schema"),
    ("no such column", "schema"),
    ("has no column", "schema"),
    ("datatype mismatch", "schema"),
    ("no such function", "schema"),
    ("constraint", "integrity"),
)


def _pg_kind(sqlstate: str | None, exc: Any) -> Kind:
    import sqlalchemy as sa

    if sqlstate is None:
        if isinstance(exc, (sa.exc.OperationalError, sa.exc.InterfaceError)):
            return "connection"
        return "other"
    if sqlstate[:2] in ("08", "28", "3D") or sqlstate[:3] == "57P" or sqlstate == "53300":
        return "connection"  # ... too_many_connections; not disk_full / out_of_memory
    if sqlstate[:2] == "40" or sqlstate == "55P03":  # serialization, deadlock, lock timeout
        return "busy"
    if sqlstate == "42501":
        return "privilege"
    if sqlstate[:2] == "54":
        return "limit"
    if sqlstate[:2] in ("23", "2B"):  # constraint; dependent objects (DROP of a referenced table)
        return "integrity"
    if sqlstate[:2] == "22":
        return "data"
    if sqlstate[:2] in ("42", "3F"):  # syntax/access rule, invalid schema name
        return "schema"
    return "other"


def classify(exc: Any, pg: bool) -> Kind:
    """Return the kind of a ``sqlalchemy.exc.DBAPIError``."""
    import sqlalchemy as sa

    if getattr(exc, "connection_invalidated", False):
        return "connection"
    orig = getattr(exc, "orig", None)
    if pg:
        return _pg_kind(getattr(orig, "sqlstate", None), exc)
    if isinstance(exc, sa.exc.IntegrityError):
        return "integrity"
    if isinstance(exc, sa.exc.DataError):
        return "data"
    text = str(orig if orig is not None else exc).lower()
    for needle, kind in _SQLITE_MESSAGES:
        if needle in text:
            return kind
    if isinstance(exc, sa.exc.InterfaceError):
        return "connection"
    return "other"


def reason_of(exc: BaseException, limit: int = 300) -> str:
    """Return the driver's message of ``exc`` on one line (never SQLAlchemy's SQL text)."""
    orig = getattr(exc, "orig", None) or exc
    # psycopg: the primary message only (str() adds "LINE 2: <the SQL text> ^")
    primary = getattr(getattr(orig, "diag", None), "message_primary", None)
    text = " ".join(str(primary or orig).split()) or type(orig).__name__
    return text if len(text) <= limit else text[: limit - 3] + "..."


class BadStoredJSON(Exception):
    """A JSON column holds text that is no JSON (written by someone else)."""

    def __init__(self, text: Any, problem: str) -> None:
        super().__init__(problem)
        self.text = text
        self.problem = problem


def loads(text: Any) -> Any:
    """Return ``json.loads(text)``; BadStoredJSON (not a bare ValueError) if it is no JSON."""
    try:
        return json.loads(text)
    except (TypeError, ValueError) as exc:
        raise BadStoredJSON(text, str(exc)) from None


_SIZED = ("inq", "nin")
_PATTERNS = ("like", "nlike", "ilike", "nilike", "regexp")


def largest_part(where: Any, path: str = "where") -> str:
    """Return a phrase naming the biggest part of a filter (terms, values, pattern length)."""
    best: tuple[int, str] = (0, f"{path} ({_describe_size(where)})")

    def walk(node: Any, at: str, depth: int) -> None:
        nonlocal best
        if depth > 200 and depth > best[0]:
            best = (depth, f"{at} (nested {depth} levels deep)")
        if not isinstance(node, Mapping):
            return
        for key, value in node.items():
            here = f"{at}.{key}"
            if key in ("and", "or") and isinstance(value, (list, tuple)):
                if len(value) > best[0]:
                    best = (len(value), f"{here} ({len(value)} terms)")
                for i, sub in enumerate(value):
                    walk(sub, f"{here}[{i}]", depth + 1)
            elif isinstance(value, Mapping):
                for op, arg in value.items():
                    opath = f"{here}.{op}"
                    if op in _SIZED and isinstance(arg, (list, tuple)):
                        n = len(arg)
                        extra = ", None among them" if any(a is None for a in arg) else ""
                        if n > best[0]:
                            best = (n, f"{opath} ({n} values{extra})")
                    elif op in _PATTERNS and isinstance(arg, str):
                        if len(arg) > best[0]:
                            best = (len(arg), f"{opath} (a pattern of {len(arg)} characters)")
                    elif op in ("and", "or"):
                        walk({op: arg}, here, depth + 1)

    walk(where, path, 0)
    return best[1]


def _describe_size(where: Any) -> str:
    if isinstance(where, Mapping):
        return f"{len(where)} keys"
    return type(where).__name__
