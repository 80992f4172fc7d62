"""ModelsView (DESIGN §7): live Mapping, attribute access, writes through the registry."""

from __future__ import annotations

from collections.abc import Mapping

import pytest

from nbregistry import DataSource, ModelBuilder, ModelRegistry, ModelsView


@pytest.fixture
def ds(reg: ModelRegistry) -> DataSource:
    return DataSource("memory", name="crm", tenant="acme", registry=reg)


def test_view_identity_and_mapping_protocol(ds: DataSource) -> None:
    user = ds.define("User", {"name": "string"})
    product = ds.define("Product", {"sku": "string"})
    v = ds.models
    assert v is ds.models and ds.model_builder.models is v
    assert isinstance(v, Mapping) and isinstance(v, ModelsView) and not isinstance(v, dict)
    assert v.User is user and v["User"] is user
    assert "User" in v and "Nope" not in v and 3 not in v
    assert len(v) == 2
    assert list(v) == ["User", "Product"]
    assert list(v.keys()) == ["User", "Product"]
    assert list(v.values()) == [user, product]
    assert list(v.items()) == [("User", user), ("Product", product)]
    assert v.get("User") is user and v.get("Nope") is None and v.get("Nope", 1) == 1
    assert v == {"User": user, "Product": product}
    assert v != {"User": user}
    assert v.owner is ds


def test_missing_model_errors(ds: DataSource) -> None:
    ds.define("User", {"name": "string"})
    with pytest.raises(KeyError, match="did you mean 'User'"):
        ds.models["Usr"]
    with pytest.raises(AttributeError):
        ds.models.Usr  # noqa: B018
    assert getattr(ds.models, "Nope", None) is None
    assert "User" in dir(ds.models)


def test_model_named_like_a_method_is_reachable_with_brackets(ds: DataSource) -> None:
    keys = ds.define("keys", {"a": "string"})
    items = ds.define("items", {"a": "string"})
    get = ds.define("get", {"a": "string"})
    assert ds.models["keys"] is keys and ds.models["items"] is items and ds.models["get"] is get
    assert list(ds.models.keys()) == ["keys", "items", "get"]
    assert ds.models.get("keys") is keys


def test_views_are_live(ds: DataSource, reg: ModelRegistry) -> None:
    view = ds.models
    user = ds.define("User", {"name": "string"})
    assert list(view) == ["User"]
    ds.delete_model("User")
    assert len(view) == 0 and "User" not in view
    ds.define("User", {"name": "string"})
    assert reg.cleanup_tenant("acme") == 1
    assert len(view) == 0
    assert user is not None


def test_set_and_delete_through_the_view(reg: ModelRegistry, ds: DataSource) -> None:
    builder = ModelBuilder(tenant="acme", registry=reg)
    note = builder.define("Note", {"text": "string"})
    ds.models["Note"] = note
    assert ds.models.Note is note and note.data_source is ds
    assert "Note" not in builder.models
    tag = builder.define("Tag", {"t": "string"})
    ds.models.Tag = tag
    assert reg.get_model_for_owner(ds, "Tag") is tag
    del ds.models["Note"]
    assert reg.find_model_by_name("Note", tenant="acme") is None
    del ds.models.Tag
    assert len(ds.models) == 0
    with pytest.raises(KeyError):
        del ds.models["Nope"]


@pytest.mark.parametrize("value", [3, "User", dict, object(), None])
def test_non_model_assignment_is_a_type_error(ds: DataSource, value: object) -> None:
    with pytest.raises(TypeError):
        ds.models["X"] = value  # type: ignore[assignment]
    with pytest.raises(TypeError):
        ds.models.X = value
    assert len(ds.models) == 0


def test_assignment_key_must_match_the_model_name(reg: ModelRegistry, ds: DataSource) -> None:
    note = ModelBuilder(tenant="acme", registry=reg).define("Note", {"a": "string"})
    with pytest.raises(ValueError, match="'Note'"):
        ds.models["Other"] = note
    assert "Other" not in ds.models and "Note" not in ds.models


def test_methods_cannot_be_overwritten(ds: DataSource) -> None:
    with pytest.raises(AttributeError):
        ds.models.keys = 3  # type: ignore[method-assign]
    assert callable(ds.models.keys)


def test_deprecated_whole_attribute_setter(reg: ModelRegistry, ds: DataSource) -> None:
    b = ModelBuilder(tenant="acme", registry=reg)
    a, c = b.define("A", {"x": "string"}), b.define("C", {"x": "string"})
    existing = ds.define("E", {"x": "string"})
    view = ds.models
    with pytest.warns(DeprecationWarning, match="DataSource.models setter is deprecated"):
        ds.models = {"A": a, "C": c}
    assert ds.models is view
    assert list(ds.models) == ["E", "A", "C"] and ds.models.E is existing
    assert a.data_source is ds


def test_deprecated_setter_is_all_or_nothing(reg: ModelRegistry, ds: DataSource) -> None:
    a = ModelBuilder(tenant="acme", registry=reg).define("A", {"x": "string"})
    before = reg.stats()
    with pytest.warns(DeprecationWarning), pytest.raises(TypeError, match="'B'"):
        ds.models = {"A": a, "B": 42}
    assert len(ds.models) == 0
    assert reg.stats().registrations == before.registrations


def test_repr_and_html(ds: DataSource) -> None:
    ds.define("User", {"name": "string"})
    ds.define("Product", {"sku": "string"})
    assert repr(ds.models) == "<ModelsView DataSource 'crm' tenant='acme': User, Product>"
    html = ds.models._repr_html_()
    assert "<table" in html and "User" in html and "Product" in html


def test_view_stores_no_models_of_its_own(ds: DataSource, reg: ModelRegistry) -> None:
    ds.define("User", {"name": "string"})
    treg = reg.tenant_registry("acme")
    assert treg is not None
    assert vars(ds.models) is treg.by_owner[ds]
