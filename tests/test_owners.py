"""Owners (DESIGN §3, §11): DataSource, App, ModelBuilder; define/attach/delete/disconnect."""

from __future__ import annotations

import gc
import warnings
import weakref

import pytest

from nbregistry import (
    App,
    DataSource,
    ModelBuilder,
    ModelNotFoundError,
    ModelRedefinedWarning,
    ModelRegistry,
)

USER = {"name": "string", "age": {"type": "number", "required": True}}


def test_owner_attributes(reg: ModelRegistry) -> None:
    ds = DataSource("memory", name="crm", tenant="acme", registry=reg, flavour="x")
    assert (ds.name, ds.tenant, ds.owner_type) == ("crm", "acme", "dataSource")
    assert ds.connector.name == "memory" and ds.settings == {"flavour": "x"}
    assert ds.model_builder.models is ds.models
    app = App("web", tenant="acme", registry=reg)
    assert (app.name, app.owner_type) == ("web", "app")
    b = ModelBuilder(registry=reg)
    assert b.owner_type == "builder" and b.name.startswith("builder-")
    assert b.tenant == "global"


def test_automatic_names_are_unique_and_readable(reg: ModelRegistry) -> None:
    names = [DataSource("memory", registry=reg).name for _ in range(3)]
    assert names == ["memory-1", "memory-2", "memory-3"]
    assert App(registry=reg).name == "app-1"


def test_owner_names_are_validated_and_unique_per_tenant(reg: ModelRegistry) -> None:
    with pytest.raises(TypeError, match="3"):
        DataSource("memory", name=3, registry=reg)  # type: ignore[arg-type]
    for bad in ("", "a.b"):
        with pytest.raises(ValueError, match=repr(bad)):
            DataSource("memory", name=bad, registry=reg)
    keep = DataSource("memory", name="crm", tenant="acme", registry=reg)
    with pytest.raises(ValueError, match="'crm'"):
        DataSource("memory", name="crm", tenant="acme", registry=reg)
    DataSource("memory", name="crm", tenant="globex", registry=reg)
    keep.disconnect()  # frees the name
    DataSource("memory", name="crm", tenant="acme", registry=reg)


def test_owner_name_freed_when_owner_is_garbage(reg: ModelRegistry) -> None:
    DataSource("memory", name="tmp", registry=reg)
    gc.collect()
    DataSource("memory", name="tmp", registry=reg)


def test_unknown_connector(reg: ModelRegistry) -> None:
    with pytest.raises(ValueError, match=r"'postgres'.*memory"):
        DataSource("postgres", registry=reg)


def test_fixed_attributes(reg: ModelRegistry) -> None:
    ds = DataSource("memory", name="crm", registry=reg)
    with pytest.raises(AttributeError):
        ds.name = "other"  # type: ignore[misc]
    with pytest.raises(AttributeError):
        ds.tenant = "acme"  # type: ignore[misc]


def test_identical_redefine_returns_the_same_class_without_warning(reg: ModelRegistry) -> None:
    ds = DataSource("memory", registry=reg)
    user = ds.define("User", USER)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        again = ds.define("User", {"age": {"type": "number", "required": True}, "name": str})
        assert ds.define("User", USER, {}) is user
        assert ds.define("User", USER, None) is user
    assert again is user
    assert reg.stats().registrations == 1


def test_changed_redefine_replaces_and_warns(reg: ModelRegistry) -> None:
    ds = DataSource("memory", registry=reg)
    first = ds.define("User", USER)
    ds.define("Other", {"x": "string"})
    ref = weakref.ref(first)
    with pytest.warns(ModelRedefinedWarning, match="'User'"):
        second = ds.define("User", {"email": "string"})
    assert second is not first and ds.models.User is second
    assert list(ds.models) == ["User", "Other"]  # keeps its place
    assert reg.find_model_by_name("User") is second
    with pytest.warns(ModelRedefinedWarning):
        third = ds.define("User", {"email": "string"}, {"strict": True})
    assert third is not second
    del first
    gc.collect()
    assert ref() is None


def test_two_datasources_with_identical_settings_stay_separate(reg: ModelRegistry) -> None:
    a = DataSource("memory", registry=reg, host="db", port=1)
    b = DataSource("memory", registry=reg, host="db", port=1)
    ua = a.define("User", USER)
    ub = b.define("User", {"other": "string"})
    assert a.models.User is ua and b.models.User is ub and ua is not ub
    assert ua.data_source is a and ub.data_source is b


def test_attach_moves_ownership(reg: ModelRegistry) -> None:
    b = ModelBuilder(registry=reg)
    note = b.define("Note", {"text": "string"})
    assert note.data_source is None and "Note" in b.models
    ds = DataSource("memory", registry=reg)
    assert ds.attach(note) is note
    assert note.data_source is ds and "Note" in ds.models and "Note" not in b.models
    assert reg.stats().models == 1


def test_attach_rejects_bad_input(reg: ModelRegistry) -> None:
    ds = DataSource("memory", tenant="acme", registry=reg)
    with pytest.raises(TypeError):
        ds.attach(dict)  # type: ignore[arg-type]
    other = DataSource("memory", tenant="globex", registry=reg).define("X", {"a": "string"})
    with pytest.raises(ValueError, match="globex"):
        ds.attach(other)
    foreign = DataSource("memory", registry=ModelRegistry()).define("Y", {"a": "string"})
    with pytest.raises(ValueError, match="another ModelRegistry"):
        ds.attach(foreign)
    anon = ds.model_builder.resolve_type({"s": "string"})
    with pytest.raises(ValueError, match="anonymous"):
        ds.attach(anon)
    assert len(ds.models) == 0


def test_app_takes_ownership_and_keeps_data_source(reg: ModelRegistry) -> None:
    ds = DataSource("memory", name="crm", registry=reg)
    user = ds.define("User", USER)
    app = App("web", registry=reg)
    assert app.model(user) is user
    assert user.app is app and user.data_source is ds
    assert "User" not in ds.models and app.models.User is user
    assert reg.models_for_owner(app) == [user] and reg.models_for_owner(ds) == []
    assert reg.find_model_by_name("web.User") is user
    assert reg.find_model_by_name("crm.User") is None


def test_delete_model(reg: ModelRegistry) -> None:
    ds = DataSource("memory", registry=reg)
    ds.define("User", USER)
    ds.delete_model("User")
    assert reg.find_model_by_name("User") is None
    with pytest.raises(ModelNotFoundError, match="'User'"):
        ds.delete_model("User")
    with pytest.raises(LookupError):
        ds.delete_model("Nope")


def test_disconnect_removes_everything_and_is_idempotent(reg: ModelRegistry) -> None:
    ds = DataSource("memory", name="crm", tenant="acme", registry=reg)
    ds.define("User", {"name": "string", "address": {"street": "string"}})
    ds.define("Order", {"total": "number", "ship": {"street": "string"}})
    assert reg.stats().models == 3  # two named + one shared anonymous
    assert ds.disconnect() == 2
    assert ds.disconnect() == 0
    assert reg.stats().models == 0 and reg.tenants() == []
    assert reg.owner_by_name("crm", tenant="acme") is None
    # still usable afterwards
    again = ds.define("User", {"name": "string"})
    assert ds.models.User is again and reg.owner_by_name("crm", tenant="acme") is ds


def test_standalone_builder_is_an_owner(reg: ModelRegistry) -> None:
    b = ModelBuilder(tenant="acme", registry=reg, name="shapes")
    m = b.define("Shape", {"sides": "integer"})
    assert b.models.Shape is m and m.data_source is None
    assert reg.models_for_owner(b) == [m]
    assert reg.find_model_by_name("shapes.Shape", tenant="acme") is m


def test_resolve_type_variants(reg: ModelRegistry) -> None:
    b = ModelBuilder(registry=reg)
    assert b.resolve_type("String") == "string"
    assert b.resolve_type(int) == "integer"
    assert b.resolve_type(["string"]) == ["string"]
    anon = b.resolve_type({"street": "string"})
    assert anon.anonymous and b.resolve_type({"street": str}) is anon
    assert b.resolve_type([{"street": "string"}]) == [anon]
    named = b.define("Named", {"a": "string"})
    assert b.resolve_type(named) is named


def test_strict_embedded_models_are_not_reused_for_loose(reg: ModelRegistry) -> None:
    loose = ModelBuilder(registry=reg).resolve_type({"s": "string"})
    strict_b = ModelBuilder(registry=reg, strict_embedded_models=True)
    strict = strict_b.resolve_type({"s": "string"})
    assert strict is not loose and strict.definition.strict and not loose.definition.strict
    assert strict_b.resolve_type({"s": "string"}) is strict
    with pytest.raises(TypeError):
        ModelBuilder(registry=reg, strict_embedded_models="yes")  # type: ignore[arg-type]


def test_owner_repr_and_html(reg: ModelRegistry) -> None:
    ds = DataSource("memory", name="crm", tenant="acme", registry=reg)
    ds.define("User", USER)
    assert repr(ds) == "<DataSource 'crm' tenant='acme': 1 models>"
    assert "User" in ds._repr_html_() and "crm" in ds._repr_html_()
