"""DESIGN §12.4 indexes: definition flags, fingerprints, unique rules, planning, maintenance.

Every query result on an indexed model is compared with the same query on an index-free
model holding the same rows (the scan is the reference), including a Hypothesis state
machine over random writes, redefinitions and queries.
"""

from __future__ import annotations

import datetime as dt
import math
import sys
import threading
from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from nbregistry import (
    DataSource,
    DefinitionError,
    ModelRegistry,
    PersistenceError,
    ValidationError,
    fingerprint,
)
from nbregistry.core.model import PropertyDefinition
from nbregistry.data import indexes
from nbregistry.data.indexes import PATCH_LIMIT

UTC = dt.UTC


@pytest.fixture
def reg():
    r = ModelRegistry()
    yield r
    r.clear()


@pytest.fixture
def ds(reg):
    return DataSource("memory", registry=reg)


# --- definitions and fingerprints ------------------------------------------------------


def test_index_spellings_normalise_to_flags(ds: DataSource) -> None:
    M = ds.define(
        "M",
        {
            "a": {"type": "string", "index": True},
            "b": {"type": "string", "index": {"unique": True}},
            "c": {"type": "string", "unique": True},
            "d": {"type": "string", "index": False},
            "e": "string",
        },
    )
    p = M.definition.properties
    assert (p["a"].index, p["a"].unique) == (True, False)
    assert (p["b"].index, p["b"].unique) == (True, True)
    assert (p["c"].index, p["c"].unique) == (True, True)
    assert (p["d"].index, p["d"].unique) == (False, False)
    assert p["b"] == p["c"].__class__("b", "string", index=True, unique=True)


def test_flags_count_in_fingerprints_but_defaults_keep_todays() -> None:
    plain = fingerprint({"a": "string"})
    assert fingerprint({"a": {"type": "string", "index": False}}) == plain
    assert fingerprint({"a": {"type": "string", "unique": False}}) == plain
    indexed = fingerprint({"a": {"type": "string", "index": True}})
    unique = fingerprint({"a": {"type": "string", "index": {"unique": True}}})
    assert len({plain, indexed, unique}) == 3
    assert fingerprint({"a": {"type": "string", "unique": True}}) == unique


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"a": {"type": "string", "index": "yes"}}, r"'index' of property 'a' must be True"),
        ({"a": {"type": "string", "index": {"uniq": True}}}, r"must be True, False or"),
        ({"a": {"type": "string", "unique": 1}}, r"'unique' of property 'a' must be True"),
        ({"a": {"type": "object", "index": True}}, r"property 'a' cannot be indexed"),
        ({"a": {"type": "array", "index": True}}, r"property 'a' cannot be indexed"),
        ({"a": [{"type": "string", "index": True}]}, r"indexes apply to top-level"),
    ],
)
def test_bad_index_flags_are_definition_errors(ds: DataSource, spec, message) -> None:
    with pytest.raises(DefinitionError, match=message):
        ds.define("Bad", spec)
    assert "Bad" not in ds.models


@pytest.mark.parametrize(
    ("indexes", "message"),
    [
        ([1], r"setting 'indexes' of model 'Bad' must be a dict"),
        ({"i": {"keys": {}}}, r"'keys' must be a non-empty dict"),
        ({"i": {"keys": {"nope": 1}}}, r"names 'nope', which is not a property"),
        ({"i": {"keys": {"a": 2}}}, r"direction of 'a' must be 1 or -1"),
        ({"i": {"keys": {"a": 1}, "options": {"sparse": True}}}, r"'options' must be a dict"),
        ({"i": {"keys": {"t": 1}}}, r"property 't' is array"),
    ],
)
def test_bad_model_level_indexes_are_definition_errors(ds, indexes, message) -> None:
    with pytest.raises(DefinitionError, match=message):
        ds.define("Bad", {"a": "string", "t": ["string"]}, settings={"indexes": indexes})
    assert "Bad" not in ds.models


# --- unique -------------------------------------------------------------------------------


@pytest.fixture
def User(ds: DataSource):
    U = ds.define(
        "User",
        {"email": {"type": "string", "unique": True}, "name": "string", "age": "integer"},
    )
    U.create([{"email": "a@x", "name": "Ann", "age": 30}, {"email": "b@x", "name": "Bob"}])
    return U


def rows_of(M) -> list[dict]:
    return [m.to_dict() for m in M.find()]


def test_unique_violations_write_nothing(User) -> None:
    before = rows_of(User)
    with pytest.raises(ValidationError, match=r"email: duplicate value 'a@x' for unique index"):
        User.create(email="a@x")
    with pytest.raises(ValidationError, match=r"\[1\]\.email: .*the existing row 2"):
        User.create([{"email": "c@x"}, {"email": "b@x"}])
    with pytest.raises(ValidationError, match=r"\[2\]\.email: .*row 3 of this write"):
        User.create([{"email": "c@x"}, {"email": "d@x"}, {"email": "c@x"}])
    with pytest.raises(ValidationError, match="duplicate value 'b@x'"):
        User.update_all({"name": "Ann"}, {"email": "b@x"})
    with pytest.raises(ValidationError, match="duplicate value 'z@x'"):
        User.update_all(None, {"email": "z@x"})
    ann = User.find_one({"name": "Ann"})
    ann.email = "b@x"
    with pytest.raises(ValidationError, match="duplicate value 'b@x'"):
        ann.save()
    assert rows_of(User) == before
    assert User.count({"email": "c@x"}) == 0 and User.create(email="c@x").id == 3


def test_unique_allows_missing_values_and_freed_values(User) -> None:
    User.create([{"name": "x"}, {"name": "y", "email": None}])
    assert User.count({"email": None}) == 2
    User.find_one({"email": "a@x"}).delete()
    assert User.create(email="a@x").email == "a@x"
    User.destroy_all({"email": "b@x"})
    User.update_all({"name": "x"}, {"email": "b@x"})
    assert [u.name for u in User.find({"email": "b@x"})] == ["x"]
    bob = User.find_one({"email": "b@x"})
    bob.age = 3
    bob.save()  # keeping its own value is no clash
    assert User.find_one({"email": "b@x"}).age == 3


def test_compound_unique_index(ds: DataSource) -> None:
    Seat = ds.define(
        "Seat",
        {"row": "integer", "col": "string", "who": "string"},
        settings={
            "indexes": {"place": {"keys": {"row": 1, "col": 1}, "options": {"unique": True}}}
        },
    )
    Seat.create([{"row": 1, "col": "a"}, {"row": 1, "col": "b"}, {"row": 2, "col": "a"}])
    with pytest.raises(ValidationError, match=r"row,col: duplicate value \(1, 'b'\)"):
        Seat.create(row=1, col="b")
    Seat.create([{"row": 1}, {"row": 1}])  # a missing component: no clash
    assert [s.id for s in Seat.find({"row": 1, "col": "a"})] == [1]
    assert Seat.count({"row": 1, "col": "b"}) == 1


def test_a_unique_property_definition_is_indexed(ds: DataSource) -> None:
    p = PropertyDefinition("a", "string", unique=True)
    assert (p.index, p.unique) == (True, True)
    assert p == PropertyDefinition("a", "string", index=True, unique=True)
    M = ds.define("M", {"a": p})
    assert set(ds.connector._table(M).indexes.single) == {"a"}
    M.create(a="x")
    with pytest.raises(ValidationError, match="duplicate value 'x' for unique index 'a'"):
        M.create(a="x")
    assert M.count() == 1


def test_a_unique_index_in_settings_keeps_its_name_over_an_indexed_property(ds: DataSource) -> None:
    M = ds.define(
        "M",
        {"code": {"type": "string", "index": True}},
        settings={"indexes": {"code_uq": {"keys": {"code": 1}, "options": {"unique": True}}}},
    )
    M.create(code="a")
    with pytest.raises(ValidationError, match="for unique index 'code_uq'"):
        M.create(code="a")
    assert M.count() == 1


def test_model_level_single_key_index_is_used(ds: DataSource) -> None:
    M = ds.define("M", {"code": "string"}, settings={"indexes": {"by_code": {"code": 1}}})
    M.create([{"code": "x"}, {"code": "y"}])
    t = ds.connector._table(M)
    assert set(t.indexes.single) == {"code"}
    assert ds.connector._plan(t, M, {"code": "x"})[3] is True


# --- planning -----------------------------------------------------------------------------


def make_pair(ds: DataSource, n: int = 300):
    spec = {
        "age": "integer",
        "score": "number",
        "city": "string",
        "at": "date",
        "ok": "boolean",
        "tag": "string",
    }
    indexed = {k: {"type": v, "index": True} for k, v in spec.items()}
    Plain = ds.define("Plain", spec)
    Fast = ds.define(
        "Fast",
        indexed,
        settings={"indexes": {"city_age": {"keys": {"city": 1, "age": -1}}}},
    )
    cities = ["Oslo", "Rome", "Lima", None]
    rows = [
        {
            "age": None if i % 17 == 0 else i % 40,
            "score": math.nan if i % 31 == 0 else (i * 7 % 100) / 4,
            "city": cities[i % 4],
            "at": dt.datetime(2024, 1, 1 + i % 28, tzinfo=UTC),
            "ok": None if i % 11 == 0 else i % 2 == 0,
            "tag": f"t{i % 9}",
        }
        for i in range(n)
    ]
    Plain.create(rows)
    Fast.create(rows)
    return Plain, Fast


WHERES = [
    {"age": 3},
    {"age": None},
    {"age": {"inq": [1, 2, 39, None]}},
    {"age": {"between": [10, 20]}},
    {"age": {"gt": 10, "lte": 30}},
    {"age": {"gte": 5, "lt": 6}},
    {"age": {"gt": 30, "neq": 35}},
    {"age": {"eq": 3, "gt": 2}},
    {"score": {"gt": 10.5}},
    {"score": {"lt": math.nan}},
    {"score": math.nan},
    {"score": {"inq": [math.nan, 12.25]}},
    {"score": {"nin": [math.nan]}},
    {"score": 12.25},
    {"score": {"neq": math.nan}},
    {"score": {"gte": -1, "lt": math.inf}},
    {"city": "Oslo", "age": 4},
    {"city": "Oslo", "age": {"gt": 20}},
    {"city": {"inq": ["Rome", "Lima"]}, "ok": True},
    {"at": {"between": ["2024-01-03", "2024-01-05T00:00:00+00:00"]}},
    {"at": "2024-01-02"},
    {"ok": False},
    {"tag": {"like": "t1%"}},
    {"or": [{"age": 1}, {"city": "Rome"}]},
]


@pytest.mark.parametrize("where", WHERES, ids=[str(w) for w in WHERES])
def test_indexed_results_equal_the_scan(ds: DataSource, where) -> None:
    Plain, Fast = make_pair(ds)

    def same(method, *args, **kw):
        a = getattr(Plain, method)(*args, **kw)
        b = getattr(Fast, method)(*args, **kw)
        if isinstance(a, list):
            a, b = [x.to_dict() for x in a], [x.to_dict() for x in b]
        assert a == b, (method, args, kw)

    same("count", where)
    same("find", where)
    orders = ("age", "age DESC", "city DESC", "at", "ok DESC", "score", "score DESC")
    for order in (*orders, "age, city DESC", "score DESC, age", "ok, score DESC, at"):
        same("find", where, order=order)
        same("find", where, order=order, limit=7)
        same("find", where, order=order, skip=3, limit=5)
        # a top-k (or index walk) is the full sort's first rows, NaN and missing included
        full = [m.id for m in Plain.find(where, order=order)]
        assert [m.id for m in Fast.find(where, order=order, skip=3, limit=5)] == full[3:8]
        assert [m.id for m in Plain.find(where, order=order, limit=7)] == full[:7]
    same("find", where, limit=4, skip=2)


def test_nan_equals_nothing_in_inq_as_in_eq(ds: DataSource) -> None:
    # a set membership test would match the very same NaN object (math.nan) by identity
    Plain, Fast = make_pair(ds, 40)
    for M in (Plain, Fast):
        assert M.count({"score": math.nan}) == M.count({"score": {"inq": [math.nan]}}) == 0
        assert M.count({"score": {"nin": [math.nan]}}) == 40


def test_order_walks_the_index_and_count_reads_bucket_sizes(ds: DataSource) -> None:
    _, Fast = make_pair(ds)
    conn = ds.connector
    t = conn._table(Fast)
    _, probe, n, exact = conn._plan(t, Fast, {"age": {"gt": 30}})
    assert exact and n == Fast.count({"age": {"gt": 30}}) == probe.n
    # one slice of the index's sorted arrays: two bisects, no row visited
    assert len(probe.spans) == 1 and not probe.extra
    got = sorted(probe.row_keys())
    assert got == [r.id for r in Fast.find({"age": {"gt": 30}})]
    assert conn._plan(t, Fast, {"age": {"gt": 30, "neq": 31}})[3] is False
    assert conn._plan(t, Fast, {"tag": {"like": "t%"}}) is None
    assert conn._plan(t, Fast, {"city": "Oslo", "age": 4})[0].name in ("age", "city_age")


def test_indexes_of_one_batch_keep_their_own_lists(ds: DataSource) -> None:
    spec = {"a": {"type": "integer", "index": True}, "b": {"type": "integer", "index": True}}
    M = ds.define("M", spec)
    M.create([{"a": i, "b": i} for i in range(10)])  # both already in id order
    M.create(a=100, b=-1)  # patched into each index's own lists
    assert [m.id for m in M.find({"b": {"lt": 0}})] == [11]
    assert [m.id for m in M.find({"a": {"gte": 9}})] == [10, 11]
    assert [m.id for m in M.find(order="a DESC", limit=2)] == [11, 10]
    assert [m.id for m in M.find(order="b", limit=2)] == [11, 1]


@pytest.mark.parametrize("limit", [0, 5, PATCH_LIMIT])
def test_merges_and_patches_agree_with_the_scan(ds: DataSource, limit: int, monkeypatch) -> None:
    monkeypatch.setattr(indexes, "PATCH_LIMIT", limit)
    spec = {"x": "number", "s": "string"}
    Plain = ds.define("Plain", spec)
    Fast = ds.define("Fast", {k: {"type": t, "index": True} for k, t in spec.items()})

    def both(method: str, *args, **kw) -> None:
        assert getattr(Plain, method)(*args, **kw) == getattr(Fast, method)(*args, **kw)

    def rows(n: int, seed: int) -> list[dict]:
        return [
            {"x": None if i % 13 == 0 else (i * seed) % 97 / 4, "s": f"s{(i * seed) % 11}"}
            for i in range(n)
        ]

    for M in (Plain, Fast):
        M.create(rows(600, 7))  # into an empty index: sorted once
        M.create(rows(120, 5))  # small next to it: patched in, or spliced by slices
        M.create(rows(900, 3))  # as large as it: everything sorted again
    both("update_all", {"x": {"between": [3, 9]}}, {"x": 50.5})
    both("destroy_all", {"s": {"inq": ["s1", "s2"]}})
    for i in range(1, 40, 3):  # single writes: patched in on the next read
        a, b = Plain.find_by_id(i), Fast.find_by_id(i)
        if a is not None:
            for inst in (a, b):
                inst.x = float(i % 7)
                inst.save()
        Plain.create(x=i / 3, s="new")
        Fast.create(x=i / 3, s="new")
    for where in (
        {"x": {"gt": 10}},
        {"x": {"between": [1, 2.5]}},
        {"x": 50.5},
        {"x": None},
        {"x": {"inq": [0.0, 1.0, None]}},
        {"s": "new"},
        {"s": {"gte": "s5"}},
    ):
        both("count", where)
        assert [r.to_dict() for r in Plain.find(where)] == [r.to_dict() for r in Fast.find(where)]
    for order in ("x", "x DESC", "s DESC"):
        got = [r.id for r in Fast.find(order=order, limit=30)]
        assert got == [r.id for r in Plain.find(order=order, limit=30)]


# --- maintenance: redefinition, persistence, threads ---------------------------------------


def test_redefinition_adds_and_drops_an_index(ds: DataSource) -> None:
    import warnings

    M = ds.define("M", {"code": "string", "n": "integer"})
    M.create([{"code": "a", "n": 1}, {"code": "b", "n": 2}, {"code": "a", "n": 3}])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        M2 = ds.define("M", {"code": {"type": "string", "index": True}, "n": "integer"})
        assert [m.n for m in M2.find({"code": "a"})] == [1, 3]
        M2.create(code="a", n=4)
        assert M2.count({"code": "a"}) == 3
        M3 = ds.define("M", {"code": {"type": "string", "unique": True}, "n": "integer"})
        with pytest.raises(ValidationError, match=r"duplicate value 'a' for unique index"):
            M3.find()
        M3.destroy_all()
        M3.create([{"code": "a"}, {"code": "b"}])
        with pytest.raises(ValidationError, match="duplicate value 'a'"):
            M3.create(code="a")
        M4 = ds.define("M", {"code": "string", "n": "integer"})
        M4.create(code="a")  # the unique index is gone
        assert M4.count({"code": "a"}) == 2


@pytest.mark.parametrize("suffix", [".json", ".sqlite"])
def test_indexes_are_rebuilt_on_load(tmp_path, reg, suffix: str) -> None:
    path = str(tmp_path / f"store{suffix}")
    spec = {"code": {"type": "string", "unique": True}, "n": {"type": "integer", "index": True}}
    ds = DataSource("memory", file=path, registry=reg)
    ds.define("M", spec).create([{"code": "a", "n": 1}, {"code": "b", "n": 2}])
    ds.disconnect()
    ds2 = DataSource("memory", file=path, registry=reg)
    M = ds2.define("M", spec)
    assert [m.code for m in M.find({"n": {"gte": 2}})] == ["b"]
    assert M.count({"n": {"lt": 5}}) == 2
    with pytest.raises(ValidationError, match="duplicate value 'a'"):
        M.create(code="a")
    ds2.disconnect()
    # a file whose rows break a unique index the model now declares
    ds3 = DataSource("memory", file=path, registry=reg)
    ds3.define("M", {"code": "string", "n": "integer"}).create(code="a")
    ds3.disconnect()
    ds4 = DataSource("memory", file=path, registry=reg)
    with pytest.raises(PersistenceError, match=r"break its unique indexes"):
        ds4.define("M", spec).find()


def test_threads_writing_and_reading_one_indexed_model(ds: DataSource) -> None:
    M = ds.define(
        "M", {"k": {"type": "integer", "index": True}, "u": {"type": "string", "unique": True}}
    )
    errors: list[BaseException] = []

    def writer(w: int) -> None:
        try:
            for i in range(200):
                M.create(k=i % 10, u=f"{w}-{i}")
                if i % 7 == 0:
                    M.destroy_all({"u": f"{w}-{i - 7}"})
                if i % 5 == 0:
                    M.update_all({"u": f"{w}-{i}"}, {"k": 99})
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    def reader() -> None:
        try:
            for _ in range(200):
                for r in M.find({"k": {"between": [2, 4]}}, order="k DESC", limit=5):
                    assert 2 <= r.k <= 4
                M.count({"k": 99})
        except BaseException as exc:  # pragma: no cover
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(w,)) for w in range(3)]
    threads += [threading.Thread(target=reader) for _ in range(2)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert errors == []
    every = M.find()
    for k in (*range(10), 99):
        assert M.count({"k": k}) == sum(1 for r in every if r.k == k)
    assert len({r.u for r in every}) == len(every)


def test_threads_read_by_id_and_count_while_ids_come_out_of_order(ds: DataSource) -> None:
    # a read re-sorts the rows by id after an out-of-order explicit id: lock-free
    # find_by_id / count() must never see the table emptied for the refill (the window
    # is wide only on a large table: 5 000 rows, 150 out-of-order writes, ~1 s)
    M = ds.define("M", {"k": {"type": "integer", "index": True}})
    M.create([{"id": i, "k": i % 10} for i in range(1, 10001, 2)])  # odd ids
    stop = threading.Event()
    misses: list[Any] = []
    errors: list[BaseException] = []

    def writer() -> None:
        try:
            for i in range(10000, 9700, -2):  # even ids, descending: each one out of order
                M.create(id=i, k=i % 10)
                M.find({"k": 3}, limit=1)  # re-sorts by id
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            stop.set()

    def reader() -> None:
        while not stop.is_set():
            if M.find_by_id(1) is None:
                misses.append("find_by_id")
            if (n := M.count()) < 5000:
                misses.append(n)

    old = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        threads = [
            threading.Thread(target=writer),
            *(threading.Thread(target=reader) for _ in "ab"),
        ]
        for th in threads:
            th.start()
        for th in threads:
            th.join()
    finally:
        sys.setswitchinterval(old)
    assert errors == [] and misses == []
    assert M.count() == 5150 and [m.id for m in M.find(skip=4849, limit=3)] == [9699, 9701, 9702]


# --- speed shapes that a test can see: no row visited, no instance built, no full sort --


class _Trap(dict):
    """A rows dict whose reads raise: the code under test must not visit a row."""

    def _boom(self, *a: Any, **k: Any) -> Any:
        raise AssertionError("a row was visited")

    __getitem__ = get = values = items = __iter__ = _boom


class _CountedRow(dict):
    """A stored row that counts its copies (one per instance built from it)."""

    copies = 0

    def copy(self) -> dict:
        _CountedRow.copies += 1
        return dict(self)


def test_exact_indexed_count_visits_no_row(ds: DataSource) -> None:
    _, Fast = make_pair(ds)
    t = ds.connector._table(Fast)
    wheres = [{"age": {"gt": 30}}, {"age": {"inq": [1, 2]}}, {"ok": True}, {"score": 12.25}]
    want = [Fast.count(w) for w in wheres]
    rows, t.rows = t.rows, _Trap(t.rows)
    try:
        assert [Fast.count(w) for w in wheres] == want
        assert Fast.count() == 300  # the table's size
    finally:
        t.rows = rows
    with pytest.raises(AssertionError, match="a row was visited"):  # the trap works
        t.rows = _Trap(rows)
        try:
            Fast.count({"tag": {"like": "t1%"}})  # a scan
        finally:
            t.rows = rows


def test_count_destroy_all_and_paged_find_build_only_what_they_return(
    ds: DataSource, monkeypatch
) -> None:
    _, Fast = make_pair(ds)
    conn = ds.connector
    t = conn._table(Fast)
    t.rows = {k: _CountedRow(r) for k, r in t.rows.items()}
    built: list[Any] = []
    real = conn._instance
    monkeypatch.setattr(conn, "_instance", lambda *a: built.append(a) or real(*a))
    _CountedRow.copies = 0
    assert Fast.count() == 300 and Fast.count({"tag": "t1"}) == 34
    assert Fast.count({"age": {"gt": 3}, "tag": {"like": "t%"}}) > 0
    assert (_CountedRow.copies, built) == (0, [])
    for kw in ({}, {"order": "age DESC"}, {"order": "tag, age DESC"}, {"where": {"tag": "t2"}}):
        _CountedRow.copies = 0
        got = Fast.find(kw.get("where"), order=kw.get("order"), skip=20, limit=5)
        assert len(got) == 5 and _CountedRow.copies + len(built) == 5, kw
        built.clear()
    _CountedRow.copies = 0
    assert Fast.destroy_all({"tag": "t3"}) == 33 and Fast.destroy_all() == 267
    assert (_CountedRow.copies, built) == (0, [])


def test_order_with_limit_is_a_top_k_selection_not_a_full_sort(ds: DataSource, monkeypatch) -> None:
    from nbregistry.data import filters, memory

    Plain, _ = make_pair(ds, 2000)
    want = {
        o: [m.id for m in Plain.find(order=o)][:10]
        for o in ("tag DESC, age", "score", "city, ok DESC")
    }
    sizes: list[int] = []
    real = filters.sort_rows

    def counting(rows, keys):
        sizes.append(len(rows))
        return real(rows, keys)

    monkeypatch.setattr(filters, "sort_rows", counting)
    monkeypatch.setattr(memory, "sort_rows", counting)
    for order, ids in want.items():
        sizes.clear()
        assert [m.id for m in Plain.find(order=order, limit=10)] == ids
        # sorted: at most the rows tied with the first key's 10th value (a ninth of them)
        assert sum(sizes) <= 2000 // 3, (order, sizes)


# --- the state machine: indexed vs index-free under random writes ---------------------------

VALUES = {
    "a": st.one_of(st.none(), st.integers(0, 6)),
    "s": st.one_of(st.none(), st.sampled_from(["x", "y", "z", "xy"])),
    "f": st.one_of(st.none(), st.sampled_from([0.5, 1, 2.5, -1.0, math.nan])),
    # one instant in three spellings, and a later day
    "d": st.one_of(
        st.none(),
        st.sampled_from(
            [dt.datetime(2024, 1, 1, tzinfo=UTC), "2024-01-01T02:00:00+02:00", "2024-01-02"]
        ),
    ),
}
SPEC = {"a": "integer", "s": "string", "f": "number", "d": "date"}
# both models enforce this unique compound index (so their writes stay in step): no query
# below asks for equality on both keys, so the index-free model still answers by a scan
UNIQUE_AD = {"ad": {"keys": {"a": 1, "d": -1}, "options": {"unique": True}}}
row_st = st.fixed_dictionaries({}, optional=VALUES)


def cond_st(prop: str) -> st.SearchStrategy:
    v = VALUES[prop].filter(lambda x: x is not None)
    return st.one_of(
        VALUES[prop],
        st.builds(lambda x: {"eq": x}, VALUES[prop]),
        st.builds(lambda x: {"neq": x}, VALUES[prop]),
        st.builds(lambda xs: {"inq": xs}, st.lists(VALUES[prop], max_size=3)),
        st.builds(lambda op, x: {op: x}, st.sampled_from(["gt", "gte", "lt", "lte"]), v),
        st.builds(lambda x, y: {"between": [x, y]}, v, v),
        st.builds(lambda x, y: {"gt": x, "lte": y}, v, v),
    )


where_st = st.one_of(
    st.none(),
    st.just({}),
    st.sampled_from(["a", "s", "f", "d"]).flatmap(
        lambda p: st.builds(lambda c: {p: c}, cond_st(p))
    ),
    st.builds(lambda a, s: {"a": a, "s": s}, cond_st("a"), cond_st("s")),
)
order_st = st.one_of(
    st.none(),
    st.sampled_from(
        ["a", "a DESC", "s", "s DESC", "f", "f DESC", "d", "a, s DESC", "s DESC, a", "d DESC, f"]
    ),
)
INDEX_CHOICES = [
    {},
    {"a": True},
    {"a": True, "s": True},
    {"s": True, "f": True, "d": True},
    {"a": True, "s": True, "f": True, "d": True},
]


class IndexedVsScan(RuleBasedStateMachine):
    """The same writes and queries on an indexed and an index-free model agree."""

    def __init__(self) -> None:
        super().__init__()
        self.reg = ModelRegistry()
        self.ds = DataSource("memory", registry=self.reg)
        self.Plain = self.ds.define("Plain", SPEC, settings={"indexes": UNIQUE_AD})
        self.Fast = self._define({"a": True, "s": True, "f": True, "d": True}, compound=True)

    def _define(self, flags: dict, compound: bool = False) -> type:
        import warnings

        spec = {k: ({"type": t, "index": True} if flags.get(k) else t) for k, t in SPEC.items()}
        compound_ = {"as": {"keys": {"a": 1, "s": 1}}} if compound else {}
        settings_ = {"indexes": {**UNIQUE_AD, **compound_}}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return self.ds.define("Fast", spec, settings=settings_)

    def teardown(self) -> None:
        indexes.PATCH_LIMIT = PATCH_LIMIT
        self.reg.clear()

    @rule(limit=st.sampled_from([0, 1, 3, PATCH_LIMIT]))
    def patch_limit(self, limit) -> None:
        # 0: every change merged by one sort at once; 1, 3: mixes of patches and merges
        indexes.PATCH_LIMIT = limit

    def _both(self, write) -> None:
        """Apply ``write(model)`` to both models: both refuse it (unique) or agree."""
        out = []
        for M in (self.Plain, self.Fast):
            try:
                out.append(write(M))
            except ValidationError as exc:
                assert "unique index 'ad'" in str(exc), exc
                out.append("refused")
        assert out[0] == out[1], out

    @rule(rows=st.lists(row_st, max_size=6))
    def create(self, rows) -> None:
        self._both(lambda M: [m.id for m in M.create(rows)])

    @rule(rid=st.integers(1, 40), explicit=row_st)
    def create_with_id(self, rid, explicit) -> None:
        a = self.Plain.find_by_id(rid)
        if a is None:
            self._both(lambda M: M.create({**explicit, "id": rid}).id)

    @rule(where=where_st, data=row_st)
    def update_all(self, where, data) -> None:
        self._both(lambda M: M.update_all(where, data))

    @rule(where=where_st)
    def destroy_all(self, where) -> None:
        if where is None:
            return  # destroying everything: the rule below, less often
        assert self.Plain.destroy_all(where) == self.Fast.destroy_all(where)

    @rule(dice=st.integers(0, 3))
    def destroy_everything(self, dice) -> None:
        if dice == 0:  # a quarter of the times drawn: keep rows around for the queries
            assert self.Plain.destroy_all() == self.Fast.destroy_all()
            assert self.Fast.count() == 0 and self.Fast.find(order="a", limit=1) == []

    @rule(rid=st.integers(1, 40), data=row_st)
    def save(self, rid, data) -> None:
        a, b = self.Plain.find_by_id(rid), self.Fast.find_by_id(rid)
        assert (a is None) == (b is None)
        if a is not None:
            insts = {self.Plain: a, self.Fast: b}

            def write(M):
                inst = insts[M]
                for k, v in data.items():
                    setattr(inst, k, v)
                inst.save()
                return repr(inst.to_dict())  # repr: NaN == NaN

            self._both(write)

    @rule(rid=st.integers(1, 40))
    def delete(self, rid) -> None:
        a, b = self.Plain.find_by_id(rid), self.Fast.find_by_id(rid)
        if a is not None:
            assert a.delete() and b.delete()

    @rule(flags=st.sampled_from(INDEX_CHOICES), compound=st.booleans())
    def redefine(self, flags, compound) -> None:
        self.Fast = self._define(flags, compound)

    @rule(
        where=where_st,
        order=order_st,
        limit=st.one_of(st.none(), st.integers(0, 5)),
        skip=st.one_of(st.none(), st.integers(0, 3)),
    )
    def query(self, where, order, limit, skip) -> None:
        a = [r.to_dict() for r in self.Plain.find(where, order=order, limit=limit, skip=skip)]
        b = [r.to_dict() for r in self.Fast.find(where, order=order, limit=limit, skip=skip)]
        assert repr(a) == repr(b)  # repr: NaN == NaN
        assert self.Plain.count(where) == self.Fast.count(where)

    @invariant()
    def same_rows(self) -> None:
        assert repr([r.to_dict() for r in self.Plain.find()]) == repr(
            [r.to_dict() for r in self.Fast.find()]
        )


# the loaded profile (tests/conftest.py); the "ci" one with shorter runs, since every step
# queries both models: HYPOTHESIS_PROFILE=long searches much longer
IndexedVsScan.TestCase.settings = settings(
    settings.default,
    **({} if settings.default.max_examples > 60 else {"stateful_step_count": 25}),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
test_indexed_vs_scan = IndexedVsScan.TestCase


# --- the state machine for unique indexes: what the reference says must be refused ---------

U_VALUES = st.one_of(st.none(), st.integers(0, 4))
u_row_st = st.fixed_dictionaries({}, optional={"u": U_VALUES, "k": st.integers(0, 3)})
u_where_st = st.one_of(
    st.none(),
    st.builds(lambda v: {"u": v}, U_VALUES),
    st.builds(lambda vs: {"u": {"inq": vs}}, st.lists(U_VALUES, max_size=3)),
    st.builds(lambda lo: {"u": {"gte": lo}}, st.integers(0, 4)),
    st.builds(lambda k: {"k": k}, st.integers(0, 3)),
    st.builds(
        lambda k, lo: {"k": {"lte": k}, "u": {"gt": lo}}, st.integers(0, 3), st.integers(0, 4)
    ),
)


class UniqueVsReference(RuleBasedStateMachine):
    """A unique index refuses exactly the writes that would duplicate a present value.

    The index-free model is the reference: a write is predicted to clash from its rows;
    then the indexed model must raise ValidationError and write nothing, else both write.
    """

    def __init__(self) -> None:
        super().__init__()
        self.reg = ModelRegistry()
        self.ds = DataSource("memory", registry=self.reg)
        self.Plain = self.ds.define("Plain", {"u": "integer", "k": "integer"})
        self.Fast = self.ds.define(
            "Fast",
            {"u": {"type": "integer", "unique": True}, "k": {"type": "integer", "index": True}},
        )

    def teardown(self) -> None:
        indexes.PATCH_LIMIT = PATCH_LIMIT
        self.reg.clear()

    def _held(self, exclude: set[int] = frozenset()) -> list:
        return [r.u for r in self.Plain.find() if r.u is not None and r.id not in exclude]

    @rule(limit=st.sampled_from([0, 1, PATCH_LIMIT]))
    def patch_limit(self, limit) -> None:
        indexes.PATCH_LIMIT = limit

    @rule(rows=st.lists(u_row_st, max_size=5))
    def create(self, rows) -> None:
        new = [r["u"] for r in rows if r.get("u") is not None]
        clash = len(set(new)) < len(new) or bool(set(new) & set(self._held()))
        if clash:
            with pytest.raises(ValidationError, match="for unique index"):
                self.Fast.create(rows)
        else:
            self.Plain.create(rows)
            self.Fast.create(rows)

    @rule(where=u_where_st, data=u_row_st)
    def update_all(self, where, data) -> None:
        matched = {r.id for r in self.Plain.find(where)}
        u = data.get("u")
        clash = (
            bool(matched)
            and u is not None
            and (len(matched) > 1 or u in self._held(exclude=matched))
        )
        if clash:
            with pytest.raises(ValidationError, match="for unique index"):
                self.Fast.update_all(where, data)
        else:
            assert self.Plain.update_all(where, data) == self.Fast.update_all(where, data)

    @rule(rid=st.integers(1, 30), u=U_VALUES)
    def save(self, rid, u) -> None:
        a, b = self.Plain.find_by_id(rid), self.Fast.find_by_id(rid)
        assert (a is None) == (b is None)
        if a is None:
            return
        b.u = u
        if u is not None and u in self._held(exclude={rid}):
            with pytest.raises(ValidationError, match="for unique index"):
                b.save()
        else:
            a.u = u
            a.save()
            b.save()

    @rule(rid=st.integers(1, 30))
    def delete(self, rid) -> None:
        a, b = self.Plain.find_by_id(rid), self.Fast.find_by_id(rid)
        if a is not None:
            assert a.delete() and b.delete()

    @rule(where=u_where_st)
    def destroy_all(self, where) -> None:
        assert self.Plain.destroy_all(where) == self.Fast.destroy_all(where)

    @rule(where=u_where_st, order=st.sampled_from([None, "u", "u DESC", "k DESC"]))
    def query(self, where, order) -> None:
        a = [r.to_dict() for r in self.Plain.find(where, order=order)]
        assert a == [r.to_dict() for r in self.Fast.find(where, order=order)]
        assert self.Plain.count(where) == self.Fast.count(where)

    @invariant()
    def same_rows(self) -> None:
        assert [r.to_dict() for r in self.Plain.find()] == [r.to_dict() for r in self.Fast.find()]


UniqueVsReference.TestCase.settings = settings(
    settings.default,
    **({} if settings.default.max_examples > 60 else {"stateful_step_count": 25}),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
test_unique_vs_reference = UniqueVsReference.TestCase
