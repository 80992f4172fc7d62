"""The Store contract and the SQLite store (DESIGN §12.5), on real files and processes."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from nbregistry import ConflictError, RegistryError, StoreError
from nbregistry.core import plugins
from nbregistry.core.store import Change, Store, open_store, store_class
from nbregistry.store.sqlite import SCHEMA_VERSION, SQLiteStore

WRITER = Path(__file__).with_name("store_writer.py")
OWNER = {"owner_type": "dataSource", "connector": "memory", "settings": {"file": "a.json"}}


def url_of(path: Path) -> str:
    """Return the sqlite:/// URL of an absolute path."""
    return f"sqlite:///{path}"


@pytest.fixture
def store(tmp_path: Path) -> SQLiteStore:
    s = open_store(url_of(tmp_path / "reg.db"))
    assert isinstance(s, SQLiteStore)
    yield s
    s.close()


def define(model: str, fp: str, expect: int | None = 0, op: str = "define") -> Change:
    return Change(op, "acme", "crm", model, fp, {"definition": {"fp": fp}}, expect=expect)


def test_the_scheme_resolves_through_the_entry_point_group() -> None:
    assert plugins.BUILTIN[plugins.STORES]["sqlite"] == "nbregistry.store.sqlite:SQLiteStore"
    assert "sqlite" in plugins.available(plugins.STORES)
    assert store_class("sqlite:///x.db") is SQLiteStore
    text = (Path(__file__).parents[1] / "pyproject.toml").read_text()
    assert '[project.entry-points."nbregistry.stores"]' in text
    assert 'sqlite = "nbregistry.store.sqlite:SQLiteStore"' in text


def test_the_contract_is_abstract() -> None:
    with pytest.raises(TypeError, match="abstract"):
        Store()  # type: ignore[abstract]


def test_first_connect_creates_the_schema_in_wal_mode(tmp_path: Path) -> None:
    path = tmp_path / "new.db"
    with open_store(url_of(path)) as s:
        assert s.schema_version() == SCHEMA_VERSION and s.head() == 0
    con = sqlite3.connect(path)
    tables = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"nbregistry_schema", "nbregistry_owners", "nbregistry_definitions"} <= tables
    assert {"nbregistry_revisions", "nbregistry_settings"} <= tables
    assert con.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    for table in ("nbregistry_owners", "nbregistry_definitions", "nbregistry_revisions"):
        cols = [r[1] for r in con.execute(f"PRAGMA table_info({table})")]
        assert "tenant" in cols  # every row carries its tenant (row-level security)
    con.close()


def test_commit_assigns_gapless_revisions_and_updates_state(store: SQLiteStore) -> None:
    r1 = store.commit(Change("owner", "acme", "crm", payload=OWNER))
    assert r1 is not None and r1.revision == 1 and r1.op == "owner"
    assert r1.by.endswith(f":{os.getpid()}") and "@" in r1.by and r1.at.endswith("+00:00")
    assert store.commit(Change("owner", "acme", "crm", payload=OWNER)) is None  # same: adopt
    assert store.commit(define("User", "f1")).revision == 2
    assert store.commit(define("User", "f2", expect=2, op="redefine")).revision == 3
    assert store.commit(define("Order", "f3")).revision == 4
    assert [(d.model, d.fingerprint, d.revision) for d in store.definitions()] == [
        ("User", "f2", 3),
        ("Order", "f3", 4),
    ]
    assert store.commit(Change("delete", "acme", "crm", "Order", expect=4)).revision == 5
    assert [r.revision for r in store.revisions()] == [1, 2, 3, 4, 5]
    assert [r.op for r in store.revisions(3)] == ["define", "delete"]
    assert store.head() == 5
    assert [d.model for d in store.definitions()] == ["User"]
    assert [o.name for o in store.owners()] == ["crm"]
    assert store.owners()[0].settings == {"file": "a.json"}


def test_attach_moves_a_definition_between_owners(store: SQLiteStore) -> None:
    store.commit(Change("owner", "acme", "crm", payload=OWNER))
    store.commit(Change("owner", "acme", "app", payload={"owner_type": "app"}))
    store.commit(define("User", "f1"))
    move = Change(
        "attach",
        "acme",
        "app",
        "User",
        "f1",
        {"definition": {}, "from_owner": "crm"},
        expect=0,
        expect_from=3,
    )
    assert store.commit(move).revision == 4
    assert [(d.owner, d.model) for d in store.definitions()] == [("app", "User")]


def test_a_stale_expectation_raises_conflict_naming_revision_and_author(tmp_path: Path) -> None:
    url = url_of(tmp_path / "reg.db")
    with open_store(url) as a, open_store(url) as b:
        a.commit(Change("owner", "acme", "crm", payload=OWNER))
        a.commit(define("User", "f1"))
        b.commit(define("User", "f2", expect=2, op="redefine"))
        with pytest.raises(
            ConflictError, match=r"changed by revision 3 by .*:\d+.*last saw revision 2"
        ):
            a.commit(define("User", "f3", expect=2, op="redefine"))
        with pytest.raises(ConflictError, match="it absent"):
            a.commit(define("User", "f3", expect=0))
        b.commit(Change("delete", "acme", "crm", "User", expect=3))
        with pytest.raises(ConflictError, match=r"no longer in store.*since revision 4 \(delete\)"):
            a.commit(define("User", "f3", expect=3, op="redefine"))
        assert a.head() == 4 and [d.fingerprint for d in a.definitions()] == []


def test_an_owner_with_other_settings_conflicts(store: SQLiteStore) -> None:
    store.commit(Change("owner", "acme", "crm", payload=OWNER))
    other = {**OWNER, "settings": {"file": "b.json"}}
    with pytest.raises(
        ConflictError, match=r"owner 'crm' of tenant 'acme' exists.*a\.json.*b\.json"
    ):
        store.commit(Change("owner", "acme", "crm", payload=other))
    assert store.head() == 1


def test_a_model_of_an_unknown_owner_is_refused(store: SQLiteStore) -> None:
    with pytest.raises(ConflictError, match="owner 'crm' of tenant 'acme' is not in store"):
        store.commit(define("User", "f1"))
    assert store.head() == 0


def test_cleanup_tenant_and_clear_are_revisions(store: SQLiteStore) -> None:
    store.commit(Change("owner", "acme", "crm", payload=OWNER))
    store.commit(Change("owner", "beta", "crm", payload=OWNER))
    store.commit(define("User", "f1"))
    assert store.commit(Change("cleanup_tenant", "acme")).revision == 4
    assert [(o.tenant, o.name) for o in store.owners()] == [("beta", "crm")]
    assert store.definitions() == []
    assert store.commit(Change("clear")).revision == 5
    assert store.owners() == [] and store.head() == 5


def test_compatibility_mode_is_recorded(store: SQLiteStore) -> None:
    assert store.compatibility() == "none"
    store.commit(Change("compatibility", payload={"mode": "backward"}))
    assert store.compatibility() == "backward" and store.revisions()[0].op == "compatibility"
    with pytest.raises(ValueError, match="compatibility mode must be one of"):
        store.commit(Change("compatibility", payload={"mode": "sideways"}))


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (Change("rename", "acme"), "unknown store op 'rename'"),
        (Change("owner", "acme", "crm"), r"payload\['owner_type'\]"),
        (Change("define", "acme", "crm", "User", "f"), r"payload\['definition'\]"),
        (Change("define", "acme", "crm", None, "f", {"definition": {}}), "non-empty str model"),
        (Change("cleanup_tenant"), "non-empty str tenant"),
        (
            Change("owner", "acme", "crm", payload={"owner_type": "app", "settings": {"f": {1}}}),
            "cannot be stored as JSON",
        ),
    ],
)
def test_a_malformed_change_raises_value_error_and_writes_nothing(
    store: SQLiteStore, change: Change, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        store.commit(change)
    assert store.head() == 0


def test_the_revision_log_is_append_only(store: SQLiteStore) -> None:
    store.commit(Change("owner", "acme", "crm", payload=OWNER))
    con = sqlite3.connect(store.path)
    for sql in ("DELETE FROM nbregistry_revisions", "UPDATE nbregistry_revisions SET op = 'x'"):
        with pytest.raises(sqlite3.IntegrityError, match="append-only"):
            con.execute(sql)
    con.close()


def test_changed_is_a_cheap_check_of_other_connections(tmp_path: Path) -> None:
    url = url_of(tmp_path / "reg.db")
    with open_store(url) as a, open_store(url) as b:
        a.changed()
        assert a.changed() is False
        a.commit(Change("owner", "acme", "crm", payload=OWNER))
        assert a.changed() is False  # its own commit
        b.commit(Change("owner", "acme", "app", payload={"owner_type": "app"}))
        assert a.changed() is True and a.changed() is False


def test_a_closed_store_raises_store_error(store: SQLiteStore) -> None:
    store.close()
    store.close()
    with pytest.raises(StoreError, match="is closed"):
        store.head()
    with pytest.raises(StoreError, match="is closed"):
        store.commit(Change("clear"))


# --- bad input: each a clear error naming the URL or file, nothing changed ----------------


def test_an_unknown_scheme_names_the_available_ones() -> None:
    with pytest.raises(ValueError, match=r"cannot open store 'nosuch://x'.*available: .*sqlite"):
        open_store("nosuch://x")
    with pytest.raises(ValueError, match=r"malformed store URL 'registry\.db'"):
        open_store("registry.db")
    with pytest.raises(TypeError, match="must be a str"):
        open_store(42)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="names no file"):
        open_store("sqlite:///:memory:")


def test_a_directory_is_refused(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match=rf"{tmp_path}' is a directory"):
        open_store(url_of(tmp_path))
    with pytest.raises(StoreError, match="does not exist"):
        open_store(url_of(tmp_path / "missing" / "reg.db"))
    assert list(tmp_path.iterdir()) == []


def test_a_corrupt_file_is_refused_unchanged(tmp_path: Path) -> None:
    path = tmp_path / "reg.db"
    junk = b"this is not a database\n" * 300
    path.write_bytes(junk)
    with pytest.raises(StoreError, match=rf"file '{path}' is not a usable SQLite database"):
        open_store(url_of(path))
    assert path.read_bytes() == junk
    assert sorted(p.name for p in tmp_path.iterdir()) == ["reg.db"]
    assert issubclass(StoreError, RegistryError) and issubclass(StoreError, RuntimeError)


def test_a_newer_schema_is_refused_and_an_older_needs_upgrade(tmp_path: Path) -> None:
    path = tmp_path / "reg.db"
    open_store(url_of(path)).close()
    con = sqlite3.connect(path)
    con.execute("UPDATE nbregistry_schema SET version = ?", (SCHEMA_VERSION + 1,))
    con.commit()
    with pytest.raises(StoreError, match=rf"schema version {SCHEMA_VERSION + 1}, newer"):
        open_store(url_of(path))
    with pytest.raises(StoreError, match="newer"):
        SQLiteStore.upgrade(url_of(path))
    con.execute("UPDATE nbregistry_schema SET version = 0")
    con.commit()
    with pytest.raises(StoreError, match="older than 1; run: python -m nbregistry store upgrade"):
        open_store(url_of(path))
    con.close()


def test_a_damaged_store_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "reg.db"
    open_store(url_of(path)).close()
    con = sqlite3.connect(path)
    con.execute("DROP TABLE nbregistry_owners")
    con.commit()
    con.close()
    with pytest.raises(StoreError, match="holds only some nbregistry tables"):
        open_store(url_of(path))


def test_cli_store_upgrade(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[1])}
    path = tmp_path / "cli.db"

    def run(url: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "nbregistry", "store", "upgrade", url],
            capture_output=True,
            text=True,
            env=env,
            timeout=120,
        )

    first = run(url_of(path))
    assert first.returncode == 0 and f"created store 'sqlite:///{path}'" in first.stdout
    again = run(url_of(path))
    assert again.returncode == 0 and "already at schema version 1" in again.stdout
    bad = run("nosuch://x")
    assert bad.returncode == 2 and "unknown store URL scheme 'nosuch'" in bad.stderr


# --- real processes ---------------------------------------------------------------------


def test_concurrent_writer_processes_keep_the_log_gapless(tmp_path: Path) -> None:
    """4 processes race conditional redefines of one model: conflicts happen, none is lost."""
    url = url_of(tmp_path / "reg.db")
    open_store(url).close()
    n = 40
    go = tmp_path / "go"
    procs = [
        subprocess.Popen(
            [sys.executable, str(WRITER), url, f"w{i}", str(n), str(go)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, "PYTHONPATH": str(Path(__file__).parents[1])},
        )
        for i in range(4)
    ]
    for p in procs:
        assert p.stdout is not None and p.stdout.readline() == "ready\n"
    go.touch()
    results = []
    for p in procs:
        out, err = p.communicate(timeout=300)
        assert p.returncode == 0, err
        results.append(json.loads(out))
    assert sum(r["committed"] for r in results) == 4 * n
    assert sum(r["conflicts"] for r in results) > 0  # they really contended
    with open_store(url) as s:
        revs = s.revisions()
        # One 'owner' revision (the other three adopted it) + every committed redefine.
        assert [r.revision for r in revs] == list(range(1, 4 * n + 2))
        assert [r.op for r in revs].count("owner") == 1
        assert len({r.fingerprint for r in revs if r.op != "owner"}) == 4 * n
        (current,) = s.definitions()
        assert current.revision == revs[-1].revision == s.head()
