"""LoopBack filters compiled to SQLAlchemy Core expressions with the memory connector's meaning.

Every ``where`` becomes one boolean SQL expression that is never NULL (each leaf is
two-valued: ``col IS NOT NULL AND col = :v``), so a negative operator is the exact
complement of its positive one (``neq`` matches missing values, as in memory). Values
are always bound parameters and identifiers are quoted by the dialect. Filters are
validated with the memory connector's own checks (:mod:`nbregistry.data.filters`), so
a malformed filter raises the same FilterError on every backend.

Semantics kept exactly as in memory:

* strings compare by code point (PostgreSQL: ``COLLATE "C"``; SQLite's BINARY already is);
* ``like``/``nlike`` are case-sensitive full matches of ``%``/``_`` patterns (SQLite:
  translated to GLOB; PostgreSQL: LIKE with the backslash escaped, since memory has no
  escape character); ``ilike``/``nilike`` fold case (SQLite: a registered deterministic
  function running the memory connector's matcher; PostgreSQL: ``lower()`` of both sides);
* a compiled ``re.Pattern`` (equality, ``like``) and ``regexp`` search string values
  (SQLite: a registered deterministic function using Python's ``re``; PostgreSQL: the
  pattern translated to an ARE, or FilterError naming a construct PostgreSQL lacks);
* ``None`` matches missing/NULL; ``gt``-style comparisons never match a missing value
  or a value of another type (JSON values carry their type: ``"1"`` is not ``1``);
* on an array property ``{"tags": "a"}`` matches rows whose array contains ``"a"``;
* ``order`` puts missing values last in both directions and breaks ties by id.
"""

from __future__ import annotations

import datetime as _dt
import json
import math
import operator
import re
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from ...core.errors import FilterError
from ..filters import (
    OPERATORS,
    ORDER_RE,
    between_bounds,
    check_regexp_prop,
    coerce_value,
    like_regex,
    order_terms,
    parse_regexp,
    prop_for_path,
)
from .codec import column_kind, date_text, to_utc
from .regex import pg_fullmatch, pg_regex

# comparison operator of the filter language → the Python operator SQLAlchemy overloads.
_COMPARE = {
    "eq": operator.eq,
    "gt": operator.gt,
    "gte": operator.ge,
    "lt": operator.lt,
    "lte": operator.le,
}

__all__ = ["OPERATORS", "Compiler", "TableInfo"]

_OPS = frozenset(OPERATORS)
_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1
_NO_MATCH = object()
_TRUE = sa.true()
_FALSE = sa.false()


@dataclass
class TableInfo:
    """One model's table: the SQLAlchemy Table and how properties map to its columns."""

    cls: Any
    table: sa.Table
    # property name → its column (declared properties only; extras live in ``extra``).
    columns: dict[str, sa.Column[Any]]
    # property name → column kind (codec.KINDS value or "json").
    kinds: dict[str, str]
    # the id property's name (None for a model without one).
    id_name: str | None
    # the primary-key column: the id, or the hidden ``_nbr_rowid`` of an id-less model;
    # None for a read-only model without an id (a view, a table without a primary key).
    key: sa.Column[Any] | None
    # the ``_extra`` JSON column of a non-strict model (None when strict).
    extra: sa.Column[Any] | None
    # property name → decoder of its column value (None: taken as is).
    decoders: dict[str, Any] = field(default_factory=dict)
    ensured: bool = False
    # settings read_only=True: never created, migrated or written (someone else's table).
    read_only: bool = False
    # SQLite: the key column is the table's rowid (INTEGER PRIMARY KEY of a rowid table),
    # so a batch inserted in one write transaction gets consecutive keys (set at ensure).
    rowid_key: bool = False
    # property name → its compiled encoder (codec.compile_encoder), the id excepted.
    encoders: dict[str, Any] = field(default_factory=dict)
    # (property name, kind) of the columns whose written value needs converting back to
    # the instance form (dates to UTC datetimes, numbers to floats, buffers to bytes).
    fixes: tuple[tuple[str, str], ...] = ()
    # columns of the real table with a default of the database's own (someone else's
    # table: now(), 'open', ...): an insert leaves such a column out when its value is
    # None, so the database applies its default (set at ensure; empty for our tables).
    server_defaults: frozenset[str] = frozenset()


@dataclass(frozen=True)
class _Ref:
    """Where a filter path's value lives: a typed column, a JSON path, or nowhere."""

    where: str  # "col" | "json" | "none"
    expr: Any = None  # the column (col/json)
    kind: str = ""  # column kind (col), "" for json
    segs: tuple[str, ...] = ()  # path inside the JSON value
    prop: Any = None  # PropertyDefinition at the path (None: untyped)


# SQLite parses ``a OR b OR c ...`` into a tree as deep as the list is long and refuses
# trees deeper than 1000: long and/or lists are joined as balanced groups instead.
_CHUNK = 32
# SQLite's longest LIKE/GLOB pattern (SQLITE_MAX_LIKE_PATTERN_LENGTH, bytes)
_SQLITE_PATTERN_MAX = 50_000


def _join(fn: Any, items: list[Any]) -> Any:
    """Return ``fn(*items)`` (sa.and_ / sa.or_) as a tree of depth O(log n)."""
    while len(items) > _CHUNK:
        items = [
            # coalesce(x, false) is x (never NULL here) but keeps SQLAlchemy from flattening
            sa.func.coalesce(fn(*items[i : i + _CHUNK]), _FALSE)
            for i in range(0, len(items), _CHUNK)
        ]
    return fn(*items) if len(items) != 1 else items[0]


def _glob(pattern: str) -> str:
    """Translate a SQL LIKE pattern (no escape character) to an exact SQLite GLOB."""
    out = []
    for ch in pattern:
        if ch == "%":
            out.append("*")
        elif ch == "_":
            out.append("?")
        elif ch in "*?[":
            out.append(f"[{ch}]")
        else:
            out.append(ch)
    return "".join(out)


def _sqlite_label(seg: str) -> bool:
    """Return True when ``$."seg"`` finds the key ``seg`` in SQLite (it compares raw JSON text).

    A digit segment is an array index or an object key (memory's rule) and a key the JSON
    text escapes (quote, backslash, control characters) differs from its raw text: both
    take the json_each walk (``Compiler._sqlite_walk``).
    """
    return not seg.isdigit() and not any(ch in '"\\' or ch < " " for ch in seg)


# what PostgreSQL's jsonb path lookup reads as an array index (strtol): memory indexes a
# list only by a digit segment
_PG_INT = re.compile(r"[ \t\n\v\f\r]*[+-]?[0-9]+")


def _pg_plain(seg: str) -> bool:
    """Return True when PostgreSQL's ``#>`` reads ``seg`` as memory does (key or index)."""
    return (seg.isascii() and seg.isdigit()) or not (_PG_INT.fullmatch(seg) or seg.isdigit())


def _sqlite_path(segs: tuple[str, ...]) -> str:
    return "$" + "".join(f'."{seg}"' for seg in segs)


class Compiler:
    """Compile where/order/fields of one model's table for one backend (``pg``)."""

    def __init__(self, info: TableInfo, pg: bool) -> None:
        self.info = info
        self.pg = pg

    # --- references ---------------------------------------------------------------------

    def ref(self, key: str, where_path: str, what: str) -> _Ref:
        """Return where the value at a dotted path lives; FilterError for a bad path."""
        cls = self.info.cls
        prop = prop_for_path(cls, key, where_path, what)
        segs = tuple(key.split("."))
        first = segs[0]
        col = self.info.columns.get(first)
        if col is not None:
            kind = self.info.kinds[first]
            if kind != "json":
                if len(segs) > 1:
                    return _Ref("none")
                return _Ref("col", col, kind, (), prop)
            return _Ref("json", col, "", segs[1:], prop)
        if self.info.extra is not None:
            return _Ref("json", self.info.extra, "", segs, None)
        return _Ref("none")

    # JSON access per backend ------------------------------------------------------------

    def _jpath(self, r: _Ref, where: str) -> Any:
        return sa.literal(list(r.segs), sa.ARRAY(sa.Text))

    def _pg_walk(self, r: _Ref) -> Any:
        """Return the jsonb at a path with segments ``#>`` would read otherwise than memory.

        ``"-1"``/``"+0"`` are only object keys (``->`` with text never indexes an array);
        a non-ASCII digit segment (``"\u0663"``) indexes an array by its value, as memory's
        ``int(seg)`` does.
        """
        expr = r.expr
        plain: list[str] = []
        for seg in r.segs:
            if _pg_plain(seg):
                plain.append(seg)
                continue
            if plain:
                expr = expr.op("#>", return_type=r.expr.type)(sa.literal(plain, sa.ARRAY(sa.Text)))
                plain = []
            key = expr.op("->", return_type=r.expr.type)(sa.literal(seg, sa.Text))
            if seg.isdigit() and int(seg) <= 2**31 - 1:
                index = expr.op("->", return_type=r.expr.type)(sa.literal(int(seg), sa.Integer))
                key = sa.case((sa.func.jsonb_typeof(expr) == "array", index), else_=key)
            expr = key
        if plain:
            expr = expr.op("#>", return_type=r.expr.type)(sa.literal(plain, sa.ARRAY(sa.Text)))
        return expr

    def _sqlite_walk(self, r: _Ref, what: str) -> Any:
        """Return SQLite's ``value`` or ``type`` at the path, one json_each step per segment.

        A step finds the key (or, for a digit segment, also the array index) and yields
        the value only when it is an object or array, so the next step never parses text.
        """
        src = r.expr
        last = len(r.segs) - 1
        for i, seg in enumerate(r.segs):
            tv = sa.func.json_each(src).table_valued("key", "type", "value")
            match = tv.c.key == seg
            if seg.isdigit() and (index := int(seg)) <= _INT64_MAX:
                match = sa.or_(match, tv.c.key == index)
            if i == last:
                col = tv.c.type if what == "type" else tv.c.value
            else:
                col = sa.case((tv.c.type.in_(("object", "array")), tv.c.value), else_=sa.null())
            src = sa.select(col).select_from(tv).where(match).limit(1).scalar_subquery()
        return src

    def _sqlite_json(self, r: _Ref, what: str) -> Any:
        if all(_sqlite_label(seg) for seg in r.segs):
            fn = sa.func.json_type if what == "type" else sa.func.json_extract
            return fn(r.expr, _sqlite_path(r.segs))
        return self._sqlite_walk(r, what)

    def jtext(self, r: _Ref, where: str) -> Any:
        """Return the text of a JSON scalar at the path (NULL if missing or JSON null)."""
        if self.pg:
            if not all(_pg_plain(seg) for seg in r.segs):
                empty = sa.literal([], sa.ARRAY(sa.Text))
                return self._pg_walk(r).op("#>>", return_type=sa.Text)(empty)
            return r.expr.op("#>>", return_type=sa.Text)(self._jpath(r, where))
        return self._sqlite_json(r, "value")

    def jvalue(self, r: _Ref, where: str) -> Any:
        """Return the JSON value at the path (PostgreSQL jsonb; SQLite: the extracted value)."""
        if self.pg:
            if not r.segs:
                return r.expr
            if not all(_pg_plain(seg) for seg in r.segs):
                return self._pg_walk(r)
            return r.expr.op("#>", return_type=r.expr.type)(self._jpath(r, where))
        return self._sqlite_json(r, "value")

    def jtype(self, r: _Ref, where: str) -> Any:
        """Return the JSON type name at the path (backend-specific spelling)."""
        if self.pg:
            return sa.func.jsonb_typeof(self.jvalue(r, where))
        return self._sqlite_json(r, "type")

    def jis(self, r: _Ref, kind: str, where: str) -> Any:
        """Return a predicate: the JSON value at the path is of ``kind``."""
        t = self.jtype(r, where)
        if self.pg:
            return sa.func.coalesce(t == kind, _FALSE)
        names = {
            "string": ("text",),
            "number": ("integer", "real"),
            "boolean": ("true", "false"),
            "array": ("array",),
            "object": ("object",),
        }[kind]
        return sa.func.coalesce(t.in_(names), _FALSE)

    def jnum(self, r: _Ref, where: str) -> Any:
        """Return the number at the path, NULL when it is not a number."""
        if self.pg:
            return sa.case(
                (self.jtype(r, where) == "number", sa.cast(self.jtext(r, where), sa.Numeric)),
                else_=sa.null(),
            )
        return sa.case(
            (self.jtype(r, where).in_(("integer", "real")), self.jtext(r, where)),
            else_=sa.null(),
        )

    def jbool(self, r: _Ref, where: str) -> Any:
        """Return 1/0 for a JSON true/false at the path, NULL otherwise."""
        t = self.jtype(r, where)
        if self.pg:
            return sa.case(
                (t == "boolean", sa.case((self.jtext(r, where) == "true", 1), else_=0)),
                else_=sa.null(),
            )
        return sa.case((t == "true", 1), (t == "false", 0), else_=sa.null())

    # --- values ---------------------------------------------------------------------------

    def _check_str(self, value: str, path: str) -> None:
        if self.pg and "\x00" in value:
            raise FilterError(
                f"{path}: {value!r:.60} contains a NUL character, which PostgreSQL text "
                "cannot hold; remove it"
            )
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise FilterError(f"{path}: {value!r:.60} is not valid Unicode") from None

    def _db_date(self, value: Any, path: str) -> Any:
        try:
            utc = to_utc(value)
        except OverflowError:
            raise FilterError(f"{path}: {value!r} is outside the datetime range") from None
        return utc if self.pg else date_text(utc)

    def _scalar(self, value: Any, path: str) -> Any:
        """Return a filter value ready to bind (dates to the stored form); FilterError."""
        if isinstance(value, str):
            self._check_str(value, path)
            return value
        if isinstance(value, _dt.date):
            return self._db_date(value, path)
        if isinstance(value, float) and value != value:
            raise FilterError(f"{path}: NaN matches nothing; use None for missing values")
        if isinstance(value, bytearray):
            return bytes(value)
        if (
            isinstance(value, int)
            and not isinstance(value, bool)
            and not (-(2**63) <= value <= 2**63 - 1)
        ):
            raise FilterError(f"{path}: {value} is outside the 64-bit integer range")
        return value

    def _json_literal(self, value: Any, path: str) -> str:
        try:
            return json.dumps(value, allow_nan=False, ensure_ascii=False, default=_no_json)
        except (TypeError, ValueError) as exc:
            raise FilterError(f"{path}: {value!r:.60} cannot be compared in SQL: {exc}") from None

    # --- predicates ---------------------------------------------------------------------

    def is_null(self, r: _Ref, where: str) -> Any:
        if r.where == "none":
            return _TRUE
        if r.where == "col":
            return r.expr.is_(None)
        return self.jtext(r, where).is_(None)

    def _col_cmp(self, r: _Ref, op: str, value: Any, path: str) -> Any:
        col = r.expr
        if (
            r.kind in ("integer", "number")
            and isinstance(value, (int, float))
            and not isinstance(value, bool)
        ):
            return sa.and_(col.is_not(None), self._num_cmp(col, op, value, r.kind, path))
        v = self._scalar(value, path)
        if r.kind == "string" and not isinstance(value, str):
            return _FALSE
        if r.kind == "date" and not isinstance(value, _dt.date):
            return _FALSE
        if r.kind == "buffer" and not isinstance(value, (bytes, bytearray)):
            return _FALSE
        if r.kind == "string" and self.pg and op not in ("eq",):
            col = col.collate("C")
        expr = _COMPARE[op](col, v)
        return sa.and_(r.expr.is_not(None), expr)

    def _json_cmp(self, r: _Ref, op: str, value: Any, path: str) -> Any:
        if isinstance(value, bool):
            kind, lhs, v = "boolean", self.jbool(r, path), int(value)
        elif isinstance(value, (int, float)):
            num = self._num_cmp(self.jnum(r, path), op, value, "json", path)
            return sa.and_(self.jis(r, "number", path), sa.func.coalesce(num, _FALSE))
        elif isinstance(value, str):
            self._check_str(value, path)
            lhs = self.jtext(r, path)
            if self.pg and op != "eq":
                lhs = lhs.collate("C")
            kind, v = "string", value
        elif isinstance(value, _dt.date):
            lhs = self.jtext(r, path)
            if self.pg and op != "eq":
                lhs = lhs.collate("C")
            kind, v = "string", date_text(to_utc(value))
        elif isinstance(value, (list, dict)) and op == "eq":
            literal = self._json_literal(value, path)
            if self.pg:
                from sqlalchemy.dialects.postgresql import JSONB

                return sa.func.coalesce(
                    self.jvalue(r, path) == sa.cast(sa.literal(literal), JSONB), _FALSE
                )
            return (
                sa.func.coalesce(
                    sa.func.nbr_json_eq(self.jtype(r, path), self.jtext(r, path), literal), 0
                )
                == 1
            )
        else:
            raise FilterError(
                f"{path}: {value!r:.60} ({type(value).__name__}) cannot be compared with "
                f"{op!r} in SQL; compare with a str, number, bool or date"
            )
        cmp = _COMPARE[op](lhs, v)
        return sa.and_(self.jis(r, kind, path), sa.func.coalesce(cmp, _FALSE))

    def _num_cmp(self, lhs: Any, op: str, v: int | float, kind: str, path: str) -> Any:
        """Return ``lhs <op> v`` exactly as Python compares numbers (no rounding of ``v``).

        ``kind``: "integer" (a 64-bit integer column), "number" (a double column) or
        "json" (a JSON number: PostgreSQL numeric, SQLite a 64-bit int or a double).
        A bound outside what the column can hold is still a valid comparison: 2**64 is
        above every integer column value. Raises FilterError for NaN.
        """
        cmp = _COMPARE[op]
        if isinstance(v, float):
            if v != v:
                raise FilterError(f"{path}: NaN matches nothing; use None for missing values")
            if math.isinf(v) and kind != "number":
                return _above_all(op) if v > 0 else _below_all(op)  # ints, JSON: finite
            if kind == "number" or not self.pg:
                return cmp(lhs, v)  # SQLite compares integers with doubles exactly
            return cmp(lhs, Decimal(v))  # PostgreSQL: numeric, not a rounding double
        in64 = _INT64_MIN <= v <= _INT64_MAX
        if kind == "integer":
            if in64:
                return cmp(lhs, v)
            return _above_all(op) if v > 0 else _below_all(op)
        if kind == "json" and in64:
            return cmp(lhs, v)  # exact on both
        if kind == "json" and self.pg:
            return cmp(lhs, Decimal(v))  # numeric against numeric: exact
        # a double (or a SQLite JSON value) against an int a double may not hold
        try:
            f = float(v)
        except OverflowError:
            f = math.inf if v > 0 else -math.inf
        if f == v:
            return cmp(lhs, f)
        if op == "eq":
            return _FALSE
        lo, hi = (f, math.nextafter(f, math.inf)) if f < v else (math.nextafter(f, -math.inf), f)
        return lhs >= hi if op in ("gt", "gte") else lhs <= lo

    def _is_array(self, r: _Ref) -> bool:
        return r.prop is not None and r.prop.type == "array"

    def _contains(self, r: _Ref, value: Any, path: str) -> Any:
        """Return: the array at ``r`` contains the scalar ``value`` (LoopBack)."""
        item = value
        if isinstance(value, _dt.date):
            item = date_text(to_utc(value))
        elif isinstance(value, str):
            self._check_str(value, path)
        literal = self._json_literal([item], path)
        if self.pg:
            from sqlalchemy.dialects.postgresql import JSONB

            return sa.func.coalesce(
                self.jvalue(r, path).op("@>", return_type=sa.Boolean)(
                    sa.cast(sa.literal(literal), JSONB)
                ),
                _FALSE,
            )
        return (
            sa.func.coalesce(
                sa.func.nbr_json_contains(self.jtype(r, path), self.jtext(r, path), literal),
                0,
            )
            == 1
        )

    def _contains_match(self, r: _Ref, rx: re.Pattern[str], path: str) -> Any:
        """Return: the array at ``r`` has a string element that ``rx`` finds (as memory)."""
        _check_pattern(rx, path)
        if r.where == "none":
            return _FALSE
        if self.pg:
            from sqlalchemy.dialects.postgresql import JSONB

            are = pg_regex(rx, path)
            arr = self.jvalue(r, path)
            elem = sa.func.jsonb_array_elements(arr).table_valued(sa.column("value", JSONB))
            text = elem.c.value.op("#>>", return_type=sa.Text)(sa.literal([], sa.ARRAY(sa.Text)))
            found = (
                sa.select(sa.literal(1))
                .select_from(elem)
                .where(
                    sa.func.jsonb_typeof(elem.c.value) == "string",
                    text.op("~")(are),
                )
                .exists()
            )
            return sa.case((sa.func.jsonb_typeof(arr) == "array", found), else_=_FALSE)
        return (
            sa.func.coalesce(
                sa.func.nbr_json_any_regexp(
                    rx.pattern, rx.flags, self.jtype(r, path), self.jtext(r, path)
                ),
                0,
            )
            == 1
        )

    def eq(self, r: _Ref, value: Any, path: str, contains: bool = True) -> Any:
        if value is None:
            return self.is_null(r, path)
        if isinstance(value, re.Pattern):
            if contains and self._is_array(r):
                return self._contains_match(r, value, path)
            return self.search(r, value, path)
        if r.where == "none":
            return _FALSE
        if r.where == "col":
            if r.kind in ("json",):  # pragma: no cover - json columns are json refs
                return _FALSE
            return self._col_cmp(r, "eq", value, path)
        if contains and self._is_array(r) and not isinstance(value, (list, dict)):
            return self._contains(r, value, path)
        return self._json_cmp(r, "eq", value, path)

    def order_cmp(self, r: _Ref, op: str, value: Any, path: str) -> Any:
        if r.where == "none":
            return _FALSE
        if r.where == "col":
            return self._col_cmp(r, op, value, path)
        if isinstance(value, (list, dict)):
            raise FilterError(
                f"{path}: arrays and objects cannot be compared with {op!r} in SQL; "
                "compare a scalar path such as 'address.city'"
            )
        return self._json_cmp(r, op, value, path)

    def _string_expr(self, r: _Ref, path: str) -> tuple[Any, Any] | None:
        """Return ``(text expression, is-a-string predicate)``, or None: never a string."""
        if r.where == "none":
            return None
        if r.where == "col":
            if r.kind != "string":
                return None
            return r.expr, r.expr.is_not(None)
        return self.jtext(r, path), self.jis(r, "string", path)

    def like(self, r: _Ref, pattern: Any, path: str, ignore_case: bool) -> Any:
        if isinstance(pattern, re.Pattern):
            flags = pattern.flags | (re.IGNORECASE if ignore_case else 0)
            return self.search(r, re.compile(pattern.pattern, flags), path)
        if not isinstance(pattern, str):
            raise FilterError(
                f"{path}: expects a SQL pattern str ('%' any run, '_' one character) or a "
                f"compiled re.Pattern, got {pattern!r}"
            )
        self._check_str(pattern, path)
        pattern = re.sub("%%+", "%", pattern)  # the same strings match; shorter SQL
        found = self._string_expr(r, path)
        if found is None:
            return _FALSE
        text, is_str = found
        if ignore_case:
            if self.pg:
                # Python's own case folding (memory's matcher), not lower() of the locale
                match = text.op("~")(pg_fullmatch(like_regex(pattern, path, True), path))
            else:
                match = sa.func.nbr_ilike(text, pattern) == 1
        elif self.pg:
            match = text.like(pattern.replace("\\", "\\\\"))
        else:
            glob = _glob(pattern)
            if len(glob.encode("utf-8")) > _SQLITE_PATTERN_MAX:
                raise FilterError(
                    f"{path}: the pattern is longer than SQLite's limit for LIKE/GLOB "
                    f"patterns ({_SQLITE_PATTERN_MAX} bytes); use a shorter pattern"
                )
            match = text.op("GLOB")(glob)
        return sa.and_(is_str, sa.func.coalesce(match, _FALSE))

    def search(self, r: _Ref, rx: re.Pattern[str], path: str) -> Any:
        _check_pattern(rx, path)
        found = self._string_expr(r, path)
        if found is None:
            return _FALSE
        text, is_str = found
        if self.pg:
            match = text.op("~")(pg_regex(rx, path))
        else:
            match = sa.func.nbr_regexp(rx.pattern, rx.flags, text) == 1
        return sa.and_(is_str, sa.func.coalesce(match, _FALSE))

    # --- where ---------------------------------------------------------------------------

    def where(self, where: Any, path: str = "where") -> Any:
        """Return the SQL predicate of a LoopBack ``where`` (None: every row); FilterError."""
        if where is None:
            return _TRUE
        if not isinstance(where, dict) and not hasattr(where, "items"):
            raise FilterError(
                f"{path} must be a dict such as {{'name': 'Ann'}} or "
                f"{{'age': {{'gt': 30}}}}, got {where!r:.80}"
            )
        preds: list[Any] = []
        for key, cond in where.items():
            if not isinstance(key, str):
                raise FilterError(f"{path}: keys must be property names (str), got {key!r}")
            if key in ("and", "or"):
                sub_path = f"{path}.{key}"
                if not isinstance(cond, (list, tuple)) or not cond:
                    raise FilterError(
                        f"{sub_path} expects a non-empty list of where dicts, got {cond!r:.80}"
                    )
                subs = [self.where(c, f"{sub_path}[{i}]") for i, c in enumerate(cond)]
                preds.append(_join(sa.and_ if key == "and" else sa.or_, subs))
                continue
            if key in _OPS:
                raise FilterError(
                    f"{path}: operator {key!r} must be nested under a property, "
                    f"e.g. {{'age': {{{key!r}: ...}}}}"
                )
            prop_path = f"{path}.{key}"
            r = self.ref(key, prop_path, "where")
            if isinstance(cond, dict) or (hasattr(cond, "items") and hasattr(cond, "keys")):
                if not cond:
                    raise FilterError(f"{prop_path}: empty operator dict; e.g. {{'eq': 1}}")
                for op, value in cond.items():
                    if op not in _OPS:
                        raise FilterError(
                            f"{prop_path}: unknown operator {op!r}; known operators: "
                            f"{', '.join(OPERATORS)} (compare with a dict using {{'eq': {{...}}}})"
                        )
                    preds.append(self.operator(r, op, value, f"{prop_path}.{op}"))
            else:
                preds.append(self.eq(r, coerce_value(r.prop, cond, prop_path), prop_path))
        if not preds:
            return _TRUE
        return _join(sa.and_, preds)

    def operator(self, r: _Ref, op: str, value: Any, path: str) -> Any:
        """Compile one ``{"op": value}`` condition on the value at ``r``."""
        prop = r.prop
        if op == "eq":
            return self.eq(r, coerce_value(prop, value, path), path)
        if op == "neq":
            return sa.not_(self.eq(r, coerce_value(prop, value, path), path))
        if op in ("gt", "gte", "lt", "lte"):
            if value is None:
                raise FilterError(f"{path}: cannot compare with None; use {{'eq': None}}")
            return self.order_cmp(r, op, coerce_value(prop, value, path), path)
        if op in ("inq", "nin"):
            if not isinstance(value, (list, tuple, set, frozenset)):
                raise FilterError(
                    f"{path}: expects a list of values, got {value!r} ({type(value).__name__}); "
                    f"e.g. {{'{op}': [1, 2]}}"
                )
            values = [coerce_value(prop, x, f"{path}[{i}]") for i, x in enumerate(value)]
            pos = self._any_of(r, values, path)
            return pos if op == "inq" else sa.not_(pos)
        if op == "between":
            lo, hi = between_bounds(prop, value, path)
            return sa.and_(
                self.order_cmp(r, "gte", lo, f"{path}[0]"),
                self.order_cmp(r, "lte", hi, f"{path}[1]"),
            )
        if op in ("like", "nlike", "ilike", "nilike"):
            pos = self.like(r, value, path, ignore_case=op in ("ilike", "nilike"))
            return sa.not_(pos) if op in ("nlike", "nilike") else pos
        if op == "regexp":
            check_regexp_prop(prop, path)
            rx = parse_regexp(value, path)
            if self._is_array(r):
                return self._contains_match(r, rx, path)
            return self.search(r, rx, path)
        raise FilterError(f"{path}: unknown operator {op!r}")  # pragma: no cover

    def _any_of(self, r: _Ref, values: list[Any], path: str) -> Any:
        if not values:
            return _FALSE
        has_none = any(v is None for v in values)
        rest = [v for v in values if v is not None]
        plain = [v for v in rest if not isinstance(v, (re.Pattern, bool))]
        if (
            r.where == "col"
            and plain
            and len(plain) == len(rest)
            and all(isinstance(v, (int, float, str, bytes)) for v in plain)
            and (r.kind != "string" or all(isinstance(v, str) for v in plain))
            and r.kind in ("string", "number", "integer", "buffer")
        ):
            bound = [
                b
                for i, v in enumerate(plain)
                if (b := self._in_value(r.kind, v, f"{path}[{i}]")) is not _NO_MATCH
            ]
            pos = sa.and_(r.expr.is_not(None), r.expr.in_(bound)) if bound else _FALSE
            # inq [.., None]: IN (...) OR IS NULL (one IN list, however long)
            return sa.or_(pos, self.is_null(r, path)) if has_none else pos
        # as in memory, inq/nin compare whole values (no array "contains")
        return _join(sa.or_, [self.eq(r, v, f"{path}[{i}]", False) for i, v in enumerate(values)])

    def _in_value(self, kind: str, v: Any, path: str) -> Any:
        """Return ``v`` bound for ``col IN (...)`` of a column, _NO_MATCH: it equals no value.

        Exact as Python's ``==``: an integer column holds 64-bit ints (a float matches by
        its integral value), a number column doubles (an int matches only if a double
        holds it exactly).
        """
        if isinstance(v, float) and v != v:
            return _NO_MATCH  # NaN equals nothing
        if kind == "integer" and isinstance(v, (int, float)):
            if isinstance(v, float):
                if not v.is_integer():
                    return _NO_MATCH
                v = int(v)
            return v if _INT64_MIN <= v <= _INT64_MAX else _NO_MATCH
        if kind == "number" and isinstance(v, int):
            try:
                f = float(v)
            except OverflowError:
                return _NO_MATCH
            return f if f == v else _NO_MATCH
        return self._scalar(v, path)

    # --- order ---------------------------------------------------------------------------

    def order(self, order: Any) -> list[Any]:
        """Return ORDER BY clauses: missing values last, ties by id; FilterError."""
        out: list[Any] = []
        if order is not None:
            for where_path, item in order_terms(order):
                m = ORDER_RE.fullmatch(item) if isinstance(item, str) else None
                if m is None:
                    shown = item.strip() if isinstance(item, str) else item
                    raise FilterError(
                        f"{where_path}: {shown!r} is not 'prop', 'prop ASC' or 'prop DESC'; "
                        "e.g. 'age DESC' or 'age DESC, name'"
                    )
                desc = (m.group(2) or "asc").lower() == "desc"
                r = self.ref(m.group(1), where_path, "order")
                for expr in self._order_keys(r, where_path):
                    out.append(expr.is_(None))
                    out.append(expr.desc() if desc else expr.asc())
        key = self.info.key
        if key is not None:
            out.append(key.asc())
            return out
        # a read-only model without a key: ties broken by every column, in order, so the
        # order is still deterministic (rows equal in every column are indistinguishable)
        # (JSON columns excepted: PostgreSQL's json type has no ordering)
        for name, col in self.info.columns.items():
            kind = self.info.kinds.get(name)
            if kind == "json":
                continue
            text = kind == "string" and self.pg
            out.append(col.is_(None))
            out.append((col.collate("C") if text else col).asc())
        return out

    def _order_keys(self, r: _Ref, path: str) -> list[Any]:
        if r.where == "none":
            return []
        if r.where == "col":
            if r.kind == "string" and self.pg:
                return [r.expr.collate("C")]
            return [r.expr]
        prop = r.prop
        t = None if prop is None else prop.type
        if t in ("string", "date"):
            text = self.jtext(r, path)
            return [text.collate("C") if self.pg else text]
        if t in ("number", "integer"):
            return [self.jnum(r, path)]
        if t == "boolean":
            return [self.jbool(r, path)]
        if t is not None and t not in ("any",):
            raise FilterError(
                f"{path}: cannot order by {'.'.join(r.segs) or 'a value'} of type "
                f"{prop.describe()}; order by a scalar path"
            )
        # untyped: numbers by value, then strings by code point (memory refuses mixes).
        text = sa.case((self.jis(r, "string", path), self.jtext(r, path)), else_=sa.null())
        return [
            sa.func.coalesce(self.jnum(r, path), self.jbool(r, path)),
            text.collate("C") if self.pg else text,
        ]


def _above_all(op: str) -> Any:
    """Return ``x <op> v`` for a bound ``v`` above every value ``x`` the column holds."""
    return _TRUE if op in ("lt", "lte") else _FALSE


def _below_all(op: str) -> Any:
    """Return ``x <op> v`` for a bound ``v`` below every value ``x`` the column holds."""
    return _TRUE if op in ("gt", "gte") else _FALSE


def _check_pattern(rx: re.Pattern[Any], path: str) -> None:
    if not isinstance(rx.pattern, str):
        raise FilterError(f"{path}: expects a str pattern, got bytes pattern {rx!r:.80}")


def _no_json(value: Any) -> Any:
    raise TypeError(f"{type(value).__name__} has no JSON form")


def kind_of(prop: Any) -> str:
    """Return the column kind of a property (see codec.column_kind)."""
    return column_kind(prop)
