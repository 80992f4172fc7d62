"""The *before* design (``nbregistry.legacy``) behaves as the seed describes it.

Three stores kept in sync by hand, scans for owner and structure queries, a new anonymous
class on every use, a registry cleanup that leaves the owners' copies alive — and nothing
of it ever reaches a ``ModelRegistry``.
"""

from __future__ import annotations

import gc
import weakref
from typing import Any

import pytest

from nbregistry import DefinitionError, ModelNotFoundError, ModelRegistry, TenantError, registry
from nbregistry.core.meta import registry_of
from nbregistry.legacy import (
    LegacyApp,
    LegacyDataSource,
    LegacyModelBuilder,
    LegacyModels,
    LegacyRegistry,
    cleanup_data_source,
)

ADDRESS = {"street": "string", "city": "string"}


@pytest.fixture
def lreg() -> LegacyRegistry:
    """Return an isolated legacy registry."""
    return LegacyRegistry()


def _ds(lreg: LegacyRegistry, name: str = "crm", tenant: str = "acme") -> LegacyDataSource:
    return LegacyDataSource("memory", name=name, tenant=tenant, registry=lreg)


def test_define_stores_the_class_in_three_places(lreg: LegacyRegistry) -> None:
    ds = _ds(lreg)
    user = ds.define("User", {"name": "string"})
    assert ds.models.User is user
    assert ds.models["User"] is user
    assert ds.model_builder.models["User"] is user
    assert lreg.tenant_registry("acme").models["User"] is user  # type: ignore[union-attr]
    # Three distinct containers, none a view of another.
    stores = [ds.models.__dict__, ds.model_builder.models.__dict__]
    stores.append(lreg.tenant_registry("acme").models)  # type: ignore[union-attr]
    assert len({id(s) for s in stores}) == 3
    assert isinstance(ds.models, LegacyModels)


def test_classes_use_the_core_class_builder(lreg: LegacyRegistry) -> None:
    ds = _ds(lreg)
    user = ds.define("User", {"name": {"type": "string", "required": True}, "age": int})
    new = ModelRegistry()
    from nbregistry import DataSource

    same = DataSource("memory", name="crm", tenant="acme", registry=new).define(
        "User", {"name": {"type": "string", "required": True}, "age": int}
    )
    assert user.definition.fingerprint == same.definition.fingerprint
    assert list(user.definition.properties) == ["id", "name", "age"]
    assert user(name="Ann", age=3).to_dict() == {"id": None, "name": "Ann", "age": 3}
    assert user.data_source is ds and user.tenant == "acme"
    new.clear()


def test_nothing_reaches_the_new_registry(lreg: LegacyRegistry) -> None:
    before = registry.stats().registrations
    ds = _ds(lreg)
    user = ds.define("User", {"address": dict(ADDRESS)})
    ds.model_builder.resolve_type(dict(ADDRESS))
    assert registry_of(user) is None
    assert registry.find_model_by_name("User", tenant="acme") is None
    assert registry.stats().registrations == before


def test_no_reuse_every_embedded_use_makes_a_new_class(lreg: LegacyRegistry) -> None:
    ds = _ds(lreg)
    a = ds.define("A", {"address": dict(ADDRESS)})
    b = ds.define("B", {"address": dict(ADDRESS)})
    t1 = ds.model_builder.resolve_type(dict(ADDRESS))
    t2 = ds.model_builder.resolve_type(dict(ADDRESS))
    classes = [a.definition.properties["address"].type, b.definition.properties["address"].type]
    classes += [t1, t2]
    assert len({id(c) for c in classes}) == 4
    assert all(c.anonymous for c in classes)
    assert len({c.definition.fingerprint for c in classes}) == 1  # same shape every time
    # Anonymous classes live in the builder's store and the registry, not in ds.models.
    assert list(ds.models) == ["A", "B"]
    assert lreg.stats()["anonymous_models"] == 4


def test_nested_levels_and_arrays_each_make_classes(lreg: LegacyRegistry) -> None:
    b = LegacyModelBuilder(tenant="acme", registry=lreg)
    tags = b.resolve_type([{"tag": "string"}])
    assert isinstance(tags, list) and tags[0].anonymous
    geo = b.define("Place", {"where": {"geo": {"lat": "number"}}})
    where = geo.definition.properties["where"].type
    assert where.definition.properties["geo"].type.anonymous
    assert b.resolve_type("String") == "string"


def test_owner_queries_scan_and_agree_with_the_stores(lreg: LegacyRegistry) -> None:
    ds1, ds2 = _ds(lreg, "one"), _ds(lreg, "two")
    a = ds1.define("A", {"x": "string"})
    b = ds2.define("B", {"x": "string"})
    c = ds1.define("C", {"x": "string"})
    assert lreg.models_for_owner(ds1) == [a, c]
    assert lreg.model_names_for_owner(ds2) == ["B"]
    assert lreg.has_model_for_owner(ds1, "C") and not lreg.has_model_for_owner(ds1, "B")
    assert lreg.get_model_for_owner(ds2, "B") is b
    assert lreg.models_for_owner(None) == [] and lreg.get_model_for_owner(None, "A") is None


def test_owner_query_cost_grows_with_the_tenant(
    lreg: LegacyRegistry, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The scan visits every model of the tenant, not just the owner's."""
    target = _ds(lreg, "target")
    target.define("Mine", {"x": "string"})
    for i in range(5):
        _ds(lreg, f"o{i}").define(f"T{i}", {"x": "string"})
    store = lreg.tenant_registry("acme").models  # type: ignore[union-attr]
    visited: list[str] = []

    class Spy(dict):  # type: ignore[type-arg]
        def values(self) -> Any:
            for v in super().values():
                visited.append(v.model_name)
                yield v

    spy = Spy(store)
    monkeypatch.setattr(lreg.tenant_registry("acme"), "models", spy)
    assert [m.model_name for m in lreg.models_for_owner(target)] == ["Mine"]
    assert len(visited) == len(store) == 6


def test_structure_search_scans_and_finds_by_shape(lreg: LegacyRegistry) -> None:
    ds = _ds(lreg)
    anon = ds.model_builder.resolve_type({"city": "string", "street": str})
    assert lreg.find_model_by_structure(dict(ADDRESS), tenant="acme") is anon
    assert lreg.find_model_by_structure({"street": "string"}, tenant="acme") is None
    assert lreg.find_model_by_structure(dict(ADDRESS), tenant="acme", strict=True) is None
    with pytest.raises(TypeError, match="mapping"):
        lreg.find_model_by_structure(["street"], tenant="acme")  # type: ignore[arg-type]
    with pytest.raises(DefinitionError, match="nope"):
        lreg.find_model_by_structure({"a": "nope"}, tenant="acme")


def test_name_lookup_searches_other_tenants_like_the_original(lreg: LegacyRegistry) -> None:
    secret = _ds(lreg, "crm", "acme").define("Secret", {"x": "string"})
    assert lreg.find_model_by_name("Secret", tenant="globex") is secret  # the old leak
    assert lreg.get_model("Secret", tenant="acme") is secret
    with pytest.raises(ModelNotFoundError, match="Nope"):
        lreg.get_model("Nope")
    with pytest.raises(TenantError):
        lreg.find_model_by_name("Secret", tenant="bad code")


def test_same_name_in_one_tenant_last_writer_wins(lreg: LegacyRegistry) -> None:
    first = _ds(lreg, "one").define("User", {"a": "string"})
    second = _ds(lreg, "two").define("User", {"b": "string"})
    assert lreg.find_model_by_name("User", tenant="acme") is second
    assert lreg.stats()["models"] == 1  # the registry lost one; the owners still hold both
    assert first is not second


def test_registry_cleanup_alone_leaves_the_classes_alive(lreg: LegacyRegistry) -> None:
    ds = _ds(lreg)
    refs = [weakref.ref(ds.define(f"M{i}", {"address": dict(ADDRESS)})) for i in range(3)]
    assert lreg.cleanup_tenant("acme") == 6  # 3 named + 3 anonymous
    assert lreg.tenants() == []
    gc.collect()
    assert all(r() is not None for r in refs)
    assert len(ds.models) == 3 and len(ds.model_builder.models) == 6


def test_full_cleanup_must_visit_every_store(lreg: LegacyRegistry) -> None:
    ds = _ds(lreg)
    refs = [weakref.ref(ds.define(f"M{i}", {"address": dict(ADDRESS)})) for i in range(3)]
    assert cleanup_data_source(ds) == 3
    assert lreg.cleanup_tenant("acme") == 0
    gc.collect()
    assert all(r() is None for r in refs)
    assert len(ds.models) == 0 and len(ds.model_builder.models) == 0


def test_delete_model_touches_all_three_stores(lreg: LegacyRegistry) -> None:
    ds = _ds(lreg)
    ds.define("User", {"x": "string"})
    ds.delete_model("User")
    assert "User" not in ds.models and "User" not in ds.model_builder.models
    assert lreg.find_model_by_name("User", tenant="acme") is None
    with pytest.raises(ModelNotFoundError, match="User"):
        ds.delete_model("User")
    ds.define("Other", {"x": "string"})
    assert ds.disconnect() == 1 and lreg.stats()["models"] == 0


def test_app_takes_a_model_and_owner_queries_follow(lreg: LegacyRegistry) -> None:
    ds = _ds(lreg)
    user = ds.define("User", {"x": "string"})
    app = LegacyApp("shop", tenant="acme", registry=lreg)
    assert app.model(user) is user and app.models.User is user
    assert lreg.models_for_owner(app) == [user]
    with pytest.raises(TypeError, match="Model subclass"):
        app.model(dict)  # type: ignore[arg-type]


def test_bad_input_is_rejected_with_clear_errors(lreg: LegacyRegistry) -> None:
    ds = _ds(lreg)
    with pytest.raises(DefinitionError, match="class"):
        ds.define("class", {})
    with pytest.raises(TypeError, match="mapping"):
        ds.define("User", ["x"])  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="LegacyRegistry"):
        LegacyDataSource(registry=ModelRegistry())  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="Model subclass"):
        lreg.register_model(int)  # type: ignore[arg-type]
    with pytest.raises(TenantError):
        LegacyDataSource(tenant="", registry=lreg)
    assert lreg.stats()["models"] == 0 and len(ds.models) == 0


def test_session_tenant_and_auto_names(lreg: LegacyRegistry) -> None:
    lreg.use_tenant("acme")
    ds = LegacyDataSource(registry=lreg)
    assert ds.tenant == "acme" and ds.name == "memory-1"
    assert LegacyModelBuilder(registry=lreg).name == "builder-1"
    lreg.use_tenant(None)
    assert lreg.current_tenant() == "global"
    assert lreg.structure_bytes() > 0
    lreg.clear()
    assert lreg.stats()["registrations"] == 0
