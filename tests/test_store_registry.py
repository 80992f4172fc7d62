"""The registry side of the shared store (DESIGN §12.5), in one process.

Two ``ModelRegistry`` objects connected to one SQLite file behave as two processes do
(each has its own connection, its own applied head and its own classes); the tests with
real processes are in test_store_processes.py.
"""

from __future__ import annotations

import sqlite3
import warnings
from pathlib import Path
from typing import Any

import pytest
import registry_worker

from nbregistry import (
    App,
    ConflictError,
    DataSource,
    DataSourceConnectionError,
    IncompatibleDefinitionError,
    ModelBuilder,
    ModelNotFoundError,
    ModelRedefinedWarning,
    ModelRegistry,
    RegistryEvent,
    Store,
    StoreError,
)
from nbregistry.core.definitions import definition_json
from nbregistry.core.store import Change, open_store

USER = {"name": "string", "address": {"street": "string", "city": "string"}}


@pytest.fixture
def url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'registry.db'}"


@pytest.fixture
def pair(url: str) -> Any:
    a, b = ModelRegistry(), ModelRegistry()
    a.connect_store(url)
    b.connect_store(url)
    yield a, b
    a.disconnect_store()
    b.disconnect_store()


def state(reg: ModelRegistry) -> set[tuple[str, ...]]:
    """Return the (tenant, owner, model, fingerprint) set of a registry's named models."""
    return {tuple(row) for row in registry_worker.state(reg)}


@pytest.fixture(autouse=True)
def _redefinitions_warn() -> Any:
    # Redefinitions warn (ModelRedefinedWarning) by design; these tests redefine on purpose.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ModelRedefinedWarning)
        yield


# --- connect, sync ------------------------------------------------------------------------


def test_a_definition_reaches_the_other_registry_at_its_next_sync(pair: Any) -> None:
    a, b = pair
    assert a.store is not None and isinstance(a.store, Store)
    ds = DataSource("memory", name="crm", tenant="acme", registry=a)
    user = ds.define("User", USER)
    assert b.find_model_by_name("User", tenant="acme") is None  # not before sync()
    assert b.sync() == 2  # the owner and the define
    other = b.get_model("User", tenant="acme")
    assert other is not user
    assert other.definition.fingerprint == user.definition.fingerprint
    assert other.definition.properties["address"].type.anonymous
    synced = b.owner_by_name("crm", tenant="acme")
    assert isinstance(synced, DataSource) and synced.models.User is other
    assert b.sync() == 0  # idle: nothing new
    assert a.sync() == 0  # its own revisions are not applied twice


def test_every_change_in_one_is_visible_in_the_other_after_sync(pair: Any) -> None:
    a, b = pair
    ds = DataSource("memory", name="crm", tenant="acme", registry=a)
    for i in range(20):
        ds.define("User", {"name": "string", f"p{i}": "integer"})
        b.sync()
        assert b.get_model("User", tenant="acme").definition.fingerprint == (
            ds.models.User.definition.fingerprint
        )
    ds.delete_model("User")
    assert b.sync() == 1
    assert b.find_model_by_name("User", tenant="acme") is None


def test_a_same_named_owner_adopts_the_synced_one(pair: Any) -> None:
    a, b = pair
    DataSource("memory", name="crm", tenant="acme", registry=a).define("User", USER)
    b.sync()
    synced_cls = b.get_model("User", tenant="acme")
    # Re-running the notebook in the second kernel: the same call just works.
    ds = DataSource("memory", name="crm", tenant="acme", registry=b)
    assert ds.models.User is synced_cls  # the class moved to the new object
    assert synced_cls.data_source is ds
    assert b.owner_by_name("crm", tenant="acme") is ds
    assert ds.define("User", USER) is synced_cls  # identical: the same class, no revision
    head = b.store.head()
    ds.define("User", USER)
    assert b.store.head() == head


def test_an_owner_with_other_settings_is_refused_naming_both(pair: Any, tmp_path: Path) -> None:
    a, b = pair
    DataSource("memory", name="crm", tenant="acme", registry=a).define("User", USER)
    b.sync()
    before = b.owner_by_name("crm", tenant="acme")
    with pytest.raises(ValueError, match=r"crm.*connector='memory'.*connector='sqlite'"):
        DataSource("sqlite", name="crm", tenant="acme", registry=b, file=str(tmp_path / "x.db"))
    assert b.owner_by_name("crm", tenant="acme") is before
    assert before.models.User is b.get_model("User", tenant="acme")
    # A registry that has not synced is refused by the store itself.
    c = ModelRegistry()
    c.connect_store(a.store.url)
    c.disconnect_store()
    fresh = ModelRegistry()
    fresh.connect_store(a.store.url)
    with pytest.raises(ValueError, match="crm"):
        DataSource("memory", name="crm", tenant="acme", registry=fresh, strict=True)
    fresh.disconnect_store()


def test_automatic_names_stay_local(pair: Any) -> None:
    a, b = pair
    ds = DataSource("memory", tenant="acme", registry=a)
    assert ds.name.startswith("memory-")
    ds.define("Local", {"x": "string"})
    assert b.sync() == 0
    assert b.find_model_by_name("Local", tenant="acme") is None


def test_app_and_builder_owners_are_shared(pair: Any) -> None:
    a, b = pair
    ds = DataSource("memory", name="crm", tenant="acme", registry=a)
    user = ds.define("User", USER)
    app = App("portal", tenant="acme", registry=a)
    app.model(user)
    builder = ModelBuilder(tenant="acme", registry=a, name="forms", strict_embedded_models=True)
    builder.define("Form", {"fields": {"label": "string"}})
    b.sync()
    portal = b.owner_by_name("portal", tenant="acme")
    assert isinstance(portal, App)
    assert list(portal.models) == ["User"]
    assert list(b.owner_by_name("crm", tenant="acme").models) == []
    forms = b.owner_by_name("forms", tenant="acme")
    assert isinstance(forms, ModelBuilder) and forms.strict_embedded_models is True
    assert forms.models.Form.definition.properties["fields"].type.definition.strict
    assert state(a) == state(b)


# --- writes: committed first, conflicts, failures -------------------------------------------


def test_a_stale_write_raises_conflict_naming_revision_and_author(pair: Any) -> None:
    a, b = pair
    ds_a = DataSource("memory", name="crm", tenant="acme", registry=a)
    ds_a.define("User", USER)
    b.sync()
    ds_b = DataSource("memory", name="crm", tenant="acme", registry=b)
    ds_a.define("User", {"name": "string"})  # a changes it; b has not synced
    before = ds_b.models.User
    head = b.store.head()
    with pytest.raises(ConflictError, match=r"revision \d+ by \S+@\S+:\d+.*sync\(\) and retry"):
        ds_b.define("User", {"name": "string", "age": "integer"})
    assert ds_b.models.User is before  # nothing changed here
    assert b.store.head() == head  # nor in the store
    with pytest.raises(ConflictError):
        ds_b.delete_model("User")
    assert ds_b.models.User is before
    b.sync()
    ds_b.define("User", {"name": "string", "age": "integer"})  # after sync(): retry works
    a.sync()
    assert "age" in a.get_model("User", tenant="acme").definition.properties


def test_a_redefine_of_another_process_definition_warns_naming_it(pair: Any) -> None:
    a, b = pair
    DataSource("memory", name="crm", tenant="acme", registry=a).define("User", USER)
    b.sync()
    ds_b = DataSource("memory", name="crm", tenant="acme", registry=b)
    with pytest.warns(ModelRedefinedWarning, match="was redefined"):
        ds_b.define("User", {"name": "string"})


def test_a_failed_store_write_leaves_the_registry_unchanged(url: str) -> None:
    reg = ModelRegistry()
    store = reg.connect_store(url)
    ds = DataSource("memory", name="crm", tenant="acme", registry=reg)
    user = ds.define("User", USER)
    events: list[RegistryEvent] = []
    reg.subscribe(events.append)
    stats = reg.stats()
    history = len(reg.history("User", tenant="acme"))
    store.close()  # the store goes away underneath
    with pytest.raises(StoreError, match="closed"):
        ds.define("User", {"name": "string", "tags": {"label": "string"}})
    with pytest.raises(StoreError):
        ds.define("Order", {"total": "number"})
    with pytest.raises(StoreError):
        ds.delete_model("User")
    with pytest.raises(StoreError):
        DataSource("memory", name="billing", tenant="acme", registry=reg)
    assert ds.models.User is user and list(ds.models) == ["User"]
    assert reg.stats() == stats or reg.stats().models == stats.models
    assert reg.owner_by_name("billing", tenant="acme") is None
    assert events == []
    assert reg.get_model("User", tenant="acme") is user  # lookups keep working
    reg.disconnect_store()
    assert len(reg.history("User", tenant="acme")) == history


def test_lookups_never_touch_the_store(url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    reg = ModelRegistry()
    store = reg.connect_store(url)
    ds = DataSource("memory", name="crm", tenant="acme", registry=reg)
    user = ds.define("User", USER)
    app = App("portal", tenant="acme", registry=reg)

    def explode(*args: Any, **kw: Any) -> Any:
        raise AssertionError("a lookup touched the store")

    for name in dir(Store):
        if not name.startswith("__") and callable(getattr(store, name)):
            monkeypatch.setattr(store, name, explode)
    assert reg.get_model("User", tenant="acme") is user
    assert reg.find_model_by_name("crm.User", tenant="acme") is user
    assert reg.find_model_by_name("Nope", tenant="acme") is None
    assert reg.get_model_for_owner(ds, "User") is user
    assert reg.has_model_for_owner(ds, "User")
    assert reg.models_for_owner(ds) == [user]
    assert reg.model_names_for_owner(ds) == ["User"]
    anon = user.definition.properties["address"].type
    key = anon.definition.fingerprint
    assert (
        reg.find_model_by_structure({"street": "string", "city": "string"}, tenant="acme") is anon
    )
    assert key
    assert ds.models.User is user and "User" in ds.models and list(ds.models) == ["User"]
    assert reg.owner_by_name("crm", tenant="acme") is ds
    assert app in reg.owners(tenant="acme")
    assert reg.tenants() == ["acme"] and reg.all_models(tenant="acme")
    assert reg.stats().models >= 2
    assert ds.define("User", USER) is user  # an identical define is a lookup too
    monkeypatch.undo()
    reg.disconnect_store()


# --- connect: pull, push, clashes ------------------------------------------------------------


def test_connect_pushes_named_owners_and_keeps_automatic_ones_local(url: str) -> None:
    a = ModelRegistry()
    DataSource("memory", name="crm", tenant="acme", registry=a).define("User", USER)
    DataSource("memory", tenant="acme", registry=a).define("Scratch", {"x": "string"})
    a.connect_store(url)
    b = ModelRegistry()
    b.connect_store(url)
    assert b.get_model("User", tenant="acme").definition.fingerprint == (
        a.get_model("User", tenant="acme").definition.fingerprint
    )
    assert b.find_model_by_name("Scratch", tenant="acme") is None
    a.disconnect_store()
    b.disconnect_store()


def test_connect_with_clashes_lists_every_one_and_applies_nothing(url: str) -> None:
    a = ModelRegistry()
    a.connect_store(url)
    ds = DataSource("memory", name="crm", tenant="acme", registry=a)
    ds.define("User", USER)
    ds.define("Order", {"total": "number"})
    DataSource("memory", name="billing", tenant="acme", registry=a)
    b = ModelRegistry()
    mine = DataSource("memory", name="crm", tenant="acme", registry=b)
    mine.define("User", {"name": "string"})
    mine.define("Order", {"total": "integer"})
    billing = DataSource("memory", name="billing", tenant="acme", registry=b, strict=True)
    head = a.store.head()
    with pytest.raises(ConflictError) as info:
        b.connect_store(url)
    assert len(info.value.clashes) == 3
    text = str(info.value)
    assert "'User'" in text and "'Order'" in text and "'billing'" in text
    assert b.store is None
    assert list(mine.models) == ["User", "Order"]  # nothing applied
    assert b.owner_by_name("billing", tenant="acme") is billing
    assert a.store.head() == head  # nothing pushed
    a.disconnect_store()


def test_connect_twice_is_refused(pair: Any, url: str) -> None:
    a, _ = pair
    with pytest.raises(StoreError, match="already connected"):
        a.connect_store(url)


@pytest.mark.parametrize(
    ("bad", "error", "match"),
    [
        ("nosuch:///x.db", ValueError, "nosuch"),
        ("registry.db", ValueError, "malformed"),
        ("sqlite:///{dir}", StoreError, "is a directory"),
        ("sqlite:///{dir}/missing/x.db", StoreError, "does not exist"),
    ],
)
def test_bad_urls_raise_naming_them_and_change_nothing(
    tmp_path: Path, bad: str, error: type[Exception], match: str
) -> None:
    reg = ModelRegistry()
    ds = DataSource("memory", name="crm", registry=reg)
    with pytest.raises(error, match=match):
        reg.connect_store(bad.format(dir=tmp_path))
    assert reg.store is None and reg.owner_by_name("crm") is ds


def test_a_corrupt_or_newer_store_is_refused_naming_the_file(tmp_path: Path) -> None:
    corrupt = tmp_path / "corrupt.db"
    corrupt.write_bytes(b"this is not a database" * 100)
    reg = ModelRegistry()
    with pytest.raises(StoreError, match=r"corrupt\.db"):
        reg.connect_store(f"sqlite:///{corrupt}")
    assert corrupt.read_bytes() == b"this is not a database" * 100
    newer = tmp_path / "newer.db"
    open_store(f"sqlite:///{newer}").close()
    conn = sqlite3.connect(newer)  # (its ``with`` block would commit, not close)
    with conn:
        conn.execute("UPDATE nbregistry_schema SET version = 99")
    conn.close()
    with pytest.raises(StoreError, match=r"newer.*upgrade nbregistry"):
        reg.connect_store(f"sqlite:///{newer}")
    assert reg.store is None


# --- what is shared and what stays local --------------------------------------------------


def test_local_cleanup_and_clear_leave_the_store_alone(pair: Any) -> None:
    a, b = pair
    DataSource("memory", name="crm", tenant="acme", registry=a).define("User", USER)
    b.sync()
    a.cleanup_tenant("acme")
    a.clear()
    assert b.sync() == 0
    assert b.find_model_by_name("User", tenant="acme") is not None
    # Re-running the notebook after a local clear takes the store's definitions back.
    ds = DataSource("memory", name="crm", tenant="acme", registry=a)
    assert ds.models.User.definition.fingerprint == (
        b.get_model("User", tenant="acme").definition.fingerprint
    )
    ds.define("User", {"name": "string"})  # no conflict: the store's revision was taken
    assert b.sync() == 1


def test_scope_store_cleanup_and_clear_reach_everyone(pair: Any) -> None:
    a, b = pair
    DataSource("memory", name="crm", tenant="acme", registry=a).define("User", USER)
    DataSource("memory", name="shop", tenant="globex", registry=a).define("Item", {})
    b.sync()
    events: list[RegistryEvent] = []
    b.subscribe(events.append)
    a.cleanup_tenant("acme", scope="store")
    assert b.sync() == 1
    assert b.find_model_by_name("User", tenant="acme") is None
    assert b.find_model_by_name("Item", tenant="globex") is not None
    assert any(e.kind == "tenant_cleaned" and e.revision is not None for e in events)
    a.clear(scope="store")
    assert b.sync() == 1
    assert b.tenants() == []
    with pytest.raises(ValueError, match="scope"):
        a.clear(scope="everyone")


def test_scope_store_without_a_store_raises_and_changes_nothing() -> None:
    reg = ModelRegistry()
    DataSource("memory", name="crm", tenant="acme", registry=reg).define("User", USER)
    with pytest.raises(StoreError, match="connect_store"):
        reg.cleanup_tenant("acme", scope="store")
    assert reg.find_model_by_name("User", tenant="acme") is not None


def test_a_synced_memory_owner_never_opens_the_other_process_file(
    pair: Any, tmp_path: Path
) -> None:
    a, b = pair
    path = tmp_path / "rows.json"
    ds = DataSource("memory", name="crm", tenant="acme", registry=a, file=str(path))
    user = ds.define("User", USER)
    user.create(name="ada")
    b.sync()
    other = b.owner_by_name("crm", tenant="acme")
    assert other.settings.get("file") == str(path)  # shown as stored...
    assert "file" not in other.connector.settings  # ...but not opened here
    assert other.models.User.count() == 0  # rows stay per process


@pytest.mark.parametrize(
    "secret_url",
    [
        "postgresql://alice:S3cr3tPW@127.0.0.1:1/db?sslmode=disable",
        "postgresql://alice@127.0.0.1:1/db?password=S3cr3tPW&sslmode=disable",
        "postgresql://alice@127.0.0.1:1/db?sslpassword=S3cr3tPW&sslmode=disable",
    ],
)
def test_no_password_reaches_the_store_in_any_spelling(
    pair: Any, url: str, secret_url: str
) -> None:
    a, b = pair
    ds = DataSource("postgresql", name="pg", tenant="acme", registry=a, url=secret_url)
    ds.define("T", {"v": "integer"})  # define never connects: the server need not exist
    b.sync()
    peer = b.owner_by_name("pg", tenant="acme")
    # the peer gets the server without any password (its own comes from PGPASSWORD)
    assert peer.settings["url"] == "postgresql://alice@127.0.0.1:1/db?sslmode=disable"
    assert peer.models.T.definition.fingerprint == ds.models.T.definition.fingerprint
    raw = Path(url.removeprefix("sqlite:///"))
    for f in (raw, raw.with_name(raw.name + "-wal")):
        if f.exists():
            assert b"S3cr3tPW" not in f.read_bytes()
    con = sqlite3.connect(raw)
    try:
        dump = "\n".join(con.iterdump())
    finally:
        con.close()
    assert "S3cr3tPW" not in dump and "alice@127.0.0.1:1/db" in dump


def test_an_owner_whose_connector_cannot_be_created_arrives_with_its_models(pair: Any) -> None:
    a, b = pair
    probe = DataSource("memory", name="probe", tenant="acme", registry=a)
    thing = probe.define("Thing", {"label": "string"})
    store = a.store
    payload = {"owner_type": "dataSource", "connector": "nosuch", "settings": {"host": "db"}}
    store.commit(Change("owner", "acme", "legacy", payload=payload))
    store.commit(
        Change(
            "define",
            "acme",
            "legacy",
            "Thing",
            thing.definition.fingerprint,
            {"definition": definition_json(thing)},
            expect=0,
        )
    )
    b.sync()
    legacy = b.owner_by_name("legacy", tenant="acme")
    assert isinstance(legacy, DataSource) and legacy.settings == {"host": "db"}
    assert legacy.models.Thing.definition.fingerprint == thing.definition.fingerprint
    with pytest.raises(DataSourceConnectionError, match=r"'nosuch' cannot be created"):
        legacy.models.Thing.count()
    with pytest.raises(DataSourceConnectionError, match="legacy"):
        legacy.models.Thing.create(label="x")


# --- compatibility -----------------------------------------------------------------------


NAME = {"type": "string", "required": True}
REQ_X = {"type": "string", "required": True}


@pytest.mark.parametrize(
    ("mode", "after", "ok"),
    [
        ("backward", {"name": NAME, "age": "integer", "nick": "string"}, True),
        ("backward", {"name": NAME}, True),
        ("backward", {"name": NAME, "age": "number"}, True),
        ("backward", {"name": NAME, "age": "integer", "x": REQ_X}, False),
        # a required property with a default reads old data (the default fills it)
        ("backward", {"name": NAME, "age": "integer", "x": {**REQ_X, "default": "-"}}, True),
        ("full", {"name": NAME, "age": "integer", "x": {**REQ_X, "default": "-"}}, True),
        ("forward", {"name": NAME, "age": "integer", "x": REQ_X}, True),
        ("forward", {"name": NAME}, True),
        ("forward", {"name": NAME, "age": "number"}, False),
        ("forward", {"age": "integer"}, False),  # removes the required name
        ("full", {"name": NAME, "age": "integer", "nick": "string"}, True),
        ("full", {"name": NAME}, True),
        ("full", {"name": NAME, "age": "number"}, False),
        ("full", {"name": NAME, "age": "integer", "x": REQ_X}, False),
        ("backward", {"name": NAME, "age": "string"}, False),
        ("forward", {"name": "string", "age": "integer"}, False),  # name made optional
        ("backward", {"name": "string", "age": "integer"}, True),
        ("full", {"name": NAME, "age": {"type": "integer", "required": True}}, False),
        ("none", {"name": "number"}, True),
    ],
)
def test_compatibility_modes(mode: str, after: dict[str, Any], ok: bool) -> None:
    reg = ModelRegistry(compatibility=mode)
    ds = DataSource("memory", name="crm", registry=reg)
    before = ds.define("User", {"name": NAME, "age": "integer"})
    if ok:
        assert ds.define("User", after) is ds.models.User is not before
        return
    with pytest.raises(IncompatibleDefinitionError, match=f"not {mode}-compatible") as info:
        ds.define("User", after)
    assert info.value.changes
    assert ds.models.User is before  # nothing changed


def test_every_breaking_change_is_listed_and_strict_or_id_break_every_mode() -> None:
    reg = ModelRegistry(compatibility="backward")
    ds = DataSource("memory", name="crm", registry=reg)
    ds.define("User", {"code": {"type": "string", "id": True}, "age": "integer", "n": "string"})
    with pytest.raises(IncompatibleDefinitionError) as info:
        ds.define(
            "User",
            {
                "code": "string",
                "id": {"type": "integer", "id": True},
                "age": "string",
                "n": {"type": "string", "required": True},
            },
            {"strict": True},
        )
    text = " | ".join(info.value.changes)
    assert len(info.value.changes) >= 4
    for part in ("id of property 'code'", "type of property 'age'", "'n' required", "strict"):
        assert part in text
    with pytest.raises(ValueError, match="unknown compatibility mode"):
        reg.compatibility = "sideways"
    assert reg.compatibility == "backward"


def test_the_store_mode_wins_and_is_shared(pair: Any) -> None:
    a, b = pair
    b.compatibility = "none"
    a.compatibility = "full"
    ds = DataSource("memory", name="crm", registry=a)
    ds.define("User", {"name": "string"})
    b.sync()
    assert b.compatibility == "full"
    ds_b = DataSource("memory", name="crm", registry=b)
    with pytest.raises(IncompatibleDefinitionError):
        ds_b.define("User", {"name": "number"})


# --- history, diff, events -------------------------------------------------------------------


def test_history_and_diff_without_a_store() -> None:
    reg = ModelRegistry()
    ds = DataSource("memory", name="crm", tenant="acme", registry=reg)
    ds.define("User", {"name": "string", "age": "integer"})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ModelRedefinedWarning)
        ds.define("User", {"name": "string", "age": "number", "email": "string"})
    ds.delete_model("User")
    h = reg.history("User", tenant="acme")
    assert list(h.columns) == ["revision", "op", "at", "by", "owner", "fingerprint", "properties"]
    assert list(h["op"]) == ["define", "redefine", "delete"]
    assert list(h["revision"]) == [1, 2, 3]
    assert str(h["at"].dtype) == "datetime64[ns, UTC]"
    assert "age: integer" in h["properties"][0] and "email: string" in h["properties"][1]
    d = reg.diff("User", 1, 2, tenant="acme")
    assert list(d.columns) == ["property", "change", "before", "after"]
    rows = {r.property: (r.change, r.before, r.after) for r in d.itertuples()}
    assert rows["age"] == ("changed", "integer", "number")
    assert rows["email"][0] == "added" and rows["email"][2] == "string"
    with pytest.raises(ModelNotFoundError, match="revisions: 1, 2, 3"):
        reg.diff("User", 1, 9, tenant="acme")
    with pytest.raises(ModelNotFoundError, match="no history"):
        reg.history("Nope", tenant="acme")


def test_history_with_a_store_shows_every_process(pair: Any) -> None:
    a, b = pair
    DataSource("memory", name="crm", tenant="acme", registry=a).define("User", USER)
    b.sync()
    ds_b = DataSource("memory", name="crm", tenant="acme", registry=b)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ModelRedefinedWarning)
        ds_b.define("User", {"name": "string"})
    a.sync()
    for reg in (a, b):
        h = reg.history("User", tenant="acme")
        assert list(h["op"]) == ["define", "redefine"]
        revs = list(h["revision"])
        assert revs == sorted(revs) and revs[0] >= 2
        d = reg.diff("User", revs[0], revs[1], tenant="acme")
        assert set(d["property"]) == {"address"} and list(d["change"]) == ["removed"]


def test_events_carry_the_revision_and_author_only_when_shared(pair: Any) -> None:
    a, b = pair
    mine: list[RegistryEvent] = []
    theirs: list[RegistryEvent] = []
    a.subscribe(mine.append)
    b.subscribe(theirs.append)
    DataSource("memory", name="crm", tenant="acme", registry=a).define("User", {"n": "string"})
    DataSource("memory", tenant="acme", registry=a).define("Local", {"n": "string"})
    shared = [e for e in mine if e.model_name == "User"]
    local = [e for e in mine if e.model_name == "Local"]
    assert shared and all(e.revision is not None and "@" in e.by for e in shared)
    assert local and all(e.revision is None and e.by is None for e in local)
    b.sync()
    applied = [e for e in theirs if e.model_name == "User" and e.kind == "registered"]
    assert applied and applied[0].revision == shared[0].revision


# --- connect pulls the state, automatic names, attach compatibility, authors, scopes ---------


def test_connect_does_not_replay_old_deletes_onto_local_models(url: str) -> None:
    a = ModelRegistry()
    a.connect_store(url)
    crm = DataSource("memory", name="crm", tenant="acme", registry=a)
    crm.define("Gone", {"x": "string"})
    crm.define("User", USER)
    crm.delete_model("Gone")  # the log: define Gone, define User, delete Gone
    b = ModelRegistry()
    mine = DataSource("memory", name="crm", tenant="acme", registry=b)
    gone = mine.define("Gone", {"x": "string"})  # defined here before connecting
    b.connect_store(url)
    assert mine.models.Gone is gone  # kept: the store's old delete is history, not state
    assert sorted(mine.models) == ["Gone", "User"]
    a.sync()
    assert a.get_model("Gone", tenant="acme").definition.fingerprint == gone.definition.fingerprint
    a.disconnect_store()
    b.disconnect_store()


def test_connect_after_a_store_wide_clear_keeps_local_models(url: str) -> None:
    a = ModelRegistry()
    a.connect_store(url)
    DataSource("memory", name="crm", tenant="acme", registry=a).define("User", USER)
    a.clear(scope="store")
    DataSource("memory", name="hr", tenant="acme", registry=a).define("Emp", {"n": "string"})
    b = ModelRegistry()
    local = DataSource("memory", name="ops", tenant="acme", registry=b).define("Job", {})
    b.connect_store(url)
    assert b.get_model("Job", tenant="acme") is local
    assert b.get_model("Emp", tenant="acme") is not None
    assert b.find_model_by_name("User", tenant="acme") is None  # cleared in the store
    a.disconnect_store()
    b.disconnect_store()


def test_an_automatically_named_owner_never_adopts_a_shared_one(pair: Any, url: str) -> None:
    a, b = pair
    auto = DataSource("memory", tenant="acme", registry=b)  # memory-1, say
    auto.define("Mine", {"x": "string"})
    named = DataSource("memory", name=auto.name, tenant="acme", registry=a)
    named.define("Shared", {"y": "string"})
    with pytest.warns(RuntimeWarning, match="automatic name"):
        b.sync()
    assert list(auto.models) == ["Mine"]  # the shared one's model is not here
    auto.define("Mine2", {"z": "string"})  # still local: nothing reaches the store
    assert {d.model for d in a.store.definitions()} == {"Shared"}
    c = ModelRegistry()
    DataSource("memory", tenant="acme", registry=c).define("Other", {})  # memory-1 again
    with pytest.raises(ConflictError, match="automatic"):
        c.connect_store(url)
    assert c.store is None


def test_listen_on_a_store_that_cannot_leaves_the_registry_unconnected(pair: Any, url: str) -> None:
    a, _ = pair
    DataSource("memory", name="crm", tenant="acme", registry=a).define("User", USER)
    reg = ModelRegistry()
    mine = DataSource("memory", name="ops", tenant="acme", registry=reg)
    mine.define("Job", {"x": "string"})
    with pytest.raises(StoreError, match="listen=True needs"):
        reg.connect_store(url, listen=True)
    assert reg.store is None
    assert reg.find_model_by_name("User", tenant="acme") is None  # nothing pulled
    assert "Job" not in {d.model for d in a.store.definitions()}  # nothing pushed
    reg.connect_store(url)  # and it can connect afterwards
    assert reg.get_model("User", tenant="acme") is not None
    reg.disconnect_store()


def test_attach_obeys_the_compatibility_mode(url: str) -> None:
    reg = ModelRegistry(compatibility="full")
    ds = DataSource("memory", name="crm", registry=reg)
    user = ds.define("User", {"name": "string"})
    other = DataSource("memory", name="hr", registry=reg)
    breaking = other.define("User", {"name": "integer", "x": {"type": "string", "required": True}})
    with pytest.raises(IncompatibleDefinitionError, match="name"):
        ds.attach(breaking)
    assert ds.models.User is user and other.models.User is breaking  # nothing moved
    fine = DataSource("memory", name="ops", registry=reg).define(
        "User", {"name": "string", "note": "string"}
    )
    reg.compatibility = "backward"
    assert ds.attach(fine) is fine


def test_a_pulled_definition_names_its_revision_and_author(pair: Any) -> None:
    a, b = pair
    DataSource("memory", name="crm", tenant="acme", registry=a).define("User", USER)
    seen: list[RegistryEvent] = []
    b.subscribe(seen.append)
    ds_b = DataSource("memory", name="crm", tenant="acme", registry=b)  # pulls, no sync()
    added = [e for e in seen if e.model_name == "User"]
    assert added, seen
    assert added and added[0].revision is not None and "@" in (added[0].by or "")
    assert (
        ds_b.models.User.definition.fingerprint
        == a.get_model("User", tenant="acme").definition.fingerprint
    )


def test_cleanup_inactive_tenants_scope(pair: Any) -> None:
    a, b = pair
    DataSource("memory", name="crm", tenant="acme", registry=a).define("User", USER)
    b.sync()
    assert a.cleanup_inactive_tenants(0) == 1  # local: b and the store keep it
    assert b.sync() == 0 and b.get_model("User", tenant="acme") is not None
    assert {d.model for d in a.store.definitions()} == {"User"}
    assert b.cleanup_inactive_tenants(0, scope="store") == 1
    assert a.store.definitions() == []
    with pytest.raises(ValueError, match="scope must be"):
        a.cleanup_inactive_tenants(0, scope="everywhere")
    lone = ModelRegistry()
    DataSource("memory", name="crm", registry=lone).define("User", USER)
    with pytest.raises(StoreError, match="no tenant was cleaned"):
        lone.cleanup_inactive_tenants(0, scope="store")
    assert lone.get_model("User") is not None


def test_disconnect_and_garbage_collection_stay_local(pair: Any) -> None:
    import gc

    a, b = pair
    ds = DataSource("memory", name="crm", tenant="acme", registry=a)
    ds.define("User", USER)
    scratch = DataSource("memory", tenant="acme", registry=a)
    scratch.define("Tmp", {})
    del scratch
    with warnings.catch_warnings():  # only this test's objects matter here
        warnings.simplefilter("ignore", ResourceWarning)
        gc.collect()
    a.disconnect(ds)
    b.sync()
    assert b.get_model("User", tenant="acme") is not None
    assert {d.model for d in a.store.definitions()} == {"User"}
