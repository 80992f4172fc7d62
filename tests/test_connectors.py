"""One connector suite, three backends: memory, sqlite and postgresql (DESIGN §4b, §12.2).

Every test in the first part runs against each connector through the ``backend``
fixture (tests/conftest.py) and asserts the same results, so the SQL connectors are
held to the memory connector's semantics. The second part (``sql_backend``) tests what
only SQL connectors have: tables, exact storage, names, rows fetched, migration.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest

from nbregistry import DefinitionError, FilterError, ValidationError

PEOPLE = [
    {"name": "Ann", "age": 31, "city": "Oslo", "score": 1.5, "active": True},
    {"name": "Bob", "age": 25, "city": "Bergen", "score": 2.0, "active": False},
    {"name": "cara", "age": 40, "city": None, "score": None, "active": True},
    {"name": "Dan", "age": None, "city": "Oslo", "score": 3.25, "active": None},
    {"name": "Eve_1", "age": 25, "city": "oslo", "score": 0.0, "active": False},
]
SPEC = {
    "name": {"type": "string", "required": True},
    "age": "integer",
    "city": "string",
    "score": "number",
    "active": "boolean",
}


@pytest.fixture
def Person(backend: Any) -> Any:
    cls = backend.ds(name="crm").define("Person", SPEC)
    cls.create(PEOPLE)
    return cls


def ids(rows: list[Any]) -> list[Any]:
    return [r.id for r in rows]


# --- create / read --------------------------------------------------------------------------


def test_create_and_read_back(Person: Any) -> None:
    assert Person.count() == 5
    ann = Person.find_by_id(1)
    assert ann is not None
    assert (ann.name, ann.age, ann.city, ann.score, ann.active) == ("Ann", 31, "Oslo", 1.5, True)
    assert ids(Person.find()) == [1, 2, 3, 4, 5]
    assert Person.find_by_id(99) is None
    assert Person.find_by_id("1") is None  # an id of the wrong type matches nothing
    assert Person.find_one({"name": "Nobody"}) is None


def test_generated_ids_follow_explicit_ones_and_are_never_reused(backend: Any) -> None:
    T = backend.ds().define("T", {"v": "integer"})
    made = T.create([{"v": 1}, {"id": 10, "v": 2}, {"v": 3}])
    assert ids(made) == [1, 10, 11]
    assert T.find_by_id(11).delete() is True
    assert T.create(v=4).id == 12  # 11 is not reused
    assert T.create(id=5, v=5).id == 5
    assert T.create(v=6).id == 13


def test_duplicate_id_writes_nothing(backend: Any) -> None:
    T = backend.ds().define("T", {"v": "integer"})
    T.create(id=3, v=0)
    with pytest.raises(ValidationError, match="duplicate id 3"):
        T.create([{"v": 1}, {"id": 3, "v": 2}])
    with pytest.raises(ValidationError, match="duplicate id 7"):
        T.create([{"id": 7, "v": 1}, {"id": 7, "v": 2}])
    assert T.count() == 1


def test_bulk_create_is_all_or_nothing(Person: Any) -> None:
    with pytest.raises(ValidationError) as info:
        Person.create([{"name": "Ok"}, {"name": 5}, {"age": "x"}])
    paths = [p for p, _ in info.value.errors]
    assert "[1].name" in paths and "[2].age" in paths and "[2].name" in paths
    assert Person.count() == 5


# --- where ------------------------------------------------------------------------------------

CASES: list[tuple[dict[str, Any], list[int]]] = [
    ({"name": "Ann"}, [1]),
    ({"city": None}, [3]),
    ({"city": {"neq": "Oslo"}}, [2, 3, 5]),
    ({"age": {"gt": 25}}, [1, 3]),
    ({"age": {"gte": 25}}, [1, 2, 3, 5]),
    ({"age": {"lt": 31}}, [2, 5]),
    ({"age": {"lte": 31}}, [1, 2, 5]),
    ({"age": {"neq": 25}}, [1, 3, 4]),
    ({"age": {"inq": [25, 40]}}, [2, 3, 5]),
    ({"age": {"inq": [None, 40]}}, [3, 4]),
    ({"age": {"nin": [25]}}, [1, 3, 4]),
    ({"age": {"between": [26, 40]}}, [1, 3]),
    ({"score": {"gt": 1}}, [1, 2, 4]),
    ({"score": 2}, [2]),
    ({"active": True}, [1, 3]),
    ({"active": {"neq": True}}, [2, 4, 5]),
    ({"name": {"like": "%a%"}}, [3, 4]),
    ({"name": {"like": "a%"}}, []),  # like is case-sensitive
    ({"name": {"nlike": "%a%"}}, [1, 2, 5]),
    ({"name": {"ilike": "a%"}}, [1]),
    ({"name": {"like": "Eve__"}}, [5]),
    ({"name": {"like": "Eve\\_1"}}, []),  # no escape character: the backslash is literal
    ({"city": {"like": "_slo"}}, [1, 4, 5]),
    ({"city": {"ilike": "OSLO"}}, [1, 4, 5]),
    ({"name": re.compile("^[AB]")}, [1, 2]),
    ({"name": {"like": re.compile("an", re.IGNORECASE)}}, [1, 4]),
    ({"name": {"gt": "Bob"}}, [3, 4, 5]),  # code-point order: lower case after upper
    ({"or": [{"age": 25}, {"city": "Oslo"}]}, [1, 2, 4, 5]),
    ({"and": [{"age": 25}, {"active": False}], "city": "oslo"}, [5]),
    ({"age": 25, "name": {"neq": "Bob"}}, [5]),
    ({"id": 3}, [3]),
    ({"id": {"inq": [1, 5, 9]}}, [1, 5]),
]


@pytest.mark.parametrize(("where", "expected"), CASES, ids=[repr(w) for w, _ in CASES])
def test_where(Person: Any, where: dict[str, Any], expected: list[int]) -> None:
    assert ids(Person.find(where)) == expected
    assert Person.count(where) == len(expected)


def test_dotted_paths_into_embedded_objects(backend: Any) -> None:
    T = backend.ds().define(
        "T", {"name": "string", "address": {"city": "string", "geo": {"lat": "number"}}}
    )
    T.create(
        [
            {"name": "a", "address": {"city": "Oslo", "geo": {"lat": 59.9}}},
            {"name": "b", "address": {"city": "Bergen", "geo": {"lat": 60.4}}},
            {"name": "c", "address": None},
            {"name": "d", "address": {"city": None}},
        ]
    )
    assert ids(T.find({"address.city": "Oslo"})) == [1]
    assert ids(T.find({"address.city": None})) == [3, 4]
    assert ids(T.find({"address.geo.lat": {"gt": 60}})) == [2]
    assert ids(T.find({"address.city": {"neq": "Oslo"}})) == [2, 3, 4]
    assert ids(T.find(order="address.geo.lat DESC")) == [2, 1, 3, 4]
    assert ids(T.find({"address.city": {"like": "%e%"}})) == [2]


def test_non_strict_extras_are_stored_filtered_and_projected(backend: Any) -> None:
    T = backend.ds().define("T", {"name": "string"})
    T.create([{"name": "a", "nick": "x", "n": 2}, {"name": "b"}, {"name": "c", "n": 5}])
    assert T.find_by_id(1).to_dict() == {"id": 1, "name": "a", "nick": "x", "n": 2}
    assert ids(T.find({"n": {"gt": 1}})) == [1, 3]
    assert ids(T.find({"nick": None})) == [2, 3]
    assert [r.to_dict() for r in T.find(fields=["name", "n"])] == [
        {"name": "a", "n": 2},
        {"name": "b"},
        {"name": "c", "n": 5},
    ]
    assert T.update_all({"name": "b"}, {"nick": "y"}) == 1
    assert T.find_by_id(2).nick == "y"


def test_malformed_filters_raise_filter_error(Person: Any) -> None:
    bad: list[Any] = [
        {"age": {"gt": None}},
        {"age": {"nope": 1}},
        {"age": {"inq": 3}},
        {"age": {"between": [1]}},
        {"age": "x"},
        {"gt": 3},
        {"or": []},
        "name",
    ]
    for where in bad:
        with pytest.raises(FilterError):
            Person.find(where)
    with pytest.raises(FilterError):
        Person.find(order="age SIDEWAYS")
    with pytest.raises(FilterError):
        Person.find(limit=-1)
    with pytest.raises(FilterError):
        Person.find(fields=[3])


def test_unknown_column_of_a_strict_model_is_a_filter_error(backend: Any) -> None:
    T = backend.ds().define("T", {"name": "string"}, {"strict": True})
    with pytest.raises(FilterError, match="unknown property 'nmae'"):
        T.find({"nmae": "x"})


# --- order, paging, fields ------------------------------------------------------------------


def test_order_missing_last_both_directions_ties_by_id(Person: Any) -> None:
    assert ids(Person.find(order="age")) == [2, 5, 1, 3, 4]
    assert ids(Person.find(order="age DESC")) == [3, 1, 2, 5, 4]
    assert ids(Person.find(order=["city", "age DESC"])) == [2, 1, 4, 5, 3]
    assert ids(Person.find(order="name")) == [1, 2, 4, 5, 3]


def test_limit_skip_fields(Person: Any) -> None:
    assert ids(Person.find(order="age", limit=2)) == [2, 5]
    assert ids(Person.find(order="age", limit=2, skip=2)) == [1, 3]
    assert ids(Person.find(skip=4)) == [5]
    assert Person.find(limit=0) == []
    got = Person.find({"id": 1}, fields=["name", "age"])[0].to_dict()
    assert got == {"name": "Ann", "age": 31}
    got = Person.find({"id": 1}, fields={"score": False, "active": False})[0].to_dict()
    assert got == {"id": 1, "name": "Ann", "age": 31, "city": "Oslo"}


# --- writes -----------------------------------------------------------------------------------


def test_update_all_and_destroy_all_return_counts(Person: Any) -> None:
    assert Person.update_all({"age": 25}, {"city": "Trondheim"}) == 2
    assert ids(Person.find({"city": "Trondheim"})) == [2, 5]
    assert Person.update_all({"age": 99}, {"city": "x"}) == 0
    with pytest.raises(ValidationError):
        Person.update_all(None, {"age": "old"})
    with pytest.raises(ValidationError):
        Person.update_all(None, {"id": 7})
    assert Person.count({"age": "old"} if False else {"city": "Trondheim"}) == 2
    assert Person.destroy_all({"city": "Trondheim"}) == 2
    assert Person.destroy_all({"age": {"gt": 100}}) == 0
    assert Person.count() == 3
    assert Person.destroy_all() == 3
    assert Person.count() == 0


def test_save_inserts_and_replaces_delete_removes(Person: Any) -> None:
    p = Person(name="Zed", age=1)
    p.save()
    assert p.id == 6
    p.age = 2
    p.save()
    assert Person.find_by_id(6).age == 2
    part = Person.find({"id": 1}, fields=["id", "age"])[0]
    part.age = 32
    part.save()  # a partial instance only overwrites what it holds
    ann = Person.find_by_id(1)
    assert (ann.name, ann.age) == ("Ann", 32)
    with pytest.raises(ValidationError):
        Person(name="Q").__class__.save(Person.find_by_id(2).__class__(name=3))
    assert p.delete() is True
    assert p.delete() is False
    assert Person.count() == 5


def test_dates_round_trip_and_compare(backend: Any) -> None:
    T = backend.ds().define("T", {"at": "date"})
    utc = dt.UTC
    T.create(
        [
            {"at": dt.datetime(2024, 6, 15, 12, 0, tzinfo=utc)},
            {"at": "2024-06-15T14:00:00+02:00"},  # 12:00 UTC
            {"at": dt.datetime(2023, 1, 1, tzinfo=utc)},
            {"at": None},
        ]
    )
    noon = dt.datetime(2024, 6, 15, 12, 0, tzinfo=utc)
    assert ids(T.find({"at": noon})) == [1, 2]
    assert ids(T.find({"at": {"lt": "2024-01-01T00:00:00+00:00"}})) == [3]
    assert ids(T.find(order="at DESC")) == [1, 2, 3, 4]
    got = T.find_by_id(2).at
    assert got == noon


def test_to_frame_typed_columns(Person: Any) -> None:
    df = Person.to_frame(order="age")
    assert list(df.index) == [2, 5, 1, 3, 4]
    assert list(df.columns) == ["name", "age", "city", "score", "active"]
    assert str(df["age"].dtype) == "Int64"
    assert str(df["score"].dtype) == "float64"


def test_rows_belong_to_the_database_not_the_datasource(backend: Any) -> None:
    ds = backend.ds()
    T = ds.define("T", {"v": "integer"})
    T.create([{"v": 1}, {"v": 2}])
    ds.disconnect()
    T2 = backend.ds().define("T", {"v": "integer"})
    expected = 0 if backend.name == "memory" else 2
    assert T2.count() == expected


def test_connector_without_schema_methods(backend: Any) -> None:
    ds = backend.ds()
    ds.define("T", {"v": "integer"})
    assert ds.ping() is True
    if backend.name == "memory":
        with pytest.raises(TypeError, match="connector 'memory' has no database schema"):
            ds.automigrate()
        with pytest.raises(TypeError, match="has no database schema"):
            ds.discover_model_definitions()
    else:
        assert ds.is_actual() is False
        ds.autoupdate()
        assert ds.is_actual() is True


def test_definition_names_with_quotes_semicolons_and_unicode(backend: Any) -> None:
    weird = ['a"b', "c'd", "e;f", "g--h", "ñ 名前", "select"]
    T = backend.ds().define("Weird", {n: "string" for n in weird}, {"table": 'we"ird; --'})
    T.create({n: f"{n}!" for n in weird})
    row = T.find({"c'd": "c'd!"})[0]
    assert all(getattr(row, n, None) == f"{n}!" for n in weird) or row.to_dict()[weird[0]] == 'a"b!'
    assert T.count({"g--h": {"like": "g--%"}}) == 1


def test_id_less_model(backend: Any) -> None:
    T = backend.ds().define("T", {"v": "integer"}, {"id_injection": False})
    T.create([{"v": 3}, {"v": 1}, {"v": 2}])
    assert [r.v for r in T.find()] == [3, 1, 2]
    assert [r.v for r in T.find(order="v")] == [1, 2, 3]
    with pytest.raises(TypeError):
        T.find_by_id(1)
    assert T.destroy_all({"v": 1}) == 1


def test_check_names_reserved(sql_backend: Any) -> None:
    ds = sql_backend.ds()
    with pytest.raises(DefinitionError, match="reserved"):
        ds.define("T", {"_extra": "string"})


# --- DESIGN §12.3 semantics on every backend -----------------------------------------------


def test_added_operators_regexp_nilike_contains(backend: Any) -> None:
    T = backend.ds().define("T", {"name": "string", "tags": ["string"], "n": ["integer"]})
    T.create(
        [
            {"name": "Ann", "tags": ["a", "b"], "n": [1, 2]},
            {"name": "anna", "tags": ["b"], "n": [3]},
            {"name": "Bob\nby", "tags": [], "n": None},
            {"name": None, "tags": None, "n": [2]},
        ]
    )
    assert ids(T.find({"name": {"regexp": "/^an/i"}})) == [1, 2]
    assert ids(T.find({"name": {"regexp": re.compile("n{2}a")}})) == [2]
    assert ids(T.find({"name": {"regexp": "/b.b/"}})) == []  # '.' stops at a newline
    assert ids(T.find({"name": {"regexp": "/b.b/s"}})) == [3]
    assert ids(T.find({"name": {"regexp": "/y$/"}})) == [3]
    assert ids(T.find({"name": {"nilike": "ann%"}})) == [3, 4]
    assert ids(T.find({"tags": "b"})) == [1, 2]
    assert ids(T.find({"tags": {"neq": "a"}})) == [2, 3, 4]
    assert ids(T.find({"n": 2})) == [1, 4]
    assert ids(T.find({"n": {"inq": [3, 1]}})) == []  # inq compares whole values
    with pytest.raises(FilterError):
        T.find({"name": {"regexp": "no slashes"}})


def test_comma_order_offset_and_id_order(backend: Any) -> None:
    T = backend.ds().define("T", {"a": "integer", "b": "string"})
    T.create(
        [
            {"id": 5, "a": 1, "b": "x"},
            {"id": 2, "a": 1, "b": "y"},
            {"id": 9, "a": 0, "b": "y"},
            {"id": 1, "a": None, "b": "x"},
        ]
    )
    assert ids(T.find()) == [1, 2, 5, 9]  # id order without order
    assert ids(T.find(order="a DESC, b")) == [5, 2, 9, 1]
    assert ids(T.find(order="b, a DESC")) == [5, 1, 2, 9]
    assert ids(T.find(order="a", offset=1, limit=2)) == [2, 5]
    assert ids(T.find(order="b")) == [1, 5, 2, 9]  # ties by id


def test_dates_with_and_without_offsets_compare_in_utc(backend: Any) -> None:
    T = backend.ds().define("T", {"at": "date"})
    T.create(
        [
            {"at": "2024-06-15"},  # midnight UTC
            {"at": "2024-06-15T01:00:00+02:00"},  # 2024-06-14 23:00 UTC
            {"at": dt.datetime(2024, 6, 15, 0, 30)},  # naive: UTC
            {"at": dt.date(2024, 6, 14)},
        ]
    )
    assert ids(T.find(order="at")) == [4, 2, 1, 3]
    assert ids(T.find({"at": {"gte": "2024-06-15"}})) == [1, 3]
    got = T.find_by_id(2).at
    assert got.tzinfo is not None and got.utcoffset() == dt.timedelta(0)
    assert got == dt.datetime(2024, 6, 14, 23, 0, tzinfo=dt.UTC)
    assert str(T.to_frame()["at"].dtype).endswith("UTC]")


def test_unique_index_violation_writes_nothing(backend: Any) -> None:
    T = backend.ds().define(
        "T",
        {"email": {"type": "string", "index": {"unique": True}}, "city": "string"},
        {"indexes": {"city_email": {"keys": {"city": 1, "email": 1}}}},
    )
    T.create([{"email": "a@x", "city": "Oslo"}, {"email": None}, {"email": None}])
    with pytest.raises(ValidationError):
        T.create([{"email": "b@x"}, {"email": "a@x"}])
    with pytest.raises(ValidationError):
        T.update_all({"email": None}, {"email": "c@x"})
    assert T.count() == 3
    assert ids(T.find({"email": "a@x", "city": "Oslo"})) == [1]


def test_patterns_on_array_properties_match_an_element_on_every_backend(backend: Any) -> None:
    """``{"tags": re.compile(...)}`` and ``regexp`` on an array: some string element matches.

    Memory matched an element for a pattern value but refused ``regexp`` (FilterError),
    while SQL matched nothing for either (issue 11); now all three agree, as LoopBack
    applies a condition on an array to its elements.
    """
    ds = backend.ds()
    T = ds.define("T", {"tags": ["string"], "u": list, "n": ["integer"], "name": "string"})
    T.create(
        [
            {"tags": ["ab", "c"]},
            {"tags": ["x"]},
            {"tags": []},
            {},
            {"tags": ["a"], "name": "ann"},
            {"tags": ["Äb"]},
            {"u": [1, "za", None]},
            {"u": [{"a": "a"}]},
        ]
    )
    assert ids(T.find({"tags": re.compile("a")})) == [1, 5]
    assert ids(T.find({"tags": {"eq": re.compile("^a$")}})) == [5]
    assert ids(T.find({"tags": {"regexp": re.compile("a")}})) == [1, 5]
    assert ids(T.find({"tags": {"regexp": "/ä/i"}})) == [6]
    assert ids(T.find({"tags": {"neq": re.compile("a")}})) == [2, 3, 4, 6, 7, 8]
    assert ids(T.find({"u": re.compile("a")})) == [7]  # strings only, not nested objects
    assert ids(T.find({"u": {"regexp": "/^z/"}})) == [7]
    assert ids(T.find({"or": [{"tags": re.compile("x")}, {"name": re.compile("n")}]})) == [2, 5]
    assert T.count({"tags": {"regexp": "/b/"}}) == 2
    for where in ({"n": {"regexp": "/1/"}}, {"n": re.compile("1")}):
        with pytest.raises(FilterError, match="a regular expression only matches string"):
            T.find(where)
