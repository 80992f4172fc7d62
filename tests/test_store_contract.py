"""The Store contract (DESIGN §12.5), one suite over both stores: SQLite and PostgreSQL.

Every test of the ``kit`` fixture runs against a fresh SQLite file and against a fresh
schema of the session's real PostgreSQL server (``?schema=``, dropped afterwards), so
both stores keep one semantics. PostgreSQL-only behaviour (LISTEN/NOTIFY, a server that
goes away, passwords) follows at the end. Real processes, not threads, for concurrency
and crashes.
"""

from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
import statistics
import subprocess
import sys
import threading
import time
import traceback
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote, quote_plus

import pytest

import nbregistry
from nbregistry import ConflictError, StoreError
from nbregistry.core import plugins
from nbregistry.core.store import Change, Revision, Store, open_store, store_class
from nbregistry.store import sqlbase
from nbregistry.store.postgresql import SCHEMA_VERSION as PG_SCHEMA_VERSION
from nbregistry.store.postgresql import PostgreSQLStore
from nbregistry.store.sqlbase import HISTORY, HISTORY_INDEXES, MIGRATIONS
from nbregistry.store.sqlite import SCHEMA_VERSION, SQLiteStore

WRITER = Path(__file__).with_name("store_writer.py")
ROOT = str(Path(nbregistry.__file__).resolve().parent.parent)
ENV = {
    **os.environ,
    "PYTHONPATH": os.pathsep.join(filter(None, [ROOT, os.environ.get("PYTHONPATH")])),
}
OWNER = {"owner_type": "dataSource", "connector": "memory", "settings": {"file": "a.json"}}
APP = {"owner_type": "app"}
assert PG_SCHEMA_VERSION == SCHEMA_VERSION


class Kit:
    """One store under test: its URL, and raw SQL on its tables that bypasses the store."""

    def __init__(self, name: str, tmp_path: Path, pg: Any) -> None:
        self.name = name
        self.pg = pg
        self.opened: list[Store] = []
        if name == "sqlite":
            self.path = tmp_path / "reg.db"
            self.url = f"sqlite:///{self.path}"
        else:
            self.schema = f"c_{uuid.uuid4().hex[:12]}"
            self.url = f"{pg.url}?schema={self.schema}"

    def open(self) -> Store:
        store = open_store(self.url)
        self.opened.append(store)
        return store

    def table(self, name: str) -> str:
        """Return the name raw SQL uses for the store's table ``nbregistry_<name>``."""
        return (
            f"nbregistry_{name}" if self.name == "sqlite" else f'"{self.schema}".nbregistry_{name}'
        )

    def raw(self, sql: str) -> list[tuple[Any, ...]]:
        """Run one statement outside the store (PostgreSQL: as the superuser)."""
        if self.name == "sqlite":
            con = sqlite3.connect(self.path, isolation_level=None)
            try:
                return con.execute(sql).fetchall()
            finally:
                con.close()
        return self.pg.superuser_sql("@db " + sql)[0]

    def columns(self, table: str) -> list[str]:
        if self.name == "sqlite":
            return [r[1] for r in self.raw(f"PRAGMA table_info(nbregistry_{table})")]
        return [
            r[0]
            for r in self.raw(
                "SELECT column_name FROM information_schema.columns WHERE "
                f"table_schema = '{self.schema}' AND table_name = 'nbregistry_{table}'"
            )
        ]

    def indexes(self) -> set[str]:
        """Return the names of the indexes on the store's tables."""
        if self.name == "sqlite":
            sql = "SELECT name FROM sqlite_master WHERE type = 'index'"
        else:
            sql = f"SELECT indexname FROM pg_indexes WHERE schemaname = '{self.schema}'"
        return {r[0] for r in self.raw(sql)}

    def tables(self) -> set[str]:
        """Return the logical names (``owners``, ...) of the store's tables present."""
        if self.name == "sqlite":
            sql = "SELECT name FROM sqlite_master WHERE type = 'table'"
        else:
            sql = f"SELECT tablename FROM pg_tables WHERE schemaname = '{self.schema}'"
        return {r[0].removeprefix("nbregistry_") for r in self.raw(sql)}

    def version(self) -> list[tuple[Any, ...]]:
        return self.raw(f"SELECT version FROM {self.table('schema')}")

    def cli_upgrade(self) -> subprocess.CompletedProcess[str]:
        """Run ``python -m nbregistry store upgrade URL`` in a real process."""
        done = subprocess.run(
            [sys.executable, "-m", "nbregistry", "store", "upgrade", self.url],
            capture_output=True,
            text=True,
            env=ENV,
            timeout=120,
        )
        if self.pg is not None:  # the URL carries the password: it is never printed
            for spelling in (self.pg.password, quote(self.pg.password, safe="")):
                assert spelling not in done.stdout + done.stderr
        return done

    def shown(self) -> str:
        """Return the URL as the store shows it (PostgreSQL: the password masked)."""
        return self.url if self.name == "sqlite" else mask(self.url)

    def close(self) -> None:
        for store in self.opened:
            store.close()
        if self.name == "postgresql":
            self.pg.superuser_sql(f'@db DROP SCHEMA IF EXISTS "{self.schema}" CASCADE')


@pytest.fixture(params=["sqlite", "postgresql"])
def kit(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Kit]:
    """Yield a Kit per store: one contract, two stores."""
    pg = request.getfixturevalue("pg_server") if request.param == "postgresql" else None
    k = Kit(request.param, tmp_path, pg)
    yield k
    k.close()


@pytest.fixture
def store(kit: Kit) -> Store:
    return kit.open()


def define(model: str, fp: str, expect: int | None = 0, op: str = "define", **kw: Any) -> Change:
    owner = kw.pop("owner", "crm")
    tenant = kw.pop("tenant", "acme")
    return Change(op, tenant, owner, model, fp, {"definition": {"fp": fp}}, expect=expect)


def ops(revs: list[Revision]) -> list[tuple[int, str]]:
    return [(r.revision, r.op) for r in revs]


# --- discovery and schema -----------------------------------------------------------------


def test_both_schemes_resolve_through_the_entry_point_group() -> None:
    stores = plugins.BUILTIN[plugins.STORES]
    assert stores["postgresql"] == "nbregistry.store.postgresql:PostgreSQLStore"
    assert store_class("postgresql://u@h/db") is PostgreSQLStore
    assert store_class("postgresql+psycopg://u@h/db") is PostgreSQLStore
    assert store_class("sqlite:///x.db") is SQLiteStore
    text = (Path(__file__).parents[1] / "pyproject.toml").read_text()
    assert 'postgresql = "nbregistry.store.postgresql:PostgreSQLStore"' in text


def test_the_module_and_psycopg_load_only_for_a_postgresql_url() -> None:
    code = (
        "import sys, nbregistry\n"
        "from nbregistry.core.store import store_class\n"
        "store_class('sqlite:///x.db')\n"
        "assert 'psycopg' not in sys.modules and 'nbregistry.store.postgresql' not in sys.modules\n"
        "store_class('postgresql://u@h/db')\n"
        "assert 'psycopg' not in sys.modules  # imported when a store is opened\n"
    )
    subprocess.run([sys.executable, "-c", code], env=ENV, check=True, timeout=120)


def test_first_connect_creates_the_schema_with_the_tenant_in_every_row(kit: Kit) -> None:
    s = kit.open()
    assert s.schema_version() == SCHEMA_VERSION and s.head() == 0
    assert s.compatibility() == "none" and s.owners() == [] and s.definitions() == []
    for table in ("owners", "definitions", "revisions"):
        assert "tenant" in kit.columns(table)  # row-level security can scope a role
    assert kit.columns("settings") == ["key", "value"]
    again = kit.open()  # a second connect finds it
    assert again.schema_version() == SCHEMA_VERSION


# --- commits ------------------------------------------------------------------------------


def test_every_op_commits_with_a_gapless_revision_and_updates_the_state(store: Store) -> None:
    r1 = store.commit(Change("owner", "acme", "crm", payload=OWNER))
    assert r1 is not None and (r1.revision, r1.op, r1.tenant, r1.owner) == (
        1,
        "owner",
        "acme",
        "crm",
    )
    assert r1.by.endswith(f":{os.getpid()}") and "@" in r1.by and r1.at.endswith("+00:00")
    assert store.commit(Change("owner", "acme", "crm", payload=OWNER)) is None  # identical
    assert store.commit(Change("owner", "acme", "app", payload=APP)).revision == 2
    assert store.commit(define("User", "f1")).revision == 3
    assert store.commit(define("User", "f2", expect=3, op="redefine")).revision == 4
    assert store.commit(define("Order", "f3")).revision == 5
    move = Change(
        "attach",
        "acme",
        "app",
        "Order",
        "f3",
        {"definition": {"fp": "f3"}, "from_owner": "crm"},
        expect=0,
        expect_from=5,
    )
    assert store.commit(move).revision == 6
    assert [(d.owner, d.model, d.fingerprint, d.revision) for d in store.definitions()] == [
        ("crm", "User", "f2", 4),
        ("app", "Order", "f3", 6),
    ]
    assert store.definitions()[0].definition == {"fp": "f2"}
    assert store.commit(Change("delete", "acme", "app", "Order", expect=6)).revision == 7
    assert store.commit(Change("compatibility", payload={"mode": "full"})).revision == 8
    assert store.commit(Change("owner", "beta", "crm", payload=OWNER)).revision == 9
    assert store.commit(Change("cleanup_tenant", "acme")).revision == 10
    assert [(o.tenant, o.name, o.settings) for o in store.owners()] == [
        ("beta", "crm", {"file": "a.json"})
    ]
    assert store.definitions() == []
    assert store.commit(Change("clear")).revision == 11
    assert store.owners() == [] and store.compatibility() == "full"  # clear keeps the mode
    revs = store.revisions()
    assert [r.revision for r in revs] == list(range(1, 12)) and store.head() == 11
    assert [r.op for r in revs] == [
        "owner", "owner", "define", "redefine", "define", "attach", "delete",
        "compatibility", "owner", "cleanup_tenant", "clear",
    ]  # fmt: skip
    assert revs[5].payload == {"definition": {"fp": "f3"}, "from_owner": "crm"}
    assert ops(store.revisions(9)) == [(10, "cleanup_tenant"), (11, "clear")]
    assert ops(store.revisions(2, limit=2)) == [(3, "define"), (4, "redefine")]
    assert store.revisions(11) == []
    assert revs[0] == r1  # what commit returned is what the log holds


def test_a_stale_expectation_raises_conflict_naming_revision_and_author(kit: Kit) -> None:
    a, b = kit.open(), kit.open()
    a.commit(Change("owner", "acme", "crm", payload=OWNER))
    a.commit(define("User", "f1"))
    b.commit(define("User", "f2", expect=2, op="redefine"))
    by = a.revisions(2)[0].by
    with pytest.raises(ConflictError) as info:
        a.commit(define("User", "f3", expect=2, op="redefine"))
    msg = str(info.value)
    assert f"changed by revision 3 by {by}" in msg and "last saw revision 2" in msg
    assert "nothing was changed" in msg
    with pytest.raises(ConflictError, match="it absent"):
        a.commit(define("User", "f3", expect=0))
    b.commit(Change("delete", "acme", "crm", "User", expect=3))
    with pytest.raises(ConflictError, match=r"no longer in store.*since revision 4 \(delete\)"):
        a.commit(define("User", "f3", expect=3, op="redefine"))
    with pytest.raises(ConflictError, match=r"is not in store .*since revision 4"):
        a.commit(Change("delete", "acme", "crm", "User", expect=None))
    assert a.head() == 4 and a.definitions() == []
    assert a.commit(define("User", "f4", expect=None)).revision == 5  # unconditional


def test_an_owner_with_another_connector_or_settings_conflicts(store: Store) -> None:
    store.commit(Change("owner", "acme", "crm", payload=OWNER))
    other = {**OWNER, "settings": {"file": "b.json"}}
    with pytest.raises(
        ConflictError,
        match=r"owner 'crm' of tenant 'acme' exists.*a\.json.*revision 1 by .*b\.json",
    ):
        store.commit(Change("owner", "acme", "crm", payload=other))
    with pytest.raises(ConflictError, match="connector='sqlite'"):
        store.commit(Change("owner", "acme", "crm", payload={**OWNER, "connector": "sqlite"}))
    assert store.commit(Change("owner", "beta", "crm", payload=other)).revision == 2  # other tenant
    assert store.head() == 2 and store.owners()[0].settings == {"file": "a.json"}


def test_a_model_of_an_unknown_owner_is_refused(store: Store) -> None:
    with pytest.raises(ConflictError, match="owner 'crm' of tenant 'acme' is not in store"):
        store.commit(define("User", "f1"))
    assert store.head() == 0


def test_an_attach_checks_both_owners(store: Store) -> None:
    store.commit(Change("owner", "acme", "crm", payload=OWNER))
    store.commit(Change("owner", "acme", "app", payload=APP))
    store.commit(define("User", "f1"))
    move = Change(
        "attach", "acme", "app", "User", "f1", {"definition": {}, "from_owner": "crm"},
        expect=0, expect_from=2,
    )  # fmt: skip
    with pytest.raises(ConflictError, match=r"'crm'.*changed by revision 3"):
        store.commit(move)
    assert store.head() == 3 and [d.owner for d in store.definitions()] == ["crm"]


def test_compatibility_defaults_to_none_and_is_recorded(kit: Kit) -> None:
    a, b = kit.open(), kit.open()
    assert a.compatibility() == "none"
    a.commit(Change("compatibility", payload={"mode": "backward"}))
    assert b.compatibility() == "backward" and b.revisions()[0].payload == {"mode": "backward"}
    b.commit(Change("compatibility", payload={"mode": "none"}))
    assert a.compatibility() == "none" and a.head() == 2
    with pytest.raises(ValueError, match="compatibility mode must be one of none, backward"):
        a.commit(Change("compatibility", payload={"mode": "sideways"}))
    assert a.head() == 2


def test_model_revisions_is_the_history_of_one_model_name(kit: Kit) -> None:
    s = kit.open()
    s.commit(Change("owner", "acme", "crm", payload=OWNER))  # 1
    s.commit(Change("owner", "acme", "app", payload=APP))  # 2
    s.commit(Change("owner", "beta", "crm", payload=OWNER))  # 3
    s.commit(define("User", "u1"))  # 4
    s.commit(define("Order", "o1"))  # 5
    s.commit(define("User", "b1", tenant="beta"))  # 6: another tenant
    s.commit(define("User", "u2", expect=4, op="redefine"))  # 7
    s.commit(define("User", "a1", owner="app"))  # 8: another owner, same name
    s.commit(Change("delete", "acme", "crm", "User", expect=7))  # 9
    s.commit(Change("cleanup_tenant", "beta"))  # 10: another tenant's cleanup
    s.commit(Change("compatibility", payload={"mode": "full"}))  # 11
    s.commit(Change("cleanup_tenant", "acme"))  # 12
    s.commit(Change("clear"))  # 13
    s.commit(Change("owner", "acme", "crm", payload=OWNER))  # 14
    s.commit(define("User", "u3"))  # 15
    hist = s.model_revisions("acme", "User")
    assert ops(hist) == [
        (4, "define"), (7, "redefine"), (8, "define"), (9, "delete"),
        (12, "cleanup_tenant"), (13, "clear"), (15, "define"),
    ]  # fmt: skip
    assert [r.owner for r in hist[:4]] == ["crm", "crm", "app", "crm"]
    assert hist[1].fingerprint == "u2" and hist[1].payload == {"definition": {"fp": "u2"}}
    assert ops(s.model_revisions("beta", "User")) == [
        (6, "define"),
        (10, "cleanup_tenant"),
        (13, "clear"),
    ]
    assert ops(s.model_revisions("acme", "Nobody")) == [(12, "cleanup_tenant"), (13, "clear")]
    assert hist == [r for r in s.revisions() if r.revision in {4, 7, 8, 9, 12, 13, 15}]


def test_model_revisions_reads_the_history_indexes(kit: Kit) -> None:
    kit.open().commit(Change("owner", "acme", "crm", payload=OWNER))
    if kit.name == "sqlite":
        sql = HISTORY.format(revisions="nbregistry_revisions")
        plan = " | ".join(r[3] for r in kit.raw("EXPLAIN QUERY PLAN " + sql.replace("?", "'x'")))
        assert plan.count("USING INDEX nbregistry_revisions_history") == 1, plan
        assert plan.count("USING INDEX nbregistry_revisions_resets") == 2, plan
        assert "SCAN nbregistry_revisions" not in plan, plan
    else:  # on a tiny table the planner prefers a scan: show that the indexes serve it
        sql = HISTORY.format(revisions=kit.table("revisions")).replace("?", "'x'")
        rows = kit.pg.superuser_sql("@db SET enable_seqscan = off", "@db EXPLAIN " + sql)[1]
        plan = " | ".join(r[0] for r in rows)
        assert "nbregistry_revisions_history" in plan and "nbregistry_revisions_resets" in plan
        assert "Seq Scan" not in plan, plan


def test_the_revision_log_is_append_only(kit: Kit) -> None:
    s = kit.open()
    s.commit(Change("owner", "acme", "crm", payload=OWNER))
    log = kit.table("revisions")
    attempts = [f"DELETE FROM {log}", f"UPDATE {log} SET op = 'x'"]
    if kit.name == "postgresql":
        attempts.append(f"TRUNCATE {log}")
    for sql in attempts:
        with pytest.raises(Exception, match="append-only"):
            kit.raw(sql)
    assert ops(s.revisions()) == [(1, "owner")]


def test_changed_is_a_cheap_exact_check_of_other_connections(kit: Kit) -> None:
    a, b = kit.open(), kit.open()
    a.changed()
    assert a.changed() is False
    a.commit(Change("owner", "acme", "crm", payload=OWNER))
    assert a.changed() is False  # its own commit
    b.commit(Change("owner", "acme", "app", payload=APP))
    assert a.changed() is True and a.changed() is False
    b.commit(Change("owner", "beta", "app", payload=APP))
    a.commit(Change("owner", "gamma", "app", payload=APP))  # own commit after another's
    assert a.changed() is True and a.changed() is False
    assert b.commit(Change("owner", "acme", "app", payload=APP)) is None
    assert a.changed() is False  # nothing was committed


def test_a_closed_store_raises_store_error(store: Store) -> None:
    store.close()
    store.close()
    for call in (store.head, store.owners, lambda: store.commit(Change("clear"))):
        with pytest.raises(StoreError, match="is closed"):
            call()
    with pytest.raises(StoreError):
        store.listen(lambda rev: None)


# --- bad input: a clear error naming the value, nothing changed --------------------------


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (Change("rename", "acme"), "unknown store op 'rename'"),
        (Change("owner", "acme", "crm"), r"payload\['owner_type'\]"),
        (Change("define", "acme", "crm", "User", "f"), r"payload\['definition'\]"),
        (Change("define", "acme", "crm", None, "f", {"definition": {}}), "non-empty str model"),
        (Change("redefine", "acme", "crm", "User", None, {"definition": {}}), "str fingerprint"),
        (Change("cleanup_tenant"), "non-empty str tenant"),
        (
            Change("owner", "acme", "crm", payload={"owner_type": "app", "settings": {"f": {1}}}),
            "cannot be stored as JSON",
        ),
        (
            Change("define", "acme", "crm", "User", "f", {"definition": {"x": float("nan")}}),
            "cannot be stored as JSON",
        ),
    ],
)
def test_a_malformed_change_raises_value_error_and_writes_nothing(
    store: Store, change: Change, message: str
) -> None:
    store.commit(Change("owner", "acme", "crm", payload=APP))
    with pytest.raises(ValueError, match=message):
        store.commit(change)
    assert store.head() == 1
    with pytest.raises(TypeError, match="takes a Change"):
        store.commit({"op": "clear"})  # type: ignore[arg-type]


BAD_URLS = {
    "sqlite": [
        ("sqlite:///:memory:", ValueError, "names no file"),
        ("sqlite:///reg.db?mode=ro", ValueError, "no query string"),
    ],
    "postgresql": [
        ("postgresql://u:pw@h:notaport/db", ValueError, r"u:\*\*\*@h:notaport.*port 'notaport'"),
        ("postgresql+psycopg2://u@h/db", ValueError, "uses psycopg 3"),
        ("postgresql://u@h/db?schema=", ValueError, "must name a schema"),
        ("postgresql://u@h/db?schema", ValueError, "cannot parse the query string"),
    ],
}


@pytest.mark.parametrize("name", ["sqlite", "postgresql"])
def test_a_malformed_url_names_itself(name: str) -> None:
    for url, error, message in BAD_URLS[name]:
        with pytest.raises(error, match=message):
            open_store(url)
        if name == "postgresql":
            with pytest.raises(error, match=message):
                PostgreSQLStore.upgrade(url)
    with pytest.raises(ValueError, match=r"malformed store URL 'registry\.db'"):
        open_store("registry.db")


def test_a_newer_schema_is_refused_naming_the_url_and_nothing_changes(kit: Kit) -> None:
    s = kit.open()
    s.commit(Change("owner", "acme", "crm", payload=OWNER))
    s.close()
    kit.raw(f"UPDATE {kit.table('schema')} SET version = {SCHEMA_VERSION + 1}")
    shown = kit.url if kit.name == "sqlite" else mask(kit.url)
    with pytest.raises(StoreError, match=rf"schema version {SCHEMA_VERSION + 1}, newer") as info:
        open_store(kit.url)
    assert repr(shown) in str(info.value) and "upgrade nbregistry" in str(info.value)
    with pytest.raises(StoreError, match="newer"):
        store_class(kit.url).upgrade(kit.url)
    assert kit.raw(f"SELECT version FROM {kit.table('schema')}") == [(SCHEMA_VERSION + 1,)]
    assert kit.raw(f"SELECT count(*) FROM {kit.table('revisions')}") == [(1,)]


@pytest.mark.parametrize("table", sorted(sqlbase.TABLES))
def test_a_store_missing_any_of_its_tables_is_damaged(kit: Kit, table: str) -> None:
    kit.open().close()
    kit.raw(f"DROP TABLE {kit.table(table)}")
    before = kit.indexes()
    where = "file" if kit.name == "sqlite" else "schema"
    for attempt in (open_store, store_class(kit.url).upgrade):
        with pytest.raises(StoreError) as info:
            attempt(kit.url)
        message = str(info.value)
        assert f"holds only some nbregistry tables (no nbregistry_{table})" in message
        assert f"it is damaged — restore it or choose another {where}" in message
        assert repr(kit.shown()) in message
    assert kit.indexes() == before  # nothing was re-created
    assert kit.tables() == set(sqlbase.TABLES) - {table}


def test_a_store_without_a_version_row_is_damaged(kit: Kit) -> None:
    kit.open().close()
    kit.raw(f"DELETE FROM {kit.table('schema')}")
    for attempt in (open_store, store_class(kit.url).upgrade):
        with pytest.raises(StoreError, match=r"has no schema version .*it is damaged"):
            attempt(kit.url)
    assert kit.version() == []


def test_upgrade_creates_a_store_and_then_reports_it_current(kit: Kit) -> None:
    cls = store_class(kit.url)
    assert cls.upgrade(kit.url) == (
        f"created store {kit.shown()!r} at schema version {SCHEMA_VERSION}"
    )
    assert cls.upgrade(kit.url) == (
        f"store {kit.shown()!r} is already at schema version {SCHEMA_VERSION}"
    )
    assert kit.open().schema_version() == SCHEMA_VERSION


def _make_version_1(kit: Kit) -> set[str]:
    """Turn a fresh store into what nbregistry wrote at schema version 1; return its indexes.

    Version 1 stores made before the history indexes existed lack them (1 → 2 adds them).
    """
    s = kit.open()
    s.commit(Change("owner", "acme", "crm", payload=OWNER))
    s.commit(define("User", "f1"))
    s.close()
    fresh = kit.indexes()
    for name, _ in HISTORY_INDEXES:
        kit.raw("DROP INDEX " + kit.table(name.removeprefix("nbregistry_")))
    kit.raw(f"UPDATE {kit.table('schema')} SET version = 1")
    assert kit.indexes() == fresh - {name for name, _ in HISTORY_INDEXES}
    return fresh


def test_an_older_store_is_refused_until_the_command_line_upgrades_it(kit: Kit) -> None:
    assert SCHEMA_VERSION == 2 and sorted(MIGRATIONS) == [1]
    fresh = _make_version_1(kit)
    with pytest.raises(StoreError) as info:
        open_store(kit.url)
    assert str(info.value) == (
        f"store {kit.shown()!r} has schema version 1, older than 2; run: "
        f"python -m nbregistry store upgrade {kit.shown()}"
    )
    assert kit.version() == [(1,)]  # refusing changed nothing
    done = kit.cli_upgrade()
    assert (done.returncode, done.stderr) == (0, ""), done
    assert done.stdout == (
        f"upgraded store {kit.shown()!r} from schema version 1 to 2: 1 → 2 added the "
        "history indexes nbregistry_revisions_history, nbregistry_revisions_resets\n"
    )
    assert kit.version() == [(2,)]
    assert kit.indexes() == fresh  # exactly what a store created at version 2 has
    s = kit.open()
    assert s.schema_version() == 2 and s.head() == 2
    assert [(d.model, d.fingerprint) for d in s.definitions()] == [("User", "f1")]
    assert ops(s.model_revisions("acme", "User")) == [(2, "define")]
    again = kit.cli_upgrade()
    assert (again.returncode, again.stderr) == (0, ""), again
    assert again.stdout == f"store {kit.shown()!r} is already at schema version 2\n"


def test_a_failing_migration_changes_nothing(kit: Kit, monkeypatch: pytest.MonkeyPatch) -> None:
    _make_version_1(kit)
    before = kit.indexes()
    statements = (
        "CREATE INDEX nbregistry_revisions_history ON {revisions} (tenant, model, revision)",
        "CREATE INDEX nbregistry_broken ON {revisions} (no_such_column)",
    )
    monkeypatch.setattr(sqlbase, "MIGRATIONS", {1: ("breaks halfway", statements)})
    with pytest.raises(StoreError, match=r"cannot upgrade store .*no_such_column"):
        store_class(kit.url).upgrade(kit.url)
    assert kit.version() == [(1,)] and kit.indexes() == before  # one transaction


@pytest.mark.parametrize("version", [0, -3])
def test_a_version_no_migration_starts_from_is_refused(kit: Kit, version: int) -> None:
    kit.open().close()
    kit.raw(f"UPDATE {kit.table('schema')} SET version = {version}")
    before = kit.indexes()
    hint = (
        f"(schema version {version}): no migration from version {version} (this nbregistry "
        "upgrades only version 1 to 2); nothing was changed — restore the store from a "
        "backup, or create a new store and re-run its notebooks"
    )
    with pytest.raises(StoreError) as info:
        open_store(kit.url)
    assert str(info.value) == f"cannot open store {kit.shown()!r} {hint}"
    done = kit.cli_upgrade()
    assert (done.returncode, done.stdout) == (2, ""), done
    assert done.stderr == f"error: cannot upgrade store {kit.shown()!r} {hint}\n"
    assert kit.version() == [(version,)] and kit.indexes() == before


def test_listen_needs_notifications_except_on_postgresql(kit: Kit) -> None:
    s = kit.open()
    if kit.name == "sqlite":
        with pytest.raises(StoreError, match="listen=True needs a store that supports") as info:
            s.listen(lambda rev: None)
        assert repr(kit.url) in str(info.value) and "PostgreSQL" in str(info.value)
        assert "nbregistry-store-listen" not in [t.name for t in threading.enumerate()]
    else:
        stop = s.listen(lambda rev: None)
        stop()


# --- real processes -------------------------------------------------------------------------


def _writers(url: str, go: Path, n: int, count: int, *extra: str) -> list[subprocess.Popen[str]]:
    procs = [
        subprocess.Popen(
            [sys.executable, str(WRITER), url, f"w{i}", str(n), str(go), *extra],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=ENV,
        )
        for i in range(count)
    ]
    for p in procs:
        assert p.stdout is not None and p.stdout.readline() == "ready\n", p.stderr
    return procs


def test_concurrent_writer_processes_keep_the_log_gapless(kit: Kit, tmp_path: Path) -> None:
    """3 processes create the store together, then race conditional redefines of one model."""
    n, count = 25, 3
    go = tmp_path / "go"
    procs = _writers(kit.url, go, n, count)  # the store does not exist yet: first connects race
    go.touch()
    results = []
    for p in procs:
        out, err = p.communicate(timeout=300)
        assert p.returncode == 0, err
        results.append(json.loads(out))
    assert sum(r["committed"] for r in results) == count * n
    assert sum(r["conflicts"] for r in results) > 0  # they really contended
    s = kit.open()
    revs = s.revisions()
    # One 'owner' revision (the other writers found it identical) + every committed redefine.
    assert [r.revision for r in revs] == list(range(1, count * n + 2))
    assert [r.op for r in revs].count("owner") == 1
    fps = [r.fingerprint for r in revs if r.op != "owner"]
    assert len(set(fps)) == len(fps) == count * n
    assert all(r.payload["definition"]["fingerprint"] == r.fingerprint for r in revs[1:])
    (current,) = s.definitions()
    assert current.revision == revs[-1].revision == s.head()
    assert s.schema_version() == SCHEMA_VERSION


@pytest.mark.fault
def test_a_writer_killed_mid_write_never_tears_a_revision(kit: Kit, tmp_path: Path) -> None:
    """SIGKILL a writer just after it says a commit begins; the store opens whole each time.

    The writer's stdout is read unbuffered, so the kill follows its ``begin`` line by the
    random delay only, about as long as a commit takes (SQLite: a fraction of a
    millisecond; PostgreSQL: a few statements and round trips).
    """
    delay = 0.0005 if kit.name == "sqlite" else 0.003
    seed = int(os.environ.get("NBR_CRASH_SEED", random.randrange(2**32)))
    rng = random.Random(seed)
    parent = kit.open()
    shared = {"owner_type": "dataSource", "connector": "memory"}
    parent.commit(Change("owner", "t", "shared", payload=shared))
    parent.commit(Change("owner", "t", "mine", payload=APP))
    acked: set[int] = set()
    landed: set[int] = set()  # writes committed by a killed writer before it could ack
    kills = in_flight = 0
    for round_no in range(6):
        go = tmp_path / f"go-{round_no}"
        go.touch()
        proc = subprocess.Popen(
            [sys.executable, str(WRITER), kit.url, "k", "0", str(go), "--signal"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            bufsize=0,
            env=ENV,
        )
        assert proc.stdout is not None and proc.stderr is not None
        target, begun, last = rng.randrange(1, 6), 0, b""
        while True:
            line = proc.stdout.readline()  # unbuffered: each line as soon as it is written
            assert line, proc.stderr.read().decode()[-2000:]
            word, *rest = line.split()
            if word == b"ack":
                acked.add(int(rest[1]))
            elif word == b"begin":
                begun += 1
                if begun == target:
                    time.sleep(rng.uniform(0, delay))
                    proc.send_signal(signal.SIGKILL)
                    break
            last = word
        proc.wait(timeout=60)
        assert proc.returncode == -signal.SIGKILL, proc.stderr.read().decode()[-2000:]
        for line in proc.stdout.read().splitlines():  # said between the signal and the kill
            last = line.split()[0]
            if last == b"ack":
                acked.add(int(line.split()[2]))
        in_flight += last in (b"begin", b"")
        proc.stdout.close()
        proc.stderr.close()
        kills += 1
        where = f"{kit.name} round {round_no} (NBR_CRASH_SEED={seed})"
        s = open_store(kit.url)  # must open
        revs = s.revisions()
        assert [r.revision for r in revs] == list(range(1, len(revs) + 1)), where  # gapless
        for r in revs:
            assert r.at and r.by and r.op, where
            if r.model == "Counter":
                assert r.payload["definition"]["fingerprint"] == r.fingerprint, where
                assert r.payload["definition"]["pad"] == r.fingerprint * 50, where  # whole
        assert acked <= {r.revision for r in revs}, where  # every acknowledged write is there
        current = {d.model: (d.revision, d.fingerprint) for d in s.definitions()}.get("Counter")
        counter = [(r.revision, r.fingerprint) for r in revs if r.model == "Counter"]
        assert current == (counter[-1] if counter else None), where  # state matches the log
        unacked = {r.revision for r in revs if r.model == "Counter"} - acked - landed
        assert len(unacked) <= 1, f"{where}: {unacked}"  # at most the one in flight
        landed |= unacked
        s.close()
        # This process keeps working: the dead writer holds no lock.
        rev = parent.commit(define(f"M{round_no}", "x", tenant="t", owner="mine"))
        assert rev is not None and rev.revision == len(revs) + 1, where
    print(
        f"\n{kit.name}: {kills} kills, {in_flight} with a write in flight ({len(landed)} of "
        f"them committed), {len(acked)} acknowledged writes, seed {seed}"
    )


# --- PostgreSQL only ----------------------------------------------------------------------


def mask(url: str) -> str:
    from nbregistry.store.postgresql import mask_url

    return mask_url(url)


@pytest.fixture
def pgkit(pg_server: Any, tmp_path: Path) -> Iterator[Kit]:
    k = Kit("postgresql", tmp_path, pg_server)
    yield k
    k.close()


def _wait(cond: Callable[[], bool], timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return True
        time.sleep(0.002)
    return cond()


def test_listen_delivers_revisions_committed_by_another_connection(pgkit: Kit) -> None:
    a, b = pgkit.open(), pgkit.open()
    got: list[int | None] = []
    arrived: dict[int, float] = {}

    def on(rev: int | None) -> None:
        got.append(rev)
        if rev is not None:
            arrived[rev] = time.perf_counter()

    stop = a.listen(on)
    assert [t.name for t in threading.enumerate()].count("nbregistry-store-listen") == 1
    with pytest.raises(StoreError, match="already listens"):
        a.listen(on)
    b.commit(Change("owner", "acme", "crm", payload=OWNER))
    latencies = []
    for i in range(20):
        sent = time.perf_counter()
        rev = b.commit(define(f"M{i}", "f"))
        assert rev is not None
        assert _wait(lambda rev=rev: rev.revision in arrived), got
        latencies.append(arrived[rev.revision] - sent)
    a.commit(define("Mine", "f"))  # its own commit is not announced back to it
    assert b.commit(Change("owner", "acme", "crm", payload=OWNER)) is None  # nothing: no notify
    c = open_store(pgkit.url.replace(f"schema={pgkit.schema}", "schema=c_other"))
    try:
        c.commit(Change("clear"))  # another schema's store: another channel
    finally:
        c.close()
        pgkit.pg.superuser_sql('@db DROP SCHEMA IF EXISTS "c_other" CASCADE')
    last = b.commit(Change("clear"))
    assert last is not None and _wait(lambda: last.revision in arrived)
    assert got == [*range(1, 22), last.revision]
    stop()
    stop()  # idempotent
    assert "nbregistry-store-listen" not in [t.name for t in threading.enumerate()]
    b.commit(Change("clear"))
    time.sleep(0.2)
    assert got[-1] == last.revision  # stopped: nothing more
    stop2 = a.listen(on)  # may listen again after stop()
    stop2()
    ms = sorted(x * 1000 for x in latencies)
    print(f"\nNOTIFY to callback: median {statistics.median(ms):.2f} ms, max {ms[-1]:.2f} ms")


def test_listen_after_a_server_restart_calls_none_then_delivers_again(pgkit: Kit) -> None:
    a, b = pgkit.open(), pgkit.open()
    a.commit(Change("owner", "acme", "crm", payload=OWNER))
    got: list[int | None] = []
    stop = a.listen(got.append)
    try:
        b.commit(define("User", "f1"))
        assert _wait(lambda: got == [2]), got
        pgkit.pg.stop()
        try:
            with pytest.raises(StoreError, match="nothing was committed"):
                b.commit(define("Order", "f2"))
        finally:
            pgkit.pg.start()
        assert _wait(lambda: got == [2, None]), got  # reconnected: re-read what is newer
        rev = b.commit(define("Order", "f2"))
        assert rev is not None and rev.revision == 3  # the failed write left no gap
        assert _wait(lambda: got == [2, None, 3]), got
    finally:
        stop()


def test_a_stopped_server_fails_writes_and_reads_then_both_work_again(pgkit: Kit) -> None:
    s = pgkit.open()
    s.commit(Change("owner", "acme", "crm", payload=OWNER))
    pgkit.pg.stop()
    try:
        with pytest.raises(StoreError) as info:
            s.commit(define("User", "f1"))
        msg = str(info.value)
        assert "nothing was committed" in msg and f"127.0.0.1:{pgkit.pg.port}" in msg
        assert "nbr_test" in msg and mask(pgkit.url) in msg
        with pytest.raises(StoreError, match="cannot connect"):
            s.head()
        with pytest.raises(StoreError, match="cannot connect"):
            s.changed()
    finally:
        pgkit.pg.start()
    assert s.head() == 1 and s.definitions() == []  # nothing half-written
    assert s.commit(define("User", "f1")).revision == 2
    assert ops(s.revisions()) == [(1, "owner"), (2, "define")]


def test_a_broken_connection_is_reopened_once_for_reads_and_writes(pgkit: Kit) -> None:
    s = pgkit.open()
    s.commit(Change("owner", "acme", "crm", payload=OWNER))
    pgkit.pg.stop()
    pgkit.pg.start()  # the store's connection died while idle
    assert s.head() == 1
    kill = (
        "@db SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
        "WHERE application_name = 'nbregistry-store' AND pid <> pg_backend_pid()"
    )
    pgkit.pg.superuser_sql(kill)
    assert s.commit(define("User", "f1")).revision == 2  # retried on a new connection
    pgkit.pg.superuser_sql(kill)
    assert s.changed() is True and s.changed() is False
    assert ops(s.revisions()) == [(1, "owner"), (2, "define")]


def test_a_role_without_rights_or_a_wrong_password_is_a_store_error(pgkit: Kit) -> None:
    pg = pgkit.pg
    wrong = pgkit.url.replace(quote(pg.password, safe=""), quote(pg.password + "x", safe=""))
    with pytest.raises(StoreError, match=rf"127\.0\.0\.1:{pg.port}, database 'nbr_test'"):
        open_store(wrong)
    with pytest.raises(StoreError, match="database 'nosuchdb'"):
        open_store(pgkit.url.replace("/nbr_test?", "/nosuchdb?"))


def _texts(exc: BaseException) -> list[str]:
    out: list[str] = []
    seen: set[int] = set()
    e: BaseException | None = exc
    while e is not None and id(e) not in seen:
        seen.add(id(e))
        out += [str(e), repr(e), *(str(a) for a in e.args), "".join(traceback.format_exception(e))]
        e = e.__cause__ or e.__context__
    return out


def test_the_password_never_shows(pgkit: Kit, tmp_path: Path) -> None:
    pg = pgkit.pg
    pw = pg.password
    s = pgkit.open()
    s.commit(Change("owner", "acme", "crm", payload=OWNER))
    assert s.url == f"postgresql://{pg.user}:***@127.0.0.1:{pg.port}/nbr_test?schema={pgkit.schema}"
    shown = [repr(s), str(s), s.url, str(vars(s)), repr(vars(s))]
    with pytest.raises(TypeError):
        __import__("pickle").dumps(s)
    with pytest.raises(ConflictError) as conflict:
        s.commit(Change("owner", "acme", "crm", payload=APP))
    errors = [conflict.value]
    wrong = pgkit.url.replace(quote(pw, safe=""), quote(pw + "x", safe=""))
    bad_port = pgkit.url.replace(f":{pg.port}/", ":1/")
    for url in (wrong, bad_port, pgkit.url.replace(f":{pg.port}/", ":notaport/")):
        with pytest.raises((StoreError, ValueError)) as info:
            open_store(url)
        errors.append(info.value)
    in_query = f"postgresql://{pg.user}@127.0.0.1:1/nbr_test?password={quote(pw, safe='')}"
    with pytest.raises(StoreError) as info:
        open_store(in_query)
    errors.append(info.value)
    assert "password=***" in str(info.value)
    pg.stop()
    try:
        for call in (s.head, lambda: s.commit(Change("clear"))):
            with pytest.raises(StoreError) as info:
                call()
            errors.append(info.value)
    finally:
        pg.start()
    for e in errors:
        shown += _texts(e)
    cli = subprocess.run(
        [sys.executable, "-m", "nbregistry", "store", "upgrade", pgkit.url],
        capture_output=True, text=True, env=ENV, timeout=120,
    )  # fmt: skip
    assert cli.returncode == 0 and f"already at schema version {SCHEMA_VERSION}" in cli.stdout, (
        cli.stderr
    )
    shown += [cli.stdout, cli.stderr]
    cli = subprocess.run(
        [sys.executable, "-m", "nbregistry", "store", "upgrade", wrong],
        capture_output=True, text=True, env=ENV, timeout=120,
    )  # fmt: skip
    assert cli.returncode == 2 and "cannot connect to store" in cli.stderr
    shown += [cli.stdout, cli.stderr]
    spellings = {
        pw,
        quote(pw, safe=""),
        quote_plus(pw),
        quote(pw),
        pw + "x",
        quote(pw + "x", safe=""),
    }
    for text in shown:
        for spelling in spellings:
            assert spelling not in text, (spelling, text[:300])
    assert all("***" in text for text in [s.url, repr(s)])
