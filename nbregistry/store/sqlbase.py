"""What the SQL definition stores share: the change rules, their statements and messages.

:class:`SQLStore` implements the reading methods and the body of a commit — checking a
change, applying it to the state tables, appending its revision — once, for SQLite and
PostgreSQL alike, so both keep exactly one semantics. A subclass supplies the connection:
``_read`` (a query outside a transaction), the transaction around ``_commit_in`` (with
the lock under which revisions are assigned), ``changed``, ``open``/``upgrade``/``close``,
and its placeholder style and table names (``_table_names``, ``_paramstyle``).

The statements are written once with ``?`` placeholders and ``{owners}``-style table
names; :meth:`SQLStore._q` renders them for the subclass (cached).

Both stores write one schema version (:data:`SCHEMA_VERSION`) and share its messages
(:func:`check_version`) and migrations (:data:`MIGRATIONS`, version N → N + 1, applied in
one transaction by ``python -m nbregistry store upgrade URL``).
"""

from __future__ import annotations

import json
from abc import abstractmethod
from collections.abc import Callable
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

__all__ = [
    "HISTORY_INDEXES",
    "MIGRATIONS",
    "MODES",
    "SCHEMA_VERSION",
    "TABLES",
    "SQLStore",
    "check_change",
    "check_version",
    "dumps",
    "migrations_from",
    "revision_of",
    "upgraded",
]

#: The compatibility modes a ``compatibility`` change may record.
MODES = ("none", "backward", "forward", "full")

#: logical name → table name (unqualified) of every table of the store.
TABLES = {
    "schema": "nbregistry_schema",
    "owners": "nbregistry_owners",
    "definitions": "nbregistry_definitions",
    "revisions": "nbregistry_revisions",
    "settings": "nbregistry_settings",
}

#: The schema version both SQL stores write (``nbregistry_schema.version``).
SCHEMA_VERSION = 2

#: The indexes of model_revisions() (HISTORY below): (name, ``ON {revisions} ...``).
HISTORY_INDEXES = (
    # (tenant, model) → its revisions under any owner.
    ("nbregistry_revisions_history", "ON {revisions} (tenant, model, revision)"),
    # The rare revisions that remove models wholesale (a partial index: tiny).
    (
        "nbregistry_revisions_resets",
        "ON {revisions} (op, tenant, revision) WHERE op = 'cleanup_tenant' OR op = 'clear'",
    ),
)

#: version N → (what migrating N to N + 1 did, its statements with ``{revisions}``-style
#: table names). ``upgrade`` applies every step from the stored version up to
#: SCHEMA_VERSION, and the version bump, in one transaction. A version with no entry
#: (older than the first, or never written by nbregistry) cannot be upgraded.
#:
#: 1 → 2: version 1 stores made before the history indexes existed lack them (the
#: queries stay right without, but a model's history reads the whole log); version 2
#: guarantees them. ``IF NOT EXISTS``: a version 1 store made later already has them.
MIGRATIONS: dict[int, tuple[str, tuple[str, ...]]] = {
    1: (
        "added the history indexes " + ", ".join(name for name, _ in HISTORY_INDEXES),
        tuple(f"CREATE INDEX IF NOT EXISTS {name} {rest}" for name, rest in HISTORY_INDEXES),
    ),
}

# The revision log's columns ("at" and "by" quoted: BY is reserved in PostgreSQL).
REV_COLS = 'revision, op, tenant, owner, model, fingerprint, payload, "at", "by"'

# model_revisions(): three index range scans (the stores' history indexes), merged in
# revision order.
HISTORY = (
    f"SELECT {REV_COLS} FROM {{revisions}} WHERE tenant = ? AND model = ? "
    "AND op IN ('define', 'redefine', 'attach', 'delete') "
    f"UNION ALL SELECT {REV_COLS} FROM {{revisions}} "
    "WHERE op = 'cleanup_tenant' AND tenant = ? "
    f"UNION ALL SELECT {REV_COLS} FROM {{revisions}} WHERE op = 'clear' "
    "ORDER BY revision"
)

_DELETE_DEFINITION = "DELETE FROM {definitions} WHERE tenant = ? AND owner = ? AND model = ?"


def dumps(value: Any, what: str) -> str:
    """Return canonical JSON of ``value``; ValueError naming ``what`` if it is not JSON-able."""
    try:
        return json.dumps(value, sort_keys=True, separators=(",", ":"), allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{what} cannot be stored as JSON ({exc}): {value!r:.80}") from None


def migrations_from(
    version: int, url: str, action: str = "upgrade"
) -> list[tuple[int, str, tuple[str, ...]]]:
    """Return the steps (from, what, statements) from ``version`` to SCHEMA_VERSION.

    Raises StoreError ("cannot <action> store URL ...: no migration from version N")
    if a step is missing.
    """
    steps = []
    for v in range(version, SCHEMA_VERSION):
        step = MIGRATIONS.get(v)
        if step is None:
            low = SCHEMA_VERSION  # the oldest version with a path to SCHEMA_VERSION
            while low - 1 in MIGRATIONS:
                low -= 1
            which = (
                "this nbregistry has no migrations"
                if low == SCHEMA_VERSION
                else f"this nbregistry upgrades only version {low} to {SCHEMA_VERSION}"
                if low == SCHEMA_VERSION - 1
                else f"this nbregistry upgrades versions {low} to {SCHEMA_VERSION - 1}, "
                f"each up to {SCHEMA_VERSION}"
            )
            raise StoreError(
                f"cannot {action} store {url!r} (schema version {version}): no migration "
                f"from version {v} ({which}); nothing was changed — restore the store "
                "from a backup, or create a new store and re-run its notebooks"
            )
        steps.append((v, *step))
    return steps


def check_version(version: int, url: str) -> None:
    """Return if ``version`` is this nbregistry's; else StoreError saying what to do.

    Newer: upgrade nbregistry. Older with a migration path: run ``python -m nbregistry
    store upgrade URL``. Older without: the message of :func:`migrations_from`.
    """
    if version > SCHEMA_VERSION:
        raise StoreError(
            f"store {url!r} was written with schema version {version}, newer than this "
            f"nbregistry's {SCHEMA_VERSION}; upgrade nbregistry"
        )
    if version < SCHEMA_VERSION:
        migrations_from(version, url, "open")
        raise StoreError(
            f"store {url!r} has schema version {version}, older than {SCHEMA_VERSION}; "
            f"run: python -m nbregistry store upgrade {url}"
        )


def upgraded(url: str, version: int, steps: list[tuple[int, str, tuple[str, ...]]]) -> str:
    """Return what ``upgrade`` did: the versions and each step's description."""
    done = "; ".join(f"{v} → {v + 1} {what}" for v, what, _ in steps)
    return f"upgraded store {url!r} from schema version {version} to {SCHEMA_VERSION}: {done}"


def run_upgrade(
    url: str,
    version: int | None,
    create: Callable[[], bool],
    migrate: Callable[[], tuple[int, list[tuple[int, str, tuple[str, ...]]]]],
) -> str:
    """Decide and run one ``store upgrade`` (both backends); return what was done.

    ``version`` is the stored one (None: no store yet → ``create()``, True if this call
    created it); an older one with a migration path → ``migrate()``, which re-reads the
    version under the backend's lock and returns (from, steps applied). StoreError for a
    newer store or a version no migration starts from, before any change.
    """
    if version is None:
        if create():
            return f"created store {url!r} at schema version {SCHEMA_VERSION}"
        return f"store {url!r} is at schema version {SCHEMA_VERSION}"
    if version > SCHEMA_VERSION:
        check_version(version, url)
    if version < SCHEMA_VERSION:
        migrations_from(version, url)  # a version with no path: refused before any change
        version, steps = migrate()
        if steps:
            return upgraded(url, version, steps)
    return f"store {url!r} is already at schema version {SCHEMA_VERSION}"


def revision_of(row: Any) -> Revision:
    """Return the Revision of a log row (``at`` as ISO text or a datetime)."""
    rev, op, tenant, owner, model, fp, payload, at, by = row
    if isinstance(at, datetime):
        at = at.astimezone(UTC).isoformat(timespec="microseconds")
    return Revision(int(rev), op, tenant, owner, model, fp, json.loads(payload), at, by)


def check_change(change: Change) -> None:
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
    elif op == "compatibility" and change.payload.get("mode") not in MODES:
        raise ValueError(
            f"compatibility mode must be one of {', '.join(MODES)}, got "
            f"{change.payload.get('mode')!r}"
        )
    for name in need:
        if not isinstance(getattr(change, name), str) or not getattr(change, name):
            raise ValueError(f"a {op!r} change needs a non-empty str {name}, got {change!r:.120}")


def _since(last: tuple[int, str, str] | None) -> str:
    return "" if last is None else f" since revision {last[0]} ({last[1]}) by {last[2]}"


class SQLStore(Store):
    """The SQL stores' shared reads and change rules (see the module docstring)."""

    url: str
    #: "qmark" (SQLite: ``?``) or "format" (psycopg: ``%s``).
    _paramstyle = "qmark"

    def __init__(self) -> None:
        self._sql_cache: dict[str, str] = {}

    # rendering -------------------------------------------------------------------------

    def _table_names(self) -> dict[str, str]:
        """Return logical name → the table as the statements must name it."""
        return dict(TABLES)

    def _q(self, template: str) -> str:
        """Return a statement template rendered for this store (tables, placeholders)."""
        sql = self._sql_cache.get(template)
        if sql is None:
            sql = template.format(**self._table_names())
            if self._paramstyle == "format":
                sql = sql.replace("?", "%s")
            self._sql_cache[template] = sql
        return sql

    # reading ---------------------------------------------------------------------------

    @abstractmethod
    def _read(self, sql: str, params: tuple[Any, ...] = ()) -> list[Any]:
        """Return the rows of one rendered query; StoreError if the store cannot be read."""

    def schema_version(self) -> int:
        """Return the stored schema version; StoreError."""
        return int(self._read(self._q("SELECT max(version) FROM {schema}"))[0][0])

    def head(self) -> int:
        """Return the newest revision (0 for an empty log); StoreError."""
        sql = self._q("SELECT coalesce(max(revision), 0) FROM {revisions}")
        return int(self._read(sql)[0][0])

    def revisions(self, after: int = 0, *, limit: int | None = None) -> list[Revision]:
        """Return the revisions newer than ``after``, oldest first; StoreError."""
        sql = f"SELECT {REV_COLS} FROM {{revisions}} WHERE revision > ? ORDER BY revision"
        params: tuple[Any, ...] = (after,)
        if limit is not None:
            sql += " LIMIT ?"
            params = (after, limit)
        return [revision_of(row) for row in self._read(self._q(sql), params)]

    def model_revisions(self, tenant: str, model: str) -> list[Revision]:
        """Return the history of (tenant, model), oldest first (see ``Store``); StoreError."""
        return [revision_of(r) for r in self._read(self._q(HISTORY), (tenant, model, tenant))]

    def owners(self) -> list[OwnerRecord]:
        """Return every shared owner in creation order; StoreError."""
        rows = self._read(
            self._q(
                "SELECT tenant, name, owner_type, connector, settings, revision "
                "FROM {owners} ORDER BY revision"
            )
        )
        return [OwnerRecord(t, n, ot, c, json.loads(s), int(r)) for t, n, ot, c, s, r in rows]

    def definitions(self) -> list[DefinitionRecord]:
        """Return every current shared definition in revision order; StoreError."""
        rows = self._read(
            self._q(
                "SELECT tenant, owner, model, fingerprint, definition, revision "
                "FROM {definitions} ORDER BY revision"
            )
        )
        return [DefinitionRecord(t, o, m, f, json.loads(d), int(r)) for t, o, m, f, d, r in rows]

    def compatibility(self) -> str:
        """Return the store's compatibility mode (``"none"`` until one is recorded)."""
        rows = self._read(self._q("SELECT value FROM {settings} WHERE key = 'compatibility'"))
        return "none" if not rows else str(json.loads(rows[0][0]))

    # writing (inside the subclass's transaction, the revision lock held) ----------------

    def _commit_in(self, conn: Any, change: Change, payload: str) -> Revision | None:
        """Assign the next revision, apply ``change`` and append it; None: nothing to do.

        ``conn`` has a transaction open under the lock that serialises writers. Raises
        ConflictError (the caller rolls back) as ``Store.commit`` describes.
        """
        rev = int(
            conn.execute(
                self._q("SELECT coalesce(max(revision), 0) + 1 FROM {revisions}")
            ).fetchone()[0]
        )
        if not self._apply(conn, change, rev):
            return None
        at = datetime.now(UTC).isoformat(timespec="microseconds")
        by = author()
        conn.execute(
            self._q(f"INSERT INTO {{revisions}} ({REV_COLS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"),
            (rev, change.op, change.tenant, change.owner, change.model, change.fingerprint,
             payload, at, by),
        )  # fmt: skip
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

    def _one(self, conn: Any, template: str, params: tuple[Any, ...]) -> Any:
        return conn.execute(self._q(template), params).fetchone()

    def _apply(self, conn: Any, change: Change, rev: int) -> bool:
        """Apply ``change`` to the state tables (transaction open); False: nothing to do."""
        op, tenant, owner, model = change.op, change.tenant, change.owner, change.model
        p = change.payload
        if op == "owner":
            settings = dumps(dict(p.get("settings") or {}), f"the settings of owner {owner!r}")
            row = self._one(
                conn,
                "SELECT owner_type, connector, settings, revision FROM {owners} "
                "WHERE tenant = ? AND name = ?",
                (tenant, owner),
            )
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
                self._q("INSERT INTO {owners} VALUES (?, ?, ?, ?, ?, ?)"),
                (tenant, owner, p["owner_type"], p.get("connector"), settings, rev),
            )
        elif op in ("define", "redefine", "attach"):
            self._need_owner(conn, tenant, owner)
            self._expect(conn, tenant, owner, model, change.expect)
            if op == "attach" and p.get("from_owner") is not None:
                src = p["from_owner"]
                self._expect(conn, tenant, src, model, change.expect_from)
                conn.execute(self._q(_DELETE_DEFINITION), (tenant, src, model))
            conn.execute(
                self._q(
                    "INSERT INTO {definitions} VALUES (?, ?, ?, ?, ?, ?) "
                    "ON CONFLICT (tenant, owner, model) DO UPDATE SET "
                    "fingerprint = excluded.fingerprint, definition = excluded.definition, "
                    "revision = excluded.revision"
                ),
                (
                    tenant,
                    owner,
                    model,
                    change.fingerprint,
                    dumps(p["definition"], f"the definition of model {model!r}"),
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
            conn.execute(self._q(_DELETE_DEFINITION), (tenant, owner, model))
        elif op == "cleanup_tenant":
            conn.execute(self._q("DELETE FROM {definitions} WHERE tenant = ?"), (tenant,))
            conn.execute(self._q("DELETE FROM {owners} WHERE tenant = ?"), (tenant,))
        elif op == "clear":
            conn.execute(self._q("DELETE FROM {definitions}"))
            conn.execute(self._q("DELETE FROM {owners}"))
        else:  # compatibility
            conn.execute(
                self._q(
                    "INSERT INTO {settings} VALUES ('compatibility', ?) "
                    "ON CONFLICT (key) DO UPDATE SET value = excluded.value"
                ),
                (json.dumps(p["mode"]),),
            )
        return True

    def _need_owner(self, conn: Any, tenant: Any, owner: Any) -> None:
        sql = "SELECT 1 FROM {owners} WHERE tenant = ? AND name = ?"
        row = self._one(conn, sql, (tenant, owner))
        if row is None:
            raise ConflictError(
                f"owner {owner!r} of tenant {tenant!r} is not in store {self.url!r} (it was "
                "never shared, or another process removed it); sync() and create it again"
            )

    def _expect(self, conn: Any, tenant: Any, owner: Any, model: Any, expect: int | None) -> int:
        """Return the model's current revision (0: absent); ConflictError if not ``expect``."""
        row = self._one(
            conn,
            "SELECT revision FROM {definitions} WHERE tenant = ? AND owner = ? AND model = ?",
            (tenant, owner, model),
        )
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

    def _by(self, conn: Any, rev: int) -> str:
        row = self._one(conn, 'SELECT "by" FROM {revisions} WHERE revision = ?', (rev,))
        return "?" if row is None else str(row[0])

    def _last_touch(
        self, conn: Any, tenant: Any, owner: Any, model: Any
    ) -> tuple[int, str, str] | None:
        """Return (revision, op, by) of the last change that removed or touched a model."""
        row = self._one(
            conn,
            'SELECT revision, op, "by" FROM {revisions} WHERE '
            "(tenant = ? AND owner = ? AND model = ?) OR (op = 'cleanup_tenant' AND "
            "tenant = ?) OR op = 'clear' ORDER BY revision DESC LIMIT 1",
            (tenant, owner, model, tenant),
        )
        return None if row is None else (int(row[0]), str(row[1]), str(row[2]))
