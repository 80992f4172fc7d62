"""The SQLite definition store: ``sqlite:///relative/path.db`` or ``sqlite:////abs/path.db``.

One machine, many processes: stdlib ``sqlite3`` in WAL mode (readers never block the
writer). ``synchronous=NORMAL``: in WAL mode a commit survives a crash of any process
(kill -9) and the file never corrupts; only an OS crash or power loss may lose the last
commits — a definition store can be re-run from its notebooks, and FULL would fsync at
every define. Revisions are assigned under SQLite's write lock (``BEGIN IMMEDIATE``,
then ``max(revision) + 1``), in the same transaction as the change, so the log is
gapless; triggers make it append-only.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
import time
from typing import Any

from ..core.errors import StoreError
from ..core.store import Change, Revision
from .sqlbase import (
    HISTORY_INDEXES,
    SCHEMA_VERSION,
    TABLES,
    SQLStore,
    check_change,
    check_version,
    dumps,
    migrations_from,
    run_upgrade,
)

__all__ = ["SCHEMA_VERSION", "SQLiteStore"]

# The schema of the current version (SCHEMA_VERSION), created on first connect; an older
# store reaches it through sqlbase.MIGRATIONS. The tenant is in every row.
_SCHEMA = (
    "CREATE TABLE nbregistry_schema (version INTEGER NOT NULL)",
    # (tenant, name) → a shared owner: its type, connector and non-secret settings (JSON).
    "CREATE TABLE nbregistry_owners (tenant TEXT NOT NULL, name TEXT NOT NULL, "
    "owner_type TEXT NOT NULL, connector TEXT, settings TEXT NOT NULL, "
    "revision INTEGER NOT NULL, PRIMARY KEY (tenant, name))",
    # (tenant, owner, model) → its current definition (canonical JSON) and fingerprint.
    "CREATE TABLE nbregistry_definitions (tenant TEXT NOT NULL, owner TEXT NOT NULL, "
    "model TEXT NOT NULL, fingerprint TEXT NOT NULL, definition TEXT NOT NULL, "
    "revision INTEGER NOT NULL, PRIMARY KEY (tenant, owner, model))",
    # revision → one change; append-only (the triggers below), gapless (see module doc).
    "CREATE TABLE nbregistry_revisions (revision INTEGER PRIMARY KEY, op TEXT NOT NULL, "
    "tenant TEXT, owner TEXT, model TEXT, fingerprint TEXT, payload TEXT NOT NULL, "
    "at TEXT NOT NULL, by TEXT NOT NULL)",
    "CREATE INDEX nbregistry_revisions_model ON nbregistry_revisions "
    "(tenant, owner, model, revision)",
    *(f"CREATE INDEX {name} {rest.format(**TABLES)}" for name, rest in HISTORY_INDEXES),
    "CREATE TRIGGER nbregistry_revisions_no_update BEFORE UPDATE ON nbregistry_revisions "
    "BEGIN SELECT RAISE(ABORT, 'nbregistry_revisions is append-only'); END",
    "CREATE TRIGGER nbregistry_revisions_no_delete BEFORE DELETE ON nbregistry_revisions "
    "BEGIN SELECT RAISE(ABORT, 'nbregistry_revisions is append-only'); END",
    # key → JSON value: store-wide settings (the compatibility mode).
    "CREATE TABLE nbregistry_settings (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    f"INSERT INTO nbregistry_schema (version) VALUES ({SCHEMA_VERSION})",
)
# Every table of the store: a file holding some but not all of them is damaged.
_TABLES = tuple(TABLES.values())


def _path_of(url: str) -> str:
    """Return the file path of a ``sqlite:///`` URL; ValueError naming the URL."""
    prefix = "sqlite:///"
    if not url.startswith(prefix) or "?" in url:
        raise ValueError(
            f"malformed SQLite store URL {url!r}: use sqlite:///relative/path.db or "
            "sqlite:////absolute/path.db (no query string)"
        )
    path = url[len(prefix) :]
    if not path or path == ":memory:":
        raise ValueError(
            f"SQLite store URL {url!r} names no file: a shared store must be a file that "
            "every process opens, e.g. sqlite:///registry.db"
        )
    return os.path.expanduser(path)


def _busy(exc: sqlite3.OperationalError) -> bool:
    """Return True if SQLite refused because another connection held a lock (transient)."""
    text = str(exc).lower()
    return "locked" in text or "busy" in text


class SQLiteStore(SQLStore):
    """A shared definition store in one SQLite file (see the module docstring)."""

    def __init__(self, url: str, path: str, conn: sqlite3.Connection) -> None:
        super().__init__()
        self.url = url
        self.path = path
        self._conn = conn
        # Serialises this connection's use by the threads of this process.
        self._lock = threading.RLock()
        self._data_version: int | None = None  # PRAGMA data_version at the last changed()
        self._closed = False

    # opening ---------------------------------------------------------------------------

    @classmethod
    def _connect(cls, url: str) -> tuple[str, sqlite3.Connection]:
        path = _path_of(url)
        if os.path.isdir(path):
            raise StoreError(
                f"cannot open store {url!r}: {path!r} is a directory; name a file in it, "
                f"e.g. sqlite:///{os.path.join(path, 'registry.db')}"
            )
        parent = os.path.dirname(os.path.abspath(path))
        if not os.path.isdir(parent):
            raise StoreError(
                f"cannot open store {url!r}: directory {parent!r} does not exist; create it first"
            )
        try:
            conn = sqlite3.connect(
                path, timeout=30.0, isolation_level=None, check_same_thread=False
            )
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open store {url!r} (file {path!r}): {exc}") from None
        return path, conn

    @staticmethod
    def _tables(conn: sqlite3.Connection, url: str, path: str) -> set[str]:
        """Return the names of the file's tables; StoreError for a file that is no database."""
        try:
            rows = conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall()
        except sqlite3.OperationalError as exc:
            if _busy(exc):
                raise  # another process is creating or converting the file: open retries
            conn.close()
            raise StoreError(
                f"cannot open store {url!r}: file {path!r} is not a usable SQLite "
                f"database ({exc}); nothing was changed — restore it or choose another file"
            ) from None
        except sqlite3.DatabaseError as exc:
            conn.close()
            raise StoreError(
                f"cannot open store {url!r}: file {path!r} is not a usable SQLite "
                f"database ({exc}); nothing was changed — restore it or choose another file"
            ) from None
        return {r[0] for r in rows}

    @staticmethod
    def _version(conn: sqlite3.Connection, tables: set[str], url: str, path: str) -> int | None:
        """Return the stored schema version (None: no store yet); StoreError if damaged."""
        ours = [t for t in _TABLES if t in tables]
        if not ours:
            return None
        if len(ours) != len(_TABLES):
            missing = ", ".join(t for t in _TABLES if t not in tables)
            problem = f"holds only some nbregistry tables (no {missing})"
        else:
            row = conn.execute("SELECT max(version) FROM nbregistry_schema").fetchone()
            if row is not None and row[0] is not None:
                return int(row[0])
            problem = "has no schema version (nbregistry_schema is empty)"
        conn.close()
        raise StoreError(
            f"cannot open store {url!r}: file {path!r} {problem}; it is damaged — restore "
            "it or choose another file"
        )

    @staticmethod
    def _configure(conn: sqlite3.Connection) -> None:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("PRAGMA busy_timeout=30000")

    @staticmethod
    def _create(conn: sqlite3.Connection) -> bool:
        """Create the schema unless another process just did; return True if created."""
        conn.execute("BEGIN IMMEDIATE")
        try:
            exists = conn.execute(
                "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'nbregistry_schema'"
            ).fetchone()
            if exists is None:
                for stmt in _SCHEMA:
                    conn.execute(stmt)
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        return exists is None

    @classmethod
    def open(cls, url: str) -> SQLiteStore:
        """Open the store, creating its schema on first connect.

        Raises ValueError for a malformed URL, StoreError for a directory, a missing
        parent directory, a file that is not a database, a damaged store, or a store of
        another schema version (newer: upgrade nbregistry; older: run ``python -m
        nbregistry store upgrade URL``). Nothing in the file changes when it raises.

        SQLite can answer "database is locked" *without* waiting for its busy timeout
        while another process creates the file or switches it to WAL (the busy handler
        is skipped where waiting could deadlock), so opening retries that for up to 30 s.
        """
        deadline = time.monotonic() + 30.0
        delay = 0.005
        while True:
            try:
                return cls._open_once(url)
            except sqlite3.OperationalError as exc:
                if not _busy(exc) or time.monotonic() + delay > deadline:
                    raise StoreError(
                        f"cannot open store {url!r}: {exc} (another process kept it locked "
                        "for 30 s)"
                    ) from None
                time.sleep(delay)
                delay = min(delay * 2, 0.2)

    @classmethod
    def _open_once(cls, url: str) -> SQLiteStore:
        """Open the store once; sqlite3.OperationalError when it was busy (open retries)."""
        path, conn = cls._connect(url)
        try:
            version = cls._version(conn, cls._tables(conn, url, path), url, path)
            if version is not None and version != SCHEMA_VERSION:
                conn.close()
                check_version(version, url)
            cls._configure(conn)
            if version is None:
                cls._create(conn)
        except sqlite3.OperationalError as exc:
            conn.close()
            if _busy(exc):
                raise
            raise StoreError(f"cannot open store {url!r} (file {path!r}): {exc}") from None
        except sqlite3.Error as exc:
            conn.close()
            raise StoreError(f"cannot open store {url!r} (file {path!r}): {exc}") from None
        return cls(url, path, conn)

    @classmethod
    def upgrade(cls, url: str) -> str:
        """Create the schema, or bring an older one to this version; return what was done.

        Every migration step from the stored version (``sqlbase.MIGRATIONS``) and the
        version bump run in one transaction under SQLite's write lock. Raises StoreError
        for a store newer than this nbregistry, one at a version no migration starts
        from (nothing changes), and as ``open`` does.
        """
        path, conn = cls._connect(url)

        def create() -> bool:
            cls._configure(conn)
            return cls._create(conn)

        def migrate() -> tuple[int, list[Any]]:
            cls._configure(conn)
            conn.execute("BEGIN IMMEDIATE")
            try:
                # Re-read under the write lock: another process may have just upgraded it.
                row = conn.execute("SELECT max(version) FROM nbregistry_schema").fetchone()
                version = int(row[0])
                if version > SCHEMA_VERSION:
                    check_version(version, url)
                steps = migrations_from(version, url)  # [] if already current
                for _, _, statements in steps:
                    for stmt in statements:
                        conn.execute(stmt.format(**TABLES))
                if steps:
                    conn.execute(f"UPDATE nbregistry_schema SET version = {SCHEMA_VERSION:d}")
                conn.execute("COMMIT")
            except BaseException:
                with contextlib.suppress(sqlite3.Error):
                    conn.execute("ROLLBACK")
                raise
            return version, steps

        try:
            version = cls._version(conn, cls._tables(conn, url, path), url, path)
            return run_upgrade(url, version, create, migrate)
        except sqlite3.Error as exc:
            raise StoreError(
                f"cannot upgrade store {url!r} (file {path!r}): {exc}; nothing was changed"
            ) from None
        finally:
            conn.close()

    # reading ---------------------------------------------------------------------------

    def _read(self, sql: str, params: tuple[Any, ...] = ()) -> list[Any]:
        with self._lock:
            if self._closed:
                raise StoreError(f"store {self.url!r} is closed")
            try:
                return self._conn.execute(sql, params).fetchall()
            except sqlite3.Error as exc:
                raise StoreError(f"cannot read store {self.url!r}: {exc}") from None

    def changed(self) -> bool:
        """Return True if another connection may have committed since the last call."""
        version = self._read("PRAGMA data_version")[0][0]
        changed = version != self._data_version
        self._data_version = version
        return changed

    # writing ---------------------------------------------------------------------------

    def commit(self, change: Change) -> Revision | None:
        """Commit one change with its revision in one transaction (see ``Store.commit``)."""
        check_change(change)
        payload = dumps(dict(change.payload), f"the payload of the {change.op!r} change")
        with self._lock:
            if self._closed:
                raise StoreError(f"store {self.url!r} is closed")
            conn = self._conn
            try:
                conn.execute("BEGIN IMMEDIATE")  # SQLite's write lock: revisions in order
            except sqlite3.Error as exc:
                raise StoreError(f"cannot write store {self.url!r}: {exc}") from None
            try:
                done = self._commit_in(conn, change, payload)
                conn.execute("COMMIT" if done is not None else "ROLLBACK")
            except BaseException as exc:
                # A failed statement may already have rolled the transaction back.
                with contextlib.suppress(sqlite3.Error):
                    conn.execute("ROLLBACK")
                if isinstance(exc, sqlite3.Error):
                    raise StoreError(f"cannot write store {self.url!r}: {exc}") from None
                raise
        return done

    def close(self) -> None:
        """Close the connection; idempotent."""
        with self._lock:
            if not self._closed:
                self._closed = True
                self._conn.close()

    def __repr__(self) -> str:
        state = "closed" if self._closed else "open"
        return f"<SQLiteStore {self.url!r} ({state})>"
