"""The registry API (DESIGN §6, §11): lookups, tenants, cleanup, stats, frames, events."""

from __future__ import annotations

import asyncio
import gc
import threading
import time
import weakref

import pytest

import nbregistry
from nbregistry import (
    GLOBAL_TENANT,
    AmbiguousModelError,
    App,
    DataSource,
    DefinitionError,
    ModelBuilder,
    ModelNotFoundError,
    ModelRegistry,
    RegistryEvent,
    RegistryStats,
    TenantRegistry,
    tenant,
)

USER = {"name": "string"}


# --- registration and name lookup ------------------------------------------------


def test_register_model_type_errors(reg: ModelRegistry) -> None:
    for bad in (3, "User", dict, nbregistry.Model, None):
        with pytest.raises(TypeError):
            reg.register_model(bad)  # type: ignore[arg-type]
    assert reg.stats().registrations == 0


def test_register_model_reregistration_counts_but_adds_nothing(reg: ModelRegistry) -> None:
    ds = DataSource("memory", registry=reg)
    user = ds.define("User", USER)
    assert reg.register_model(user) is user
    stats = reg.stats()
    assert stats.registrations == 2 and stats.models == 1
    assert list(ds.models) == ["User"]


def test_register_model_after_cleanup_restores_it(reg: ModelRegistry) -> None:
    ds = DataSource("memory", name="crm", tenant="acme", registry=reg)
    user = ds.define("User", {"a": {"s": "string"}})
    reg.cleanup_tenant("acme")
    assert reg.register_model(user) is user
    assert ds.models.User is user
    assert reg.find_model_by_structure({"s": "string"}, tenant="acme") is not None


def test_same_name_in_two_tenants_stays_separate(reg: ModelRegistry) -> None:
    a = DataSource("memory", name="crm", tenant="acme", registry=reg).define("User", USER)
    g = DataSource("memory", name="crm", tenant="globex", registry=reg).define("User", USER)
    assert a is not g
    assert reg.find_model_by_name("User", tenant="acme") is a
    assert reg.find_model_by_name("User", tenant="globex") is g
    with tenant("acme"):
        assert reg.get_model("User") is a


def test_never_another_tenants_model(reg: ModelRegistry) -> None:
    DataSource("memory", tenant="acme", registry=reg).define("Secret", USER)
    assert reg.find_model_by_name("Secret", tenant="globex") is None
    assert reg.find_model_by_name("Secret") is None  # global does not see tenants either
    with pytest.raises(ModelNotFoundError):
        reg.get_model("Secret", tenant="globex")


def test_global_fallback_and_tenant_precedence(reg: ModelRegistry) -> None:
    shared = DataSource("memory", registry=reg).define("Country", USER)
    assert reg.find_model_by_name("Country", tenant="acme") is shared
    own = DataSource("memory", tenant="acme", registry=reg).define("Country", {"x": "string"})
    assert reg.find_model_by_name("Country", tenant="acme") is own
    assert reg.find_model_by_name("Country") is shared


def test_qualified_names(reg: ModelRegistry) -> None:
    crm = DataSource("memory", name="crm", tenant="acme", registry=reg)
    erp = DataSource("memory", name="erp", tenant="acme", registry=reg)
    a, b = crm.define("User", USER), erp.define("User", {"x": "string"})
    assert reg.find_model_by_name("crm.User", tenant="acme") is a
    assert reg.find_model_by_name("erp.User", tenant="acme") is b
    assert reg.find_model_by_name("nope.User", tenant="acme") is None
    with pytest.raises(AmbiguousModelError) as info:
        reg.find_model_by_name("User", tenant="acme")
    assert "'crm.User'" in str(info.value) and "'erp.User'" in str(info.value)
    assert isinstance(info.value, LookupError)
    erp.delete_model("User")
    assert reg.find_model_by_name("User", tenant="acme") is a


def test_get_model_suggests_close_matches(reg: ModelRegistry) -> None:
    DataSource("memory", tenant="acme", registry=reg).define("Customer", USER)
    with pytest.raises(ModelNotFoundError, match="did you mean 'Customer'"):
        reg.get_model("Custmer", tenant="acme")
    with pytest.raises(LookupError, match="'Nothing'"):
        reg.get_model("Nothing", tenant="acme")


def test_find_model_by_name_rejects_non_str(reg: ModelRegistry) -> None:
    with pytest.raises(TypeError):
        reg.find_model_by_name(3)  # type: ignore[arg-type]


def test_lookup_never_creates_a_tenant(reg: ModelRegistry) -> None:
    reg.find_model_by_name("X", tenant="ghost")
    reg.find_model_by_structure({"a": "string"}, tenant="ghost")
    assert reg.tenants() == [] and reg.tenant_registry("ghost") is None


# --- owner queries ---------------------------------------------------------------


def test_owner_queries(reg: ModelRegistry) -> None:
    ds = DataSource("memory", registry=reg)
    a, b = ds.define("A", USER), ds.define("B", USER)
    assert reg.models_for_owner(ds) == [a, b]
    assert reg.model_names_for_owner(ds) == ["A", "B"]
    assert reg.has_model_for_owner(ds, "A") and not reg.has_model_for_owner(ds, "Z")
    assert reg.get_model_for_owner(ds, "B") is b and reg.get_model_for_owner(ds, "Z") is None
    listing = reg.models_for_owner(ds)
    listing.clear()  # a fresh list each call: never a shared mutable cache
    assert reg.models_for_owner(ds) == [a, b]


def test_owner_queries_for_none_and_unknown(reg: ModelRegistry) -> None:
    other = DataSource("memory", registry=ModelRegistry())
    other.define("A", USER)
    for owner in (None, object(), other):
        assert reg.models_for_owner(owner) == []
        assert reg.model_names_for_owner(owner) == []
        assert reg.has_model_for_owner(owner, "A") is False
        assert reg.get_model_for_owner(owner, "A") is None


def test_owner_queries_follow_ownership_changes_and_cleanup(reg: ModelRegistry) -> None:
    ds = DataSource("memory", tenant="acme", registry=reg)
    user = ds.define("User", USER)
    app = App(tenant="acme", registry=reg)
    app.model(user)
    assert reg.models_for_owner(ds) == [] and reg.models_for_owner(app) == [user]
    reg.cleanup_tenant("acme")
    assert reg.models_for_owner(app) == [] and not reg.has_model_for_owner(app, "User")


# --- structure reuse -------------------------------------------------------------


def test_thousand_models_with_the_same_embedded_shape_share_one_class(reg: ModelRegistry) -> None:
    ds = DataSource("memory", tenant="acme", registry=reg)
    for i in range(1000):
        ds.define(f"M{i}", {"n": "integer", "address": {"street": "string", "city": "string"}})
    anon = {m.definition.properties["address"].type for m in ds.models.values()}
    assert len(anon) == 1
    stats = reg.stats()
    assert stats.anonymous_models == 1 and stats.reuse_misses == 1 and stats.reuse_hits == 999
    assert stats.hit_rate == pytest.approx(0.999)


def test_structure_lookup_semantics(reg: ModelRegistry) -> None:
    g = ModelBuilder(registry=reg).resolve_type({"street": "string"})
    acme = ModelBuilder(tenant="acme", registry=reg)
    assert acme.resolve_type({"street": "string"}) is g  # global shape reused
    assert reg.find_model_by_structure({"street": str}, tenant="acme") is g
    assert reg.find_model_by_structure({"city": "string"}, tenant="acme") is None
    assert reg.find_model_by_structure({"street": "string"}, strict=True) is None
    own = acme.resolve_type({"zip": "string"})
    assert reg.find_model_by_structure({"zip": "string"}, tenant="globex") is None
    assert reg.find_model_by_structure({"zip": "string"}, tenant="acme") is own
    with pytest.raises(TypeError):
        reg.find_model_by_structure(["street"])  # type: ignore[arg-type]
    with pytest.raises(DefinitionError):
        reg.find_model_by_structure({"a": "nope"})


def test_wrong_model_is_never_reused_for_a_different_nested_key(reg: ModelRegistry) -> None:
    b = ModelBuilder(registry=reg)
    street = b.resolve_type({"address": {"street": "string"}})
    city = b.resolve_type({"address": {"city": "string"}})
    assert street is not city


def test_anonymous_models_are_tenant_owned_and_named(reg: ModelRegistry) -> None:
    ds = DataSource("memory", tenant="acme", registry=reg)
    user = ds.define("User", {"address": {"street": "string"}})
    anon = user.definition.properties["address"].type
    assert anon.tenant == "acme" and anon.data_source is None
    assert "id" not in anon.definition.properties
    assert list(ds.models) == ["User"]
    assert reg.find_model_by_name(anon.model_name, tenant="acme") is anon


def test_anonymous_model_removed_with_its_last_user(reg: ModelRegistry) -> None:
    ds = DataSource("memory", tenant="acme", registry=reg)
    ds.define("A", {"addr": {"s": "string"}})
    ds.define("B", {"addr": {"s": "string"}})
    ds.delete_model("A")
    assert reg.find_model_by_structure({"s": "string"}, tenant="acme") is not None
    ds.delete_model("B")
    assert reg.find_model_by_structure({"s": "string"}, tenant="acme") is None
    unused = ds.model_builder.resolve_type({"never": "string"})
    assert reg.find_model_by_structure({"never": "string"}, tenant="acme") is unused
    assert reg.cleanup_tenant("acme") == 1


def test_global_anonymous_model_survives_tenant_user_removal(reg: ModelRegistry) -> None:
    g = ModelBuilder(registry=reg).resolve_type({"s": "string"})
    ds = DataSource("memory", tenant="acme", registry=reg)
    ds.define("A", {"addr": {"s": "string"}})
    ds.disconnect()
    assert reg.find_model_by_structure({"s": "string"}) is g
    reg.cleanup_tenant(GLOBAL_TENANT)
    assert reg.find_model_by_structure({"s": "string"}) is None


def test_nested_levels_are_each_their_own_model(reg: ModelRegistry) -> None:
    ds = DataSource("memory", registry=reg)
    ds.define("U", {"address": {"geo": {"lat": "number"}}})
    assert reg.stats().anonymous_models == 2
    ds.disconnect()
    assert reg.stats().models == 0


# --- tenants and cleanup -----------------------------------------------------------


def test_tenants_and_tenant_registry(reg: ModelRegistry) -> None:
    DataSource("memory", tenant="acme", registry=reg).define("A", USER)
    DataSource("memory", registry=reg)  # an owner without models: no tenant entry
    assert reg.tenants() == ["acme"]
    treg = reg.tenant_registry("acme")
    assert isinstance(treg, TenantRegistry) and treg.code == "acme" and len(treg) == 1
    assert "A" in treg and [m.model_name for m in treg.models()] == ["A"]
    assert reg.tenant_registry("nobody") is None
    assert "acme" in repr(treg) and "<table" in treg._repr_html_()


def test_cleanup_tenant(reg: ModelRegistry) -> None:
    ds = DataSource("memory", name="crm", tenant="acme", registry=reg)
    other = DataSource("memory", name="crm", tenant="globex", registry=reg)
    ds.define("User", {"a": {"s": "string"}})
    kept = other.define("User", USER)
    assert reg.cleanup_tenant("acme") == 2
    assert reg.cleanup_tenant("acme") == 0
    assert reg.cleanup_tenant("unknown") == 0
    assert len(ds.models) == 0 and reg.tenants() == ["globex"]
    assert reg.find_model_by_name("User", tenant="globex") is kept
    assert reg.owner_by_name("crm", tenant="acme") is None
    DataSource("memory", name="crm", tenant="acme", registry=reg)  # name was freed


def test_datasource_usable_after_cleanup(reg: ModelRegistry) -> None:
    ds = DataSource("memory", name="crm", tenant="acme", registry=reg)
    ds.define("User", USER)
    reg.cleanup_tenant("acme")
    user = ds.define("User", USER)
    assert ds.models.User is user and reg.owner_by_name("crm", tenant="acme") is ds


def test_cleanup_global_empties_global(reg: ModelRegistry) -> None:
    DataSource("memory", registry=reg).define("A", USER)
    assert reg.cleanup_tenant(GLOBAL_TENANT) == 1 and reg.tenants() == []


def _weak_classes(
    reg: ModelRegistry, code: str, n: int = 5
) -> tuple[DataSource, list[weakref.ref]]:
    ds = DataSource("memory", name="leaky", tenant=code, registry=reg)
    refs = [weakref.ref(ds.define(f"M{i}", {"a": {"s": "string"}})) for i in range(n)]
    refs.append(weakref.ref(ds.models.M0.definition.properties["a"].type))
    return ds, refs


@pytest.mark.parametrize("how", ["cleanup", "disconnect", "delete", "clear", "redefine"])
def test_dropped_classes_are_collectable(reg: ModelRegistry, how: str) -> None:
    ds, refs = _weak_classes(reg, "acme")
    events: list[RegistryEvent] = []
    sub = reg.subscribe(events.append)
    if how == "cleanup":
        reg.cleanup_tenant("acme")
    elif how == "disconnect":
        ds.disconnect()
    elif how == "delete":
        for name in list(ds.models):
            ds.delete_model(name)
    elif how == "clear":
        reg.clear()
    else:
        with pytest.warns(nbregistry.ModelRedefinedWarning):
            for i in range(5):
                ds.define(f"M{i}", {"other": "string"})
    sub.close()
    del events
    gc.collect()
    assert [r() for r in refs] == [None] * len(refs)


def test_cleanup_inactive_tenants(reg: ModelRegistry) -> None:
    DataSource("memory", tenant="old", registry=reg).define("A", USER)
    DataSource("memory", tenant="new", registry=reg).define("A", USER)
    old = reg.tenant_registry("old")
    assert old is not None
    old.last_accessed -= 120
    assert reg.cleanup_inactive_tenants(60) == 1
    assert reg.tenants() == ["new"]
    reg.find_model_by_name("A", tenant="new")
    assert reg.cleanup_inactive_tenants(0) == 1 and reg.tenants() == []
    with pytest.raises(ValueError):
        reg.cleanup_inactive_tenants(-1)
    with pytest.raises(TypeError):
        reg.cleanup_inactive_tenants("1")  # type: ignore[arg-type]


def test_lookups_refresh_last_accessed(reg: ModelRegistry) -> None:
    DataSource("memory", tenant="acme", registry=reg).define("A", USER)
    treg = reg.tenant_registry("acme")
    assert treg is not None
    treg.last_accessed -= 100
    reg.find_model_by_name("A", tenant="acme")
    assert time.time() - treg.last_accessed < 5
    assert reg.cleanup_inactive_tenants(60) == 0


def test_auto_cleanup_thread_only_when_asked(reg: ModelRegistry) -> None:
    before = threading.active_count()
    DataSource("memory", tenant="acme", registry=reg).define("A", USER)
    handle = reg.start_auto_cleanup(0, interval=0.01)
    deadline = time.time() + 5
    while reg.tenants() and time.time() < deadline:
        time.sleep(0.01)
    handle.stop()
    assert reg.tenants() == []
    assert threading.active_count() == before


def test_clear_resets_everything(reg: ModelRegistry) -> None:
    ds = DataSource("memory", name="crm", registry=reg)
    ds.define("A", {"x": {"s": "string"}})
    reg.find_model_by_name("A")
    reg.clear()
    s = reg.stats()
    assert (s.models, s.registrations, s.lookups, s.reuse_hits, s.reuse_misses) == (0, 0, 0, 0, 0)
    assert reg.tenants() == [] and len(ds.models) == 0
    DataSource("memory", name="crm", registry=reg)  # names freed


# --- stats -------------------------------------------------------------------------


def test_stats_counters(reg: ModelRegistry) -> None:
    acme = DataSource("memory", tenant="acme", registry=reg)
    acme.define("User", {"name": "string", "address": {"street": "string"}})
    acme.define("Order", {"ship": {"street": "string"}})
    acme.define("User", {"name": "string", "address": {"street": "string"}})  # identical
    DataSource("memory", registry=reg).define("Country", USER)
    reg.find_model_by_name("User", tenant="acme")
    reg.get_model_for_owner(acme, "User")
    s = reg.stats()
    assert isinstance(s, RegistryStats)
    assert s.tenants == 1  # global not counted
    assert (s.models, s.named_models, s.anonymous_models, s.owners) == (4, 3, 1, 2)
    assert s.unique_structures == 4
    assert s.registrations == 4  # 3 defines + 1 anonymous creation
    assert (s.reuse_hits, s.reuse_misses) == (1, 1) and s.hit_rate == 0.5
    assert s.lookups == 4  # 2 structure resolutions + 2 explicit lookups
    assert {t.tenant for t in s.per_tenant} == {"acme", "global"}
    acme_stats = next(t for t in s.per_tenant if t.tenant == "acme")
    assert (acme_stats.models, acme_stats.owners) == (3, 1)
    assert (acme_stats.named_models, acme_stats.anonymous_models) == (2, 1)
    assert acme_stats.unique_structures == 3
    assert reg.tenant_stats("acme") is not None and reg.tenant_stats("acme").models == 3
    assert reg.tenant_stats("nobody") is None
    assert acme_stats.idle_seconds >= 0
    with pytest.raises(AttributeError):
        s.models = 3  # type: ignore[misc]


def test_hit_rate_zero_without_lookups(reg: ModelRegistry) -> None:
    assert reg.stats().hit_rate == 0.0


def test_stats_frame_and_html(reg: ModelRegistry) -> None:
    DataSource("memory", tenant="acme", registry=reg).define("A", USER)
    s = reg.stats()
    df = s.to_frame()
    assert list(df.index) == ["acme", "total"]
    assert int(df.loc["total", "models"]) == 1
    assert "registrations" in s._repr_html_()
    assert s.per_tenant[0].to_frame().index.tolist() == ["acme"]


def test_registry_to_frame(reg: ModelRegistry) -> None:
    import pandas as pd

    crm = DataSource("memory", name="crm", tenant="acme", registry=reg)
    crm.define("User", {"name": "string", "address": {"street": "string"}})
    DataSource("memory", name="erp", tenant="globex", registry=reg).define("Item", USER)
    df = reg.to_frame()
    assert list(df.columns) == [
        "tenant",
        "owner",
        "owner_type",
        "model",
        "anonymous",
        "properties",
        "fingerprint",
        "registered_at",
    ]
    assert df["model"].tolist()[-1] == "Item" and len(df) == 3
    anon = df[df["anonymous"]]
    assert anon["owner"].tolist() == [""]
    user = df[df["model"] == "User"].iloc[0]
    assert (user["owner"], user["owner_type"], user["properties"]) == ("crm", "dataSource", 3)
    assert pd.api.types.is_datetime64_any_dtype(df["registered_at"])
    assert reg.to_frame(tenant="globex")["model"].tolist() == ["Item"]
    assert len(reg.to_frame(tenant="nobody")) == 0


# --- events ------------------------------------------------------------------------


def test_events(reg: ModelRegistry) -> None:
    events: list[RegistryEvent] = []
    sub = reg.subscribe(events.append)
    ds = DataSource("memory", name="crm", tenant="acme", registry=reg)
    ds.define("User", {"address": {"s": "string"}})
    ds.delete_model("User")
    ds.define("User", USER)
    reg.cleanup_tenant("acme")
    reg.clear()
    kinds = [(e.kind, e.model_name) for e in events]
    anon = [e for e in events if e.owner is None and e.kind == "registered"]
    assert anon and anon[0].model_name.startswith("AnonymousModel_")
    assert ("registered", "User") in kinds and ("removed", "User") in kinds
    assert kinds[-2:] == [("tenant_cleaned", None), ("cleared", None)]
    assert next(e for e in events if e.model_name == "User").owner is ds
    sub.close()
    assert not sub.active
    ds.define("Again", USER)
    assert events[-1].kind == "cleared"


def test_broken_subscriber_does_not_break_the_registry(
    reg: ModelRegistry, caplog: pytest.LogCaptureFixture
) -> None:
    def boom(event: RegistryEvent) -> None:
        raise RuntimeError("subscriber bug")

    reg.subscribe(boom)
    good: list[RegistryEvent] = []
    reg.subscribe(good.append)
    DataSource("memory", registry=reg).define("A", USER)
    assert len(good) == 1 and "subscriber bug" in caplog.text
    with pytest.raises(TypeError):
        reg.subscribe(3)  # type: ignore[arg-type]


# --- concurrency (the broad search lives in test_concurrency.py) ---------------------


def test_threads_in_separate_tenants_have_no_cross_talk(reg: ModelRegistry) -> None:
    errors: list[str] = []

    def work(i: int) -> None:
        code = f"t{i}"
        with tenant(code):
            ds = DataSource("memory", name="ds", registry=reg)
            for j in range(200):
                cls = ds.define(f"M{j}", {"n": "integer", "a": {"s": "string"}})
                found = reg.find_model_by_name(f"M{j}")
                if found is not cls or found.tenant != code:
                    errors.append(f"{code}: M{j} -> {found}")

    threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    s = reg.stats()
    assert s.named_models == 8 * 200 and s.anonymous_models == 8 and s.tenants == 8


def test_asyncio_tasks_in_separate_tenants(reg: ModelRegistry) -> None:
    async def work(i: int) -> bool:
        with tenant(f"t{i}"):
            ds = DataSource("memory", name="ds", registry=reg)
            cls = ds.define("User", USER)
            await asyncio.sleep(0)
            return reg.find_model_by_name("User") is cls

    async def main() -> list[bool]:
        return await asyncio.gather(*(work(i) for i in range(50)))

    assert all(asyncio.run(main()))
    assert reg.stats().models == 50


def test_registry_repr_and_html(reg: ModelRegistry) -> None:
    DataSource("memory", tenant="acme", registry=reg).define("A", USER)
    assert repr(reg) == "<ModelRegistry: 1 models in 1 tenants>"
    assert "acme" in reg._repr_html_()
