"""Models (DESIGN §4, §11): specs, definitions, id injection, validation, instances."""

from __future__ import annotations

import datetime as dt

import pytest

from nbregistry import (
    DefinitionError,
    Model,
    ModelBuilder,
    ModelRegistry,
    PropertyDefinition,
    ValidationError,
)


@pytest.fixture
def b(reg: ModelRegistry) -> ModelBuilder:
    return ModelBuilder(registry=reg)


def test_class_attributes(b: ModelBuilder) -> None:
    m = b.define("User", {"name": "string"})
    assert issubclass(m, Model)
    assert m.model_name == "User" and m.__name__ == "User"
    assert m.definition.name == "User"
    assert m.data_source is None and m.app is None
    assert m.tenant == "global" and m.anonymous is False
    assert isinstance(m.definition.properties["name"], PropertyDefinition)
    with pytest.raises(TypeError):
        m.definition.properties["x"] = None  # type: ignore[index]


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("string", PropertyDefinition("p", "string")),
        (float, PropertyDefinition("p", "number")),
        (int, PropertyDefinition("p", "integer")),
        (bool, PropertyDefinition("p", "boolean")),
        (dt.datetime, PropertyDefinition("p", "date")),
        (dict, PropertyDefinition("p", "object")),
        (list, PropertyDefinition("p", "array")),
        (bytes, PropertyDefinition("p", "buffer")),
        (object, PropertyDefinition("p", "any")),
        ({"type": "number", "required": True}, PropertyDefinition("p", "number", required=True)),
        ({"type": "string", "default": "x"}, PropertyDefinition("p", "string", default="x")),
        (["string"], PropertyDefinition("p", "array", items=PropertyDefinition("p", "string"))),
        ({"type": "number", "required": False}, PropertyDefinition("p", "number")),
    ],
)
def test_spellings_normalise_to_property_definitions(
    b: ModelBuilder, spec: object, expected: PropertyDefinition
) -> None:
    m = b.define("M", {"p": spec}, {"id_injection": False})
    assert m.definition.properties["p"] == expected


def test_nested_spec_and_model_subclass_types(b: ModelBuilder) -> None:
    address = b.define("Address", {"street": "string"})
    m = b.define("M", {"home": address, "work": {"street": "string"}, "many": [{"tag": "string"}]})
    props = m.definition.properties
    assert props["home"].type is address
    work = props["work"].type
    assert work.anonymous and work.model_name.startswith("AnonymousModel_")
    assert "id" not in work.definition.properties
    assert props["many"].type == "array" and props["many"].items.type.anonymous


def test_array_of_arrays_is_valid(b: ModelBuilder) -> None:
    m = b.define("M", {"grid": [[{"tag": "string"}]]})
    outer = m.definition.properties["grid"]
    assert outer.type == "array" and outer.items.type == "array"
    assert outer.items.items.type.anonymous
    inst = m(grid=[[{"tag": "a"}], []])
    assert inst.to_dict()["grid"] == [[{"tag": "a"}], []]


def test_id_injection_rules(b: ModelBuilder) -> None:
    m = b.define("A", {"name": "string"})
    assert next(iter(m.definition.properties)) == "id"
    assert m.definition.properties["id"] == PropertyDefinition("id", "integer", id=True)
    own = b.define("B", {"code": {"type": "string", "id": True}})
    assert "id" not in own.definition.properties and own.definition.id_property == "code"
    off = b.define("C", {"name": "string"}, {"id_injection": False})
    assert "id" not in off.definition.properties
    named = b.define("D", {"id": "string"})
    assert named.definition.properties["id"].id is True
    assert named.definition.properties["id"].type == "string"


@pytest.mark.parametrize(
    ("spec", "path"),
    [
        ({"a": "strng"}, "a"),
        ({"address": {"geo": {"lat": "nmber"}}}, "address.geo.lat"),
        ({"a": {"type": "string", "requird": True}}, "a"),
        ({"a": {"type": "string", "required": "yes"}}, "a"),
        ({"a": ["string", "number"]}, "a"),
        ({"a": []}, "a"),
        ({"a": 3}, "a"),
        ({"a": {"type": "number", "default": "x"}}, "a"),
        ({"a": {"b": {1: "string"}}}, "a.b.1"),
        ({"": "string"}, ""),
        ({"t": [{"x": "nope"}]}, "t[].x"),
    ],
)
def test_bad_definitions_name_the_property_path(b: ModelBuilder, spec: dict, path: str) -> None:
    with pytest.raises(DefinitionError) as info:
        b.define("M", spec)
    assert info.value.path == path
    assert b.registry.stats().models == 0


@pytest.mark.parametrize("name", ["", 3, None, "class", "_private", "__dunder__", "a-b", "1abc"])
def test_bad_model_names(b: ModelBuilder, name: object) -> None:
    with pytest.raises(DefinitionError) as info:
        b.define(name, {"a": "string"})  # type: ignore[arg-type]
    assert repr(name) in str(info.value)


def test_bad_settings(b: ModelBuilder) -> None:
    with pytest.raises(DefinitionError, match="settings"):
        b.define("M", {}, ["strict"])  # type: ignore[arg-type]
    with pytest.raises(DefinitionError, match="strict"):
        b.define("M", {}, {"strict": "yes"})
    with pytest.raises(DefinitionError, match="mapping"):
        b.define("M", ["a"])  # type: ignore[arg-type]


def test_unknown_type_suggests_a_close_match(b: ModelBuilder) -> None:
    with pytest.raises(DefinitionError, match="Did you mean 'string'"):
        b.define("M", {"a": "strng"})


def test_validation_collects_every_failure(b: ModelBuilder) -> None:
    m = b.define(
        "User",
        {"name": {"type": "string", "required": True}, "age": "number", "ok": "boolean"},
    )
    with pytest.raises(ValidationError) as info:
        m(age="old", ok=1)
    paths = [p for p, _ in info.value.errors]
    assert paths == ["name", "age", "ok"]
    assert isinstance(info.value, ValueError)
    assert "age" in str(info.value) and "'old'" in str(info.value)


def test_validation_rules_do_not_coerce(b: ModelBuilder) -> None:
    m = b.define(
        "T",
        {"n": "number", "i": "integer", "b": "boolean", "d": "date", "s": "string", "y": bytes},
    )
    assert m(n=3).n == 3
    assert m(n=2.5, i=2, b=False, s="x", y=b"z").to_dict()["y"] == b"z"
    for bad in ({"n": True}, {"n": "1"}, {"i": 1.0}, {"i": True}, {"b": 0}, {"s": 1}, {"d": "x"}):
        with pytest.raises(ValidationError):
            m(**bad)
    utc = dt.UTC
    assert m(d="2024-01-02T03:04:05").d == dt.datetime(2024, 1, 2, 3, 4, 5, tzinfo=utc)
    assert m(d=dt.date(2024, 1, 2)).d == dt.datetime(2024, 1, 2, tzinfo=utc)
    assert m(n=None).n is None


def test_embedded_validation_paths(b: ModelBuilder) -> None:
    m = b.define("U", {"address": {"geo": {"lat": "number"}}, "tags": ["string"]})
    with pytest.raises(ValidationError) as info:
        m(address={"geo": {"lat": "north"}}, tags=["a", 2])
    assert [p for p, _ in info.value.errors] == ["address.geo.lat", "tags[1]"]
    ok = m(address={"geo": {"lat": 1.5}})
    assert ok.address.geo.lat == 1.5
    assert ok.to_dict() == {"id": None, "address": {"geo": {"lat": 1.5}}, "tags": None}


def test_strict_rejects_unknown_and_default_keeps_them(b: ModelBuilder) -> None:
    loose = b.define("Loose", {"a": "string"})
    assert loose(a="x", extra=1).to_dict()["extra"] == 1
    strict = b.define("Strict", {"a": "string"}, {"strict": True})
    with pytest.raises(ValidationError, match="extra"):
        strict(a="x", extra=1)


def test_defaults_are_included_and_copied(b: ModelBuilder) -> None:
    m = b.define(
        "M", {"tags": {"type": ["string"], "default": []}, "n": {"type": "integer", "default": 1}}
    )
    x, y = m(), m()
    assert x.to_dict() == {"id": None, "tags": [], "n": 1}
    x.tags.append("a")
    assert y.tags == []


def test_equality_and_repr(b: ModelBuilder) -> None:
    m = b.define("User", {"name": "string"})
    other = b.define("Other", {"name": "string"})
    assert m(name="a") == m(name="a")
    assert m(name="a") != m(name="b")
    assert m(name="a") != other(name="a")
    assert repr(m(name="Ann")) == "User(id=None, name='Ann')"


def test_shared_property_definitions_keep_default_types_apart(b: ModelBuilder) -> None:
    one = b.define("One", {"x": {"type": "any", "default": 1}})
    true = b.define("TrueDefault", {"x": {"type": "any", "default": True}})
    assert one.definition.properties["x"].default is not True
    assert true.definition.properties["x"].default is True
    assert one().x == 1 and type(one().x) is int and true().x is True


def test_check_update_is_the_one_update_all_check_of_every_connector() -> None:
    import pytest

    from nbregistry import DataSource, ModelRegistry, ValidationError
    from nbregistry.core.model import check_update

    reg = ModelRegistry()
    ds = DataSource("memory", name="crm", registry=reg)
    loose = ds.define("Loose", {"age": "integer", "name": "string"})
    strict = ds.define("Strict", {"age": "integer"}, {"strict": True})
    known, unknown = check_update(loose, {"nick": "x", "age": 3}, "id")
    assert known == {"age": 3} and unknown == {"nick": "x"}
    with pytest.raises(TypeError, match="must be a dict"):
        check_update(loose, [("age", 1)], "id")
    with pytest.raises(ValidationError, match="ids cannot be changed"):
        check_update(loose, {"id": 2}, "id")
    with pytest.raises(ValidationError) as info:
        check_update(strict, {"age": "old", "nick": "x"}, "id")
    assert "2 invalid properties: age:" in str(info.value) and "nick: unknown" in str(info.value)
    # The memory connector keeps the caller's key order for the keys it adds to a row.
    row = loose.create(age=1)
    loose.update_all(None, {"zeta": 1, "age": 2, "alpha": 3})
    assert list(loose.find_by_id(row.id).to_dict())[-2:] == ["zeta", "alpha"]
