"""The PostgreSQL definition store: ``postgresql://user[:password]@host[:port]/database``.

Many hosts, one server. ``postgresql+psycopg://`` is accepted too, and the query string
may name the schema the store's tables live in (``?schema=registry``, created on first
connect; default ``public``) and any libpq connection parameter (``?sslmode=require``).
The password may come from the URL, ``?password=``, ``PGPASSWORD`` or ``~/.pgpass``; it
never appears in ``url``, ``repr``, an error or the store (``url`` shows ``***``).

The tables are the SQLite store's (:mod:`nbregistry.store.sqlbase` holds the rules both
follow), with the tenant in every row, created on first connect under an advisory lock so
that processes connecting together for the first time do not race. Revisions are
assigned as ``max(revision) + 1`` under a transaction-level advisory lock taken first in
the transaction that commits the change — never from a sequence, which could skip — so
the log is gapless; triggers make it append-only (UPDATE, DELETE and TRUNCATE raise).
Each commit sends ``NOTIFY`` on the store's channel in the same transaction (delivered
only if it commits), with the revision number as its payload: ``nbregistry`` for the
``public`` schema, ``nbregistry:<schema>`` for another, so stores in other schemas of
one database do not wake each other. ``at`` is the writer's clock (UTC), as in SQLite.

psycopg 3 is imported only when such a store is opened. One connection (autocommit,
explicit transactions) serves the store, guarded by a lock; a broken connection is
re-opened once per call. A read is then retried; a write is retried only when the server
cannot have committed it (the connection broke before COMMIT was sent), and a COMMIT
whose answer was lost is checked against the log after reconnecting — so a write either
returns its revision or raises StoreError with nothing committed (or, if the server
stays unreachable, says the outcome is unknown).
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import threading
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import parse_qsl, quote, quote_plus, unquote

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

__all__ = ["SCHEMA_VERSION", "PostgreSQLStore"]

log = logging.getLogger(__name__)

# Advisory lock keys (64-bit): creating a store's tables, and assigning its revisions.
_KEY_SPACE = "nbregistry.store"

# The schema of the current version (SCHEMA_VERSION; an older store reaches it through
# sqlbase.MIGRATIONS). {name}: the table, qualified by the store's schema.
_SCHEMA = (
    "CREATE TABLE {schema} (version INTEGER NOT NULL)",
    # (tenant, name) → a shared owner: its type, connector and non-secret settings (JSON).
    "CREATE TABLE {owners} (tenant TEXT NOT NULL, name TEXT NOT NULL, "
    "owner_type TEXT NOT NULL, connector TEXT, settings TEXT NOT NULL, "
    "revision BIGINT NOT NULL, PRIMARY KEY (tenant, name))",
    # (tenant, owner, model) → its current definition (canonical JSON) and fingerprint.
    "CREATE TABLE {definitions} (tenant TEXT NOT NULL, owner TEXT NOT NULL, "
    "model TEXT NOT NULL, fingerprint TEXT NOT NULL, definition TEXT NOT NULL, "
    "revision BIGINT NOT NULL, PRIMARY KEY (tenant, owner, model))",
    # revision → one change; append-only (the triggers below), gapless (module doc).
    "CREATE TABLE {revisions} (revision BIGINT PRIMARY KEY, op TEXT NOT NULL, "
    "tenant TEXT, owner TEXT, model TEXT, fingerprint TEXT, payload TEXT NOT NULL, "
    '"at" TIMESTAMP WITH TIME ZONE NOT NULL, "by" TEXT NOT NULL)',
    "CREATE INDEX nbregistry_revisions_model ON {revisions} (tenant, owner, model, revision)",
    *(f"CREATE INDEX {name} {rest}" for name, rest in HISTORY_INDEXES),
    "CREATE FUNCTION {append_only}() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
    "RAISE EXCEPTION 'nbregistry_revisions is append-only' USING ERRCODE = 'restrict_violation'; "
    "END $$",
    "CREATE TRIGGER nbregistry_revisions_no_change BEFORE UPDATE OR DELETE ON {revisions} "
    "FOR EACH ROW EXECUTE FUNCTION {append_only}()",
    "CREATE TRIGGER nbregistry_revisions_no_truncate BEFORE TRUNCATE ON {revisions} "
    "FOR EACH STATEMENT EXECUTE FUNCTION {append_only}()",
    # key → JSON value: store-wide settings (the compatibility mode).
    "CREATE TABLE {settings} (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    f"INSERT INTO {{schema}} (version) VALUES ({SCHEMA_VERSION})",
)
# Every table of the store: a schema holding some but not all of them is damaged.
_ALL_TABLES = tuple(TABLES)

# How long the listener waits for notifications before checking whether to stop (s).
_LISTEN_POLL = 0.1
# Reconnect back-off of the listener after a lost connection (s): first, then at most.
_RETRY_FIRST, _RETRY_MAX = 0.05, 0.5


def _psycopg() -> Any:
    """Return the psycopg module (imported here: only a PostgreSQL store needs it)."""
    import psycopg

    return psycopg


def _ident(name: str) -> str:
    """Return ``name`` quoted as a PostgreSQL identifier."""
    return '"' + name.replace('"', '""') + '"'


def _key(*parts: str) -> int:
    """Return a signed 64-bit advisory lock key for ``parts``."""
    digest = hashlib.blake2b("\x00".join((_KEY_SPACE, *parts)).encode(), digest_size=8)
    return int.from_bytes(digest.digest(), "big", signed=True)


def mask_url(url: str) -> str:
    """Return ``url`` with any password (in the user info or ``?password=``) as ``***``."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        return url
    head, q, query = rest.partition("?")
    at = head.rfind("@")
    if at >= 0 and ":" in head[:at]:
        head = head[: head.index(":")] + ":***" + head[at:]
    if q:
        query = "&".join(
            (p.split("=", 1)[0] + "=***")
            if unquote(p.split("=", 1)[0]).lower() == "password"
            else p
            for p in query.split("&")
        )
    return f"{scheme}{sep}{head}{q}{query}"


def _spellings(secrets: Iterable[str]) -> list[str]:
    out: set[str] = set()
    for s in secrets:
        if s:
            out.update({s, quote(s, safe=""), quote(s), quote_plus(s), repr(s)[1:-1]})
            out.add(s.replace("'", "''"))
    return sorted((x for x in out if x), key=len, reverse=True)


class _Target:
    """Where a store lives: the connection parameters, the password kept out of sight."""

    __slots__ = ("_password", "_secrets", "extra", "params", "public", "schema", "where")

    def __init__(self, url: str) -> None:
        """Parse a store URL; ValueError (showing the URL masked) if it is malformed."""
        public = mask_url(url)
        self.public = public
        scheme, sep, rest = url.partition("://")
        if scheme.lower() not in ("postgresql", "postgresql+psycopg") or not sep:
            raise ValueError(
                f"malformed PostgreSQL store URL {public!r}: use "
                "postgresql://user:password@host:5432/database (or postgresql+psycopg://); "
                "this store uses psycopg 3"
            )
        head, _, query = rest.partition("?")
        at = head.rfind("@")
        userinfo, hostpath = (head[:at], head[at + 1 :]) if at >= 0 else ("", head)
        user, colon, password = userinfo.partition(":")
        hostport, _, dbname = hostpath.partition("/")
        host, port = hostport, ""
        if hostport.startswith("["):  # [IPv6]:port
            end = hostport.find("]")
            host, port = hostport[1:end], hostport[end + 1 :].removeprefix(":")
        elif ":" in hostport:
            host, _, port = hostport.rpartition(":")
        if port and not (port.isdigit() and 0 < int(port) < 65536):
            raise ValueError(
                f"malformed PostgreSQL store URL {public!r}: port {port!r} is not a number "
                "from 1 to 65535"
            )
        params: dict[str, Any] = {}
        try:
            pairs = parse_qsl(query, keep_blank_values=True, strict_parsing=bool(query))
        except ValueError:
            raise ValueError(
                f"malformed PostgreSQL store URL {public!r}: cannot parse the query string; "
                "use ?schema=name&sslmode=require"
            ) from None
        for name, value in pairs:
            params[name] = value
        pw = params.pop("password", None)
        self._password = unquote(password) if colon else pw
        self._secrets = [s for s in (password, unquote(password), pw) if s]
        schema = params.pop("schema", "public")
        if not schema or len(schema.encode()) > 63:
            raise ValueError(
                f"PostgreSQL store URL {public!r}: ?schema= must name a schema of 1 to 63 "
                f"bytes, got {schema!r}"
            )
        self.schema = schema
        self.params = {
            "host": unquote(host) or None,
            "port": int(port) if port else None,
            "user": unquote(user) or None,
            "dbname": unquote(dbname) or None,
        }
        self.extra = params
        shown_host = self.params["host"] or params.get("host") or "localhost"
        shown_port = self.params["port"] or params.get("port") or 5432
        db = self.params["dbname"] or params.get("dbname") or "(the user's default)"
        self.where = f"PostgreSQL server {shown_host}:{shown_port}, database {db!r}"

    def connect_kwargs(self) -> dict[str, Any]:
        """Return psycopg.connect keyword arguments (with the password) — never show them."""
        kw: dict[str, Any] = {"connect_timeout": 10, "application_name": "nbregistry-store"}
        kw.update({k: v for k, v in self.params.items() if v is not None})
        kw.update(self.extra)
        if self._password is not None:
            kw["password"] = self._password
        return kw

    def scrub(self, text: str) -> str:
        """Return ``text`` with every spelling of the password replaced by ``***``."""
        for spelling in _spellings(self._secrets):
            text = text.replace(spelling, "***")
        return text

    def __repr__(self) -> str:
        return f"<store target {self.public!r}>"

    def __reduce__(self) -> Any:
        raise TypeError("a PostgreSQL store target holds a password and cannot be pickled")


def _reason(exc: BaseException, target: _Target) -> str:
    """Return a driver error's message on one line, scrubbed of the password."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    return target.scrub(text)


def _connect(target: _Target, *, keepalive: bool = False) -> Any:
    """Open an autocommit psycopg connection in UTC; StoreError naming server and database."""
    pg = _psycopg()
    kw = target.connect_kwargs()
    if keepalive:  # the listener: notice a silently dead peer within about 20 s
        kw.setdefault("keepalives", 1)
        kw.setdefault("keepalives_idle", 10)
        kw.setdefault("keepalives_interval", 5)
        kw.setdefault("keepalives_count", 2)
    failure: str | None = None
    try:
        conn = pg.connect(autocommit=True, **kw)
    except pg.Error as exc:
        failure = _reason(exc, target)
    if failure is not None:  # raised outside the except: the driver's error is not chained
        raise StoreError(
            f"cannot connect to store {target.public!r} ({target.where}): {failure}; check "
            "that the server runs and accepts these credentials, then retry"
        )
    try:
        conn.execute("SET TimeZone = 'UTC'")
        conn.execute("SET lock_timeout = '30s'")
    except pg.Error as exc:
        failure = _reason(exc, target)
        conn.close()
    if failure is not None:
        raise StoreError(f"cannot set up the connection to store {target.public!r}: {failure}")
    return conn


class _Listener:
    """The one background thread of ``listen()``: its connection, callback and stop flag."""

    def __init__(self, store: PostgreSQLStore, conn: Any, callback: Callable[[int | None], None]):
        self.store = store
        self.conn = conn
        self.callback = callback
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self.run, name="nbregistry-store-listen", daemon=True)

    def call(self, value: int | None) -> None:
        try:
            self.callback(value)
        except Exception:  # a callback's failure must not end the listening
            log.exception("store %s: the listen() callback raised", self.store.url)

    def run(self) -> None:
        pg = _psycopg()
        store = self.store
        try:
            while not self.stopping.is_set():
                try:
                    for n in self.conn.notifies(timeout=_LISTEN_POLL):
                        if n.pid == store._backend_pid or not n.payload.isdigit():
                            continue  # this store's own commit, or not ours
                        self.call(int(n.payload))
                        if self.stopping.is_set():
                            break
                except pg.Error:
                    if self.stopping.is_set():
                        break
                    with contextlib.suppress(Exception):
                        self.conn.close()
                    if self.reconnect():
                        self.call(None)  # NOTIFY has no replay: re-read what is newer
        finally:
            with contextlib.suppress(Exception):
                self.conn.close()

    def reconnect(self) -> bool:
        """Re-open the listening connection (backing off) until it works or stop(); True if so."""
        delay = _RETRY_FIRST
        while not self.stopping.wait(delay):
            try:
                self.conn = self.store._listen_connection()
                return True
            except StoreError as exc:
                log.debug("store %s: listener reconnect failed: %s", self.store.url, exc)
            delay = min(delay * 2, _RETRY_MAX)
        return False

    def stop(self) -> None:
        """End the thread and close its connection; idempotent."""
        self.stopping.set()
        if self.thread is not threading.current_thread():
            self.thread.join(timeout=30)
        self.store._listener_stopped(self)


class PostgreSQLStore(SQLStore):
    """A shared definition store in a PostgreSQL database (see the module docstring)."""

    _paramstyle = "format"

    def __init__(self, target: _Target, conn: Any) -> None:
        super().__init__()
        self._target = target
        #: The URL it was opened with, the password shown as ``***``.
        self.url = target.public
        #: The schema its tables live in.
        self.schema = target.schema
        self._conn: Any = conn
        self._backend_pid: int | None = conn.info.backend_pid
        self._lock = threading.RLock()
        self._seen_head: int | None = None  # max(revision) at the last changed()
        self._listener: _Listener | None = None
        self._closed = False
        self._channel = _channel(target.schema)
        self._rev_key = _key("revisions", target.schema)

    # tables ----------------------------------------------------------------------------

    def _table_names(self) -> dict[str, str]:
        return _names(self.schema)

    # opening ---------------------------------------------------------------------------

    @staticmethod
    def _state(conn: Any, target: _Target) -> int | None:
        """Return the stored schema version (None: no store yet); StoreError if damaged."""
        rows = conn.execute(
            "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = %s AND c.relkind IN ('r', 'p') AND c.relname = ANY(%s)",
            (target.schema, [TABLES[t] for t in _ALL_TABLES]),
        ).fetchall()
        found = {r[0] for r in rows}
        if not found:
            return None
        if len(found) != len(_ALL_TABLES):
            missing = ", ".join(TABLES[t] for t in _ALL_TABLES if TABLES[t] not in found)
            problem = f"holds only some nbregistry tables (no {missing})"
        else:
            names = _names(target.schema)
            row = conn.execute(f"SELECT max(version) FROM {names['schema']}").fetchone()
            if row is not None and row[0] is not None:
                return int(row[0])
            problem = "has no schema version (nbregistry_schema is empty)"
        raise StoreError(
            f"cannot open store {target.public!r}: schema {target.schema!r} {problem}; it is "
            "damaged — restore it or choose another schema"
        )

    @staticmethod
    def _create(conn: Any, target: _Target) -> bool:
        """Create the schema unless another process just did (advisory lock); True if created."""
        names = _names(target.schema)
        conn.execute("BEGIN")
        try:
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (_key("create", target.schema),))
            created = PostgreSQLStore._state(conn, target) is None
            if created:
                have = conn.execute(
                    "SELECT 1 FROM pg_namespace WHERE nspname = %s", (target.schema,)
                ).fetchone()
                if have is None:
                    conn.execute(f"CREATE SCHEMA {_ident(target.schema)}")
                for stmt in _SCHEMA:
                    conn.execute(stmt.format(**names))
            conn.execute("COMMIT")
        except BaseException:
            with contextlib.suppress(Exception):
                conn.execute("ROLLBACK")
            raise
        return created

    @classmethod
    def _opened(cls, url: str, action: str, work: Callable[[Any, _Target], Any]) -> Any:
        """Connect, run ``work(conn, target)``; map driver errors to StoreError (scrubbed)."""
        if not isinstance(url, str):
            raise TypeError(f"a store URL must be a str, got {url!r:.80}")
        pg = _psycopg()
        target = _Target(url)
        conn = _connect(target)
        failure: str | None = None
        try:
            return work(conn, target)
        except pg.Error as exc:
            failure = _reason(exc, target)
        except BaseException:
            conn.close()
            raise
        conn.close()
        raise StoreError(f"cannot {action} store {target.public!r} ({target.where}): {failure}")

    @classmethod
    def open(cls, url: str) -> PostgreSQLStore:
        """Open the store, creating its tables (and schema) on first connect.

        Raises ValueError for a malformed URL; StoreError for an unreachable server or bad
        credentials (naming server and database), a damaged store, or a store of another
        schema version (newer: upgrade nbregistry; older: run ``python -m nbregistry
        store upgrade URL``). Nothing changes when it raises.
        """

        def work(conn: Any, target: _Target) -> PostgreSQLStore:
            version = cls._state(conn, target)
            if version is None:
                cls._create(conn, target)
                version = cls._state(conn, target)
            if version is None:  # dropped between creating and reading: damaged
                raise StoreError(f"store {target.public!r} has no nbregistry tables")
            if version != SCHEMA_VERSION:
                check_version(version, target.public)
            return cls(target, conn)

        return cls._opened(url, "open", work)

    @classmethod
    def upgrade(cls, url: str) -> str:
        """Create the tables, or bring an older store to this version; return what was done.

        Every migration step from the stored version (``sqlbase.MIGRATIONS``) and the
        version bump run in one transaction under the store's creation advisory lock.
        Raises StoreError for a store newer than this nbregistry, one at a version no
        migration starts from (nothing changes), and as ``open`` does.
        """

        def work(conn: Any, target: _Target) -> str:
            try:
                return run_upgrade(
                    target.public,
                    cls._state(conn, target),
                    lambda: cls._create(conn, target),
                    lambda: cls._migrate(conn, target),
                )
            finally:
                conn.close()

        return cls._opened(url, "upgrade", work)

    @classmethod
    def _migrate(cls, conn: Any, target: _Target) -> tuple[int, list[Any]]:
        """Apply the migrations and bump the version in one transaction; return (from, steps)."""
        names = _names(target.schema)
        conn.execute("BEGIN")
        try:
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (_key("create", target.schema),))
            # Re-read under the lock: another process may have just upgraded it.
            version = cls._state(conn, target)
            if version is None:
                raise StoreError(f"store {target.public!r} has no nbregistry tables")
            if version > SCHEMA_VERSION:
                check_version(version, target.public)
            steps = migrations_from(version, target.public)  # [] if already current
            for _, _, statements in steps:
                for stmt in statements:
                    conn.execute(stmt.format(**names))
            if steps:
                conn.execute(f"UPDATE {names['schema']} SET version = {SCHEMA_VERSION:d}")
            conn.execute("COMMIT")
        except BaseException:
            with contextlib.suppress(Exception):
                conn.execute("ROLLBACK")
            raise
        return version, steps

    # the connection --------------------------------------------------------------------

    def _connection(self) -> Any:
        """Return the live connection, re-opening a broken one (lock held); StoreError."""
        if self._closed:
            raise StoreError(f"store {self.url!r} is closed")
        conn = self._conn
        if conn is None or conn.closed or conn.broken:
            if conn is not None:
                with contextlib.suppress(Exception):
                    conn.close()
            self._conn = None
            conn = self._conn = _connect(self._target)
            self._backend_pid = conn.info.backend_pid
        return conn

    def _lost(self, conn: Any) -> bool:
        """Return True (and forget it) if ``conn`` broke; the next call reconnects."""
        if conn.closed or conn.broken:
            with contextlib.suppress(Exception):
                conn.close()
            if self._conn is conn:
                self._conn = None
            return True
        return False

    def _read(self, sql: str, params: tuple[Any, ...] = ()) -> list[Any]:
        pg = _psycopg()
        with self._lock:
            failure = ""
            for attempt in (1, 2):
                conn = self._connection()
                try:
                    return list(conn.execute(sql, params or None).fetchall())
                except pg.Error as exc:
                    failure = _reason(exc, self._target)
                if not self._lost(conn) or attempt == 2:
                    break
        raise StoreError(f"cannot read store {self.url!r} ({self._target.where}): {failure}")

    def changed(self) -> bool:
        """Return True if another connection may have committed since the last call.

        One indexed ``max(revision)`` query; False is exact (the log is gapless and
        append-only, so an unchanged maximum means no commit). This store's own commits
        do not count, unless another one came between.
        """
        head = int(self._read(self._q("SELECT coalesce(max(revision), 0) FROM {revisions}"))[0][0])
        with self._lock:
            changed = head != self._seen_head
            self._seen_head = head
        return changed

    # writing ---------------------------------------------------------------------------

    def commit(self, change: Change) -> Revision | None:
        """Commit one change with its revision in one transaction (see ``Store.commit``).

        The transaction takes the store's advisory lock first, assigns ``max + 1``,
        applies the change, appends the revision and sends ``NOTIFY`` with its number.
        """
        check_change(change)
        payload = dumps(dict(change.payload), f"the payload of the {change.op!r} change")
        pg = _psycopg()
        with self._lock:
            failure = ""
            for attempt in (1, 2):
                try:
                    conn = self._connection()
                except StoreError as exc:
                    failure = str(exc)
                    if self._closed:
                        raise
                    break
                done: Revision | None = None
                stage = "begin"
                try:
                    conn.execute("BEGIN")
                    conn.execute("SELECT pg_advisory_xact_lock(%s)", (self._rev_key,))
                    done = self._commit_in(conn, change, payload)
                    if done is None:
                        conn.execute("ROLLBACK")
                        return None
                    conn.execute("SELECT pg_notify(%s, %s)", (self._channel, str(done.revision)))
                    stage = "commit"
                    conn.execute("COMMIT")
                    self._committed(done.revision)
                    return done
                except pg.Error as exc:
                    failure = _reason(exc, self._target)
                except BaseException:  # ConflictError, ValueError, KeyboardInterrupt ...
                    self._rollback(conn)
                    raise
                if not self._lost(conn):
                    self._rollback(conn)
                    break
                if stage == "commit" and done is not None:
                    outcome = self._committed_after_loss(done)
                    if outcome is True:
                        self._committed(done.revision)
                        return done
                    if outcome is None:
                        raise StoreError(
                            f"cannot write store {self.url!r} ({self._target.where}): the "
                            f"connection was lost while committing revision {done.revision} "
                            f"({failure}) and the server is unreachable, so whether it was "
                            "committed is unknown; sync() once the server is back"
                        )
                # The server never committed it: retry once on a fresh connection.
                if attempt == 2:
                    break
        if failure.startswith("cannot connect"):
            raise StoreError(f"{failure}; nothing was committed")
        raise StoreError(
            f"cannot write store {self.url!r} ({self._target.where}): {failure}; nothing "
            "was committed"
        )

    def _rollback(self, conn: Any) -> None:
        with contextlib.suppress(Exception):
            if not conn.closed and not conn.broken:
                conn.execute("ROLLBACK")

    def _committed_after_loss(self, done: Revision) -> bool | None:
        """Return whether ``done`` is in the log after a lost COMMIT (None: cannot tell)."""
        try:
            conn = self._connection()
            row = conn.execute(
                self._q('SELECT "by" FROM {revisions} WHERE revision = ? AND "at" = ?'),
                (done.revision, done.at),
            ).fetchone()
        except Exception:
            return None
        return row is not None and row[0] == done.by

    def _committed(self, revision: int) -> None:
        """Note this store's own commit, so that ``changed()`` does not report it."""
        if self._seen_head is not None and revision == self._seen_head + 1:
            self._seen_head = revision

    # listening -------------------------------------------------------------------------

    def _listen_connection(self) -> Any:
        """Return a new connection that LISTENs on the store's channel; StoreError."""
        pg = _psycopg()
        conn = _connect(self._target, keepalive=True)
        failure: str | None = None
        try:
            conn.execute(f"LISTEN {_ident(self._channel)}")
        except pg.Error as exc:
            failure = _reason(exc, self._target)
            conn.close()
        if failure is not None:
            raise StoreError(f"cannot listen on store {self.url!r}: {failure}")
        return conn

    def listen(self, callback: Callable[[int | None], None]) -> Callable[[], None]:
        """Call ``callback`` from one background thread as other connections commit.

        See ``Store.listen``: ``callback(revision)`` per revision another connection
        commits, ``callback(None)`` after a reconnect. Listening starts before this
        returns (every commit after it is delivered). Returns ``stop()``. Raises
        TypeError for a non-callable, StoreError if the store is closed, already
        listening, or the server cannot be reached.
        """
        if not callable(callback):
            raise TypeError(f"listen() takes a callable, got {callback!r:.80}")
        with self._lock:
            if self._closed:
                raise StoreError(f"store {self.url!r} is closed")
            if self._listener is not None:
                raise StoreError(
                    f"store {self.url!r} already listens; call the stop() that listen() "
                    "returned first"
                )
            listener = _Listener(self, self._listen_connection(), callback)
            self._listener = listener
        listener.thread.start()
        return listener.stop

    def _listener_stopped(self, listener: _Listener) -> None:
        with self._lock:
            if self._listener is listener:
                self._listener = None

    def close(self) -> None:
        """Stop listening and close the connection; idempotent."""
        with self._lock:
            listener = self._listener
        if listener is not None:
            listener.stop()
        with self._lock:
            if not self._closed:
                self._closed = True
                if self._conn is not None:
                    with contextlib.suppress(Exception):
                        self._conn.close()
                    self._conn = None

    def __repr__(self) -> str:
        state = "closed" if self._closed else "open"
        return f"<PostgreSQLStore {self.url!r} schema {self.schema!r} ({state})>"

    def __reduce__(self) -> Any:
        raise TypeError(f"a store cannot be pickled; open {self.url!r} in the other process")


def _names(schema: str) -> dict[str, str]:
    """Return logical name → the schema-qualified table (and the trigger function)."""
    q = _ident(schema)
    names = {k: f"{q}.{v}" for k, v in TABLES.items()}
    names["append_only"] = f"{q}.nbregistry_append_only"
    return names


def _channel(schema: str) -> str:
    """Return the NOTIFY channel of a store in ``schema`` (at most 63 bytes)."""
    if schema == "public":
        return "nbregistry"
    channel = f"nbregistry:{schema}"
    if len(channel.encode()) > 63:
        channel = "nbregistry:" + hashlib.blake2b(schema.encode(), digest_size=16).hexdigest()
    return channel
