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
import json
import os
import sqlite3
import threading
from datetime import UTC, datetime
from typing import Any

from ..core.errors import ConflictError, StoreError
from ..core.store import (
    MODEL_OPS,
    OPS,
    Change,
    DefinitionRecord,
    OwnerRecord,
    Revision,
    Store,
    author,
)

__all__ = ["SCHEMA_VERSION", "SQLiteStore"]

#: The schema version this nbregistry writes (nbregistry_schema.version).
SCHEMA_VERSION = 1

# Indexes of model_revisions() (history), added to version 1 after its first release:
# ``upgrade`` creates them in a store made before; queries are right without them.
_INDEXES = (
    # (tenant, model) → its revisions under any owner.
    ("nbregistry_revisions_history", "ON nbregistry_revisions (tenant, model, revision)"),
    # The rare revisions that remove models wholesale (a partial index: tiny).
    (
        "nbregistry_revisions_resets",
        "ON nbregistry_revisions (op, tenant, revision) "
        "WHERE op = 'cleanup_tenant' OR op = 'clear'",
    ),
)

# The schema of version 1, created on first connect. The tenant is in every row.
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
    *(f"CREATE INDEX {name} {rest}" for name, rest in _INDEXES),
    "CREATE TRIGGER nbregistry_revisions_no_update BEFORE UPDATE ON nbregistry_revisions "
    "BEGIN SELECT RAISE(ABORT, 'nbregistry_revisions is append-only'); END",
    "CREATE TRIGGER nbregistry_revisions_no_delete BEFORE DELETE ON nbregistry_revisions "
    "BEGIN SELECT RAISE(ABORT, 'nbregistry_revisions is append-only'); END",
    # key → JSON value: store-wide settings (the compatibility mode).
    "CREATE TABLE nbregistry_settings (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    f"INSERT INTO nbregistry_schema (version) VALUES ({SCHEMA_VERSION})",
)
_TABLES = ("nbregistry_schema", "nbregistry_owners", "nbregistry_definitions")
_MODES = ("none", "backward", "forward", "full")
_REV_COLS = "revision, op, tenant, owner, model, fingerprint, payload, at, by"
# model_revisions(): three index range scans (see _INDEXES), merged in revision order.
_HISTORY = (
    f"SELECT {_REV_COLS} FROM nbregistry_revisions WHERE tenant = ? AND model = ? "
    "AND op IN ('define', 'redefine', 'attach', 'delete') "
    f"UNION ALL SELECT {_REV_COLS} FROM nbregistry_revisions "
    "WHERE op = 'cleanup_tenant' AND tenant = ? "
    f"UNION ALL SELECT {_REV_COLS} FROM nbregistry_revisions WHERE op = 'clear' "
    "ORDER BY revision"
)


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


def _dumps(value: Any, what: str) -> str:
    try:
        return json.dumps(value, sort_keys=True, separators=(",", ":"), allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{what} cannot be stored as JSON ({exc}): {value!r:.80}") from None


class SQLiteStore(Store):
    """A shared definition store in one SQLite file (see the module docstring)."""

    def __init__(self, url: str, path: str, conn: sqlite3.Connection) -> None:
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
            conn.close()
            raise StoreError(
                f"cannot open store {url!r}: file {path!r} holds only some nbregistry "
                f"tables ({', '.join(ours)}); it is damaged — restore it or choose another file"
            )
        row = conn.execute("SELECT max(version) FROM nbregistry_schema").fetchone()
        return None if row is None or row[0] is None else int(row[0])

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
        """
        path, conn = cls._connect(url)
        try:
            version = cls._version(conn, cls._tables(conn, url, path), url, path)
            if version is not None and version != SCHEMA_VERSION:
                conn.close()
                if version > SCHEMA_VERSION:
                    raise StoreError(
                        f"store {url!r} was written with schema version {version}, newer "
                        f"than this nbregistry's {SCHEMA_VERSION}; upgrade nbregistry"
                    )
                raise StoreError(
                    f"store {url!r} has schema version {version}, older than "
                    f"{SCHEMA_VERSION}; run: python -m nbregistry store upgrade {url}"
                )
            cls._configure(conn)
            if version is None:
                cls._create(conn)
        except sqlite3.Error as exc:
            conn.close()
            raise StoreError(f"cannot open store {url!r} (file {path!r}): {exc}") from None
        return cls(url, path, conn)

    @classmethod
    def upgrade(cls, url: str) -> str:
        """Create the schema, or bring an older one to this version; return what was done.

        Raises StoreError for a store newer than this nbregistry, and as ``open`` does.
        """
        path, conn = cls._connect(url)
        try:
            version = cls._version(conn, cls._tables(conn, url, path), url, path)
            if version is None:
                cls._configure(conn)
                created = cls._create(conn)
                return (
                    f"created store {url!r} at schema version {SCHEMA_VERSION}"
                    if created
                    else f"store {url!r} is at schema version {SCHEMA_VERSION}"
                )
            if version > SCHEMA_VERSION:
                raise StoreError(
                    f"store {url!r} was written with schema version {version}, newer "
                    f"than this nbregistry's {SCHEMA_VERSION}; upgrade nbregistry"
                )
            # Version 1 is the first schema: there is no older one to migrate from yet;
            # a version-1 store made before the history indexes existed gets them.
            have = {
                r[0]
                for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'index'")
            }
            missing = [(n, rest) for n, rest in _INDEXES if n not in have]
            if missing:
                cls._configure(conn)
                for name, rest in missing:
                    conn.execute(f"CREATE INDEX IF NOT EXISTS {name} {rest}")
                return (
                    f"store {url!r} is at schema version {SCHEMA_VERSION}; added index "
                    + ", ".join(n for n, _ in missing)
                )
            return f"store {url!r} is already at schema version {SCHEMA_VERSION}"
        except sqlite3.Error as exc:
            raise StoreError(f"cannot upgrade store {url!r} (file {path!r}): {exc}") from None
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

    def schema_version(self) -> int:
        """Return the stored schema version; StoreError."""
        return int(self._read("SELECT max(version) FROM nbregistry_schema")[0][0])

    def head(self) -> int:
        """Return the newest revision (0 for an empty log); StoreError."""
        return int(self._read("SELECT coalesce(max(revision), 0) FROM nbregistry_revisions")[0][0])

    def changed(self) -> bool:
        """Return True if another connection may have committed since the last call."""
        version = self._read("PRAGMA data_version")[0][0]
        changed = version != self._data_version
        self._data_version = version
        return changed

    def revisions(self, after: int = 0, *, limit: int | None = None) -> list[Revision]:
        """Return the revisions newer than ``after``, oldest first; StoreError."""
        sql = f"SELECT {_REV_COLS} FROM nbregistry_revisions WHERE revision > ? ORDER BY revision"
        params: tuple[Any, ...] = (after,)
        if limit is not None:
            sql += " LIMIT ?"
            params = (after, limit)
        return [_revision(row) for row in self._read(sql, params)]

    def owners(self) -> list[OwnerRecord]:
        """Return every shared owner in creation order; StoreError."""
        rows = self._read(
            "SELECT tenant, name, owner_type, connector, settings, revision "
            "FROM nbregistry_owners ORDER BY revision"
        )
        return [OwnerRecord(t, n, ot, c, json.loads(s), r) for t, n, ot, c, s, r in rows]

    def definitions(self) -> list[DefinitionRecord]:
        """Return every current shared definition in revision order; StoreError."""
        rows = self._read(
            "SELECT tenant, owner, model, fingerprint, definition, revision "
            "FROM nbregistry_definitions ORDER BY revision"
        )
        return [DefinitionRecord(t, o, m, f, json.loads(d), r) for t, o, m, f, d, r in rows]

    def model_revisions(self, tenant: str, model: str) -> list[Revision]:
        """Return the history of (tenant, model), oldest first (see ``Store``); StoreError."""
        return [_revision(row) for row in self._read(_HISTORY, (tenant, model, tenant))]

    def compatibility(self) -> str:
        """Return the store's compatibility mode (``"none"`` until one is recorded)."""
        rows = self._read("SELECT value FROM nbregistry_settings WHERE key = 'compatibility'")
        return "none" if not rows else str(json.loads(rows[0][0]))

    # writing ---------------------------------------------------------------------------

    def commit(self, change: Change) -> Revision | None:
        """Commit one change with its revision in one transaction (see ``Store.commit``)."""
        _check_change(change)
        payload = _dumps(dict(change.payload), f"the payload of the {change.op!r} change")
        with self._lock:
            if self._closed:
                raise StoreError(f"store {self.url!r} is closed")
            conn = self._conn
            try:
                conn.execute("BEGIN IMMEDIATE")
            except sqlite3.Error as exc:
                raise StoreError(f"cannot write store {self.url!r}: {exc}") from None
            try:
                rev = conn.execute(
                    "SELECT coalesce(max(revision), 0) + 1 FROM nbregistry_revisions"
                ).fetchone()[0]
                if not self._apply(conn, change, rev):
                    conn.execute("ROLLBACK")
                    return None
                at = datetime.now(UTC).isoformat(timespec="microseconds")
                by = author()
                conn.execute(
                    f"INSERT INTO nbregistry_revisions ({_REV_COLS}) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        rev,
                        change.op,
                        change.tenant,
                        change.owner,
                        change.model,
                        change.fingerprint,
                        payload,
                        at,
                        by,
                    ),
                )
                conn.execute("COMMIT")
            except BaseException as exc:
                # A failed statement may already have rolled the transaction back.
                with contextlib.suppress(sqlite3.Error):
                    conn.execute("ROLLBACK")
                if isinstance(exc, sqlite3.Error):
                    raise StoreError(f"cannot write store {self.url!r}: {exc}") from None
                raise
        return Revision(
            rev,
            change.op,
            change.tenant,
            change.owner,
            change.model,
            change.fingerprint,
            json.loads(payload),
            at,
            by,
        )

    def _apply(self, conn: sqlite3.Connection, change: Change, rev: int) -> bool:
        """Apply ``change`` to the state tables (transaction open); False: nothing to do."""
        op, tenant, owner, model = change.op, change.tenant, change.owner, change.model
        p = change.payload
        if op == "owner":
            settings = _dumps(dict(p.get("settings") or {}), f"the settings of owner {owner!r}")
            row = conn.execute(
                "SELECT owner_type, connector, settings, revision FROM nbregistry_owners "
                "WHERE tenant = ? AND name = ?",
                (tenant, owner),
            ).fetchone()
            if row is not None:
                if tuple(row[:3]) == (p["owner_type"], p.get("connector"), settings):
                    return False
                raise ConflictError(
                    f"owner {owner!r} of tenant {tenant!r} exists in store {self.url!r} as "
                    f"{row[0]} connector={row[1]!r} settings={row[2]} (revision {row[3]} by "
                    f"{self._by(conn, row[3])}), not as {p['owner_type']} "
                    f"connector={p.get('connector')!r} settings={settings}; use the same "
                    "connector and settings, or another name"
                )
            conn.execute(
                "INSERT INTO nbregistry_owners VALUES (?, ?, ?, ?, ?, ?)",
                (tenant, owner, p["owner_type"], p.get("connector"), settings, rev),
            )
        elif op in ("define", "redefine", "attach"):
            self._need_owner(conn, tenant, owner)
            self._expect(conn, tenant, owner, model, change.expect)
            if op == "attach" and p.get("from_owner") is not None:
                src = p["from_owner"]
                self._expect(conn, tenant, src, model, change.expect_from)
                conn.execute(
                    "DELETE FROM nbregistry_definitions WHERE tenant = ? AND owner = ? "
                    "AND model = ?",
                    (tenant, src, model),
                )
            conn.execute(
                "INSERT OR REPLACE INTO nbregistry_definitions VALUES (?, ?, ?, ?, ?, ?)",
                (
                    tenant,
                    owner,
                    model,
                    change.fingerprint,
                    _dumps(p["definition"], f"the definition of model {model!r}"),
                    rev,
                ),
            )
        elif op == "delete":
            cur = self._expect(conn, tenant, owner, model, change.expect)
            if cur == 0:
                last = self._last_touch(conn, tenant, owner, model)
                raise ConflictError(
                    f"model {model!r} of owner {owner!r} (tenant {tenant!r}) is not in store "
                    f"{self.url!r}{_since(last)}; sync() and retry"
                )
            conn.execute(
                "DELETE FROM nbregistry_definitions WHERE tenant = ? AND owner = ? AND model = ?",
                (tenant, owner, model),
            )
        elif op == "cleanup_tenant":
            conn.execute("DELETE FROM nbregistry_definitions WHERE tenant = ?", (tenant,))
            conn.execute("DELETE FROM nbregistry_owners WHERE tenant = ?", (tenant,))
        elif op == "clear":
            conn.execute("DELETE FROM nbregistry_definitions")
            conn.execute("DELETE FROM nbregistry_owners")
        else:  # compatibility
            conn.execute(
                "INSERT OR REPLACE INTO nbregistry_settings VALUES ('compatibility', ?)",
                (json.dumps(p["mode"]),),
            )
        return True

    def _need_owner(self, conn: sqlite3.Connection, tenant: Any, owner: Any) -> None:
        row = conn.execute(
            "SELECT 1 FROM nbregistry_owners WHERE tenant = ? AND name = ?", (tenant, owner)
        ).fetchone()
        if row is None:
            raise ConflictError(
                f"owner {owner!r} of tenant {tenant!r} is not in store {self.url!r} (it was "
                "never shared, or another process removed it); sync() and create it again"
            )

    def _expect(
        self, conn: sqlite3.Connection, tenant: Any, owner: Any, model: Any, expect: int | None
    ) -> int:
        """Return the model's current revision (0: absent); ConflictError if not ``expect``."""
        row = conn.execute(
            "SELECT revision FROM nbregistry_definitions WHERE tenant = ? AND owner = ? "
            "AND model = ?",
            (tenant, owner, model),
        ).fetchone()
        cur = 0 if row is None else int(row[0])
        if expect is not None and cur != expect:
            what = f"model {model!r} of owner {owner!r} (tenant {tenant!r})"
            if cur:
                msg = f"{what} was changed by revision {cur} by {self._by(conn, cur)}"
            else:
                msg = f"{what} is no longer in store {self.url!r}" + _since(
                    self._last_touch(conn, tenant, owner, model)
                )
            seen = f"revision {expect}" if expect else "it absent"
            raise ConflictError(
                f"{msg}, but this process last saw {seen}; nothing was changed — sync() and retry"
            )
        return cur

    @staticmethod
    def _by(conn: sqlite3.Connection, rev: int) -> str:
        row = conn.execute(
            "SELECT by FROM nbregistry_revisions WHERE revision = ?", (rev,)
        ).fetchone()
        return "?" if row is None else str(row[0])

    @staticmethod
    def _last_touch(
        conn: sqlite3.Connection, tenant: Any, owner: Any, model: Any
    ) -> tuple[int, str, str] | None:
        """Return (revision, op, by) of the last change that removed or touched a model."""
        row = conn.execute(
            "SELECT revision, op, by FROM nbregistry_revisions WHERE "
            "(tenant = ? AND owner = ? AND model = ?) OR (op = 'cleanup_tenant' AND "
            "tenant = ?) OR op = 'clear' ORDER BY revision DESC LIMIT 1",
            (tenant, owner, model, tenant),
        ).fetchone()
        return None if row is None else (int(row[0]), str(row[1]), str(row[2]))

    def close(self) -> None:
        """Close the connection; idempotent."""
        with self._lock:
            if not self._closed:
                self._closed = True
                self._conn.close()

    def __repr__(self) -> str:
        state = "closed" if self._closed else "open"
        return f"<SQLiteStore {self.url!r} ({state})>"


def _since(last: tuple[int, str, str] | None) -> str:
    return "" if last is None else f" since revision {last[0]} ({last[1]}) by {last[2]}"


def _revision(row: Any) -> Revision:
    rev, op, tenant, owner, model, fp, payload, at, by = row
    return Revision(int(rev), op, tenant, owner, model, fp, json.loads(payload), at, by)


def _check_change(change: Change) -> None:
    """Raise ValueError naming what a change lacks; TypeError for a non-Change."""
    if not isinstance(change, Change):
        raise TypeError(f"commit() takes a Change, got {change!r:.80}")
    op = change.op
    if op not in OPS:
        raise ValueError(f"unknown store op {op!r}; one of {', '.join(sorted(OPS))}")
    need: tuple[str, ...] = ()
    if op == "owner":
        need = ("tenant", "owner")
        if not isinstance(change.payload.get("owner_type"), str):
            raise ValueError(f"an 'owner' change needs payload['owner_type'], got {change!r:.120}")
    elif op in MODEL_OPS:
        need = ("tenant", "owner", "model") + (("fingerprint",) if op != "delete" else ())
        if op != "delete" and "definition" not in change.payload:
            raise ValueError(f"a {op!r} change needs payload['definition'], got {change!r:.120}")
    elif op == "cleanup_tenant":
        need = ("tenant",)
    elif op == "compatibility" and change.payload.get("mode") not in _MODES:
        raise ValueError(
            f"compatibility mode must be one of {', '.join(_MODES)}, got "
            f"{change.payload.get('mode')!r}"
        )
    for name in need:
        if not isinstance(getattr(change, name), str) or not getattr(change, name):
            raise ValueError(f"a {op!r} change needs a non-empty str {name}, got {change!r:.120}")
