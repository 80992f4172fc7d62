"""The memory connector: data access, LoopBack filters, isolation, release, DataFrames."""

from __future__ import annotations

import datetime as dt
import gc
import re
import threading
import tracemalloc
import weakref

import pytest

from nbregistry import (
    App,
    DataSource,
    FilterError,
    ModelBuilder,
    ModelNotFoundError,
    ModelRedefinedWarning,
    ModelRegistry,
    ValidationError,
)


@pytest.fixture
def reg() -> ModelRegistry:
    return ModelRegistry()


@pytest.fixture
def ds(reg: ModelRegistry) -> DataSource:
    return DataSource("memory", name="crm", registry=reg)


PEOPLE = [
    {"name": "Ann", "age": 31, "city": "Oslo", "score": 1.5, "active": True},
    {"name": "Bob", "age": 25, "city": "Bergen", "score": 2.0, "active": False},
    {"name": "cara", "age": 40, "city": None, "score": None, "active": True},
    {"name": "Dan", "age": None, "city": "Oslo", "score": 3.25, "active": None},
    {"name": "Eve_1", "age": 25, "city": "oslo", "score": 0.0, "active": False},
]


@pytest.fixture
def Person(ds: DataSource):
    cls = ds.define(
        "Person",
        {
            "name": {"type": "string", "required": True},
            "age": "integer",
            "city": "string",
            "score": "number",
            "active": "boolean",
        },
    )
    cls.create(PEOPLE)
    return cls


def ids(found: list) -> list[int]:
    return [p.id for p in found]


# --- create, ids, copies ------------------------------------------------------------


def test_create_forms_and_generated_ids(ds: DataSource) -> None:
    User = ds.define("User", {"name": "string"})
    Other = ds.define("Other", {"name": "string"})
    a = User.create(name="Ann")
    b = User.create({"name": "Bob"})
    c = User.create(User(name="Cy"))
    assert (a.id, b.id, c.id) == (1, 2, 3)
    assert isinstance(a, User) and a.name == "Ann"
    assert Other.create(name="x").id == 1  # ids count per model
    many = User.create([{"name": "D"}, {"name": "E"}])
    assert ids(many) == [4, 5]
    assert User.count() == 5


def test_given_ids_and_generation_continues_after_max(ds: DataSource) -> None:
    User = ds.define("User", {"name": "string"})
    assert User.create(id=10, name="a").id == 10
    assert User.create(name="b").id == 11
    assert User.create(id=3, name="c").id == 3
    assert User.create(name="d").id == 12


def test_duplicate_id_is_an_error_and_writes_nothing(ds: DataSource) -> None:
    User = ds.define("User", {"name": "string"})
    User.create(id=1, name="a")
    with pytest.raises(ValidationError, match=r"duplicate id 1"):
        User.create(id=1, name="b")
    with pytest.raises(ValidationError, match=r"\[1\]\.id: duplicate id 5: another row"):
        User.create([{"id": 5, "name": "x"}, {"id": 5, "name": "y"}])
    with pytest.raises(ValidationError, match=r"\[2\]\.id: duplicate id 1: an existing row"):
        User.create([{"name": "p"}, {"name": "q"}, {"id": 1, "name": "r"}])
    assert [u.to_dict() for u in User.find()] == [{"id": 1, "name": "a"}]
    assert User.create(name="next").id == 2  # failed batches consumed no ids


def test_bulk_create_is_all_or_nothing_and_lists_every_failure(ds: DataSource) -> None:
    User = ds.define("User", {"name": "string", "age": {"type": "integer", "required": True}})
    rows = [{"name": f"u{i}", "age": i} for i in range(100)]
    rows[57]["age"] = "old"
    rows[90] = {"name": 7}
    with pytest.raises(ValidationError) as info:
        User.create(rows)
    paths = [p for p, _ in info.value.errors]
    assert paths == ["[57].age", "[90].name", "[90].age"]
    assert User.count() == 0
    assert User.create(rows[:3])[0].id == 1


def test_create_rejects_bad_row_shapes(ds: DataSource) -> None:
    User = ds.define("User", {"name": "string"})
    with pytest.raises(TypeError, match=r"create\(\[\.\.\.\]\)\[1\].*got 42"):
        User.create([{"name": "a"}, 42])
    with pytest.raises(TypeError, match="no keyword arguments"):
        User.create([{"name": "a"}], name="b")
    assert User.count() == 0


def test_strict_model_rejects_unknown_properties_everywhere(ds: DataSource) -> None:
    Tag = ds.define("Tag", {"label": "string"}, {"strict": True})
    with pytest.raises(ValidationError, match="color: unknown property"):
        Tag.create(label="a", color="red")
    Tag.create(label="a")
    with pytest.raises(FilterError, match=r"where\.color: unknown property 'color'"):
        Tag.find({"color": "red"})
    with pytest.raises(FilterError, match=r"order: unknown property 'color'"):
        Tag.find(order="color")
    with pytest.raises(FilterError, match=r"fields\[0\]: unknown property 'color'"):
        Tag.find(fields=["color"])
    with pytest.raises(ValidationError, match="color: unknown property"):
        Tag.update_all(None, {"color": "red"})


def test_non_strict_model_keeps_extra_keys_and_filters_on_them(ds: DataSource) -> None:
    Note = ds.define("Note", {"text": "string"})
    Note.create(text="a", mood="happy")
    Note.create(text="b")
    assert ids(Note.find({"mood": "happy"})) == [1]
    assert ids(Note.find({"mood": None})) == [2]
    df = Note.to_frame()
    assert list(df.columns) == ["text", "mood"]


def test_fetched_instances_are_copies(ds: DataSource) -> None:
    User = ds.define("User", {"name": "string", "tags": ["string"], "meta": "object"})
    data = {"name": "Ann", "tags": ["a"], "meta": {"k": [1]}}
    created = User.create(data)
    data["tags"].append("mutated input")
    data["meta"]["k"].append(2)
    created.tags.append("mutated result")
    u = User.find_by_id(1)
    assert u.tags == ["a"] and u.meta == {"k": [1]}
    u.name = "Zed"
    u.tags.append("b")
    assert User.find_by_id(1).name == "Ann"
    assert User.find_by_id(1).tags == ["a"]
    assert u.save() is u
    assert User.find_by_id(1).to_dict() == {
        "id": 1,
        "name": "Zed",
        "tags": ["a", "b"],
        "meta": {"k": [1]},
    }
    assert User.find()[0] is not User.find()[0]


def test_save_inserts_new_instances_and_validates(ds: DataSource) -> None:
    User = ds.define("User", {"name": "string", "age": "integer"})
    u = User(name="Ann")
    assert u.id is None
    u.save()
    assert u.id == 1 and User.count() == 1
    u.age = "old"
    with pytest.raises(ValidationError, match="age: expected an int"):
        u.save()
    assert User.find_by_id(1).age is None
    v = User(id=7, name="Seven")
    v.save()
    assert User.find_by_id(7).name == "Seven"
    assert User.create(name="next").id == 8


def test_delete_instance(ds: DataSource) -> None:
    User = ds.define("User", {"name": "string"})
    a, _ = User.create([{"name": "a"}, {"name": "b"}])
    assert a.delete() is True
    assert a.delete() is False
    assert ids(User.find()) == [2]
    assert User(name="unsaved").delete() is False


def test_update_all_and_destroy_all_return_counts(Person) -> None:
    assert Person.update_all({"city": "Oslo"}, {"score": 9}) == 2
    assert sorted(p.name for p in Person.find({"score": 9})) == ["Ann", "Dan"]
    assert Person.update_all({"name": "nobody"}, {"score": 1}) == 0
    assert Person.update_all(None, {"active": True}) == 5
    assert Person.count({"active": True}) == 5
    assert Person.destroy_all({"age": 25}) == 2
    assert Person.count() == 3
    assert Person.destroy_all() == 3
    assert Person.count() == 0
    assert Person.destroy_all() == 0


def test_update_all_is_all_or_nothing(Person) -> None:
    before = [p.to_dict() for p in Person.find()]
    with pytest.raises(ValidationError, match="age: expected an int"):
        Person.update_all(None, {"age": "x", "score": 1})
    with pytest.raises(ValidationError, match="name: is required"):
        Person.update_all(None, {"name": None})
    with pytest.raises(ValidationError, match="ids cannot be changed"):
        Person.update_all({"name": "Ann"}, {"id": 99})
    with pytest.raises(TypeError, match="data must be a dict"):
        Person.update_all(None, [("age", 1)])
    assert [p.to_dict() for p in Person.find()] == before


def test_find_one_and_find_by_id_missing_give_none(Person) -> None:
    assert Person.find_one({"name": "nobody"}) is None
    assert Person.find_one({"city": "Oslo"}, order="name DESC").name == "Dan"
    assert Person.find_by_id(999) is None
    assert Person.find_by_id("1") is None
    assert Person.find_by_id(1).name == "Ann"
    with pytest.raises(FilterError, match="hashable"):
        Person.find_by_id([1])


# --- where ---------------------------------------------------------------------------

OPERATOR_CASES = [
    ({"city": "Oslo"}, [1, 4]),
    ({"city": None}, [3]),
    ({"active": True}, [1, 3]),
    ({"city": {"eq": "Oslo"}}, [1, 4]),
    ({"city": {"neq": "Oslo"}}, [2, 3, 5]),
    ({"age": {"gt": 30}}, [1, 3]),
    ({"age": {"gte": 31}}, [1, 3]),
    ({"age": {"lt": 31}}, [2, 5]),
    ({"age": {"lte": 31}}, [1, 2, 5]),
    ({"age": {"gt": 100}}, []),
    ({"score": {"gt": 1.9, "lt": 3}}, [2]),
    ({"age": {"inq": [25, 40]}}, [2, 3, 5]),
    ({"age": {"inq": []}}, []),
    ({"age": {"nin": [25, 40]}}, [1, 4]),
    ({"active": {"inq": [False]}}, [2, 5]),
    ({"age": {"between": [25, 31]}}, [1, 2, 5]),
    ({"age": {"between": [26, 30]}}, []),
    ({"name": {"like": "%a%"}}, [3, 4]),  # case-sensitive
    ({"name": {"like": "A%"}}, [1]),
    ({"name": {"like": "an"}}, []),
    ({"name": {"like": "_ob"}}, [2]),
    ({"name": {"like": "Eve_1"}}, [5]),
    ({"name": {"like": "Eve%1"}}, [5]),
    ({"name": {"nlike": "%a%"}}, [1, 2, 5]),
    ({"city": {"nlike": "O%"}}, [2, 3, 5]),
    ({"name": {"ilike": "c%"}}, [3]),
    ({"city": {"ilike": "OSLO"}}, [1, 4, 5]),
    ({"name": {"like": re.compile("^[A-C]")}}, [1, 2]),
    ({"name": {"ilike": re.compile("an")}}, [1, 4]),
    ({"name": re.compile("e")}, [5]),
    ({"city": "Oslo", "age": {"gt": 30}}, [1]),
    ({"and": [{"city": "Oslo"}, {"age": None}]}, [4]),
    ({"or": [{"name": "Bob"}, {"age": {"gte": 40}}]}, [2, 3]),
    ({"or": [{"and": [{"city": "Oslo"}, {"age": 31}]}, {"name": "Eve_1"}]}, [1, 5]),
    ({"id": 3}, [3]),
    ({"id": {"eq": 4}}, [4]),
    ({"id": 42}, []),
    ({"id": {"inq": [1, 5]}}, [1, 5]),
    ({}, [1, 2, 3, 4, 5]),
]


@pytest.mark.parametrize(("where", "expected"), OPERATOR_CASES)
def test_where_operators(Person, where, expected) -> None:
    assert ids(Person.find(where)) == expected
    assert Person.count(where) == len(expected)


def test_number_filters_do_not_match_booleans_and_vice_versa(ds: DataSource) -> None:
    Thing = ds.define("Thing", {"v": "any"})
    Thing.create([{"v": 1}, {"v": True}, {"v": "1"}, {"v": 1.0}])
    assert ids(Thing.find({"v": 1})) == [1, 4]
    assert ids(Thing.find({"v": True})) == [2]
    assert ids(Thing.find({"v": {"inq": [True]}})) == [2]
    assert ids(Thing.find({"v": {"inq": [1]}})) == [1, 4]
    # a bool is not a number in comparisons either (as on SQLite and PostgreSQL)
    assert ids(Thing.find({"v": {"gt": 0}})) == [1, 4]
    assert ids(Thing.find({"v": {"gt": False}})) == [2]


def test_date_filters_accept_iso_strings(ds: DataSource) -> None:
    Event = ds.define("Event", {"at": "date"})
    Event.create(
        [{"at": "2024-01-01"}, {"at": dt.datetime(2024, 6, 1)}, {"at": dt.date(2025, 1, 1)}]
    )
    assert ids(Event.find({"at": {"gte": "2024-03-01"}})) == [2, 3]
    assert ids(Event.find({"at": {"between": [dt.date(2024, 1, 1), "2024-06-01"]}})) == [1, 2]
    assert ids(Event.find({"at": "2024-06-01T00:00:00"})) == [2]
    with pytest.raises(FilterError, match=r"where\.at\.gt: 'soon' cannot be compared"):
        Event.find({"at": {"gt": "soon"}})


@pytest.mark.parametrize(
    ("where", "message"),
    [
        ({"age": {"foo": 1}}, r"where\.age: unknown operator 'foo'; known operators: eq, neq"),
        ({"age": {"inq": 25}}, r"where\.age\.inq: expects a list of values, got 25"),
        ({"age": {"nin": "25"}}, r"where\.age\.nin: expects a list"),
        ({"age": {"between": [1]}}, r"where\.age\.between: expects exactly two values"),
        ({"age": {"between": [1, 2, 3]}}, r"where\.age\.between: expects exactly two"),
        ({"age": {"between": 5}}, r"where\.age\.between: expects exactly two"),
        ({"age": {"gt": "x"}}, r"where\.age\.gt: 'x' \(str\) cannot be compared with integer"),
        ({"age": {"gt": None}}, r"where\.age\.gt: cannot compare with None"),
        ({"age": {"inq": [1, "a"]}}, r"where\.age\.inq\[1\]: 'a' \(str\) cannot be compared"),
        ({"name": 5}, r"where\.name: 5 \(int\) cannot be compared with string"),
        ({"name": {"like": 5}}, r"where\.name\.like: expects a SQL pattern"),
        ({"age": {}}, r"where\.age: empty operator dict"),
        ({"or": {"age": 1}}, r"where\.or expects a non-empty list"),
        ({"and": []}, r"where\.and expects a non-empty list"),
        ({"or": [{"age": {"gt": "x"}}]}, r"where\.or\[0\]\.age\.gt:"),
        ({"or": [5]}, r"where\.or\[0\] must be a dict"),
        ({"gt": 5}, r"where: operator 'gt' must be nested under a property"),
        ({"a..b": 1}, r"where\.a\.\.b: 'a\.\.b' is not a property path"),
        ({1: 2}, r"where: keys must be property names"),
    ],
)
def test_where_errors_name_the_filter_path(Person, where, message) -> None:
    with pytest.raises(FilterError, match=message):
        Person.find(where)
    with pytest.raises(ValueError):  # FilterError is a ValueError
        Person.count(where)


def test_where_must_be_a_dict(Person) -> None:
    with pytest.raises(FilterError, match=r"where must be a dict.*got \['name'\]"):
        Person.find(["name"])


def test_dotted_paths_into_embedded_models_objects_and_lists(ds: DataSource) -> None:
    Shop = ds.define(
        "Shop",
        {
            "name": "string",
            "address": {"city": "string", "geo": {"lat": "number"}},
            "extra": "object",
            "tags": ["string"],
        },
    )
    Shop.create(
        [
            {"name": "a", "address": {"city": "Oslo", "geo": {"lat": 59.9}}, "tags": ["x"]},
            {"name": "b", "address": {"city": "Rome", "geo": {"lat": 41.9}}, "extra": {"k": 1}},
            {"name": "c"},
        ]
    )
    assert ids(Shop.find({"address.city": "Rome"})) == [2]
    assert ids(Shop.find({"address.geo.lat": {"gt": 50}})) == [1]
    assert ids(Shop.find({"address.city": None})) == [3]
    assert ids(Shop.find({"extra.k": 1})) == [2]
    assert ids(Shop.find({"tags.0": "x"})) == [1]
    assert [s.name for s in Shop.find(order="address.geo.lat")] == ["b", "a", "c"]
    with pytest.raises(FilterError, match=r"where\.address\.geo\.lat\.gt: 'north'"):
        Shop.find({"address.geo.lat": {"gt": "north"}})


def test_dotted_path_into_strict_embedded_model_is_checked(ds: DataSource) -> None:
    builder = ds.model_builder
    assert builder is not None
    strict_ds = DataSource("memory", registry=ds.registry, strict_embedded_models=True)
    Shop = strict_ds.define("Shop", {"address": {"city": "string"}})
    with pytest.raises(FilterError, match=r"unknown property 'zip'.*embedded model"):
        Shop.find({"address.zip": "1"})


# --- order, limit, skip, fields -----------------------------------------------------------


def test_order_with_ties_and_missing_values(Person) -> None:
    # ties keep creation order; missing values come last in both directions
    assert ids(Person.find(order="age")) == [2, 5, 1, 3, 4]
    assert ids(Person.find(order="age ASC")) == [2, 5, 1, 3, 4]
    assert ids(Person.find(order="age DESC")) == [3, 1, 2, 5, 4]
    assert ids(Person.find(order="age desc")) == [3, 1, 2, 5, 4]
    assert ids(Person.find(order=["age DESC", "name"])) == [3, 1, 2, 5, 4]
    assert ids(Person.find(order=["age", "name DESC"])) == [5, 2, 1, 3, 4]
    assert ids(Person.find(order=["active DESC", "score DESC"])) == [1, 3, 2, 5, 4]
    assert ids(Person.find({"city": {"neq": None}}, order="city")) == [2, 1, 4, 5]


@pytest.mark.parametrize(
    ("order", "message"),
    [
        ("age UP", r"order: 'age UP' is not 'prop', 'prop ASC' or 'prop DESC'"),
        (["age", 3], r"order\[1\]: 3 is not"),
        (5, r"order must be 'prop'"),
        ("", r"order: '' is not"),
    ],
)
def test_order_errors(Person, order, message) -> None:
    with pytest.raises(FilterError, match=message):
        Person.find(order=order)


def test_order_of_incomparable_values_is_a_clear_error(ds: DataSource) -> None:
    Thing = ds.define("Thing", {"v": "any"})
    Thing.create([{"v": 1}, {"v": "a"}])
    with pytest.raises(FilterError, match=r"cannot order by 'v'.*int, str"):
        Thing.find(order="v")


def test_limit_and_skip(Person) -> None:
    assert ids(Person.find(limit=2)) == [1, 2]
    assert ids(Person.find(skip=3)) == [4, 5]
    assert ids(Person.find(skip=1, limit=2)) == [2, 3]
    assert ids(Person.find(limit=0)) == []
    assert ids(Person.find(skip=10)) == []
    assert ids(Person.find({"city": "Oslo"}, limit=1)) == [1]
    assert ids(Person.find(order="age DESC", skip=1, limit=2)) == [1, 2]
    assert ids(Person.find({"id": 2}, skip=1)) == []
    for bad in (-1, 1.5, True, "2"):
        with pytest.raises(FilterError, match=r"limit must be a non-negative int"):
            Person.find(limit=bad)
        with pytest.raises(FilterError, match=r"skip must be a non-negative int"):
            Person.find(skip=bad)


def test_fields(Person) -> None:
    got = Person.find({"id": 1}, fields=["name", "age"])[0]
    assert got.to_dict() == {"name": "Ann", "age": 31}
    assert Person.find_one(fields={"name": True, "id": True}).to_dict() == {"id": 1, "name": "Ann"}
    assert Person.find_one(fields={"city": False, "score": False}).to_dict() == {
        "id": 1,
        "name": "Ann",
        "age": 31,
        "active": True,
    }
    assert Person.find_one(fields=[]).to_dict() == Person.find_by_id(1).to_dict()
    for bad, message in (
        (5, r"fields must be a list"),
        ([""], r"fields\[0\]: field names must be non-empty str"),
        ({"name": 1}, r"fields\.name: expects True or False"),
    ):
        with pytest.raises(FilterError, match=message):
            Person.find(fields=bad)


def test_saving_a_partial_instance_keeps_the_other_fields(Person) -> None:
    p = Person.find_one({"name": "Ann"}, fields=["id", "age"])
    p.age = 32
    p.save()
    assert Person.find_by_id(1).to_dict() == {**PEOPLE[0], "id": 1, "age": 32}


# --- ownership, lifecycle, isolation ------------------------------------------------------


def test_tenants_and_datasources_never_see_each_others_rows(reg: ModelRegistry) -> None:
    acme = DataSource("memory", name="crm", tenant="acme", registry=reg)
    globex = DataSource("memory", name="crm", tenant="globex", registry=reg)
    twin = DataSource("memory", name="crm2", tenant="acme", registry=reg)
    spec = {"name": "string"}
    A, G, T = (d.define("User", spec) for d in (acme, globex, twin))
    A.create(name="acme-user")
    G.create([{"name": "g1"}, {"name": "g2"}])
    assert [u.name for u in A.find()] == ["acme-user"]
    assert [u.name for u in G.find()] == ["g1", "g2"]
    assert T.count() == 0
    assert A.find_by_id(2) is None


def test_models_without_a_datasource_get_a_clear_error(ds: DataSource, reg: ModelRegistry) -> None:
    Loose = ModelBuilder(registry=reg).define("Loose", {"name": "string"})
    with pytest.raises(TypeError, match=r"'Loose' is not attached to a DataSource.*ds\.attach"):
        Loose.create(name="x")
    with pytest.raises(TypeError, match="not attached to a DataSource"):
        Loose(name="x").save()
    Shop = ds.define("Shop", {"address": {"city": "string"}})
    Anon = Shop.definition.properties["address"].type
    with pytest.raises(TypeError, match="anonymous embedded model"):
        Anon.find()
    ds.attach(Loose)
    assert Loose.create(name="x").id == 1


def test_disconnect_releases_rows(reg: ModelRegistry) -> None:
    ds = DataSource("memory", registry=reg)
    User = ds.define("User", {"blob": "any"})

    class Payload:
        def __deepcopy__(self, memo: dict) -> Payload:
            return self  # immutable: the store keeps this very object

    payload = Payload()
    ref = weakref.ref(payload)
    User.create(blob=payload)
    del payload
    gc.collect()
    assert ref() is not None  # the store holds it
    assert ds.disconnect() == 1
    gc.collect()
    assert ref() is None
    with pytest.raises(ModelNotFoundError, match="no longer registered"):
        User.count()
    User2 = ds.define("User", {"blob": "any"})
    assert User2.count() == 0
    assert User2.create(blob=1).id == 1


def test_cleanup_tenant_and_clear_release_rows(reg: ModelRegistry) -> None:
    refs = []
    for code in ("acme", "globex"):
        ds = DataSource("memory", tenant=code, registry=reg)
        User = ds.define("User", {"blob": "any"})
        obj = type("Obj", (), {"__deepcopy__": lambda self, memo: self})()
        refs.append(weakref.ref(obj))
        User.create(blob=obj)
        del obj
    gc.collect()
    assert all(r() is not None for r in refs)
    reg.cleanup_tenant("acme")
    gc.collect()
    assert refs[0]() is None and refs[1]() is not None
    reg.clear()
    gc.collect()
    assert refs[1]() is None


def test_released_rows_free_their_memory(reg: ModelRegistry) -> None:
    ds = DataSource("memory", registry=reg)
    User = ds.define("User", {"name": "string", "n": "integer"})
    gc.collect()
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        User.create([{"name": f"user number {i}", "n": i} for i in range(20_000)])
        gc.collect()
        full = tracemalloc.get_traced_memory()[0]
        ds.disconnect()
        gc.collect()
        after = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    grown = full - base
    assert grown > 2_000_000  # 20k rows are a few MB
    assert after - base < grown * 0.1


def test_delete_model_drops_its_rows(ds: DataSource) -> None:
    User = ds.define("User", {"name": "string"})
    User.create(name="a")
    ds.delete_model("User")
    assert "User" not in ds.connector.model_names()
    assert ds.define("User", {"name": "string"}).count() == 0


def test_redefinition_keeps_and_migrates_rows(ds: DataSource) -> None:
    User = ds.define("User", {"name": "string"})
    User.create([{"name": "a"}, {"name": "b"}])
    assert ds.define("User", {"name": "string"}) is User  # identical: same class
    with pytest.warns(ModelRedefinedWarning):
        User2 = ds.define("User", {"name": "string", "plan": {"type": "string", "default": "free"}})
    assert [u.to_dict() for u in User2.find()] == [
        {"id": 1, "name": "a", "plan": "free"},
        {"id": 2, "name": "b", "plan": "free"},
    ]
    assert User2.create(name="c").id == 3
    with pytest.raises(ModelNotFoundError, match=r"'User' of DataSource 'crm' is no longer"):
        User.find()


def test_redefinition_that_does_not_fit_the_rows(ds: DataSource) -> None:
    User = ds.define("User", {"name": "string"})
    User.create(name="a")
    with pytest.warns(ModelRedefinedWarning):
        User2 = ds.define("User", {"name": "integer"})
    with pytest.raises(ValidationError, match=r"\[1\]\.name: expected an int.*destroy_all"):
        User2.find()
    assert User2.destroy_all() == 1
    assert User2.create(name=5).id == 2


def test_app_takeover_keeps_rows(ds: DataSource, reg: ModelRegistry) -> None:
    User = ds.define("User", {"name": "string"})
    User.create(name="a")
    app = App("web", registry=reg)
    app.model(User)
    assert "User" not in ds.models and User.data_source is ds
    assert [u.name for u in User.find()] == ["a"]
    User.create(name="b")
    assert User.count() == 2


def test_concurrent_creates_get_unique_ids(ds: DataSource) -> None:
    User = ds.define("User", {"n": "integer"})

    def work(k: int) -> None:
        for i in range(200):
            User.create(n=k * 1000 + i)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert User.count() == 800
    assert sorted(ids(User.find())) == list(range(1, 801))


def test_string_ids_are_generated_as_strings(ds: DataSource) -> None:
    Key = ds.define("Key", {"code": {"type": "string", "id": True}, "v": "integer"})
    assert Key.create(v=1).code == "1"
    assert Key.create(code="abc", v=2).code == "abc"
    assert Key.find_by_id("abc").v == 2
    assert Key.to_frame().index.tolist() == ["1", "abc"]


def test_model_without_id_property(ds: DataSource) -> None:
    Log = ds.define("Log", {"msg": "string"}, {"id_injection": False})
    Log.create([{"msg": "a"}, {"msg": "b"}])
    assert [x.to_dict() for x in Log.find()] == [{"msg": "a"}, {"msg": "b"}]
    assert Log.destroy_all({"msg": "a"}) == 1
    with pytest.raises(TypeError, match="no id property"):
        Log.find_by_id(1)
    with pytest.raises(TypeError, match="no id property"):
        Log.find_one().delete()


# --- DataFrames ----------------------------------------------------------------------------


def test_to_frame_columns_index_and_dtypes(ds: DataSource) -> None:
    import pandas as pd

    Rec = ds.define(
        "Rec",
        {
            "name": "string",
            "n": "integer",
            "x": "number",
            "ok": "boolean",
            "flag": "boolean",
            "at": "date",
            "tags": ["string"],
            "address": {"city": "string"},
        },
    )
    Rec.create(
        [
            {
                "name": "a",
                "n": 1,
                "x": 1,
                "ok": True,
                "flag": True,
                "at": "2024-01-02",
                "tags": ["t"],
                "address": {"city": "Oslo"},
            },
            {"name": None, "n": None, "x": None, "ok": None, "flag": False, "at": None},
        ]
    )
    df = Rec.to_frame()
    assert list(df.columns) == ["name", "n", "x", "ok", "flag", "at", "tags", "address"]
    assert df.index.name == "id" and df.index.tolist() == [1, 2]
    assert df["n"].dtype == "Int64"
    assert df["x"].dtype == "float64"
    assert df["ok"].dtype == "boolean"
    assert df["flag"].dtype == bool
    assert str(df["at"].dtype) == "datetime64[ns, UTC]"
    assert df["at"].iloc[0] == pd.Timestamp("2024-01-02", tz="UTC") and pd.isna(df["at"].iloc[1])
    assert df["address"].iloc[0] == {"city": "Oslo"}
    assert df["tags"].iloc[0] == ["t"]
    df["tags"].iloc[0].append("mutated")
    assert Rec.find_by_id(1).tags == ["t"]
    sub = Rec.to_frame({"n": 1}, fields=["x", "name"])
    assert list(sub.columns) == ["x", "name"] and sub.index.tolist() == [1]
    ordered = Rec.to_frame(order="flag")
    assert ordered.index.tolist() == [2, 1]


def test_to_frame_of_no_rows_keeps_dtypes(ds: DataSource) -> None:
    Rec = ds.define("Rec", {"name": "string", "n": "integer", "x": "number", "at": "date"})
    df = Rec.to_frame()
    assert df.empty and list(df.columns) == ["name", "n", "x", "at"]
    assert df["n"].dtype == "Int64" and df["x"].dtype == "float64"
    assert str(df["at"].dtype) == "datetime64[ns, UTC]"
    assert df.index.name == "id"


def test_to_frame_matches_from_records(ds: DataSource) -> None:
    import pandas as pd

    Person = ds.define("Person", {"name": "string", "age": "integer", "score": "number"})
    rows = [{"name": f"p{i}", "age": i, "score": i / 2} for i in range(50)]
    Person.create(rows)
    df = Person.to_frame()
    expected = pd.DataFrame.from_records(rows, index=pd.Index(range(1, 51), name="id"))
    expected["age"] = expected["age"].astype("Int64")
    pd.testing.assert_frame_equal(df, expected)
