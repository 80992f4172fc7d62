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
PersistenceError naming it, without writing to it.

Crash safety and durability (DESIGN leaves them open; the README states the guarantee):

* JSON: the temp file is fsynced before ``os.replace`` and the directory after it (POSIX),
  so a write is acknowledged only once it survives a power loss. A writer killed midway
  leaves the old file whole plus a stray temp file, which the next opener removes.
* SQLite: the database keeps its journal mode (rollback journal unless the database's
  owner chose WAL; we never switch a database that may hold other applications' tables)
  and every write runs with ``PRAGMA synchronous = EXTRA``: the journal, the database
  and, after the journal is deleted to commit, its directory are fsynced, so an
  acknowledged write survives a power loss (with ``FULL`` a power loss right after a
  commit can bring its journal back and undo it). WAL with ``synchronous = NORMAL`` was
  rejected: it gives up exactly that guarantee, it would switch a shared database to WAL
  for good, and WAL does not work on network file systems. The file is opened read-write
  (``mode=rw``, never created by a read), so SQLite rolls back the hot journal a killed
  writer left; a read error blames the file only when it is about the contents (not a
  database, corrupt, a foreign schema), never for locks, permissions or I/O.

One process per store file: the first :meth:`StoreFile.load` takes an exclusive lock
(``flock``) on ``<file>.lock`` beside the store and keeps it until the last StoreFile of
this process on that file is closed (the kernel drops it when the process dies, even by
SIGKILL); another process gets PersistenceError naming the file and the holder's pid.
StoreFiles of one process share that lock; a write through one of them after another
wrote the file since it was read is refused (it would overwrite that write).
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import re
import tempfile
import threading
import weakref
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..core.errors import PersistenceError
from .codecs import encode

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
    """A store file: ``load()`` the rows, ``write()`` one change, ``close()``; PersistenceError.

    ``load`` locks the file for this process (see the module doc) until ``close`` (or until
    this object is garbage-collected, or the process ends).
    """

    kind = "base"

    def __init__(self, path: str) -> None:
        self.path = path
        # this process's hold on the file's lock while this object is open, else None
        self._hold: _Hold | None = None
        # the hold's write generation that the rows this object read or wrote reflect
        self._seen = 0
        self._finalizer: weakref.finalize[Any, Any] | None = None

    def load(self) -> Snapshot:
        """Lock the file and return its models (empty if missing or empty); PersistenceError.

        Raises PersistenceError naming the file when another process holds it, or when the
        file cannot be read or is not a store (then it is left untouched and unlocked).
        """
        opened = self._hold is None
        if opened:
            self._open()
        assert self._hold is not None
        try:
            snapshot = self._read()
            if self._hold.fd is not None:
                self._recover()
        except BaseException:
            if opened:
                self.close()
            raise
        self._seen = self._hold.generation
        return snapshot

    def write(self, change: StoreChange) -> None:
        """Persist one change atomically; PersistenceError (file unchanged) on failure.

        Also PersistenceError (nothing written) if this object is closed, could not lock
        the file (read-only directory), or another StoreFile of this process wrote the
        file since this one read it.
        """
        hold = self._hold
        if hold is None:
            raise PersistenceError(
                f"memory store file {self.path!r} is closed (its DataSource released it); "
                "use the models again to reopen it; nothing was written"
            )
        if hold.fd is None:
            raise PersistenceError(
                f"memory store file {self.path!r} was opened read-only: its lock file "
                f"{hold.lock_path!r} cannot be created (the directory is not writable); "
                "make the directory writable and open the store again; nothing was written"
            )
        with hold.mutex:
            if self._seen != hold.generation:
                raise PersistenceError(
                    f"memory store file {self.path!r} was changed by another DataSource of "
                    "this process since this one read it; nothing was written (it would "
                    "overwrite those changes); use one DataSource per file, or disconnect() "
                    "this one and define its models again to reload the file"
                )
            self._write(change)
            hold.generation += 1
            self._seen = hold.generation

    def close(self) -> None:
        """Release this object's hold on the file lock (idempotent; the last hold unlocks)."""
        finalizer, self._finalizer, self._hold = self._finalizer, None, None
        if finalizer is not None:
            finalizer()

    def _open(self) -> None:
        """Take (or share) this process's lock on the file; PersistenceError if held elsewhere."""
        lock_path = os.path.realpath(self.path) + ".lock"
        with _HOLDS_GUARD:
            hold = _HOLDS.get(lock_path)
            if hold is None:
                hold = _Hold(lock_path, _lock_file(self.path, lock_path))
                _HOLDS[lock_path] = hold
            hold.holders += 1
        self._hold = hold
        self._finalizer = weakref.finalize(self, _drop_hold, hold)

    def _read(self) -> Snapshot:
        """Return the stored models (empty for a missing or empty file); PersistenceError."""
        raise NotImplementedError

    def _recover(self) -> None:
        """Remove debris a killed writer left beside the file (lock held, file read)."""

    def _write(self, change: StoreChange) -> None:
        """Persist one change atomically (lock held); PersistenceError (file unchanged)."""
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.path!r}>"


# --- one process per store file -----------------------------------------------------------


@dataclass(eq=False)
class _Hold:
    """This process's lock on one store file, shared by the StoreFiles open on it."""

    lock_path: str
    #: the locked lock file's descriptor; None when it could not be created (read-only)
    fd: int | None
    #: how many open StoreFile objects share this hold (the last one unlocks)
    holders: int = 0
    #: writes through any StoreFile of this hold so far (detects a stale writer)
    generation: int = 0
    #: serializes writes of this process's StoreFiles on the file
    mutex: threading.Lock = field(default_factory=threading.Lock)


#: realpath of a lock file → this process's hold on it. One flock per file per process:
#: StoreFiles of the same process share it instead of locking each other out.
_HOLDS: dict[str, _Hold] = {}
_HOLDS_GUARD = threading.RLock()  # re-entrant: a finalizer may run while it is held


def _try_lock(fd: int) -> bool:
    """Lock ``fd`` exclusively without waiting; return False if another process holds it."""
    try:
        import fcntl
    except ImportError:  # Windows: a mandatory lock on the first byte
        import msvcrt

        try:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)  # type: ignore[attr-defined]
        except OSError:
            return False
        return True
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def _holder(fd: int) -> str:
    """Return who holds a lock file, as its holder wrote it (``pid N on HOST``)."""
    try:
        os.lseek(fd, 0, os.SEEK_SET)
        info = json.loads(os.read(fd, 512).decode("utf-8"))
        return f"pid {int(info['pid'])} on {str(info['host'])[:64]!r}"
    except (OSError, ValueError, TypeError, KeyError):
        return "pid unknown"


def _same_file(fd: int, path: str) -> bool:
    try:
        a, b = os.fstat(fd), os.stat(path)
    except OSError:
        return False
    return (a.st_dev, a.st_ino) == (b.st_dev, b.st_ino)


def _lock_file(path: str, lock_path: str) -> int | None:
    """Return the descriptor of the locked ``lock_path``; PersistenceError if held elsewhere.

    Return None (store opened read-only) when the lock file cannot be created because the
    directory is not writable.
    """
    flags = os.O_CLOEXEC if hasattr(os, "O_CLOEXEC") else 0
    while True:
        try:
            fd = os.open(lock_path, os.O_RDWR | os.O_CREAT | flags, 0o644)
        except OSError as exc:
            if exc.errno not in (errno.EACCES, errno.EPERM, errno.EROFS):
                raise PersistenceError(
                    f"cannot open memory store file {path!r}: cannot create its lock file "
                    f"{lock_path!r}: {exc}"
                ) from None
            try:  # someone else's lock file: a read-only descriptor can be locked too
                fd = os.open(lock_path, os.O_RDONLY | flags)
            except OSError:
                return None
        try:
            locked = _try_lock(fd)
        except OSError as exc:
            os.close(fd)
            raise PersistenceError(
                f"cannot open memory store file {path!r}: cannot lock {lock_path!r}: {exc}"
            ) from None
        if not locked:
            who = _holder(fd)
            os.close(fd)
            raise PersistenceError(
                f"memory store file {path!r} is in use by another process ({who}; lock "
                f"file {lock_path!r}): one process at a time may open a store file, so that "
                "two never overwrite each other's changes; disconnect() the DataSource "
                "there (or end that process), or use another file=; the file was left "
                "untouched"
            )
        if _same_file(fd, lock_path):
            break
        os.close(fd)  # its last holder removed it while we waited: lock the new one
    host = os.uname().nodename if hasattr(os, "uname") else os.environ.get("COMPUTERNAME", "")
    with contextlib.suppress(OSError):
        os.ftruncate(fd, 0)
        os.lseek(fd, 0, os.SEEK_SET)
        os.write(fd, json.dumps({"pid": os.getpid(), "host": host}).encode())
    return fd


def _drop_hold(hold: _Hold) -> None:
    """Drop one StoreFile's share of ``hold``; the last one removes the lock file, unlocks."""
    with _HOLDS_GUARD:
        hold.holders -= 1
        if hold.holders > 0:
            return
        if _HOLDS.get(hold.lock_path) is hold:
            del _HOLDS[hold.lock_path]
        fd, hold.fd = hold.fd, None
        if fd is not None:
            if _same_file(fd, hold.lock_path):
                with contextlib.suppress(OSError):
                    os.unlink(hold.lock_path)  # still locked: no one can be using it
            os.close(fd)


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

    def _read(self) -> Snapshot:
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

    def _write(self, change: StoreChange) -> None:
        """Rewrite the whole document atomically; PersistenceError (file unchanged)."""
        doc = {"format": FILE_FORMAT, "version": FILE_VERSION, "models": change.snapshot()}
        _atomic_write(self.path, json.dumps(doc, separators=(",", ":"), ensure_ascii=False))

    def _recover(self) -> None:
        """Remove the temp files of writes a killed writer never renamed into place."""
        directory = os.path.dirname(os.path.abspath(self.path))
        stray = re.compile(re.escape(f".{os.path.basename(self.path)}.") + r"[a-z0-9_]{8}\.tmp")
        with contextlib.suppress(OSError):
            for name in os.listdir(directory):
                if stray.fullmatch(name):
                    with contextlib.suppress(OSError):
                        os.unlink(os.path.join(directory, name))


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
    try:
        _fsync_dir(directory)
    except OSError as exc:
        raise PersistenceError(
            f"cannot write memory store file {path!r}: syncing its directory failed ({exc}), "
            "so the write is not acknowledged (the new file may stay on disk until the next "
            "write replaces it)"
        ) from None


def _fsync_dir(directory: str) -> None:
    """Flush a directory's entries to disk (POSIX; a rename is durable only then). OSError."""
    if os.name != "posix":
        return
    fd = os.open(directory, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.fsync(fd)
    except OSError as exc:
        if exc.errno != errno.EINVAL:  # EINVAL: this file system cannot sync directories
            raise
    finally:
        os.close(fd)


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


#: SQLite primary result codes that say nothing about the file's contents, so a read
#: failing with one does not blame the file: PERM 3, BUSY 5, LOCKED 6, NOMEM 7,
#: READONLY 8, IOERR 10, FULL 13, CANTOPEN 14, AUTH 23.
_NOT_THE_FILE = frozenset({3, 5, 6, 7, 8, 10, 13, 14, 23})


def _read_error(path: str, exc: Exception, hot: bool) -> PersistenceError:
    """Return the PersistenceError for a failed read; it blames the file only if it is bad.

    ``hot``: a rollback journal was beside the file before and after the failed read.
    """
    code = getattr(exc, "sqlite_errorcode", None)
    primary = None if code is None else code & 0xFF
    if primary in _NOT_THE_FILE:
        if hot and primary in (3, 8, 14, 23):
            return PersistenceError(
                f"memory store file {path!r} holds an unfinished transaction (a writer was "
                f"killed; journal {path + '-journal'!r}) that SQLite must roll back, but "
                f"cannot write the file or its directory ({exc}); make both writable and "
                "open the store again: nothing is lost"
            )
        if primary in (5, 6):
            return PersistenceError(
                f"memory store file {path!r} is locked by another program ({exc}); open it "
                "again when that program is done with it"
            )
        return PersistenceError(f"cannot read memory store file {path!r}: {exc}")
    return PersistenceError(f"{path!r} is not a readable nbregistry memory store ({exc}); {_HINT}")


def _key_text(key: Any) -> str:
    """Return the ``id`` column text of a row key (1 and "1" stay distinct)."""
    return _dumps(encode(key))


class SqliteStoreFile(StoreFile):
    """A SQLite database; one transaction per write operation."""

    kind = "sqlite"

    def _read(self) -> Snapshot:
        """Read every model and row; PersistenceError naming the file if it is not a store.

        The file is opened read-write (never created), so SQLite rolls back the hot journal
        of a writer that was killed mid-transaction before anything is read.
        """
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

        uri = "file:" + quote(os.path.abspath(path)) + "?mode=rw"
        journal = path + "-journal"
        hot = os.path.exists(journal)
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
            raise _read_error(path, exc, hot and os.path.exists(journal)) from None
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

    def _write(self, change: StoreChange) -> None:
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
            # Durable commits in rollback-journal mode too (see the module doc).
            conn.execute("PRAGMA synchronous = EXTRA")
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
        if not existed:
            # A new database's own directory entry: SQLite syncs only its journal's.
            with contextlib.suppress(OSError):  # committed already: must not report failure
                _fsync_dir(os.path.dirname(os.path.abspath(path)))

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
