"""Compiled scans (issue 13 step 3) agree with the reference closures of compile_where.

Scan.select/select_rows/first/count/pred and top_rows_fast are checked against
compile_where and top_rows on random rows holding None, NaN, mixed int/float, and rows
that miss a property (which only the reference path handles), for random where shapes
(inlined conditions, and/or, and conditions left to their closures).
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nbregistry import DataSource, ModelRegistry
from nbregistry.data.filters import (
    compile_order,
    compile_scan,
    compile_where,
    sort_rows,
    top_rows,
    top_rows_fast,
)

UTC = dt.UTC
_reg = ModelRegistry()
_ds = DataSource("memory", registry=_reg)
M = _ds.define(
    "ScanModel",
    {
        "name": "string",
        "n": "integer",
        "x": "number",
        "ok": "boolean",
        "at": "date",
        "tags": ["string"],
    },
)

names = st.sampled_from(["ann", "bob", "cy", "", "Ann"]) | st.none()
ints = st.integers(-3, 3) | st.none()
floats = st.sampled_from([0.5, -1.0, 2.0, math.nan, 3]) | st.none()
bools = st.booleans() | st.none()
dates = st.sampled_from([dt.datetime(2024, 1, d, tzinfo=UTC) for d in (1, 2, 3)]) | st.none()
values = {"name": names, "n": ints, "x": floats, "ok": bools, "at": dates}


@st.composite
def rows(draw: Any) -> dict[Any, dict[str, Any]]:
    n = draw(st.integers(0, 25))
    out = {}
    for i in range(1, n + 1):
        row = {
            "id": i,
            **{k: draw(s) for k, s in values.items()},
            "tags": draw(st.none() | st.just(["a"])),
        }
        if draw(st.integers(0, 30)) == 0:
            del row[draw(st.sampled_from(sorted(values)))]  # a row missing a property
        out[i] = row
    return out


@st.composite
def condition(draw: Any) -> dict[str, Any]:
    key = draw(st.sampled_from(sorted(values)))
    v = values[key].filter(lambda x: x is not None)
    op = draw(
        st.sampled_from(["plain", "eq", "neq", "gt", "gte", "lt", "lte", "between", "inq", "nin"])
    )
    if op == "plain":
        return {key: draw(values[key])}
    if op in ("eq", "neq"):
        return {key: {op: draw(values[key])}}
    if op == "between":
        return {key: {op: [draw(v), draw(v)]}}
    if op in ("inq", "nin"):
        return {key: {op: draw(st.lists(values[key], max_size=3))}}
    return {key: {op: draw(v)}}


@st.composite
def wheres(draw: Any) -> dict[str, Any]:
    parts = draw(st.lists(condition(), min_size=1, max_size=3))
    kind = draw(st.sampled_from(["merge", "and", "or", "like"]))
    if kind == "and":
        return {"and": parts}
    if kind == "or":
        return {"or": parts}
    if kind == "like":
        return {**parts[0], "tags": "a", "name": {"like": "a%"}}
    out: dict[str, Any] = {}
    for p in parts:
        out.update(p)
    return out


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(table=rows(), where=wheres(), start=st.integers(0, 3), stop=st.none() | st.integers(0, 8))
def test_scan_matches_the_reference(table: dict, where: dict, start: int, stop: int | None) -> None:
    ref = compile_where(M, where)
    scan = compile_scan(M, where)
    want = [(k, r) for k, r in table.items() if ref(r)]
    assert scan.select(table) == want
    assert scan.select_rows(table.values()) == [r for _, r in want]
    assert scan.count(table) == len(want)
    assert [scan.pred(r) for r in table.values()] == [ref(r) for r in table.values()]
    stop_at = None if stop is None else start + stop
    assert scan.first(table, start, stop_at) == want[start:stop_at]


@settings(max_examples=150, deadline=None)
@given(table=rows(), key=st.sampled_from(sorted(values)), desc=st.booleans(), k=st.integers(1, 30))
def test_top_rows_fast_matches_top_rows(table: dict, key: str, desc: bool, k: int) -> None:
    rows_ = list(table.values())
    fast = top_rows_fast(rows_, key, desc, k, key == "x")
    if fast is None:
        return  # not applicable: the caller uses top_rows
    keys = compile_order(M, f"{key} {'DESC' if desc else 'ASC'}")
    assert [r["id"] for r in fast] == [r["id"] for r in top_rows(rows_, keys, k)]


def test_top_rows_fast_declines_none_nan_and_missing() -> None:
    base = [{"id": i, "x": float(i)} for i in range(10)]
    assert [r["id"] for r in top_rows_fast(base, "x", True, 3, True) or []] == [9, 8, 7]
    assert top_rows_fast([*base, {"id": 10, "x": None}], "x", True, 3, True) is None
    assert top_rows_fast([*base, {"id": 10, "x": math.nan}], "x", True, 3, True) is None
    assert top_rows_fast([*base, {"id": 10}], "x", True, 3, True) is None


ORDER_KEYS = ["name", "n", "x", "ok", "at"]
order_st = st.lists(
    st.tuples(st.sampled_from(ORDER_KEYS), st.booleans()),
    min_size=1,
    max_size=3,
    unique_by=lambda t: t[0],
).map(lambda ks: ", ".join(f"{k} {'DESC' if d else 'ASC'}" for k, d in ks))


@settings(max_examples=200, deadline=None)
@given(table=rows(), order=order_st, k=st.integers(0, 30))
def test_top_rows_equal_the_full_sort(table: dict, order: str, k: int) -> None:
    # one key or several, ASC/DESC mixes, ties, NaN, None and missing properties
    rows_ = list(table.values())
    keys = compile_order(M, order)
    full = sort_rows(rows_, keys)
    assert [r["id"] for r in top_rows(rows_, keys, k)] == [r["id"] for r in full[:k]]


@pytest.mark.parametrize("desc", [False, True])
def test_nan_sorts_after_numbers_and_before_missing_in_both_directions(desc: bool) -> None:
    rows_ = [
        {"id": 1, "x": 3.0},
        {"id": 2, "x": math.nan},
        {"id": 3},
        {"id": 4, "x": 1.0},
        {"id": 5, "x": None},
        {"id": 6, "x": math.nan},
        {"id": 7, "x": 2},
    ]
    keys = compile_order(M, "x DESC" if desc else "x")
    numbers = [1, 7, 4] if desc else [4, 7, 1]
    want = [*numbers, 2, 6, 3, 5]  # NaN (ties by id), then missing (ties by id)
    assert [r["id"] for r in sort_rows(rows_, keys)] == want
    for k in range(len(rows_) + 1):
        assert [r["id"] for r in top_rows(rows_, keys, k)] == want[:k]


def test_top_rows_with_several_keys_sorts_only_the_first_keys_best(monkeypatch) -> None:
    # top-k, not a full sort: only rows tied with the k-th value of the first key are sorted
    from nbregistry.data import filters

    rows_ = [{"id": i, "n": i % 50, "name": f"u{i % 7}"} for i in range(5000)]
    keys = compile_order(M, "n DESC, name")
    want = sort_rows(rows_, keys)[:10]
    sizes: list[int] = []
    real = filters.sort_rows

    def counting(rs, ks):
        sizes.append(len(rs))
        return real(rs, ks)

    monkeypatch.setattr(filters, "sort_rows", counting)
    assert top_rows(rows_, keys, 10) == want
    assert sizes == [100]  # the rows with n == 49: 100 of 5 000


def test_generated_code_is_reused_for_the_same_shape() -> None:
    from nbregistry.data import filters

    compile_scan(M, {"n": {"gt": 1}})
    before = len(filters._FACTORIES)
    for i in range(20):
        assert compile_scan(M, {"n": {"gt": i}}).count({1: {"id": 1, "n": 5}}) == (i < 5)
    assert len(filters._FACTORIES) == before


@pytest.mark.parametrize("where", [{"n": {"gt": 0}}, {"x": {"between": [0, 2]}}, {"n": None}])
def test_connector_results_equal_reference_with_nones(where: dict) -> None:
    reg = ModelRegistry()
    ds = DataSource("memory", registry=reg)
    P = ds.define("P", {"n": "integer", "x": "number"})
    P.create([{"n": i % 3 or None, "x": (i % 4) * 0.75 if i % 5 else None} for i in range(40)])
    ref = compile_where(P, where)
    everything = P.find()
    want = [p.id for p in everything if ref(p.__dict__)]
    assert [p.id for p in P.find(where)] == want
    assert P.count(where) == len(want)
    assert [p.id for p in P.find(where, limit=3, skip=1)] == want[1:4]
    top = P.find(where, order="x DESC", limit=4)
    assert [p.id for p in top] == [p.id for p in P.find(where, order="x DESC")][:4]
    reg.clear()
