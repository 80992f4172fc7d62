"""Indexes of the memory connector (DESIGN §12.4): hash buckets plus an ordered value list.

An :class:`Index` covers one property (or a tuple of properties for a compound index).
Equality and ``inq`` read a bucket; ranges and ``order`` bisect the sorted list of
distinct values (single-property indexes only); ``count`` over a range sums bucket sizes
without touching a row. Indexed properties are scalars (``INDEXABLE_TYPES``), so values of
one property are hashable and compare with each other (numbers, strs, bools or aware
datetimes). NaN never equals anything and is in no range, so NaN rows sit apart.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Mapping
from typing import Any

from ..core.model import index_parts

__all__ = ["Index", "IndexSet"]

Row = dict[str, Any]


class Index:
    """One index: value → row keys, plus the ascending distinct values for ranges."""

    __slots__ = (
        "buckets",
        "name",
        "nan",
        "pending",
        "prop",
        "props",
        "single",
        "stale",
        "unique",
        "values",
    )

    def __init__(self, name: str, props: tuple[str, ...], unique: bool) -> None:
        self.name = name
        self.props = props
        self.prop = props[0]
        self.single = len(props) == 1
        self.unique = unique
        # value (a tuple for a compound index; None for missing) → {row key: None}, an
        # insertion-ordered set of the rows holding it.
        self.buckets: dict[Any, dict[Any, None]] = {}
        # distinct non-None values, ascending (single-property only); may still hold
        # values whose bucket emptied ("stale", skipped on reads, compacted when many).
        self.values: list[Any] = []
        # distinct values added since ``values`` was last merged (merged on the next read).
        self.pending: list[Any] = []
        self.stale = 0
        # row keys whose value is NaN (equal to nothing, in no range): {row key: None}.
        self.nan: dict[Any, None] = {}

    def value(self, row: Row) -> Any:
        """Return the indexed value of a stored row (a tuple for a compound index)."""
        if self.single:
            return row.get(self.prop)
        return tuple(row.get(p) for p in self.props)

    def add(self, key: Any, v: Any) -> None:
        """Record that row ``key`` holds ``v``."""
        if v != v:  # NaN
            self.nan[key] = None
            return
        b = self.buckets.get(v)
        if b is None:
            self.buckets[v] = {key: None}
            if self.single and v is not None:
                self.pending.append(v)
        else:
            b[key] = None

    def remove(self, key: Any, v: Any) -> None:
        """Forget that row ``key`` holds ``v`` (tolerant of keys it never saw)."""
        if v != v:
            self.nan.pop(key, None)
            return
        b = self.buckets.get(v)
        if b is None:
            return
        b.pop(key, None)
        if not b:
            del self.buckets[v]
            if self.single and v is not None:
                self.stale += 1

    def clear(self) -> None:
        """Drop every entry."""
        self.buckets = {}
        self.values = []
        self.pending = []
        self.stale = 0
        self.nan = {}

    def holder(self, v: Any, key: Any, leaving: set[Any] | frozenset[Any]) -> Any:
        """Return a row other than ``key`` (and not in ``leaving``) holding ``v``, or None."""
        b = self.buckets.get(v)
        if b:
            for k in b:
                if k != key and k not in leaving:
                    return k
        return None

    # --- ordered reads -----------------------------------------------------------------

    def ordered(self) -> list[Any]:
        """Return the ascending distinct values (merging pending ones; may hold stale ones)."""
        s = self.values
        pend = self.pending
        if pend:
            self.pending = []
            if len(pend) <= 64:
                for v in pend:
                    i = bisect_left(s, v)
                    if i == len(s) or s[i] != v:
                        s.insert(i, v)
            else:
                b = self.buckets
                s = self.values = sorted(v for v in set(s).union(pend) if v in b)
                self.stale = 0
        if self.stale > 64 and 2 * self.stale > len(s):
            b = self.buckets
            s = self.values = [v for v in s if v in b]
            self.stale = 0
        return s

    def range_values(self, lo: Any, lo_incl: bool, hi: Any, hi_incl: bool) -> list[Any]:
        """Return the live values within the bounds (None = open), ascending."""
        if (lo is not None and lo != lo) or (hi is not None and hi != hi):
            return []  # a NaN bound matches nothing (as a comparison with NaN)
        s = self.ordered()
        i = 0 if lo is None else (bisect_left(s, lo) if lo_incl else bisect_right(s, lo))
        j = len(s) if hi is None else (bisect_right(s, hi) if hi_incl else bisect_left(s, hi))
        b = self.buckets
        return [v for v in s[i:j] if v in b]

    def count_values(self, values: Iterable[Any]) -> int:
        """Return how many rows hold one of ``values`` (no row is visited)."""
        b = self.buckets
        n = 0
        for v in values:
            bucket = b.get(v)
            if bucket is not None:
                n += len(bucket)
        return n

    def keys_of(self, values: Iterable[Any]) -> list[Any]:
        """Return the row keys holding one of ``values`` (unsorted)."""
        b = self.buckets
        out: list[Any] = []
        for v in values:
            bucket = b.get(v)
            if bucket is not None:
                out.extend(bucket)
        return out


class IndexSet:
    """The indexes of one model's table, built from its definition."""

    __slots__ = ("all", "compound", "single", "unique")

    def __init__(self, cls: Any) -> None:
        definition = cls.definition
        id_name = definition.id_property
        # property name → its single-property index (the planner's entry point)
        self.single: dict[str, Index] = {}
        # compound indexes (equality on every key; unique enforcement)
        self.compound: list[Index] = []
        for p in definition.properties.values():
            if p.index and p.name != id_name:  # the rows dict already indexes the id
                self.single[p.name] = Index(p.name, (p.name,), p.unique)
        for iname, spec in (definition.settings.get("indexes") or {}).items():
            keys, options = index_parts(spec)
            unique = bool(options.get("unique", False))
            props = tuple(keys)
            if len(props) == 1:
                if props[0] == id_name:
                    continue
                idx = self.single.get(props[0])
                if idx is None:
                    self.single[props[0]] = Index(iname, props, unique)
                elif unique:
                    idx.unique = True
            else:
                self.compound.append(Index(iname, props, unique))
        self.all: list[Index] = [*self.single.values(), *self.compound]
        self.unique: list[Index] = [i for i in self.all if i.unique]

    def __bool__(self) -> bool:
        return bool(self.all)

    def violations(
        self, rows: Mapping[Any, Row], puts: Mapping[Any, Row], deletes: Iterable[Any]
    ) -> list[tuple[Any, Index, Any, Any]]:
        """Return ``[(row key, index, value, holder key)]`` a write would break (unique)."""
        out: list[tuple[Any, Index, Any, Any]] = []
        if not self.unique:
            return out
        deletes = list(deletes)
        for idx in self.unique:
            val = idx.value
            leaving: set[Any] = set(deletes)
            for key, row in puts.items():
                old = rows.get(key)
                if old is not None and val(old) != val(row):
                    leaving.add(key)
            seen: dict[Any, Any] = {}
            for key, row in puts.items():
                v = val(row)
                if v is None or (not idx.single and any(x is None for x in v)):
                    continue  # SQL's rule: any number of missing values
                if v != v:
                    continue
                other = seen.get(v)
                if other is None:
                    other = idx.holder(v, key, leaving)
                if other is not None:
                    out.append((key, idx, v, other))
                    continue
                seen[v] = key
        return out

    def apply(
        self, rows: Mapping[Any, Row], puts: Mapping[Any, Row], deletes: Iterable[Any]
    ) -> None:
        """Update every index for a write (call before ``rows`` changes)."""
        for idx in self.all:
            val = idx.value
            add = idx.add
            for key, row in puts.items():
                nv = val(row)
                old = rows.get(key)
                if old is not None:
                    ov = val(old)
                    if ov == nv:
                        continue
                    idx.remove(key, ov)
                add(key, nv)
            for key in deletes:
                old = rows.get(key)
                if old is not None:
                    idx.remove(key, val(old))

    def rebuild(self, rows: Mapping[Any, Row]) -> None:
        """Rebuild every index from ``rows`` (after loading, migrating or a rollback)."""
        for idx in self.all:
            idx.clear()
            val = idx.value
            add = idx.add
            for key, row in rows.items():
                add(key, val(row))

    def clear(self) -> None:
        """Empty every index (all rows were dropped)."""
        for idx in self.all:
            idx.clear()
