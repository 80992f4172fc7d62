"""Indexes of the memory connector (DESIGN §12.4): flat sorted arrays, two bisects a query.

A single-property :class:`Index` keeps two parallel lists, ``vals`` (the present values,
ascending, duplicates included) and ``keys`` (the row key of each entry). Equality is two
bisects per value, a range two bisects in all, and the row keys are one slice of ``keys``;
``count`` is the difference of the bisects, so no row (and no key) is visited. Rows whose
value is missing sit apart in ``none`` (ordered last), NaN rows in ``nan`` (equal to
nothing, in no range). A unique index also keeps ``owner`` (value → row key) so a write
checks uniqueness in O(1). A compound index keeps hash buckets (value tuple → row keys):
the planner uses it for equality on every key, and for uniqueness.

Writes are cheap: :meth:`Index.add`/:meth:`Index.remove` note the change in ``adds``/
``dels``; the next read settles them, or a write that leaves more than 1/8 of the entries
pending (so the O(n) merge is paid once per n/8 changes). Up to ``PATCH_LIMIT`` changes
are patched in one by one (a bisect and a ``list.insert``/``del``: a C ``memmove`` of the
pointers, ~1 ms for both lists at 1 000 000 rows); more are merged: new entries sorted
alone and spliced in by one pass of slices (a copy of each list, ~2x cheaper than 257
patches at any size), deletions dropped by one C-level filter, and a change as large as
the index sorts everything once. A bulk create into an empty index sorts once.

Ties (equal values) are in no particular id order inside the arrays; every reader sorts
the keys it takes by id (:func:`sort_keys`; already-sorted keys cost one pass). Indexed
properties are scalars (``INDEXABLE_TYPES``): the values of one property compare with
each other (numbers, strs, bools or aware datetimes), and filter values are checked
against the property type before they reach an index.
"""

from __future__ import annotations

import operator
from bisect import bisect_left, bisect_right
from collections.abc import Collection, Iterable, Iterator, Mapping
from itertools import compress, islice
from typing import Any

from ..core.model import index_parts

__all__ = ["PATCH_LIMIT", "Index", "IndexSet", "Probe", "id_key", "sort_keys"]

Row = dict[str, Any]

#: pending changes of one index patched in one by one (break-even with a merge by slices,
#: measured at 100 000 and 1 000 000 rows); more are merged
PATCH_LIMIT = 128


def id_key(v: Any) -> tuple[int, Any]:
    """Return the sort key of an id: numbers, then strings, then anything else by repr."""
    t = type(v)
    if t is int or t is float or t is bool:
        return (0, v)
    if t is str:
        return (1, v)
    return (2, f"{t.__name__}:{v!r}")


def sort_keys(keys: list[Any]) -> list[Any]:
    """Sort row keys into id order (in place; return them)."""
    try:
        keys.sort()  # ids of one type: the common case
    except TypeError:
        keys.sort(key=id_key)
    return keys


class Probe:
    """The entries of one index a query reads: slices of ``keys`` plus loose keys.

    ``n`` is how many rows they hold, known without visiting a row.
    """

    __slots__ = ("extra", "index", "n", "spans")

    def __init__(self, index: Index, spans: list[tuple[int, int]], extra: list[Any]) -> None:
        self.index = index
        self.spans = spans
        self.extra = extra
        self.n = sum(j - i for i, j in spans) + len(extra)

    def row_keys(self) -> list[Any]:
        """Return the row keys (a new list, in index order, not id order)."""
        keys = self.index.keys
        spans = self.spans
        if len(spans) == 1 and not self.extra:
            i, j = spans[0]
            return keys[i:j]
        out: list[Any] = []
        for i, j in spans:
            out += keys[i:j]
        out += self.extra
        return out


def _is_nan(v: Any) -> bool:
    return v != v


class Index:
    """One index of a model's rows (see the module docstring for the layout)."""

    __slots__ = (
        "adds",
        "buckets",
        "dels",
        "keys",
        "name",
        "nan",
        "none",
        "owner",
        "prop",
        "props",
        "single",
        "unique",
        "vals",
    )

    def __init__(self, name: str, props: tuple[str, ...], unique: bool) -> None:
        self.name = name
        self.props = props
        self.prop = props[0]
        self.single = len(props) == 1
        self.unique = unique
        self.clear()

    def clear(self) -> None:
        """Drop every entry."""
        # single-property: present values ascending, and the row key of each
        self.vals: list[Any] = []
        self.keys: list[Any] = []
        # changes not yet in vals/keys: row key → value to add / value to remove
        self.adds: dict[Any, Any] = {}
        self.dels: dict[Any, Any] = {}
        # rows whose value is missing (None) / NaN: {row key: None}, kept up to date
        self.none: dict[Any, None] = {}
        self.nan: dict[Any, None] = {}
        # unique single-property index: value → the row key holding it
        self.owner: dict[Any, Any] = {}
        # compound index: value tuple → {row key: None}
        self.buckets: dict[tuple[Any, ...], dict[Any, None]] = {}

    def value(self, row: Row) -> Any:
        """Return the indexed value of a stored row (a tuple for a compound index)."""
        if self.single:
            return row.get(self.prop)
        return tuple(row.get(p) for p in self.props)

    def values_of(self, rows: Collection[Row]) -> list[Any]:
        """Return :meth:`value` of every row (one C-level pass when each row holds it)."""
        if self.single:
            try:
                return list(map(operator.itemgetter(self.prop), rows))
            except KeyError:
                pass
        return list(map(self.value, rows))

    # --- writes ------------------------------------------------------------------------

    def add(self, key: Any, v: Any) -> None:
        """Record that row ``key`` holds ``v`` (a row without an entry here)."""
        if not self.single:
            b = self.buckets.get(v)
            if b is None:
                self.buckets[v] = {key: None}
            else:
                b[key] = None
        elif v is None:
            self.none[key] = None
        elif v != v:
            self.nan[key] = None
        else:
            self.adds[key] = v
            if self.unique:
                self.owner[v] = key

    def remove(self, key: Any, v: Any) -> None:
        """Forget that row ``key`` holds ``v`` (tolerant of entries it never had)."""
        if not self.single:
            b = self.buckets.get(v)
            if b is not None:
                b.pop(key, None)
                if not b:
                    del self.buckets[v]
        elif v is None:
            self.none.pop(key, None)
        elif v != v:
            self.nan.pop(key, None)
        else:
            if self.unique and self.owner.get(v, self) == key:
                del self.owner[v]
            if self.adds.pop(key, self) is self:
                self.dels[key] = v  # the entry is in vals/keys: remove it when settling

    def add_many(self, keys: list[Any], values: list[Any]) -> None:
        """Record new rows ``keys`` holding ``values`` (rows without entries here)."""
        if not self.single:
            for key, v in zip(keys, values, strict=True):
                self.add(key, v)
            return
        if None in values or _has_nan(values):
            present = [v is not None and v == v for v in values]
            for key, v, ok in zip(keys, values, present, strict=True):
                if not ok:
                    (self.none if v is None else self.nan)[key] = None
            keys = list(compress(keys, present))
            values = list(compress(values, present))
        if self.unique:
            self.owner.update(zip(values, keys, strict=True))
        if not self.vals and not self.adds and not self.dels:
            self.vals, self.keys = _sorted_pair(values, keys)
        else:
            self.adds.update(zip(keys, values, strict=True))

    def settle(self, limit: int | None = None) -> None:
        """Apply the pending changes to ``vals``/``keys`` (all of them, or above ``limit``)."""
        dels, adds = self.dels, self.adds
        pending = len(dels) + len(adds)
        if not pending or (limit is not None and pending <= limit):
            return
        vals, keys = self.vals, self.keys
        if dels:
            self.dels = {}
            if len(dels) <= PATCH_LIMIT:
                for key, v in dels.items():
                    i = bisect_left(vals, v)
                    j = bisect_right(vals, v, i)
                    p = keys.index(key, i, j)
                    del vals[p]
                    del keys[p]
            else:
                keep = list(map(operator.not_, map(dels.__contains__, keys)))
                vals = list(compress(vals, keep))
                keys = list(compress(keys, keep))
        if adds:
            self.adds = {}
            if len(adds) <= PATCH_LIMIT:
                for key, v in adds.items():
                    i = bisect_right(vals, v)
                    vals.insert(i, v)
                    keys.insert(i, key)
            elif 4 * len(adds) <= len(vals):
                # sort the new entries alone, then one pass of slices around them
                av, ak = _sorted_pair(list(adds.values()), list(adds))
                vals, keys = _merge_in(vals, keys, av, ak)
            else:
                vals, keys = _sorted_pair(vals + list(adds.values()), keys + list(adds))
        self.vals, self.keys = vals, keys

    def settle_write(self) -> None:
        """Settle after a write only when many changes wait (more than 1/8 of the entries).

        So the O(n) merge a write may cost is paid once per n/8 changes (O(1) amortised);
        fewer wait for the next read, which patches them in or merges them.
        """
        self.settle(max(PATCH_LIMIT, len(self.vals) >> 3))

    def holder(self, v: Any, key: Any, leaving: set[Any] | frozenset[Any]) -> Any:
        """Return a row other than ``key`` (and not in ``leaving``) holding ``v``, or None."""
        if self.single:
            k = self.owner.get(v)
            return None if k is None or k == key or k in leaving else k
        b = self.buckets.get(v)
        if b:
            for k in b:
                if k != key and k not in leaving:
                    return k
        return None

    # --- reads -------------------------------------------------------------------------

    def eq_probe(self, values: Iterable[Any]) -> Probe | None:
        """Return the entries equal to one of ``values`` (None: a value does not compare)."""
        spans: list[tuple[int, int]] = []
        extra: list[Any] = []
        seen: list[Any] = []
        if not self.single:
            for v in values:
                if v in seen or any(_is_nan(x) for x in v):
                    continue
                seen.append(v)
                b = self.buckets.get(v)
                if b:
                    extra.extend(b)
            return Probe(self, spans, extra)
        self.settle()
        vals = self.vals
        try:
            for v in values:
                if v in seen:
                    continue
                seen.append(v)
                if v is None:
                    extra.extend(self.none)
                elif v == v:  # NaN equals nothing
                    i = bisect_left(vals, v)
                    j = bisect_right(vals, v, i)
                    if j > i:
                        spans.append((i, j))
        except TypeError:
            return None
        return Probe(self, spans, extra)

    def range_probe(self, lo: Any, lo_incl: bool, hi: Any, hi_incl: bool) -> Probe | None:
        """Return the entries within the bounds (None = open; None: bounds do not compare)."""
        if (lo is not None and lo != lo) or (hi is not None and hi != hi):
            return Probe(self, [], [])  # a NaN bound matches nothing (as a comparison)
        self.settle()
        vals = self.vals
        try:
            i = 0 if lo is None else (bisect_left if lo_incl else bisect_right)(vals, lo)
            j = len(vals) if hi is None else (bisect_right if hi_incl else bisect_left)(vals, hi)
        except TypeError:
            return None
        return Probe(self, [(i, j)] if j > i else [], [])

    def groups(self, desc: bool) -> Iterator[list[Any]]:
        """Yield the row keys in value order, one list per value (ties by id), then NaN, missing.

        NaN rows come after every number and before missing values in both directions
        (as :func:`~nbregistry.data.filters.sort_rows` orders them).
        """
        self.settle()
        vals, keys = self.vals, self.keys
        n = len(vals)
        if not desc:
            i = 0
            while i < n:
                v = vals[i]
                j = i + 1
                if j < n and vals[j] == v:
                    j = bisect_right(vals, v, j)
                    yield sort_keys(keys[i:j])
                else:
                    yield [keys[i]]
                i = j
        else:
            j = n
            while j > 0:
                i = j - 1
                v = vals[i]
                if i > 0 and vals[i - 1] == v:
                    i = bisect_left(vals, v, 0, i)
                    yield sort_keys(keys[i:j])
                else:
                    yield [keys[i]]
                j = i
        if self.nan:
            yield sort_keys(list(self.nan))
        if self.none:
            yield sort_keys(list(self.none))


def _has_nan(values: list[Any]) -> bool:
    """Return True if a value is NaN (one C-level pass for numbers, else a Python one)."""
    try:
        total = sum(values)
    except TypeError:  # strs, datetimes: no float, no NaN
        return float in set(map(type, values)) and any(v != v for v in values)
    return total != total and any(v != v for v in values)  # (inf - inf is NaN too)


def _merge_in(
    vals: list[Any], keys: list[Any], new_vals: list[Any], new_keys: list[Any]
) -> tuple[list[Any], list[Any]]:
    """Return the sorted ``vals`` with the sorted ``new_vals`` merged in, ``keys`` alike.

    One bisect per new entry and one copy of the old lists, by slices: a copy costs a
    pointer per entry (measured ~2x cheaper than a ``list.insert`` each for 257 new
    entries into 1 000 000, and ~6x cheaper than sorting everything again).
    """
    out_v: list[Any] = []
    out_k: list[Any] = []
    prev = 0
    for v, k in zip(new_vals, new_keys, strict=True):
        q = bisect_right(vals, v, prev)
        if q > prev:
            out_v += vals[prev:q]
            out_k += keys[prev:q]
            prev = q
        out_v.append(v)
        out_k.append(k)
    out_v += vals[prev:]
    out_k += keys[prev:]
    return out_v, out_k


def _sorted_pair(values: list[Any], keys: list[Any]) -> tuple[list[Any], list[Any]]:
    """Return ``values`` sorted and the (distinct) ``keys`` sorted by their value alike.

    The first list may be ``values`` itself (the caller hands it over), never ``keys``.

    Two stable sorts by the same values put the i-th smallest value at position i of
    both lists. Sorting the keys themselves (by a key → value map) spares a gather in
    permutation order, which touches every object at random (measured ~2x slower).
    """
    if not values:
        return [], []
    if all(map(operator.le, values, islice(values, 1, None))):
        # already in order (ids and values rising together): one pass; ``keys`` may be
        # shared by the indexes of one batch, so each keeps its own copy
        return values, keys.copy()
    by_key = dict(zip(keys, values, strict=True))
    if len(by_key) != len(keys):
        raise RuntimeError("index corrupt: a row key is entered twice")  # pragma: no cover
    return sorted(values), sorted(keys, key=by_key.__getitem__)


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
                elif unique and not idx.unique:
                    # the settings name the unique index: errors report that name
                    idx.unique = True
                    idx.name = iname
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
                if v != v or (not idx.single and any(_is_nan(x) for x in v)):
                    continue  # NaN equals nothing
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
        """Update every index for a write (call before ``rows`` changes; no violations).

        A batch of new rows is added in one pass per index; pending changes are settled
        now only when many wait (:meth:`Index.settle_write`), else by the next read.
        """
        deletes = list(deletes)
        if not puts and deletes and len(deletes) >= len(rows) and rows.keys() <= set(deletes):
            self.clear()  # every row goes
            return
        fresh = len(puts) > 1 and rows.keys().isdisjoint(puts)
        keys = list(puts) if fresh else []
        for idx in self.all:
            val = idx.value
            if fresh:
                idx.add_many(keys, idx.values_of(puts.values()))
            else:
                add, remove = idx.add, idx.remove
                for key, row in puts.items():
                    nv = val(row)
                    old = rows.get(key)
                    if old is not None:
                        ov = val(old)
                        if ov == nv:
                            continue
                        remove(key, ov)
                    add(key, nv)
            if deletes:
                remove = idx.remove
                for key in deletes:
                    old = rows.get(key)
                    if old is not None:
                        remove(key, val(old))
            if idx.single:
                idx.settle_write()

    def rebuild(self, rows: Mapping[Any, Row]) -> None:
        """Rebuild every index from ``rows`` (after loading, migrating or a rollback)."""
        keys = list(rows)
        for idx in self.all:
            idx.clear()
            idx.add_many(keys, idx.values_of(rows.values()))

    def clear(self) -> None:
        """Empty every index (all rows were dropped)."""
        for idx in self.all:
            idx.clear()
