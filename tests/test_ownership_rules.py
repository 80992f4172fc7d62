"""Edge rules of owners and definitions: all-or-nothing attaching, hand-written subclasses,
owner-name lifetime, warnings at the caller, cross-tenant embedding, reserved names."""

from __future__ import annotations

import warnings

import pytest

from nbregistry import (
    App,
    DataSource,
    DefinitionError,
    Model,
    ModelBuilder,
    ModelRedefinedWarning,
    ModelRegistry,
)


def _snapshot(reg: ModelRegistry) -> tuple[object, ...]:
    s = reg.stats()
    return (s.models, s.registrations, s.owners, tuple(reg.tenants()))


@pytest.mark.parametrize("bad", ["other_tenant", "other_registry", "anonymous"])
def test_deprecated_setter_checks_every_entry_before_attaching(
    reg: ModelRegistry, bad: str
) -> None:
    a = DataSource("memory", name="a", registry=reg)
    b = DataSource("memory", name="b", registry=reg)
    first = a.define("First", {"x": "string"})
    if bad == "other_tenant":
        second = DataSource("memory", tenant="other", registry=reg).define("Second", {})
    elif bad == "other_registry":
        second = DataSource("memory", registry=ModelRegistry()).define("Second", {})
    else:
        second = a.model_builder.resolve_type({"s": "string"})
    before = _snapshot(reg)
    with pytest.warns(DeprecationWarning), pytest.raises(ValueError, match="nothing was attached"):
        b.models = {"First": first, second.model_name: second}
    assert list(a.models) == ["First"] and list(b.models) == []
    assert _snapshot(reg) == before


def test_hand_written_subclass_is_a_type_error_and_changes_nothing(reg: ModelRegistry) -> None:
    class Foo(Model):
        pass

    ds = DataSource("memory", registry=reg)
    for call in (lambda: reg.register_model(Foo), lambda: ds.attach(Foo)):
        with pytest.raises(TypeError, match="Foo"):
            call()
    assert reg.tenants() == [] and reg.stats().registrations == 0
    assert "tenant" not in vars(Foo) and "_nbr_meta" not in vars(Foo)


def test_unreachable_owner_frees_its_name_without_the_cyclic_gc(reg: ModelRegistry) -> None:
    import gc

    gc.disable()
    try:
        for make in (
            lambda: DataSource("memory", name="n", registry=reg),
            lambda: App("n", registry=reg),
            lambda: ModelBuilder(name="n", registry=reg),
        ):
            make()  # dropped at once
            make()  # the name is free again
    finally:
        gc.enable()


def test_view_of_a_dead_owner_says_so(reg: ModelRegistry) -> None:
    view = DataSource("memory", registry=reg).models
    assert len(view) == 0 and "no longer exists" in repr(view)
    with pytest.raises(ReferenceError):
        view.owner  # noqa: B018


@pytest.mark.parametrize("how", ["define", "builder", "attach", "view"])
def test_redefinition_warning_points_at_the_callers_line(reg: ModelRegistry, how: str) -> None:
    ds = DataSource("memory", registry=reg)
    b = ModelBuilder(registry=reg)
    ds.define("U", {"a": "string"})
    b.define("U", {"a": "string"})
    other = ModelBuilder(registry=reg).define("U", {"b": "string"})
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        if how == "define":
            ds.define("U", {"z": "string"})
        elif how == "builder":
            b.define("U", {"z": "string"})
        elif how == "attach":
            ds.attach(other)
        else:
            ds.models["U"] = other
    [w] = [w for w in caught if issubclass(w.category, ModelRedefinedWarning)]
    assert w.filename == __file__


def test_embedding_another_tenants_model_is_refused(reg: ModelRegistry) -> None:
    secret = DataSource("memory", tenant="globex", registry=reg).define("Secret", {"x": "string"})
    acme = DataSource("memory", tenant="acme", registry=reg)
    for spec in ({"s": secret}, {"s": [secret]}, {"nested": {"deep": secret}}):
        with pytest.raises(DefinitionError, match="'globex'"):
            acme.define("X", spec)
    foreign = DataSource("memory", registry=ModelRegistry()).define("F", {})
    with pytest.raises(DefinitionError, match="another ModelRegistry"):
        acme.define("X", {"f": foreign})
    with pytest.raises(DefinitionError):
        acme.model_builder.resolve_type(secret)
    shared = DataSource("memory", registry=reg).define("Country", {"code": "string"})
    assert acme.define("Ok", {"c": shared}).definition.properties["c"].type is shared
    assert reg.stats().models == 3


@pytest.mark.parametrize("name", ["save", "delete", "to_dict"])
def test_property_names_that_shadow_instance_methods_are_refused(
    reg: ModelRegistry, name: str
) -> None:
    with pytest.raises(DefinitionError, match=repr(name)):
        DataSource("memory", registry=reg).define("M", {name: "string"})
    assert reg.stats().models == 0


def test_resolve_type_error_paths_have_no_stray_prefix(reg: ModelRegistry) -> None:
    with pytest.raises(DefinitionError) as info:
        ModelBuilder(registry=reg).resolve_type({"a": {"b": "bogus"}})
    assert info.value.path == "a.b"
