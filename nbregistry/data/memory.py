"""The embedded memory connector: rows per model, LoopBack filters, optional store file.

Rows belong to the DataSource and are keyed by model name. Each model's table is a dict
``{id: row}`` kept in id order (re-sorted lazily after an out-of-order explicit id), so a
lookup by id is O(1) and rows without ``order`` come in id order (DESIGN §12.3). Stored
rows are plain dicts of validated values; every instance handed out is a copy.

Decisions (DESIGN §4b leaves them open):

* A redefined model (new class, same name, same DataSource) keeps the rows: the first
  data access through the new class re-validates them against the new definition (new
  properties get their default or None). If a row no longer fits, that access raises
  ValidationError naming the row ids; ``Model.destroy_all()`` (no ``where``) still works.
  The old class stops working (ModelNotFoundError): use the new one.
* Releasing rows (``ds.disconnect()``, ``registry.cleanup_tenant()``, ``clear()``) and
  removing a model (``ds.delete_model(name)``) drop them from memory. A file-backed store
  keeps them on disk and reloads them when a model of that name is used again.
* A file-backed store (``file=`` or ``path=``) is JSON for ``.json`` and SQLite for
  ``.sqlite``/``.sqlite3``/``.db`` (any other extension: PersistenceError at creation;
  see :mod:`.persistence`). The file is read when the DataSource is created (and again
  on the first use after a release); rows are decoded and validated lazily per model.
  Every write operation is persisted atomically and durably (JSON: the whole file
  rewritten via temp file + ``os.replace``, fsynced with its directory; SQLite: one
  transaction, ``synchronous = EXTRA``); if that fails, the in-memory change is rolled
  back too and PersistenceError is raised. Reading the file locks it for this process
  until the store is released (``disconnect()``, cleanup), so a second process opening
  it gets PersistenceError naming the holder; two DataSources of one process share the
  lock, and a write through one that would overwrite the other's is refused.
"""

from __future__ import annotations

import copy
import datetime as _dt
import operator
import os
import threading
import weakref
from collections.abc import Iterable, Mapping
from itertools import islice
from typing import TYPE_CHECKING, Any

from ..core.connector import Connector
from ..core.errors import FilterError, ModelNotFoundError, PersistenceError, ValidationError
from ..core.meta import is_registered
from ..render.frames import columns_frame
from .codecs import decode, encode
from .filters import (
    INLINE_TYPES,
    Scan,
    compile_order,
    compile_scan,
    id_lookup,
    parse_fields,
    parse_limit,
    parse_skip,
    plan_where,
    sort_rows,
    top_rows,
    top_rows_fast,
)
from .indexes import Index, IndexSet, Probe, id_key, sort_keys
from .persistence import (
    FILE_FORMAT,
    FILE_VERSION,
    StoreChange,
    StoreFile,
    open_store_file,
)

if TYPE_CHECKING:
    import pandas as pd

    from ..core.model import Model

__all__ = ["FILE_FORMAT", "FILE_VERSION", "MemoryConnector"]

Row = dict[str, Any]
#: an index plan: (index, probe, rows it holds, exact)
Plan = tuple[Index, Probe, int, bool]

_IMMUTABLE = frozenset({str, int, float, bool, type(None), _dt.datetime, _dt.date, bytes})
_MISSING: Any = object()
_GENERATED_ID_TYPES = ("integer", "number", "any", "string")


def _copy_value(v: Any) -> Any:
    return v if type(v) in _IMMUTABLE else copy.deepcopy(v)


def _plain(v: Any) -> Any:
    """Return ``v`` with embedded model instances turned into dicts (a deep copy)."""
    t = type(v)
    if t in _IMMUTABLE:
        return v
    if isinstance(v, list):
        return [_plain(x) for x in v]
    if isinstance(v, dict):
        return {k: _plain(x) for k, x in v.items()}
    d = getattr(v, "__dict__", None)
    if d is not None and hasattr(t, "definition") and hasattr(t, "model_name"):
        return {k: _plain(x) for k, x in d.items()}
    return copy.deepcopy(v)


def _note_new_keys(t: _Table, keys: Iterable[Any]) -> None:
    """Record keys about to be added to ``t.rows``; clear ``id_sorted`` if one is out of order."""
    last = t.last_key
    in_order = t.id_sorted
    # a batch of int ids in increasing order (the common bulk case): C-level checks
    if (
        isinstance(keys, list)
        and len(keys) > 1
        and set(map(type, keys)) == {int}
        and (last is _MISSING or (type(last) is int and keys[0] > last))
        and all(map(operator.lt, keys, islice(keys, 1, None)))
    ):
        t.last_key = keys[-1]
        return
    for key in keys:
        if last is _MISSING:
            last = key
        elif type(key) is int and type(last) is int:
            if key > last:
                last = key
            else:
                in_order = False
        elif id_key(key) > id_key(last):
            last = key
        else:
            in_order = False
    t.last_key = last
    t.id_sorted = in_order


def _sort_by_id(t: _Table) -> None:
    """Re-order ``t.rows`` by id after an out-of-order insert (lock held).

    A new dict is built and swapped in: lock-free readers (``find_by_id``, ``count()``)
    see the old dict or the new one, both whole, never one emptied for refilling.
    """
    if t.id_sorted:
        return
    items = sorted(t.rows.items(), key=lambda kv: id_key(kv[0]))
    t.rows = dict(items)
    t.last_key = items[-1][0] if items else _MISSING
    t.id_sorted = True


class _Table:
    """The rows of one model: ``{id: row}`` plus id generation and the encoded cache."""

    __slots__ = (
        "cls",
        "disk_keyed",
        "encoded",
        "extras",
        "flat",
        "id_name",
        "id_sorted",
        "indexes",
        "last_key",
        "next_id",
        "rows",
        "validator",
    )

    def __init__(self, cls: type[Model]) -> None:
        self.cls = cls
        self.rows: dict[Any, Row] = {}
        # True while ``rows`` iterates in id order; an explicit id below ``last_key`` (the
        # largest key added since the last sort) clears it until the next read re-sorts.
        self.id_sorted = True
        self.last_key: Any = _MISSING
        self.next_id = 1
        self.id_name: str | None = cls.definition.id_property
        # the model's indexes (DESIGN §12.4), kept in step with ``rows`` by every write
        self.indexes = IndexSet(cls)
        # True while every stored value is immutable (then a copy is ``row.copy()``).
        self.flat = True
        # keys outside the definition seen in stored rows (non-strict models), in order.
        self.extras: dict[str, None] = {}
        # id → JSON-ready row, kept only for file-backed stores.
        self.encoded: dict[Any, Any] = {}
        # True once this table was written to the file, so the file's rows of this model
        # are keyed like ``rows`` (a SQLite store then writes single rows, not all of them).
        self.disk_keyed = False
        # the model's compiled bulk validator (flat scalar models only), else None
        self.validator = _compile_validator(cls)


class MemoryConnector(Connector):
    """The embedded store behind ``DataSource("memory")`` (one per DataSource).

    Settings: ``file=``/``path=`` (optional) persists the store to a JSON (``.json``) or
    SQLite (``.sqlite``, ``.sqlite3``, ``.db``) file. Thread-safe: every read and write of
    the rows holds one re-entrant lock. Raises PersistenceError for an unusable file, a
    file another process has open, or an unknown extension, TypeError for a non-path
    ``file=``.
    """

    @classmethod
    def peer_settings(cls, settings: dict[str, Any]) -> dict[str, Any]:
        """Drop ``file=``/``path=``: another process never opens this one's file (one writer)."""
        return {k: v for k, v in settings.items() if k not in ("file", "path")}

    name = "memory"

    def __init__(self, settings: dict[str, Any]) -> None:
        super().__init__(settings)
        self._lock = threading.RLock()
        self._tables: dict[str, _Table] = {}
        self._data_source: Any = None
        self._path = _file_setting(settings)
        self._file: StoreFile | None = None if self._path is None else open_store_file(self._path)
        # model name → {"next_id": int, "rows": [encoded row, ...]} loaded from the file
        # but not yet used through a model class.
        self._pending: dict[str, dict[str, Any]] = {}
        self._loaded = False
        if self._path is not None:
            self._load()

    # --- plumbing --------------------------------------------------------------------

    @property
    def path(self) -> str | None:
        """Return the backing file, or None for a purely in-memory store."""
        return self._path

    def describe(self) -> dict[str, str]:
        """Return ``{"connector": "memory"}``, plus ``"database"``: the backing file if any."""
        out = {"connector": self.name}
        if self._path is not None:
            out["database"] = self._path
        return out

    def bind(self, data_source: Any) -> None:
        """Remember the owning DataSource."""
        super().bind(data_source)
        self._data_source = weakref.ref(data_source)

    def release(self) -> None:
        """Drop every row from memory (a file keeps them on disk, reloaded on next use)."""
        with self._lock:
            self._tables = {}
            self._pending = {}
            self._loaded = False
            if self._file is not None:
                self._file.close()  # unlock: another process may open the file now

    def model_names(self) -> list[str]:
        """Return the names of models holding rows (in memory or, unloaded, in the file)."""
        with self._lock:
            return list(self._tables) + [n for n in self._pending if n not in self._tables]

    def row_count(self) -> int:
        """Return how many rows the store holds in memory."""
        with self._lock:
            return sum(len(t.rows) for t in self._tables.values())

    def _owner_ds(self) -> Any:
        return None if self._data_source is None else self._data_source()

    def _table(self, cls: type[Model]) -> _Table:
        """Return the table of ``cls`` (creating, loading or migrating it); see module doc."""
        name = cls.model_name
        if not is_registered(cls):
            ds = self._owner_ds()
            where = f" of DataSource {ds.name!r}" if ds is not None else ""
            raise ModelNotFoundError(
                f"model class {name!r}{where} is no longer registered (it was removed, "
                "redefined, or its DataSource was disconnected or cleaned up); use the "
                f"current class (ds.models.{name}) or define it again"
            )
        t = self._tables.get(name)
        if t is not None and t.cls is cls:
            return t
        with self._lock:
            t = self._tables.get(name)
            if t is not None and t.cls is cls:
                return t
            if not self._loaded and self._path is not None:
                self._load()
            if t is None:
                t = self._hydrate(cls, self._pending.get(name))
                self._pending.pop(name, None)
            else:
                t = self._migrate(cls, t)
            self._tables[name] = t
            return t

    def _hydrate(self, cls: type[Model], raw: dict[str, Any] | None) -> _Table:
        """Build a table for ``cls`` from rows loaded from the file (or an empty one)."""
        t = _Table(cls)
        if raw is None:
            return t
        assert self._path is not None
        errors: list[tuple[str, str]] = []
        rows: list[Row] = []
        for i, enc in enumerate(raw["rows"]):
            try:
                data = decode(enc)
            except ValueError as exc:
                raise PersistenceError(
                    f"{self._path}: row {i} of model {cls.model_name!r} is corrupt ({exc}); "
                    "the file was left untouched"
                ) from None
            values, errs = cls._validate(data)
            label = data.get(t.id_name, i) if t.id_name else i
            errors.extend((f"[{label!r}].{p}", m) for p, m in errs)
            rows.append(values)
        if errors:
            shown = "; ".join(f"{p}: {m}" for p, m in errors[:5])
            more = f" (and {len(errors) - 5} more)" if len(errors) > 5 else ""
            raise PersistenceError(
                f"{self._path}: stored rows of model {cls.model_name!r} do not fit its "
                f"current definition: {shown}{more}; fix the definition, or use another "
                "file; the file was left untouched"
            )
        t.next_id = raw["next_id"]
        bad = self._put_rows(t, rows, fresh=True)
        if bad:
            raise PersistenceError(
                f"{self._path}: stored rows of model {cls.model_name!r} break its unique "
                f"indexes: {_describe_violations(t, bad)}; fix the definition, or use another "
                "file; the file was left untouched"
            )
        return t

    def _migrate(self, cls: type[Model], old: _Table) -> _Table:
        """Re-validate the rows of a redefined model against its new class."""
        t = _Table(cls)
        t.next_id = old.next_id
        errors: list[tuple[str, str]] = []
        rows: list[Row] = []
        for key, row in old.rows.items():
            values, errs = cls._validate({k: _plain(v) for k, v in row.items()})
            errors.extend((f"[{key!r}].{p}", m) for p, m in errs)
            if t.id_name is not None and values.get(t.id_name) is None:
                values[t.id_name] = key
            rows.append(values)
        if errors:
            raise ValidationError(
                cls.model_name,
                [
                    *errors[:20],
                    (
                        "(rows)",
                        "stored rows do not fit the redefined model; fix the definition "
                        f"or call {cls.model_name}.destroy_all() to drop them",
                    ),
                ],
            )
        if t.id_name is None or old.id_name != t.id_name:
            t.next_id = 1
            keyed = None
        else:
            keyed = list(old.rows)
        bad = self._put_rows(t, rows, fresh=True, keys=keyed)
        if bad:
            raise ValidationError(
                cls.model_name,
                [
                    (f"[{key!r}].{','.join(idx.props)}", msg)
                    for key, idx, msg in _violation_messages(t, bad, {})[:20]
                ]
                + [
                    (
                        "(rows)",
                        "stored rows break a unique index of the redefined model; fix the "
                        f"definition or call {cls.model_name}.destroy_all() to drop them",
                    )
                ],
            )
        return t

    def on_model_removed(self, cls: type[Model]) -> None:
        """Drop the rows of a model that left the registry (a file keeps them on disk).

        A model replaced by a redefinition keeps its rows: the new class migrates them on
        first use.
        """
        name = cls.model_name
        with self._lock:
            t = self._tables.get(name)
            if t is None or t.cls is not cls:
                return
            if is_registered(cls):
                return  # still registered (e.g. taken over by an App): keep the rows
            ds = self._owner_ds()
            if ds is not None and name in ds.models:
                return  # redefined: the new class migrates the rows on first use
            del self._tables[name]
            if self._path is not None and self._loaded:
                # Keep the rows on disk; they come back if the model is used again.
                self._pending[name] = {"next_id": t.next_id, "rows": list(t.encoded.values())}

    # --- rows --------------------------------------------------------------------------

    def _store_row(self, t: _Table, values: Row) -> Row:
        """Return the stored form of fresh validated values (private copies of mutables)."""
        props = t.cls.definition.properties
        immutable = _IMMUTABLE
        for v in values.values():
            if type(v) not in immutable:
                break
        else:
            if len(values) == len(props) and all(k in props for k in values):
                return values  # nothing shared with the caller's data: keep the dict
        row: Row = {}
        for k, v in values.items():
            if type(v) not in _IMMUTABLE:
                t.flat = False
                v = copy.deepcopy(v)
            if k not in props:
                t.extras[k] = None
            row[k] = v
        return row

    def _put_rows(
        self, t: _Table, rows: list[Row], *, fresh: bool, keys: list[Any] | None = None
    ) -> list[tuple[Any, Index, Any, Any]]:
        """Store already-validated rows with their ids (used by load and migration).

        Build the indexes; return the unique violations found (the caller raises).
        """
        id_name = t.id_name
        for i, values in enumerate(rows):
            row = self._store_row(t, values)
            if keys is not None:
                key = keys[i]
            elif id_name is not None and row.get(id_name) is not None:
                key = row[id_name]
            else:
                key = self._next_key(t, None)
                if id_name is not None:
                    row[id_name] = key
            _note_new_keys(t, (key,))
            t.rows[key] = row
            if isinstance(key, int) and not isinstance(key, bool) and key >= t.next_id:
                t.next_id = key + 1
            if self._path is not None:
                t.encoded[key] = self._encode_row(t, key, row)
        if not t.indexes:
            return []
        bad = t.indexes.violations({}, t.rows, [])
        if not bad:
            t.indexes.rebuild(t.rows)
        return bad

    def _next_key(self, t: _Table, taken: Any) -> Any:
        id_prop = None if t.id_name is None else t.cls.definition.properties[t.id_name]
        as_str = id_prop is not None and id_prop.type == "string"
        while True:
            n = t.next_id
            t.next_id += 1
            key: Any = str(n) if as_str else n
            if key not in t.rows and (taken is None or key not in taken):
                return key

    def _instance(self, cls: type[Model], row: Row, flat: bool) -> Model:
        inst = object.__new__(cls)
        inst.__dict__ = row.copy() if flat else {k: _copy_value(v) for k, v in row.items()}
        return inst

    def _partial(
        self,
        cls: type[Model],
        row: Row,
        include: list[str] | None,
        exclude: frozenset[str],
        flat: bool = False,
    ) -> Model:
        """Return an instance holding only the projected properties (copies of them)."""
        inst = object.__new__(cls)
        if flat:  # immutable values: no copies needed
            if include is not None:
                data = {k: row[k] for k in include if k in row}
            else:
                data = {k: v for k, v in row.items() if k not in exclude}
        elif include is not None:
            data = {k: _copy_value(row[k]) for k in include if k in row}
        else:
            data = {k: _copy_value(v) for k, v in row.items() if k not in exclude}
        inst.__dict__ = data
        return inst

    # --- writes --------------------------------------------------------------------------

    def _commit(
        self, t: _Table, puts: dict[Any, Row], deletes: Iterable[Any] = (), *, bulk: bool = False
    ) -> None:
        """Apply puts/deletes (lock held, all validated); save; roll back if saving fails.

        Raises ValidationError (nothing written) when a put breaks a unique index.
        """
        rows = t.rows
        indexes = t.indexes
        if indexes:
            deletes = list(deletes)
            bad = indexes.violations(rows, puts, deletes)
            if bad:
                order = {key: i for i, key in enumerate(puts)} if bulk else {}
                raise ValidationError(
                    t.cls.model_name,
                    [
                        (
                            f"[{order[key]}].{','.join(idx.props)}"
                            if bulk
                            else ",".join(idx.props),
                            msg,
                        )
                        for key, idx, msg in _violation_messages(t, bad, puts)
                    ],
                )
            indexes.apply(rows, puts, deletes)
        _note_new_keys(
            t, list(puts) if rows.keys().isdisjoint(puts) else [k for k in puts if k not in rows]
        )
        if self._path is None:
            rows.update(puts)
            for key in deletes:
                rows.pop(key, None)
            return
        enc = {key: self._encode_row(t, key, row) for key, row in puts.items()}
        deletes = list(deletes)
        old_rows, old_enc, old_next = t.rows.copy(), t.encoded.copy(), t.next_id
        t.rows.update(puts)
        t.encoded.update(enc)
        for key in deletes:
            t.rows.pop(key, None)
            t.encoded.pop(key, None)
        try:
            self._save(t, enc, deletes)
        except BaseException:
            t.rows, t.encoded, t.next_id = old_rows, old_enc, old_next
            t.id_sorted = False
            if indexes:
                indexes.rebuild(old_rows)
            raise
        t.disk_keyed = True

    def create(
        self, cls: type[Model], items: list[Mapping[str, Any]], *, bulk: bool = True
    ) -> list[Model]:
        """Validate and store rows all-or-nothing; return copies. ValidationError.

        One pass: a flat scalar model's compiled validator builds the stored rows directly
        (rows it does not accept, and every row of other models, go through
        ``cls._validate``, which names every failing property).
        """
        t = self._table(cls)
        errors: list[tuple[str, str]] = []
        validate = cls._validate
        items = items if isinstance(items, list) else list(items)
        # per item: the stored row built by the compiled validator, or None
        checked = t.validator(items) if t.validator is not None else [None] * len(items)
        all_ready = None not in checked
        validated: list[Row] = checked if all_ready else []
        # per item: True when ``validated[i]`` is already in stored form (compiled validator)
        ready: list[bool] = []
        if not all_ready:
            for i, (data, row) in enumerate(zip(items, checked, strict=True)):
                if row is not None:
                    validated.append(row)
                    ready.append(True)
                    continue
                values, errs = validate(data)
                if errs:
                    if bulk:
                        errors.extend((f"[{i}].{p}", m) for p, m in errs)
                    else:
                        errors.extend(errs)
                validated.append(values)
                ready.append(False)
        if errors:
            raise ValidationError(cls.model_name, errors)
        with self._lock:
            next_before = t.next_id
            store = self._store_row
            if not all_ready:
                validated = [v if r else store(t, v) for v, r in zip(validated, ready, strict=True)]
            try:
                puts = self._bulk_puts(t, validated)
                if puts is None:
                    puts = self._keyed_puts(t, validated, bulk)
                self._commit(t, puts, bulk=bulk)
            except BaseException:
                t.next_id = next_before
                raise
            if t.flat:
                new = object.__new__
                out = []
                append = out.append
                for row in puts.values():
                    inst = new(cls)
                    inst.__dict__ = row.copy()
                    append(inst)
                return out
            return [self._instance(cls, row, False) for row in puts.values()]

    def _bulk_puts(self, t: _Table, validated: list[Row]) -> dict[Any, Row] | None:
        """Return ``{key: row}`` for rows whose int ids are all given or all generated.

        Without a per-row loop: explicit ids must be distinct ints not stored yet;
        generated ids must be free. None means "use the general loop" (which also raises
        the errors). Lock held; advances ``next_id``.
        """
        id_name = t.id_name
        if id_name is None or not validated:
            return None
        keys = list(map(operator.itemgetter(id_name), validated))
        kinds = set(map(type, keys))
        rows = t.rows
        if kinds == {int}:
            puts = dict(zip(keys, validated, strict=True))
            if len(puts) != len(keys) or not rows.keys().isdisjoint(keys):
                return None
            t.next_id = max(t.next_id, max(keys) + 1)
            return puts
        if kinds == {type(None)}:
            id_type = t.cls.definition.properties[id_name].type
            if id_type not in ("integer", "number", "any"):
                return None
            start = t.next_id
            new_keys = range(start, start + len(keys))
            if not rows.keys().isdisjoint(new_keys):
                return None
            for row, key in zip(validated, new_keys, strict=True):
                row[id_name] = key
            t.next_id = start + len(keys)
            return dict(zip(new_keys, validated, strict=True))
        return None

    def _keyed_puts(self, t: _Table, validated: list[Row], bulk: bool) -> dict[Any, Row]:
        """Return ``{key: row}`` assigning or checking each id in turn; ValidationError."""
        id_name = t.id_name
        rows = t.rows
        puts: dict[Any, Row] = {}
        for i, values in enumerate(validated):
            key = None if id_name is None else values.get(id_name)
            if key is None:
                key = self._new_id(t, puts, i, bulk)
                if id_name is not None:
                    values[id_name] = key
            elif type(key) is int:
                if key in rows or key in puts:
                    self._check_new_id(t, key, puts, i, bulk)  # raises
                if key >= t.next_id:
                    t.next_id = key + 1
            else:
                self._check_new_id(t, key, puts, i, bulk)
                if isinstance(key, int) and not isinstance(key, bool):
                    t.next_id = max(t.next_id, key + 1)
            puts[key] = values
        return puts

    def _new_id(self, t: _Table, puts: dict[Any, Row], i: int, bulk: bool) -> Any:
        if t.id_name is not None:
            id_prop = t.cls.definition.properties[t.id_name]
            if id_prop.type not in _GENERATED_ID_TYPES:
                where = f"[{i}].{t.id_name}" if bulk else t.id_name
                raise ValidationError(
                    t.cls.model_name,
                    [(where, f"is required: ids of type {id_prop.describe()} are not generated")],
                )
        return self._next_key(t, puts)

    def _check_new_id(self, t: _Table, key: Any, puts: dict[Any, Row], i: int, bulk: bool) -> None:
        where = f"[{i}].{t.id_name}" if bulk else str(t.id_name)
        try:
            clash = key in t.rows or key in puts
        except TypeError:
            raise ValidationError(
                t.cls.model_name, [(where, f"an id must be hashable, got {key!r}")]
            ) from None
        if clash:
            what = "an existing row" if key in t.rows else "another row of this batch"
            raise ValidationError(
                t.cls.model_name,
                [(where, f"duplicate id {key!r}: {what} has it; nothing was written")],
            )

    def save(self, inst: Model) -> None:
        """Insert or replace the instance's row by id; refresh the instance. ValidationError."""
        cls = type(inst)
        t = self._table(cls)
        id_name = t.id_name
        with self._lock:
            key = None if id_name is None else inst.__dict__.get(id_name)
            base = t.rows.get(key) if key is not None else None
            data = dict(inst.__dict__)
            if base is not None:
                # A partial instance (find(fields=...)) only overwrites what it holds.
                data = {**{k: _plain(v) for k, v in base.items()}, **data}
            values, errs = cls._validate(data)
            if errs:
                raise ValidationError(cls.model_name, errs)
            next_before = t.next_id
            try:
                if key is None:
                    key = self._new_id(t, {}, 0, False)
                    if id_name is not None:
                        values[id_name] = key
                elif base is None:
                    self._check_new_id(t, key, {}, 0, False)
                    if isinstance(key, int) and not isinstance(key, bool):
                        t.next_id = max(t.next_id, key + 1)
                row = self._store_row(t, values)
                self._commit(t, {key: row})
            except BaseException:
                t.next_id = next_before
                raise
            inst.__dict__.clear()
            inst.__dict__.update({k: _copy_value(v) for k, v in row.items()})

    def delete(self, inst: Model) -> bool:
        """Delete the instance's row by id; return True if a row was deleted. TypeError."""
        cls = type(inst)
        t = self._table(cls)
        if t.id_name is None:
            raise TypeError(
                f"model {cls.model_name!r} has no id property, so an instance cannot name "
                "its row; use destroy_all(where) instead"
            )
        key = inst.__dict__.get(t.id_name)
        with self._lock:
            try:
                present = key is not None and key in t.rows
            except TypeError:
                present = False
            if not present:
                return False
            self._commit(t, {}, [key])
            return True

    def update_all(self, cls: type[Model], where: Any, data: Mapping[str, Any]) -> int:
        """Set ``data`` on every matching row (all-or-nothing); return the count.

        Raises FilterError, ValidationError (nothing written), TypeError for a non-dict.
        """
        from ..core.model import check_update

        t = self._table(cls)
        known, unknown = check_update(cls, data, t.id_name)
        scan = compile_scan(cls, where)
        # In the caller's key order (new keys of a row keep it).
        changes: Row = {k: known[k] if k in known else unknown[k] for k in data}
        with self._lock:
            puts = {}
            stored = self._store_row(t, changes)
            # immutable values can be shared by every row; mutable ones get a copy per row
            shared = all(type(v) in _IMMUTABLE for v in changes.values())
            for key, row in self._matching(t, cls, where, scan):
                new = row.copy()
                new.update(stored if shared else self._store_row(t, changes))
                puts[key] = new
            if puts:
                self._commit(t, puts)
            return len(puts)

    def destroy_all(self, cls: type[Model], where: Any = None) -> int:
        """Delete every matching row (all rows when ``where`` is None); return the count."""
        if where is None:
            self._table_check_registered(cls)
            with self._lock:
                t = self._tables.get(cls.model_name)
                undo = None
                if t is None or t.cls is not cls:
                    # No migration needed to drop everything (works for rows that no
                    # longer fit a redefined model).
                    undo = self._table_unchecked(cls)
                t = self._tables[cls.model_name]
                n = len(t.rows)
                if n:
                    try:
                        self._commit(t, {}, list(t.rows))
                    except BaseException:
                        if undo is not None:
                            undo()  # the rows stay as they were (loaded, or to migrate)
                        raise
                return n
        t = self._table(cls)
        scan = compile_scan(cls, where)
        with self._lock:
            keys = [key for key, _ in self._matching(t, cls, where, scan)]
            if keys:
                self._commit(t, {}, keys)
            return len(keys)

    def _table_unchecked(self, cls: type[Model]) -> Any:
        """Give ``cls`` a table holding the same keys without validating (destroy_all).

        Return a callable that puts the previous state back (if destroying fails).
        """
        self._table_check_registered(cls)
        if not self._loaded and self._path is not None:
            self._load()
        name = cls.model_name
        t = _Table(cls)
        old = self._tables.get(name)
        raw = None
        if old is not None:
            t.rows, t.encoded, t.next_id = old.rows, old.encoded, old.next_id
            t.disk_keyed = old.disk_keyed
        else:
            raw = self._pending.pop(name, None)
            if raw is not None:
                t.next_id = raw["next_id"]
                t.rows = {i: {} for i in range(len(raw["rows"]))}
                t.encoded = dict.fromkeys(t.rows)
        self._tables[name] = t

        def undo() -> None:
            if old is not None:
                old.rows, old.encoded, old.next_id = t.rows, t.encoded, t.next_id
                self._tables[name] = old
            else:
                del self._tables[name]
                if raw is not None:
                    self._pending[name] = raw

        return undo

    def _table_check_registered(self, cls: type[Model]) -> None:
        if not is_registered(cls):
            self._table(cls)  # raises the "no longer registered" error

    # --- reads ---------------------------------------------------------------------------

    def _select(self, t: _Table, where: Any, scan: Scan) -> list[tuple[Any, Row]]:
        """Return ``[(key, row)]`` matching (lock held); O(1) for an equality on the id."""
        is_id, value = id_lookup(where, t.id_name)
        if is_id:
            try:
                row = t.rows.get(value)
            except TypeError:
                row = None
            return [] if row is None or not scan.pred(row) else [(value, row)]
        if where is None:
            return list(t.rows.items())
        return scan.select(t.rows)

    def _plan(self, t: _Table, cls: type[Model], where: Any) -> Plan | None:
        """Pick the index answering ``where`` best: ``(index, probe, rows, exact)`` or None.

        ``probe`` holds the index entries to read, ``rows`` how many rows they are (no row
        visited) and ``exact`` says those rows are exactly the matches (no predicate check).
        None means no index applies: scan. Lock held.
        """
        indexes = t.indexes
        if not indexes or not isinstance(where, Mapping) or not where:
            return None
        single = indexes.single
        plan = plan_where(cls, where, single if not indexes.compound else _all_props(indexes))
        best: Plan | None = None
        for prop, acc in plan.items():
            idx = single.get(prop)
            if idx is None:
                continue
            if acc.eq is not None:
                probe = idx.eq_probe(acc.eq)
            else:
                probe = idx.range_probe(acc.lo, acc.lo_incl, acc.hi, acc.hi_incl)
            if probe is None:
                continue  # values that do not compare with the stored ones: scan
            exact = len(where) == 1 and acc.exact and not (acc.eq is not None and acc.ranged)
            if best is None or probe.n < best[2]:
                best = (idx, probe, probe.n, exact)
        for idx in indexes.compound:
            accs = [plan.get(p) for p in idx.props]
            if all(a is not None and a.eq is not None and len(a.eq) == 1 for a in accs):
                probe = idx.eq_probe([tuple(a.eq[0] for a in accs)])  # type: ignore[union-attr]
                if probe is None:
                    continue
                exact = len(where) == len(idx.props) and all(
                    a.exact and not a.ranged
                    for a in accs  # type: ignore[union-attr]
                )
                if best is None or probe.n < best[2]:
                    best = (idx, probe, probe.n, exact)
        return best

    def _hits(
        self, t: _Table, plan: Plan, scan: Scan, start: int = 0, stop: int | None = None
    ) -> tuple[list[Any], list[Row]]:
        """Return the keys and rows an index plan matches, in id order, ``[start:stop]``.

        Only the rows returned are looked up when the plan is exact. Lock held.
        """
        _, probe, _, exact = plan
        rows = t.rows
        keys = sort_keys(probe.row_keys())
        if exact:
            if start or stop is not None:
                keys = keys[start:stop]
            return keys, list(map(rows.__getitem__, keys))
        pred = scan.pred
        out_keys: list[Any] = []
        out_rows: list[Row] = []
        for k in keys:
            r = rows[k]
            if pred(r):
                out_keys.append(k)
                out_rows.append(r)
        if start or stop is not None:
            return out_keys[start:stop], out_rows[start:stop]
        return out_keys, out_rows

    def _matching(
        self, t: _Table, cls: type[Model], where: Any, scan: Scan
    ) -> list[tuple[Any, Row]]:
        """Return ``[(key, row)]`` matching ``where`` in id order (lock held, ids sorted)."""
        if id_lookup(where, t.id_name)[0]:
            return self._select(t, where, scan)
        if where is None:
            return list(t.rows.items())
        plan = self._plan(t, cls, where)
        if plan is None:
            return scan.select(t.rows)
        return list(zip(*self._hits(t, plan, scan), strict=True))

    def _walk_index(
        self, t: _Table, idx: Index, desc: bool, where: Any, scan: Scan, need: int | None
    ) -> list[tuple[Any, Row]]:
        """Return matches in index order (missing values last, ties by id), ``need`` at most."""
        rows = t.rows
        pred = scan.pred
        out: list[tuple[Any, Row]] = []
        for keys in idx.groups(desc):
            for k in keys:
                r = rows[k]
                if where is None or pred(r):
                    out.append((k, r))
                    if need is not None and len(out) >= need:
                        return out
        return out

    def _query(
        self,
        cls: type[Model],
        where: Any,
        order: Any,
        limit: Any,
        skip: Any,
        offset: Any = None,
    ) -> tuple[_Table, list[Any], list[Row]]:
        """Return the table, keys and rows matching a filter, ordered and sliced.

        Planned: an index answers equality/``inq``/ranges when one applies; ``order`` on an
        indexed property walks the index; otherwise ``order`` + ``limit`` is a top-k
        selection. Instances are built by the caller, only for the rows returned.
        """
        t = self._table(cls)
        scan = compile_scan(cls, where)
        keys_order = compile_order(cls, order)
        lim = parse_limit(limit, "limit")
        off = parse_skip(skip, offset)
        stop = None if lim is None else off + lim
        with self._lock:
            _sort_by_id(t)
            if lim == 0:
                return t, [], []
            is_id = id_lookup(where, t.id_name)[0]
            plan = None if where is None or is_id else self._plan(t, cls, where)
            scanned = where is None or (not is_id and plan is None)
            if keys_order:
                if len(keys_order) == 1:
                    idx = t.indexes.single.get(keys_order[0][2])
                    if idx is not None and scanned:
                        pairs = self._walk_index(t, idx, keys_order[0][1], where, scan, stop)
                        pairs = pairs[off:stop]
                        return t, [k for k, _ in pairs], [r for _, r in pairs]
                id_name = t.id_name
                if id_name is None:
                    pairs = self._matching(t, cls, where, scan)
                    by_id = {id(r): k for k, r in pairs}
                    matched = [r for _, r in pairs]
                elif where is None:
                    matched = list(t.rows.values())
                elif plan is not None:
                    matched = self._hits(t, plan, scan)[1]
                elif scanned:
                    matched = scan.select_rows(t.rows.values())
                else:
                    matched = [r for _, r in self._select(t, where, scan)]
                rows = self._ordered(t, matched, keys_order, stop)[off:stop]
                if id_name is None:
                    return t, [by_id[id(r)] for r in rows], rows
                # every stored row holds its own key under the id property
                return t, [r[id_name] for r in rows], rows
            if where is None:
                pairs = list(islice(t.rows.items(), off, stop))
            elif plan is not None:
                keys, rows = self._hits(t, plan, scan, off, stop)
                return t, keys, rows
            elif scanned:
                if stop is None and t.id_name is not None:
                    # the whole table: the rows alone (their keys are their ids) are cheaper
                    rows = scan.select_rows(t.rows.values())
                    if off:
                        rows = rows[off:]
                    id_name = t.id_name
                    return t, [r[id_name] for r in rows], rows
                pairs = scan.first(t.rows, off, stop)
            else:
                pairs = self._select(t, where, scan)[off:stop]
            return t, [k for k, _ in pairs], [r for _, r in pairs]

    def _ordered(
        self, t: _Table, rows: list[Row], keys_order: list[Any], stop: int | None
    ) -> list[Row]:
        """Return ``rows`` in ``order`` (the first ``stop`` of them when ``stop`` is set)."""
        if stop is None:
            return sort_rows(rows, keys_order)
        if len(keys_order) == 1:
            name = keys_order[0][2]
            prop = t.cls.definition.properties.get(name)
            if prop is not None and prop.type in INLINE_TYPES:
                top = top_rows_fast(rows, name, keys_order[0][1], stop, prop.type == "number")
                if top is not None:
                    return top
        return top_rows(rows, keys_order, stop)

    def find(
        self,
        cls: type[Model],
        where: Any = None,
        order: Any = None,
        limit: Any = None,
        skip: Any = None,
        fields: Any = None,
        *,
        offset: Any = None,
    ) -> list[Model]:
        """Return copies of the matching rows as instances; FilterError for a bad filter."""
        include, exclude = parse_fields(cls, fields)
        t, _, rows = self._query(cls, where, order, limit, skip, offset)
        flat = t.flat
        if include is None and not exclude:
            if not flat:
                return [self._instance(cls, r, False) for r in rows]
            new = object.__new__
            out = []
            append = out.append
            for r in rows:
                inst = new(cls)
                inst.__dict__ = r.copy()
                append(inst)
            return out
        return [self._partial(cls, r, include, exclude, flat) for r in rows]

    def find_by_id(self, cls: type[Model], id_value: Any) -> Model | None:
        """Return a copy of the row with that id, or None; TypeError without an id property."""
        t = self._table(cls)
        if t.id_name is None:
            raise TypeError(
                f"model {cls.model_name!r} has no id property (id_injection is off and no "
                "property has id=True); use find_one(where) instead"
            )
        try:
            row = t.rows.get(id_value)
        except TypeError:
            raise FilterError(f"find_by_id: an id must be hashable, got {id_value!r}") from None
        return None if row is None else self._instance(cls, row, t.flat)

    def count(self, cls: type[Model], where: Any = None) -> int:
        """Return how many rows match ``where``; FilterError for a bad filter."""
        t = self._table(cls)
        if where is None:
            return len(t.rows)
        scan = compile_scan(cls, where)
        with self._lock:
            is_id, _ = id_lookup(where, t.id_name)
            if is_id:
                return len(self._select(t, where, scan))
            plan = self._plan(t, cls, where)
            if plan is not None:
                _, probe, n, exact = plan
                if exact:
                    return n  # told by the index: no row visited
                rows = t.rows
                pred = scan.pred
                return sum(1 for k in probe.row_keys() if pred(rows[k]))
            return scan.count(t.rows)

    def to_frame(
        self,
        cls: type[Model],
        where: Any = None,
        order: Any = None,
        limit: Any = None,
        skip: Any = None,
        fields: Any = None,
        *,
        offset: Any = None,
    ) -> pd.DataFrame:
        """Return matching rows as a DataFrame: ids as index, columns in property order."""
        include, exclude = parse_fields(cls, fields)
        t, keys, rows = self._query(cls, where, order, limit, skip, offset)
        return rows_frame(t, keys, rows, include, exclude)

    # --- persistence ---------------------------------------------------------------------

    def _encode_row(self, t: _Table, key: Any, row: Row) -> Any:
        try:
            return encode(row)
        except TypeError as exc:
            raise PersistenceError(
                f"cannot store row {key!r} of model {t.cls.model_name!r} in {self._path}: "
                f"{exc}; nothing was written"
            ) from None

    def _load(self) -> None:
        """Read the file into ``_pending``; PersistenceError naming the file if unusable."""
        assert self._file is not None
        self._pending = self._file.load()
        self._loaded = True

    def _snapshot(self) -> dict[str, dict[str, Any]]:
        """Return the whole store in file form: unloaded models and every table."""
        models: dict[str, dict[str, Any]] = dict(self._pending)
        for name, t in self._tables.items():
            models[name] = {"next_id": t.next_id, "rows": list(t.encoded.values())}
        return models

    def _save(self, t: _Table, puts: dict[Any, Any], deletes: list[Any]) -> None:
        """Persist one write of table ``t`` atomically; PersistenceError on failure."""
        assert self._file is not None
        self._file.write(
            StoreChange(
                model=t.cls.model_name,
                next_id=t.next_id,
                rows=t.encoded,
                puts=puts,
                deletes=deletes,
                keyed=t.disk_keyed,
                snapshot=self._snapshot,
            )
        )


# --- compiled bulk validation ------------------------------------------------------------

# property type → the generated test accepting a value ``v`` as stored, unchanged (anything
# else, e.g. a date given as a str or an int subclass, goes to Model._validate)
_FAST_CHECKS = {
    "string": "type({v}) is str",
    "integer": "type({v}) is int",
    "number": "type({v}) is float or type({v}) is int",
    "boolean": "{v} is True or {v} is False",
    "date": "type({v}) is _datetime and {v}.tzinfo is _UTC",
}

# the same tests as Python functions (for a property's default, checked once)
_FAST_ACCEPTS: dict[str, Any] = {
    "string": lambda v: type(v) is str,
    "integer": lambda v: type(v) is int,
    "number": lambda v: type(v) is float or type(v) is int,
    "boolean": lambda v: v is True or v is False,
    "date": lambda v: type(v) is _dt.datetime and v.tzinfo is _dt.UTC,
}

_VALIDATOR_TEMPLATE = """
def make(_M, _datetime, _UTC, {consts}):
    def validate_all(items):
        out = []
        append = out.append
        for d in items:
            if type(d) is not dict:
                append(None)
                continue
            n = 0
{body}
            if n != len(d):
                append(None)
                continue
            append({{{row}}})
        return out
    return validate_all
"""


def _compile_validator(cls: type[Model]) -> Any:
    """Return ``validate_all(items) -> [stored row or None]`` for a flat scalar model, or None.

    A row is accepted only when ``cls._validate`` would accept it and return the same
    values (a plain dict of exactly the properties, each None or of its exact type); the
    caller validates every other row with ``cls._validate``.
    """
    from ..core.typenames import UTC

    props = cls.definition.properties
    if not props or any(
        not isinstance(p.type, str) or p.type not in _FAST_CHECKS for p in props.values()
    ):
        return None
    consts: list[Any] = []
    lines: list[str] = []
    names: list[str] = []
    ind = " " * 12
    for i, (name, prop) in enumerate(props.items()):
        v = f"v{i}"
        names.append(f"{name!r}: {v}")
        ok = _FAST_CHECKS[prop.type].format(v=v)
        lines.append(f"{ind}{v} = d.get({name!r}, _M)")
        lines.append(f"{ind}if {v} is _M:")
        default = prop.default
        if default is not None:
            if not _FAST_ACCEPTS[prop.type](default):
                return None  # a default needing conversion: leave the model to _validate
            consts.append(default)
            lines.append(f"{ind}    {v} = c{len(consts) - 1}")
        elif prop.required and not prop.id:
            lines.append(f"{ind}    append(None)")
            lines.append(f"{ind}    continue")
        else:
            lines.append(f"{ind}    {v} = None")
        none_ok = "" if prop.required else f" or {v} is None"
        lines.append(f"{ind}elif {ok}{none_ok}:")
        lines.append(f"{ind}    n += 1")
        lines.append(f"{ind}else:")
        lines.append(f"{ind}    append(None)")
        lines.append(f"{ind}    continue")
    const_names = ", ".join(f"c{i}" for i in range(len(consts))) or "_unused=None"
    src = _VALIDATOR_TEMPLATE.format(
        consts=const_names, body="\n".join(lines), row=", ".join(names)
    )
    namespace: dict[str, Any] = {}
    # the text holds only fixed tokens and repr() of property names; values are arguments
    exec(compile(src, f"<nbregistry validator {cls.model_name}>", "exec"), namespace)
    return namespace["make"](_MISSING, _dt.datetime, UTC, *consts)


# --- helpers --------------------------------------------------------------------------


def _violation_messages(
    t: _Table, bad: list[tuple[Any, Index, Any, Any]], puts: Mapping[Any, Row]
) -> list[tuple[Any, Index, str]]:
    """Return ``[(row key, index, message)]`` for unique violations (values shown short)."""
    out = []
    for key, idx, value, holder in bad:
        what = (
            f"the existing row {holder!r}"
            if holder in t.rows and holder not in puts
            else f"row {holder!r} of this write"
        )
        shown = repr(value)
        if len(shown) > 60:
            shown = shown[:57] + "..."
        out.append(
            (
                key,
                idx,
                f"duplicate value {shown} for unique index {idx.name!r}: {what} has it; "
                "nothing was written",
            )
        )
    return out


def _describe_violations(t: _Table, bad: list[tuple[Any, Index, Any, Any]]) -> str:
    msgs = _violation_messages(t, bad, {})
    shown = "; ".join(f"[{k!r}].{','.join(i.props)}: {m}" for k, i, m in msgs[:5])
    return shown + (f" (and {len(msgs) - 5} more)" if len(msgs) > 5 else "")


def _all_props(indexes: IndexSet) -> dict[str, None]:
    """Return every property some index covers (single or compound)."""
    out: dict[str, None] = dict.fromkeys(indexes.single)
    for idx in indexes.compound:
        out.update(dict.fromkeys(idx.props))
    return out


def _file_setting(settings: Mapping[str, Any]) -> str | None:
    file = settings.get("file")
    path = settings.get("path")
    if file is not None and path is not None and os.fspath(file) != os.fspath(path):
        raise PersistenceError(
            f"give the memory store file as file= or path=, not both (got file={file!r}, "
            f"path={path!r})"
        )
    value = file if file is not None else path
    if value is None:
        return None
    if not isinstance(value, (str, os.PathLike)) or not os.fspath(value):
        raise TypeError(
            f"file=/path= must be a file path (str or os.PathLike), got {value!r}; "
            "e.g. DataSource('memory', file='crm.json')"
        )
    out = os.fspath(value)
    if not isinstance(out, str):
        out = os.fsdecode(out)
    return out


# --- DataFrames -------------------------------------------------------------------------


def rows_frame(
    t: _Table,
    keys: list[Any],
    rows: list[Row],
    include: list[str] | None,
    exclude: frozenset[str],
) -> pd.DataFrame:
    """Build the DataFrame of ``rows``: typed columns in property order, ids as the index.

    The dtype of each column follows its property type (the decision made here); the
    DataFrame itself is built by ``render.frames.columns_frame``.
    """
    props = t.cls.definition.properties
    id_name = t.id_name
    if include is not None:
        names = [n for n in include if n != id_name]
    else:
        names = [n for n in props if n != id_name and n not in exclude]
        if t.extras:
            seen: dict[str, None] = {}
            for r in rows:
                if len(r) > len(props):
                    for k in r:
                        if k not in props and k not in exclude:
                            seen[k] = None
            names.extend(seen)
    # column name → (render dtype, values in row order)
    columns: dict[str, tuple[str, list[Any]]] = {}
    for name in names:
        prop = props.get(name)
        col = [r.get(name) for r in rows]
        dtype = _column_dtype(None if prop is None else prop.type, col)
        if dtype == "object" and not t.flat:
            col = [_plain(v) for v in col]
        columns[name] = (dtype, col)
    return columns_frame(
        columns, keys, index_name=id_name, empty_index_dtype="int64" if _int_ids(t) else "object"
    )


def _int_ids(t: _Table) -> bool:
    if t.id_name is None:
        return True
    return t.cls.definition.properties[t.id_name].type in ("integer", "number", "any")


# property type → the render dtype of its column (booleans: "boolean" when None occurs);
# any other type (object, array, any, buffer, embedded models, extras) → "object".
_COLUMN_DTYPES = {"integer": "Int64", "number": "float64", "date": "datetime", "string": "str"}


def _column_dtype(ptype: Any, values: list[Any]) -> str:
    if ptype == "boolean":
        return "boolean" if any(v is None for v in values) else "bool"
    return _COLUMN_DTYPES.get(ptype, "object") if isinstance(ptype, str) else "object"
