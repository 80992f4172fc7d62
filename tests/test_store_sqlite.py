"""What only the SQLite store does (DESIGN §12.5): files, WAL, damage, the command line.

The contract both stores keep (commits, conflicts, history, bad input, processes,
crashes) is tests/test_store_contract.py.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from nbregistry import RegistryError, StoreError
from nbregistry.core import plugins
from nbregistry.core.store import Store, open_store, store_class
from nbregistry.store.sqlite import SCHEMA_VERSION, SQLiteStore


def url_of(path: Path) -> str:
    """Return the sqlite:/// URL of an absolute path."""
    return f"sqlite:///{path}"


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
    con.execute("UPDATE nbregistry_schema SET version = ?", (SCHEMA_VERSION - 1,))
    con.commit()
    with pytest.raises(
        StoreError,
        match=rf"older than {SCHEMA_VERSION}; run: python -m nbregistry store upgrade sqlite:///",
    ):
        open_store(url_of(path))
    con.close()


def test_a_damaged_store_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "reg.db"
    open_store(url_of(path)).close()
    con = sqlite3.connect(path)
    con.execute("DROP TABLE nbregistry_owners")
    con.commit()
    con.close()
    with pytest.raises(
        StoreError, match=r"holds only some nbregistry tables \(no nbregistry_owners\)"
    ):
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
    assert again.returncode == 0 and f"already at schema version {SCHEMA_VERSION}" in again.stdout
    bad = run("nosuch://x")
    assert bad.returncode == 2 and "unknown store URL scheme 'nosuch'" in bad.stderr


def test_open_retries_a_store_another_process_holds_locked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from nbregistry.store import sqlite as store_sqlite

    url = f"sqlite:///{tmp_path / 'registry.db'}"
    real = store_sqlite.SQLiteStore._open_once
    calls: list[int] = []

    def flaky(url: str) -> Any:
        calls.append(1)
        if len(calls) < 3:  # what SQLite answers, without waiting, during a WAL switch
            raise sqlite3.OperationalError("database is locked")
        return real(url)

    monkeypatch.setattr(store_sqlite.SQLiteStore, "_open_once", staticmethod(flaky))
    store = store_sqlite.SQLiteStore.open(url)
    try:
        assert len(calls) == 3 and store.head() == 0
    finally:
        store.close()

    def broken(url: str) -> Any:
        calls.append(1)
        raise sqlite3.OperationalError("disk I/O error")

    calls.clear()
    monkeypatch.setattr(store_sqlite.SQLiteStore, "_open_once", staticmethod(broken))
    with pytest.raises(StoreError, match="disk I/O error"):
        store_sqlite.SQLiteStore.open(url)
    assert len(calls) == 1  # not a lock: no retry
