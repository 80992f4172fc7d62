"""DESIGN §12.3 filter semantics on the memory connector: UTC dates, comma orders, regexp,
nilike, array containment, offset, limit=0 and id order."""

from __future__ import annotations

import datetime as dt
import re

import pytest

from nbregistry import DataSource, FilterError, ModelRegistry

UTC = dt.UTC


@pytest.fixture
def ds():
    reg = ModelRegistry()
    source = DataSource("memory", registry=reg)
    yield source
    reg.clear()


def ids(found) -> list:
    return [x.id for x in found]


# --- dates -------------------------------------------------------------------------------


def test_dates_are_aware_utc_wherever_validated(ds: DataSource) -> None:
    Event = ds.define("Event", {"at": "date", "days": ["date"], "meta": {"when": "date"}})
    plus2 = dt.timezone(dt.timedelta(hours=2))
    made = Event.create(
        [
            {"at": "2024-06-15"},
            {"at": "2024-06-15T12:00:00+02:00"},
            {"at": dt.datetime(2024, 6, 15, 12, 0)},
            {"at": dt.date(2024, 6, 16)},
            {"at": dt.datetime(2024, 6, 15, 12, 0, tzinfo=plus2)},
            {"at": "2024-06-15T10:00:00Z", "days": ["2024-01-01"], "meta": {"when": "2024-01-02"}},
        ]
    )
    got = [e.at for e in made]
    assert got == [
        dt.datetime(2024, 6, 15, tzinfo=UTC),
        dt.datetime(2024, 6, 15, 10, 0, tzinfo=UTC),
        dt.datetime(2024, 6, 15, 12, 0, tzinfo=UTC),
        dt.datetime(2024, 6, 16, tzinfo=UTC),
        dt.datetime(2024, 6, 15, 10, 0, tzinfo=UTC),
        dt.datetime(2024, 6, 15, 10, 0, tzinfo=UTC),
    ]
    assert all(v.tzinfo is UTC for v in got)
    last = Event.find_by_id(6)
    assert last.days == [dt.datetime(2024, 1, 1, tzinfo=UTC)]
    assert last.meta.when == dt.datetime(2024, 1, 2, tzinfo=UTC)
    # instances outside any store validate the same way
    assert Event(at="2024-06-15T00:00:00-01:00").at == dt.datetime(2024, 6, 15, 1, tzinfo=UTC)


def test_date_filters_convert_to_utc_and_never_mix_naive_and_aware(ds: DataSource) -> None:
    Event = ds.define("Event", {"at": "date"})
    Event.create([{"at": "2024-06-15T10:00:00Z"}, {"at": "2024-06-15T12:00:00Z"}])
    assert ids(Event.find({"at": "2024-06-15T12:00:00+02:00"})) == [1]
    assert ids(Event.find({"at": dt.datetime(2024, 6, 15, 12)})) == [2]  # naive: UTC
    assert ids(Event.find({"at": {"gt": "2024-06-15T11:00:00"}})) == [2]
    assert ids(Event.find({"at": {"between": [dt.date(2024, 6, 15), "2024-06-15T11:00"]}})) == [1]
    assert ids(Event.find({"at": {"inq": ["2024-06-15T14:00:00+02:00"]}})) == [2]
    assert Event.count({"at": {"lt": dt.datetime(2024, 6, 15, 13, tzinfo=UTC)}}) == 2
    with pytest.raises(FilterError, match="cannot be compared with date"):
        Event.find({"at": "yesterday"})


def test_to_frame_dates_are_datetime64_ns_utc(ds: DataSource) -> None:
    import pandas as pd

    Event = ds.define("Event", {"at": "date"})
    assert str(Event.to_frame()["at"].dtype) == "datetime64[ns, UTC]"
    Event.create([{"at": "2024-06-15T12:00:00+02:00"}, {"at": None}])
    df = Event.to_frame()
    assert str(df["at"].dtype) == "datetime64[ns, UTC]"
    assert df["at"].iloc[0] == pd.Timestamp("2024-06-15T10:00:00", tz="UTC")
    assert pd.isna(df["at"].iloc[1])


@pytest.mark.parametrize("suffix", [".json", ".sqlite"])
def test_dates_stay_aware_utc_through_a_store_file(tmp_path, suffix: str) -> None:
    path = tmp_path / f"crm{suffix}"
    reg = ModelRegistry()
    ds = DataSource("memory", file=str(path), registry=reg)
    ds.define("Event", {"at": "date"}).create(at="2024-06-15T12:00:00+02:00")
    ds.disconnect()
    ds2 = DataSource("memory", file=str(path), registry=reg)
    at = ds2.define("Event", {"at": "date"}).find_by_id(1).at
    assert at == dt.datetime(2024, 6, 15, 10, tzinfo=UTC) and at.tzinfo is UTC
    reg.clear()


# --- order -------------------------------------------------------------------------------


@pytest.fixture
def Person(ds: DataSource):
    P = ds.define(
        "Person",
        {"name": "string", "age": "integer", "tags": ["string"], "nick": "string"},
    )
    P.create(
        [
            {"name": "Ann", "age": 30, "tags": ["a", "b"], "nick": "annie"},
            {"name": "Bob", "age": 25, "tags": ["b"], "nick": "Bobby"},
            {"name": "Cid", "age": 30, "tags": [], "nick": None},
            {"name": "Dan", "age": 25, "tags": None, "nick": "dan\nthe man"},
            {"name": "Eve", "age": 41, "nick": "EVE"},
        ]
    )
    return P


def test_order_accepts_loopbacks_comma_separated_string(Person) -> None:
    assert ids(Person.find(order="age DESC, name")) == [5, 1, 3, 2, 4]
    assert ids(Person.find(order="age DESC,name DESC")) == [5, 3, 1, 4, 2]
    assert ids(Person.find(order=["age, name DESC"])) == [4, 2, 3, 1, 5]
    assert Person.to_frame(order="age, name").index.tolist() == [2, 4, 1, 3, 5]
    with pytest.raises(FilterError, match=r"order: 'name UP' is not 'prop'"):
        Person.find(order="age DESC, name UP")
    with pytest.raises(FilterError, match=r"order: '' is not"):
        Person.find(order="age,")
    with pytest.raises(FilterError, match=r"order\[1\]: '' is not"):
        Person.find(order=["age", ", name"])


def test_order_ties_are_broken_by_id(ds: DataSource) -> None:
    T = ds.define("T", {"k": "integer"})
    T.create([{"id": 5, "k": 1}, {"id": 2, "k": 1}, {"id": 9, "k": 0}, {"id": 1, "k": 1}])
    assert ids(T.find(order="k")) == [9, 1, 2, 5]
    assert ids(T.find(order="k DESC")) == [1, 2, 5, 9]


# --- regexp, nilike -------------------------------------------------------------------------


def test_regexp_takes_a_pattern_or_a_slash_string_with_flags(Person) -> None:
    assert ids(Person.find({"nick": {"regexp": re.compile("^[ab]")}})) == [1]
    assert ids(Person.find({"nick": {"regexp": "/^[ab]/i"}})) == [1, 2]
    assert ids(Person.find({"nick": {"regexp": "/e$/"}})) == [1]
    assert ids(Person.find({"nick": {"regexp": "/^the/m"}})) == [4]
    assert ids(Person.find({"nick": {"regexp": "/dan.the/s"}})) == [4]
    assert ids(Person.find({"nick": {"regexp": "/dan.the/"}})) == []
    assert ids(Person.find({"nick": {"regexp": "/a/b/"}})) == []  # the last slash ends it
    assert Person.count({"nick": {"regexp": "//"}}) == 4  # None never matches
    assert ids(Person.find({"name": {"regexp": "/^a/i", "neq": "Bob"}})) == [1]


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("^a", r"where\.nick\.regexp: expects a compiled re\.Pattern or a str '/pattern/flags'"),
        ("/a/g", r"unknown regexp flag 'g'"),
        ("/(/", r"invalid regular expression"),
        (3, r"expects a compiled re\.Pattern"),
    ],
)
def test_regexp_errors_name_the_value(Person, value, message) -> None:
    with pytest.raises(FilterError, match=message):
        Person.find({"nick": {"regexp": value}})


def test_regexp_on_a_non_string_property_is_an_error(Person) -> None:
    with pytest.raises(FilterError, match=r"where\.age\.regexp: .*only matches string"):
        Person.find({"age": {"regexp": "/1/"}})


def test_nilike_is_the_complement_of_ilike(Person) -> None:
    assert ids(Person.find({"nick": {"ilike": "%E"}})) == [1, 5]
    assert ids(Person.find({"nick": {"nilike": "%E"}})) == [2, 3, 4]
    assert ids(Person.find({"nick": {"nilike": "B%"}})) == [1, 3, 4, 5]
    with pytest.raises(FilterError, match=r"where\.nick\.nilike: expects a SQL pattern"):
        Person.find({"nick": {"nilike": 3}})


# --- arrays --------------------------------------------------------------------------------


def test_scalar_equality_on_an_array_property_means_contains(Person) -> None:
    assert ids(Person.find({"tags": "b"})) == [1, 2]
    assert ids(Person.find({"tags": {"eq": "a"}})) == [1]
    assert ids(Person.find({"tags": {"neq": "b"}})) == [3, 4, 5]
    assert ids(Person.find({"tags": ["b"]})) == [2]  # a list still compares the whole array
    assert ids(Person.find({"tags": []})) == [3]
    assert ids(Person.find({"tags": None})) == [4, 5]
    assert ids(Person.find({"tags": re.compile("^a")})) == [1]
    with pytest.raises(FilterError, match=r"where\.tags: 3 \(int\) cannot be compared with string"):
        Person.find({"tags": 3})


def test_array_containment_respects_types(ds: DataSource) -> None:
    T = ds.define("T", {"ns": ["number"], "any": "array", "days": ["date"]})
    T.create(
        [
            {"ns": [1, 2.5], "any": [True, "x"], "days": ["2024-01-01"]},
            {"ns": [3], "any": [1], "days": []},
        ]
    )
    assert ids(T.find({"ns": 1})) == [1]
    assert ids(T.find({"any": 1})) == [2]  # True is not 1
    assert ids(T.find({"any": True})) == [1]
    assert ids(T.find({"days": "2024-01-01T00:00:00Z"})) == [1]


# --- offset, limit=0, id order -----------------------------------------------------------


def test_offset_is_an_alias_of_skip(Person) -> None:
    assert ids(Person.find(offset=3)) == [4, 5]
    assert ids(Person.find(order="age", offset=1, limit=2)) == [4, 1]
    assert Person.find_one(order="name DESC", offset=1).name == "Dan"
    assert Person.to_frame(offset=4).index.tolist() == [5]
    assert ids(Person.find(skip=2, offset=2)) == [3, 4, 5]
    with pytest.raises(FilterError, match=r"give skip= or offset= \(its alias\), not both"):
        Person.find(skip=1, offset=2)
    with pytest.raises(FilterError, match=r"offset must be a non-negative int"):
        Person.find(offset=-1)


def test_limit_zero_returns_no_rows(Person) -> None:
    assert Person.find(limit=0) == []
    assert Person.find({"age": {"gt": 0}}, order="age DESC", limit=0) == []
    assert Person.to_frame(limit=0).empty


def test_rows_without_order_come_in_id_order(ds: DataSource) -> None:
    T = ds.define("T", {"v": "integer"})
    T.create([{"id": 7, "v": 1}, {"id": 3, "v": 2}])
    T.create(v=3)  # generated: 8
    T(id=1, v=4).save()
    assert ids(T.find()) == [1, 3, 7, 8]
    assert ids(T.find({"v": {"gt": 1}})) == [1, 3, 8]
    assert T.to_frame().index.tolist() == [1, 3, 7, 8]
    T.update_all({"id": 3}, {"v": 9})
    T.destroy_all({"id": 7})
    T.create({"id": 5, "v": 0})
    assert ids(T.find()) == [1, 3, 5, 8]
    assert ids(T.find(skip=1, limit=2)) == [3, 5]
    S = ds.define("S", {"code": {"type": "string", "id": True}})
    S.create([{"code": "b"}, {"code": "a"}, {"code": "c"}])
    assert [s.code for s in S.find()] == ["a", "b", "c"]
