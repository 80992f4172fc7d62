"""Store files of the memory connector: one JSON encoding of rows, two file formats.

The format is chosen by the file's extension (:func:`open_store_file`):

* ``.json`` — :class:`JsonStoreFile`: one document
  ``{"format": "nbregistry.memory", "version": 1, "models": {name: {"next_id", "rows"}}}``,
  rewritten whole and atomically (temp file + ``os.replace``) after every write.
* ``.sqlite``, ``.sqlite3``, ``.db`` — :class:`SqliteStoreFile` (stdlib ``sqlite3``,
  imported only when such a file is used). Tables ``nbregistry_meta(key, value)`` (the
  ``format``/``version`` marker), ``nbregistry_models(model, next_id)`` and
  ``nbregistry_rows(model, id, data)``, where ``data`` is the row's JSON text (the same
  encoding as the JSON file) and ``id`` the JSON text of its key; row order is insertion
  order (``rowid``). Each write operation is one transaction touching only that model:
  the first write of a model after it was loaded rewrites its rows, later writes upsert
  and delete single rows. Tables of other applications in the same database are left alone.

Both read the file once (``load``) and refuse a corrupt or foreign file with
PersistenceError naming it, without writing to it. One DataSource per file at a time:
two live stores writing the same file overwrite each other's changes.
"""

from __future__ import annotations

import base64
import contextlib
import datetime as _dt
import json
import os
import tempfile
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..core.errors import PersistenceError
from ..core.typenames import parse_date

if TYPE_CHECKING:
    import sqlite3

__all__ = [
    "FILE_FORMAT",
    "FILE_VERSION",
    "JSON_EXTENSIONS",
    "SQLITE_EXTENSIONS",
    "JsonStoreFile",
    "SqliteStoreFile",
    "StoreChange",
    "StoreFile",
    "open_store_file",
]

#: The ``format`` marker of a store file (JSON key / SQLite ``nbregistry_meta`` row).
FILE_FORMAT = "nbregistry.memory"
FILE_VERSION = 1

JSON_EXTENSIONS = (".json",)
SQLITE_EXTENSIONS = (".sqlite", ".sqlite3", ".db")

#: ``{model name: {"next_id": int, "rows": [JSON-ready row dict, ...]}}``
Snapshot = dict[str, dict[str, Any]]

_HINT = "the file was left untouched; move it away or choose another file="


@dataclass(frozen=True)
class StoreChange:
    """One write operation on one model, as a store file needs it."""

    model: str
    next_id: int
    #: every encoded row of the model after the change, in order (key → row)
    rows: Mapping[Any, Any]
    #: rows inserted or replaced (key → encoded row)
    puts: Mapping[Any, Any]
    deletes: Iterable[Any]
    #: True when the file's rows of this model are keyed like ``rows`` (incremental write)
    keyed: bool
    #: the whole store (for formats that rewrite everything)
    snapshot: Callable[[], Snapshot]


class StoreFile:
    """A store file: ``load()`` the rows, ``write()`` one change; PersistenceError on failure."""

    kind = "base"

    def __init__(self, path: str) -> None:
        self.path = path

    def load(self) -> Snapshot:
        """Return the stored models (empty for a missing or empty file); PersistenceError."""
        raise NotImplementedError

    def write(self, change: StoreChange) -> None:
        """Persist one change atomically; PersistenceError (file unchanged) on failure."""
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.path!r}>"


def open_store_file(path: str) -> StoreFile:
    """Return the store file for ``path`` by extension; PersistenceError for an unknown one."""
    ext = os.path.splitext(path)[1].lower()
    if ext in JSON_EXTENSIONS:
        return JsonStoreFile(path)
    if ext in SQLITE_EXTENSIONS:
        return SqliteStoreFile(path)
    shown = f"extension {ext!r}" if ext else "no extension"
    raise PersistenceError(
        f"memory store file {path!r} has {shown}; the format is chosen by extension: "
        f"{', '.join(JSON_EXTENSIONS)} (JSON) or {', '.join(SQLITE_EXTENSIONS)} (SQLite), "
        "e.g. file='crm.json' or file='crm.sqlite'"
    )


def _check_entry(path: str, name: Any, next_id: Any, rows: Any) -> None:
    ok = (
        isinstance(name, str)
        and isinstance(rows, list)
        and all(isinstance(r, dict) for r in rows)
        and isinstance(next_id, int)
        and not isinstance(next_id, bool)
    )
    if not ok:
        raise PersistenceError(
            f"{path!r}: the entry of model {name!r} is malformed (expected "
            "{'next_id': int, 'rows': [objects]}); " + _HINT
        )


# --- JSON ---------------------------------------------------------------------------------


class JsonStoreFile(StoreFile):
    """A JSON document rewritten whole and atomically after every write."""

    kind = "json"

    def load(self) -> Snapshot:
        """Parse the document; PersistenceError naming the file if it is not a store."""
        path = self.path
        try:
            with open(path, "rb") as f:
                raw = f.read()
        except FileNotFoundError:
            return {}
        except OSError as exc:
            raise PersistenceError(f"cannot read memory store file {path!r}: {exc}") from None
        if not raw.strip():
            return {}
        try:
            doc = json.loads(raw.decode("utf-8"))
        except ValueError as exc:
            raise PersistenceError(
                f"{path!r} is not a JSON nbregistry memory store ({exc}); {_HINT}"
            ) from None
        if not isinstance(doc, dict) or doc.get("format") != FILE_FORMAT:
            raise PersistenceError(
                f"{path!r} is not an nbregistry memory store (no "
                f"'format': {FILE_FORMAT!r} marker); {_HINT}"
            )
        if doc.get("version") != FILE_VERSION:
            raise PersistenceError(
                f"{path!r} has store version {doc.get('version')!r}; this nbregistry reads "
                f"version {FILE_VERSION}; {_HINT}"
            )
        models = doc.get("models")
        if not isinstance(models, dict):
            raise PersistenceError(f"{path!r}: 'models' must be an object; {_HINT}")
        out: Snapshot = {}
        for name, entry in models.items():
            if not isinstance(entry, dict):
                _check_entry(path, name, None, None)
            _check_entry(path, name, entry.get("next_id"), entry.get("rows"))
            out[name] = {"next_id": entry["next_id"], "rows": entry["rows"]}
        return out

    def write(self, change: StoreChange) -> None:
        """Rewrite the whole document atomically; PersistenceError (file unchanged)."""
        doc = {"format": FILE_FORMAT, "version": FILE_VERSION, "models": change.snapshot()}
        _atomic_write(self.path, json.dumps(doc, separators=(",", ":"), ensure_ascii=False))


def _atomic_write(path: str, text: str) -> None:
    directory = os.path.dirname(os.path.abspath(path))
    base = os.path.basename(path)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{base}.", suffix=".tmp", dir=directory)
    except OSError as exc:
        raise PersistenceError(f"cannot write memory store file {path!r}: {exc}") from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        with contextlib.suppress(OSError):
            os.chmod(tmp, os.stat(path).st_mode & 0o7777)
        os.replace(tmp, path)
    except OSError as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise PersistenceError(f"cannot write memory store file {path!r}: {exc}") from None


# --- SQLite -------------------------------------------------------------------------------

_SQLITE_MAGIC = b"SQLite format 3\x00"
_TABLES = ("nbregistry_meta", "nbregistry_models", "nbregistry_rows")
_SCHEMA = (
    "CREATE TABLE nbregistry_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    "CREATE TABLE nbregistry_models (model TEXT PRIMARY KEY, next_id INTEGER NOT NULL)",
    "CREATE TABLE nbregistry_rows (model TEXT NOT NULL, id TEXT NOT NULL, data TEXT NOT NULL, "
    "PRIMARY KEY (model, id))",
)
_UPSERT_ROW = (
    "INSERT INTO nbregistry_rows (model, id, data) VALUES (?, ?, ?) "
    "ON CONFLICT (model, id) DO UPDATE SET data = excluded.data"
)
_UPSERT_MODEL = (
    "INSERT INTO nbregistry_models (model, next_id) VALUES (?, ?) "
    "ON CONFLICT (model) DO UPDATE SET next_id = excluded.next_id"
)


def _sqlite() -> Any:
    import sqlite3

    return sqlite3


def _dumps(v: Any) -> str:
    return json.dumps(v, separators=(",", ":"), ensure_ascii=False)


def _key_text(key: Any) -> str:
    """Return the ``id`` column text of a row key (1 and "1" stay distinct)."""
    return _dumps(_encode(key))


class SqliteStoreFile(StoreFile):
    """A SQLite database; one transaction per write operation."""

    kind = "sqlite"

    def load(self) -> Snapshot:
        """Read every model and row; PersistenceError naming the file if it is not a store."""
        path = self.path
        try:
            with open(path, "rb") as f:
                head = f.read(len(_SQLITE_MAGIC))
        except FileNotFoundError:
            return {}
        except OSError as exc:
            raise PersistenceError(f"cannot read memory store file {path!r}: {exc}") from None
        if not head:
            return {}
        if head != _SQLITE_MAGIC:
            raise PersistenceError(
                f"{path!r} is not a SQLite database (so not an nbregistry memory store); {_HINT}"
            )
        sqlite3 = _sqlite()
        from urllib.parse import quote

        uri = "file:" + quote(os.path.abspath(path)) + "?mode=ro"
        try:
            conn = sqlite3.connect(uri, uri=True)
        except sqlite3.Error as exc:
            raise PersistenceError(f"cannot read memory store file {path!r}: {exc}") from None
        try:
            self._check_marker(conn)
            models = conn.execute(
                "SELECT model, next_id FROM nbregistry_models ORDER BY rowid"
            ).fetchall()
            data = conn.execute("SELECT model, data FROM nbregistry_rows ORDER BY rowid").fetchall()
        except sqlite3.DatabaseError as exc:
            raise PersistenceError(
                f"{path!r} is not a readable nbregistry memory store ({exc}); {_HINT}"
            ) from None
        finally:
            conn.close()
        out: Snapshot = {}
        for name, next_id in models:
            _check_entry(path, name, next_id, [])
            out[name] = {"next_id": next_id, "rows": []}
        for name, text in data:
            entry = out.get(name)
            try:
                row = json.loads(text) if isinstance(text, str) else None
            except ValueError:
                row = None
            if entry is None or not isinstance(row, dict):
                _check_entry(path, name, None, None)
            else:
                entry["rows"].append(row)
        return out

    def _check_marker(self, conn: sqlite3.Connection) -> None:
        """Raise PersistenceError unless ``conn`` holds our tables and format marker."""
        path = self.path
        names = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        marker = None
        version = None
        if "nbregistry_meta" in names:
            meta = dict(conn.execute("SELECT key, value FROM nbregistry_meta").fetchall())
            marker, version = meta.get("format"), meta.get("version")
        if marker != FILE_FORMAT or not set(_TABLES) <= names:
            raise PersistenceError(
                f"{path!r} is a SQLite database but not an nbregistry memory store (no "
                f"nbregistry_meta format={FILE_FORMAT!r} marker and tables "
                f"{', '.join(_TABLES)}); {_HINT}"
            )
        if version != str(FILE_VERSION):
            raise PersistenceError(
                f"{path!r} has store version {version!r}; this nbregistry reads version "
                f"{FILE_VERSION}; {_HINT}"
            )

    def write(self, change: StoreChange) -> None:
        """Apply one change in one transaction; PersistenceError (file unchanged) on failure."""
        sqlite3 = _sqlite()
        path = self.path
        existed = os.path.exists(path)
        done = False
        try:
            conn = sqlite3.connect(path, isolation_level=None)
        except sqlite3.Error as exc:
            raise PersistenceError(f"cannot write memory store file {path!r}: {exc}") from None
        try:
            conn.execute("BEGIN IMMEDIATE")
            try:
                self._apply(conn, change)
                conn.execute("COMMIT")
                done = True
            finally:
                if not done and conn.in_transaction:
                    with contextlib.suppress(sqlite3.Error):
                        conn.execute("ROLLBACK")
        except sqlite3.Error as exc:
            raise PersistenceError(
                f"cannot write memory store file {path!r}: {exc}; nothing was written"
            ) from None
        finally:
            conn.close()
            if not done and not existed:
                for p in (path, path + "-journal"):
                    with contextlib.suppress(OSError):
                        os.unlink(p)

    def _apply(self, conn: sqlite3.Connection, change: StoreChange) -> None:
        """Write ``change`` inside the open transaction (creating the schema if needed)."""
        has_tables = conn.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' LIMIT 1"
        ).fetchone()
        if has_tables is None:
            for stmt in _SCHEMA:
                conn.execute(stmt)
            conn.executemany(
                "INSERT INTO nbregistry_meta (key, value) VALUES (?, ?)",
                [("format", FILE_FORMAT), ("version", str(FILE_VERSION))],
            )
        else:
            self._check_marker(conn)
        model = change.model
        if change.keyed:
            conn.executemany(
                "DELETE FROM nbregistry_rows WHERE model = ? AND id = ?",
                [(model, _key_text(k)) for k in change.deletes],
            )
            conn.executemany(
                _UPSERT_ROW, [(model, _key_text(k), _dumps(r)) for k, r in change.puts.items()]
            )
        else:
            conn.execute("DELETE FROM nbregistry_rows WHERE model = ?", (model,))
            conn.executemany(
                "INSERT INTO nbregistry_rows (model, id, data) VALUES (?, ?, ?)",
                [(model, _key_text(k), _dumps(r)) for k, r in change.rows.items()],
            )
        conn.execute(_UPSERT_MODEL, (model, change.next_id))


# --- the JSON encoding of rows (shared by both formats) -----------------------------------

_TAGS = ("$date", "$day", "$bytes", "$dict")


def _encode(v: Any) -> Any:
    """Return a JSON-ready form of a stored value; TypeError naming what cannot be stored."""
    t = type(v)
    if v is None or t in (str, int, float, bool):
        return v
    if t is _dt.datetime:
        return {"$date": v.isoformat()}
    if t is _dt.date:
        return {"$day": v.isoformat()}
    if t in (bytes, bytearray):
        return {"$bytes": base64.b64encode(bytes(v)).decode("ascii")}
    if isinstance(v, (list, tuple)):
        return [_encode(x) for x in v]
    if isinstance(v, dict):
        out = {}
        for k, x in v.items():
            if not isinstance(k, str):
                raise TypeError(f"a JSON file can only store str dict keys, got {k!r}")
            out[k] = _encode(x)
        if len(out) == 1 and next(iter(out)) in _TAGS:
            return {"$dict": out}
        return out
    d = getattr(v, "__dict__", None)
    if d is not None and hasattr(t, "definition") and hasattr(t, "model_name"):
        return _encode(dict(d))
    raise TypeError(
        f"a JSON file cannot store {v!r:.60} ({t.__name__}); store str, numbers, bool, "
        "None, dates, bytes, lists and dicts"
    )


def _decode(v: Any) -> Any:
    """Invert :func:`_encode`; ValueError for a malformed tag."""
    if isinstance(v, list):
        return [_decode(x) for x in v]
    if isinstance(v, dict):
        if len(v) == 1:
            tag, x = next(iter(v.items()))
            if tag == "$date":
                parsed = parse_date(x) if isinstance(x, str) else None
                if parsed is None:
                    raise ValueError(f"bad $date value {x!r:.40}")
                return parsed
            if tag == "$day":
                return _dt.date.fromisoformat(x)
            if tag == "$bytes":
                return base64.b64decode(x.encode("ascii"), validate=True)
            if tag == "$dict":
                if not isinstance(x, dict):
                    raise ValueError(f"bad $dict value {x!r:.40}")
                return {k: _decode(y) for k, y in x.items()}
        return {k: _decode(y) for k, y in v.items()}
    return v
