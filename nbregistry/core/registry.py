"""The registry: one store of model classes per tenant, and dict indexes over it.

``ModelRegistry`` is the single source of truth. Each tenant has one
:class:`TenantRegistry`; each model class is stored there exactly once. Owner views
(``ds.models``), owner queries, DataFrames and widgets are computed from these
structures or *are* one of its indexes — there is no second dict of models anywhere.

Concurrency: every write takes ``ModelRegistry._lock``; lookups take no lock. Writers
mutate dicts with single operations (set / pop / clear), each atomic under the GIL, so a
concurrent reader sees the state before or after a write, never a torn one.
"""

from __future__ import annotations

import itertools
import threading
import time
import weakref
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .errors import (
    AmbiguousModelError,
    ConflictError,
    ModelNotFoundError,
    ModelRedefinedWarning,
    StoreError,
)
from .fingerprint import lookup_fingerprint
from .meta import owner_of, record_of, set_class_attrs
from .model import Model, model_deps
from .tenancy import GLOBAL_TENANT, OVERRIDE, validate_tenant

if TYPE_CHECKING:
    import pandas as pd

    from .owners import Owner
    from .sharing import HistoryEntry, StoreLink
    from .store import DefinitionRecord, Revision, Store

__all__ = [
    "ModelRegistry",
    "RegistryEvent",
    "RegistryStats",
    "Subscription",
    "TenantRegistry",
    "TenantStats",
]

_now = time.time


class AtomicCounter:
    """A counter bumped from many threads without a lock, and read exactly.

    ``next(counter.count)`` is one atomic C call under the GIL (the lookup hot path uses
    it directly); :attr:`value` takes one number itself, which it remembers to subtract.
    """

    __slots__ = ("_lock", "_reads", "count")

    def __init__(self) -> None:
        self.count = itertools.count()
        self._reads = 0
        self._lock = threading.Lock()

    @property
    def value(self) -> int:
        """Return how many times the counter was bumped."""
        with self._lock:
            n = next(self.count) - self._reads
            self._reads += 1
            return n


class Batch:
    """What one write changed: events to deliver and classes whose connector to tell.

    Filled with the registry's lock held; delivered by ``_emit`` after it is released.
    """

    __slots__ = ("events", "removed", "stamp")

    def __init__(self) -> None:
        self.events: list[RegistryEvent] = []  # in the order the changes happened
        self.removed: list[type[Model]] = []  # classes that left the registry
        # (revision, by) of the store revision the changes belong to; None: local only.
        self.stamp: tuple[int, str] | None = None

    @classmethod
    def of(cls, event: RegistryEvent) -> Batch:
        """Return a batch holding one event."""
        batch = cls()
        batch.events.append(event)
        return batch

    def append(self, event: RegistryEvent) -> None:
        """Record an event (stamped with the batch's store revision, if any)."""
        self.events.append(self._stamped(event))

    def insert(self, index: int, event: RegistryEvent) -> None:
        """Record an event at a position."""
        self.events.insert(index, self._stamped(event))

    def _stamped(self, event: RegistryEvent) -> RegistryEvent:
        if self.stamp is None or event.revision is not None:
            return event
        return RegistryEvent(
            event.kind, event.tenant, event.owner, event.model_name, self.stamp[0], self.stamp[1]
        )

    def __len__(self) -> int:
        return len(self.events)


# --- public value types ----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RegistryEvent:
    """One change in a registry, delivered to ``subscribe()`` callbacks.

    ``kind`` is ``"registered"``, ``"removed"``, ``"tenant_cleaned"`` or ``"cleared"``;
    ``owner`` is the owner object (``None`` for anonymous models and whole-tenant events).
    ``revision`` and ``by`` name the shared store's revision and its author when the
    change is shared (made here or applied by ``sync()``); both are ``None`` for
    local-only changes.
    """

    kind: str
    tenant: str | None
    owner: Any
    model_name: str | None
    revision: int | None = None
    by: str | None = None


@dataclass(frozen=True, slots=True)
class TenantStats:
    """Counts for one tenant."""

    tenant: str
    models: int
    owners: int
    created_at: float
    last_accessed: float
    idle_seconds: float
    # Beyond the contract's fields: the split the magics and the browser show.
    named_models: int = 0
    anonymous_models: int = 0
    unique_structures: int = 0

    def to_frame(self) -> pd.DataFrame:
        """Return a one-row DataFrame."""
        from .tables import tenant_stats_table

        return tenant_stats_table([self]).frame()

    def _repr_html_(self) -> str:
        return self.to_frame()._repr_html_()


@dataclass(frozen=True, slots=True)
class RegistryStats:
    """A snapshot of a registry's size and counters (see DESIGN §6)."""

    tenants: int
    models: int
    named_models: int
    anonymous_models: int
    owners: int
    unique_structures: int
    registrations: int
    lookups: int
    reuse_hits: int
    reuse_misses: int
    hit_rate: float
    per_tenant: tuple[TenantStats, ...]

    def to_frame(self) -> pd.DataFrame:
        """Return one row per tenant plus a total row."""
        from .tables import stats_frame

        return stats_frame(self)

    def _repr_html_(self) -> str:
        from .tables import stats_table

        return stats_table(self).html()


class Subscription:
    """Handle returned by ``ModelRegistry.subscribe``; ``close()`` stops delivery."""

    __slots__ = ("__weakref__", "_key", "_registry")

    def __init__(self, registry: ModelRegistry, key: int) -> None:
        self._registry: ModelRegistry | None = registry
        self._key = key

    @property
    def active(self) -> bool:
        """Return True while events are delivered."""
        return self._registry is not None and self._key in self._registry._subscribers

    def close(self) -> None:
        """Stop delivering events to this callback; idempotent."""
        if self._registry is not None:
            self._registry._subscribers.pop(self._key, None)
            self._registry = None

    def __enter__(self) -> Subscription:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class AutoCleanup:
    """A background thread started by ``start_auto_cleanup``; ``stop()`` ends it."""

    def __init__(self, registry: ModelRegistry, max_idle: float, interval: float) -> None:
        self._stop = threading.Event()
        self._registry = weakref.ref(registry)
        self.thread = threading.Thread(
            target=self._run, args=(max_idle, interval), name="nbregistry-cleanup", daemon=True
        )
        self.thread.start()

    def _run(self, max_idle: float, interval: float) -> None:
        while not self._stop.wait(interval):
            reg = self._registry()
            if reg is None:
                return
            reg.cleanup_inactive_tenants(max_idle)
            del reg

    def stop(self) -> None:
        """Stop the thread and wait for it."""
        self._stop.set()
        self.thread.join()


# --- one tenant ----------------------------------------------------------------


class TenantRegistry:
    """The models of one tenant. Read it; change it through owners and the registry."""

    __slots__ = (
        "__weakref__",
        "anonymous",
        "by_name",
        "by_owner",
        "by_structure",
        "code",
        "created_at",
        "last_accessed",
        "ownerless",
    )

    def __init__(self, code: str) -> None:
        self.code = code
        self.created_at = self.last_accessed = _now()
        # owner → that owner's name index {model name → class}. The index dict is the
        # very dict the owner's ModelsView uses as its ``__dict__``, so a view read is a
        # plain attribute lookup. Only owners holding ≥ 1 model of this tenant are keys;
        # insertion order = the order owners first registered.
        self.by_owner: dict[Any, dict[str, type[Model]]] = {}
        # model name → the class when one owner (or the tenant, for anonymous models)
        # has that name, or {owner (None for anonymous/ownerless) → class} when several
        # do. Backs find_model_by_name in O(1) and detects ambiguity without a scan;
        # storing the bare class in the common case saves a dict per name.
        self.by_name: dict[str, Any] = {}
        # (structure fingerprint, strict flag) → the anonymous class to reuse for that
        # shape. Backs find_model_by_structure / resolve_type in O(1).
        self.by_structure: dict[tuple[str, bool], type[Model]] = {}
        # anonymous classes of this tenant, in creation order (an ordered set: value None).
        self.anonymous: dict[type[Model], None] = {}
        # named models registered without an owner (register_model of an ownerless class).
        self.ownerless: dict[str, type[Model]] = {}

    # read-only API -------------------------------------------------------------

    def models(self) -> list[type[Model]]:
        """Return every model of the tenant (named then anonymous) in registration order."""
        out: list[type[Model]] = []
        for idx in list(self.by_owner.values()):
            out.extend(list(idx.values()))
        out.extend(list(self.ownerless.values()))
        out.extend(list(self.anonymous))
        out.sort(key=_seq_of)
        return out

    def owners(self) -> list[Any]:
        """Return the owners holding at least one model, in first-registration order."""
        return list(self.by_owner)

    def model_count(self) -> int:
        """Return how many models the tenant holds."""
        n = len(self.anonymous) + len(self.ownerless)
        for idx in list(self.by_owner.values()):
            n += len(idx)
        return n

    def __len__(self) -> int:
        return self.model_count()

    def __contains__(self, name: object) -> bool:
        return name in self.by_name

    def __iter__(self) -> Iterator[type[Model]]:
        return iter(self.models())

    def __repr__(self) -> str:
        return (
            f"<TenantRegistry {self.code!r}: {self.model_count()} models, "
            f"{len(self.by_owner)} owners>"
        )

    def _repr_html_(self) -> str:
        from .tables import tenant_table

        return tenant_table(self).html()

    def to_frame(self) -> pd.DataFrame:
        """Return one row per model of this tenant."""
        from .tables import models_frame

        return models_frame(self.models())


class AnonymousResolver:
    """Finds anonymous models to reuse while a builder builds one definition.

    Handed to the builder's ``build`` callback by :meth:`ModelRegistry.commit_define`
    (with the registry's lock held). The builder creates the classes; the resolver only
    looks them up and collects the new ones, which the registry then registers.
    """

    __slots__ = ("_pending", "created", "registry", "tenant")

    def __init__(self, registry: ModelRegistry, tenant: str) -> None:
        self.registry = registry
        self.tenant = tenant
        # (fingerprint, strict) → the class created during this build, so one shape
        # used twice in one definition makes one class.
        self._pending: dict[tuple[str, bool], type[Model]] = {}
        self.created: list[type[Model]] = []  # new anonymous classes, inner ones first

    def reuse(self, fingerprint: str, strict: bool) -> type[Model] | None:
        """Return the anonymous class of that shape in the tenant (else global), or None.

        Counts one lookup and a reuse hit or miss, as ``find_model_by_structure`` does.
        """
        reg = self.registry
        key = (fingerprint, strict)
        next(reg._lookups)
        hit = self._pending.get(key)
        if hit is None:
            hit = reg._structure_hit(key, self.tenant)
        next(reg._hits if hit is not None else reg._misses)
        return hit

    def next_name(self) -> str:
        """Return a fresh ``AnonymousModel_<n>`` name."""
        return f"AnonymousModel_{next(self.registry._anon_counter)}"

    def add(self, cls: type[Model]) -> None:
        """Record a new anonymous class (registered when the build succeeds)."""
        self._pending[(cls.definition.fingerprint, cls.definition.strict)] = cls
        self.created.append(cls)


# --- the registry --------------------------------------------------------------


class ModelRegistry:
    """Tenants → owners → models, stored once, indexed by dicts.

    ``nbregistry.registry`` is the process-wide instance; create more for isolation
    (tests, benchmarks). Writes are serialised by a lock; lookups take none.
    ``ModelRegistry(compatibility="none")`` sets the compatibility mode redefinitions
    are checked against (DESIGN §12.5; a connected store's mode wins).
    """

    def __init__(self, *, compatibility: str = "none") -> None:
        from .definitions import COMPATIBILITY_MODES

        if compatibility not in COMPATIBILITY_MODES:
            raise ValueError(
                f"unknown compatibility mode {compatibility!r}; one of "
                f"{', '.join(COMPATIBILITY_MODES)}"
            )
        # Serialises every write. Re-entrant so event callbacks and nested owner calls
        # made while holding it (same thread) cannot deadlock.
        self._lock = threading.RLock()
        # tenant code → its TenantRegistry. Only tenants holding ≥ 1 model are keys, so
        # ``tenants()`` is ``list(self._tenants)`` and a lookup never creates a tenant.
        self._tenants: dict[str, TenantRegistry] = {}
        # tenant code → {owner name → live owner}, weakly: reserves owner names for
        # ``"owner.Model"`` lookups and uniqueness, and frees a name when its owner is
        # garbage-collected (or on disconnect / cleanup / clear).
        self._owner_names: dict[str, weakref.WeakValueDictionary[str, Any]] = {}
        # subscription key → callback, for subscribe(); delivery is outside the lock.
        self._subscribers: dict[int, Callable[[RegistryEvent], Any]] = {}
        self._sub_keys = itertools.count(1)
        # Owners whose name was picked (``memory-1``), weakly: they stay local (§12.5).
        self._auto_named: weakref.WeakSet[Any] = weakref.WeakSet()
        # automatic-name counters: prefix ("memory", "app", "builder") → next number.
        self._auto_names: dict[str, itertools.count[int]] = {}
        # numbers of AnonymousModel_<n> names, and of registration order (ModelRecord.seq).
        self._anon_counter = itertools.count(1)
        self._seq = itertools.count(1)
        self._session_tenant = GLOBAL_TENANT
        # The connected shared store and what this registry applied from it (None: local).
        self._link: StoreLink | None = None
        # True while sync() applies other processes' revisions (lock held): the writes it
        # makes change only this process (no store commit, no warning, no compatibility).
        self._applying = False
        # The batch sync() is filling while it applies revisions (None otherwise).
        self._apply_batch: Batch | None = None
        # The compatibility mode without a store (with one, the store's mode applies).
        self._compatibility = compatibility
        # (tenant, model name) → this registry's log of that model's changes, oldest first
        # (at most HISTORY_LIMIT): ``history()``/``diff()`` for models the store lacks.
        self._history: dict[tuple[str, str], list[HistoryEntry]] = {}
        self._local_revisions = itertools.count(1)
        #: When True (the IPython extension sets it), revisions announced by a listener
        #: are applied at the next ``sync()`` — before the next cell — never mid-cell.
        self.deferred_sync = False
        self._reset_counters()

    def _reset_counters(self) -> None:
        self._registrations = 0  # changed under the lock only
        # Lock-free counters: lookups bump ``next(self._lookups)``, one atomic C call.
        self._lookup_counter = AtomicCounter()
        self._hit_counter = AtomicCounter()
        self._miss_counter = AtomicCounter()
        self._lookups = self._lookup_counter.count
        self._hits = self._hit_counter.count
        self._misses = self._miss_counter.count

    # tenancy -------------------------------------------------------------------

    def use_tenant(self, code: str | None) -> None:
        """Set this registry's session-default tenant (None resets to global); TenantError."""
        self._session_tenant = GLOBAL_TENANT if code is None else validate_tenant(code)

    @property
    def session_tenant(self) -> str:
        """Return the session default tenant of this registry."""
        return self._session_tenant

    def current_tenant(self) -> str:
        """Return the tenant in force: scoped override, else session default, else global."""
        return OVERRIDE.get() or self._session_tenant

    def tenant_of(self, tenant: object) -> str:
        """Return the tenant an optional ``tenant=`` argument means; TenantError if invalid."""
        if tenant is None:
            return OVERRIDE.get() or self._session_tenant
        return validate_tenant(tenant)

    # owners --------------------------------------------------------------------

    def claim_name(self, owner: Any, name: object, prefix: str) -> str:
        """Reserve an owner name in its tenant and return it (owners call this at creation).

        ``name=None`` picks ``<prefix>-<n>``. Raises TypeError / ValueError for a bad or
        taken name.
        """
        code = owner.tenant
        with self._lock:
            names = self._owner_names.get(code)
            if names is None:
                names = self._owner_names[code] = weakref.WeakValueDictionary()
            if name is None:
                counter = self._auto_names.setdefault(prefix, itertools.count(1))
                while True:
                    candidate = f"{prefix}-{next(counter)}"
                    if candidate not in names:
                        break
                names[candidate] = owner
                self._auto_named.add(owner)
                return candidate
            _check_owner_name(name)
            assert isinstance(name, str)
            other = names.get(name)
            if other is not None and other is not owner:
                link = self._link
                if link is not None and link.owners.get((code, name)) is other:
                    return name  # a shared owner: owner_created() adopts it or refuses
                raise ValueError(
                    f"an owner named {name!r} already exists in tenant {code!r}; "
                    "choose another name, or disconnect the other owner first"
                )
            names[name] = owner
            return name

    def _ensure_owner_name(self, owner: Any) -> None:
        """Re-reserve an owner's name after disconnect/cleanup released it; ValueError."""
        names = self._owner_names.get(owner.tenant)
        if names is not None and names.get(owner.name) is owner:
            return
        self.claim_name(owner, owner.name, "")

    def owner_by_name(self, name: str, *, tenant: str | None = None) -> Any:
        """Return the live owner with that name in the tenant, or None; TenantError."""
        code = self.tenant_of(tenant)
        names = self._owner_names.get(code)
        return None if names is None else names.get(name)

    def owners(self, *, tenant: str | None = None) -> list[Any]:
        """Return the live owners of a tenant (with or without models); TenantError."""
        code = self.tenant_of(tenant)
        names = self._owner_names.get(code)
        return [] if names is None else list(names.values())

    # registration internals (call with the lock held) --------------------------------

    def _store(self, code: str) -> TenantRegistry:
        treg = self._tenants.get(code)
        if treg is None:
            treg = self._tenants[code] = TenantRegistry(code)
        return treg

    def _is_registered(self, cls: type[Model]) -> bool:
        treg = self._tenants.get(cls.tenant)  # type: ignore[arg-type]
        if treg is None:
            return False
        if cls.anonymous:
            return cls in treg.anonymous
        owner = record_of(cls).owner
        idx = treg.ownerless if owner is None else owner._index
        return idx.get(cls.model_name) is cls

    def _add(self, cls: type[Model], events: Batch) -> None:
        """Store ``cls`` in its tenant under its owner (lock held, cls not registered)."""
        treg = self._store(cls.tenant)  # type: ignore[arg-type]
        # Embedded anonymous models gain a user (re-registering them if they were dropped).
        for dep in model_deps(cls):
            if dep.tenant == treg.code:
                if not self._is_registered(dep):
                    self._add(dep, events)
                record_of(dep).users += 1
        rec = record_of(cls)
        if not rec.seq:
            rec.seq = next(self._seq)
            rec.registered_at = _now()
        self._index(treg, cls, events)

    def _index(self, treg: TenantRegistry, cls: type[Model], events: Batch) -> None:
        """Put ``cls`` in its owner's index (or the anonymous set) and the name index."""
        name = cls.model_name
        if cls.anonymous:
            treg.anonymous[cls] = None
            key = (cls.definition.fingerprint, cls.definition.strict)
            treg.by_structure.setdefault(key, cls)
            key_owner = None
        else:
            key_owner = record_of(cls).owner
            if key_owner is None:
                idx = treg.ownerless
            else:
                idx = key_owner._index
                if key_owner not in treg.by_owner:
                    treg.by_owner[key_owner] = idx
            idx[name] = cls  # a re-used name keeps its slot, so definition order holds
        cur = treg.by_name.get(name)
        if cur is None:
            treg.by_name[name] = cls
        elif type(cur) is dict:
            cur[key_owner] = cls
        elif cur is not cls:
            cur_owner = None if cur.anonymous else record_of(cur).owner
            if cur_owner is key_owner:
                treg.by_name[name] = cls
            else:
                treg.by_name[name] = {cur_owner: cur, key_owner: cls}
        treg.last_accessed = _now()
        events.append(RegistryEvent("registered", treg.code, key_owner, name))

    def _unindex(self, treg: TenantRegistry, cls: type[Model]) -> Any:
        """Drop ``cls`` from its owner index and the name index; return the owner key."""
        name = cls.model_name
        if cls.anonymous:
            treg.anonymous.pop(cls, None)
            key = (cls.definition.fingerprint, cls.definition.strict)
            if treg.by_structure.get(key) is cls:
                del treg.by_structure[key]
                for other in treg.anonymous:  # rare: another class of the same shape
                    if (other.definition.fingerprint, other.definition.strict) == key:
                        treg.by_structure[key] = other
                        break
            key_owner = None
        else:
            key_owner = record_of(cls).owner
            if key_owner is None:
                if treg.ownerless.get(name) is cls:
                    del treg.ownerless[name]
            else:
                idx = key_owner._index
                if idx.get(name) is cls:
                    del idx[name]
                if not idx:
                    treg.by_owner.pop(key_owner, None)
        cur = treg.by_name.get(name)
        if cur is cls:
            del treg.by_name[name]
        elif type(cur) is dict:
            if cur.get(key_owner) is cls:
                del cur[key_owner]
            if len(cur) == 1:
                treg.by_name[name] = next(iter(cur.values()))
        return key_owner

    def _snapshot(self, cls: type[Model]) -> None:
        """Keep a leaving class's definition in the local log as JSON (not the class)."""
        entries = self._history.get((cls.tenant, cls.model_name))  # type: ignore[arg-type]
        if not entries:
            return
        data: Any = None
        for entry in entries:
            if entry.source is cls:
                if data is None:
                    data = entry.definition
                entry.source = data

    def _remove(self, cls: type[Model], events: Batch) -> int:
        """Remove a registered class and any anonymous model left without users; count."""
        treg = self._tenants.get(cls.tenant)  # type: ignore[arg-type]
        if treg is None:
            return 0
        if not cls.anonymous:
            self._snapshot(cls)
        key_owner = self._unindex(treg, cls)
        events.append(RegistryEvent("removed", treg.code, key_owner, cls.model_name))
        events.removed.append(cls)
        removed = 1
        removed += self._release_deps(treg, cls, events)
        if not treg.by_name:
            self._drop_tenant_store(treg.code)
        return removed

    def _release_deps(self, treg: TenantRegistry, cls: type[Model], events: Batch) -> int:
        removed = 0
        for dep in model_deps(cls):
            rec = record_of(dep)
            if dep.tenant != treg.code or rec.users <= 0:
                continue
            rec.users -= 1
            if rec.users == 0 and dep in treg.anonymous:
                removed += self._remove(dep, events)
        return removed

    def _drop_tenant_store(self, code: str) -> None:
        treg = self._tenants.pop(code, None)
        if treg is not None:
            treg.by_owner.clear()
            treg.by_name.clear()
            treg.by_structure.clear()
            treg.anonymous.clear()
            treg.ownerless.clear()

    def _emit(self, batch: Batch) -> None:
        """Tell connectors which classes left, then deliver the events (lock released)."""
        for cls in batch.removed:
            ds = cls.data_source
            if ds is not None:
                ds.connector.on_model_removed(cls)
        if not batch.events or not self._subscribers:
            return
        import logging

        for event in batch.events:
            for callback in list(self._subscribers.values()):
                try:
                    callback(event)
                except Exception:  # a broken subscriber must not break the registry
                    logging.getLogger("nbregistry").exception(
                        "registry subscriber %r failed on %r", callback, event
                    )

    # public writes ---------------------------------------------------------------

    def register_model(self, model: type[Model]) -> type[Model]:
        """Register a model class under its owner and tenant; TypeError / ValueError.

        Re-registering a registered class counts a registration and adds no entry.
        """
        if not _is_built_model(model):
            raise TypeError(
                f"register_model() takes a model class built by DataSource.define or "
                f"ModelBuilder.define, got {_describe(model)}"
            )
        rec = record_of(model)
        if rec.registry is not None and rec.registry is not self:
            raise ValueError(
                f"model {model.model_name!r} belongs to another ModelRegistry; "
                "define it again on an owner of this registry"
            )
        events = Batch()
        with self._lock:
            if model.tenant is None:
                set_class_attrs(model, tenant=self.current_tenant())
            if rec.registry is None:
                rec.registry = self
            owner = rec.owner
            if owner is not None:
                self._ensure_owner_name(owner)
            if not self._is_registered(model):
                existing = None if owner is None else owner._index.get(model.model_name)
                if existing is not None:  # the owner re-defined the name meanwhile: replace
                    _warn_redefined(owner, model.model_name)
                    self._replace(owner, existing, model, events)
                else:
                    self._add(model, events)
            self._registrations += 1
        self._emit(events)
        return model

    def check_attachable(self, owner: Owner, model: Any) -> None:
        """Raise TypeError / ValueError unless ``owner`` may take ``model``; change nothing."""
        if not _is_built_model(model):
            raise TypeError(
                f"{type(owner).__name__} {owner.name!r} can only take model classes built by "
                f"DataSource.define or ModelBuilder.define, got {_describe(model)}"
            )
        if model.anonymous:
            raise ValueError(
                f"{model.model_name!r} is an anonymous embedded model: it belongs to its "
                "tenant, not to an owner; attach the model that embeds it instead"
            )
        reg = record_of(model).registry
        if reg is not None and reg is not self:
            raise ValueError(
                f"model {model.model_name!r} belongs to another ModelRegistry; define it "
                f"again on {owner.name!r}"
            )
        if model.tenant is not None and model.tenant != owner.tenant:
            raise ValueError(
                f"model {model.model_name!r} belongs to tenant {model.tenant!r}, but "
                f"{owner.name!r} belongs to tenant {owner.tenant!r}; define the model on "
                "an owner of that tenant instead"
            )

    def attach(self, owner: Owner, model: type[Model], *, as_app: bool = False) -> type[Model]:
        """Make ``owner`` the owner of ``model`` (moving it); return it.

        Owners and views call this (``ds.attach``, ``app.model``, ``view[name] = cls``).
        Warns with ModelRedefinedWarning when it replaces another class of that name;
        raises TypeError / ValueError (nothing changed) when ``owner`` may not take it.
        """
        return self.attach_all(owner, [model], as_app=as_app)[0]

    def attach_all(
        self, owner: Owner, models: list[type[Model]], *, as_app: bool = False
    ) -> list[type[Model]]:
        """Attach several models at once, all or nothing (the deprecated setter's path).

        Every model is checked (and every replacement warned about) before the first one
        is attached; TypeError / ValueError name the bad entry.
        """
        for model in models:
            self.check_attachable(owner, model)
        self._check_attach_compatibility(owner, models)
        for model in models:
            existing = owner._index.get(model.model_name)
            if existing is not None and existing is not model:
                _warn_redefined(owner, model.model_name)
        events = Batch()
        with self._lock:
            for model in models:
                self._attach_locked(owner, model, as_app, events)
        self._emit(events)
        return models

    def _check_attach_compatibility(self, owner: Owner, models: list[type[Model]]) -> None:
        """Check every replacement an attach makes against the compatibility mode.

        An attach that replaces a class of that name with another definition is a
        redefinition, so it obeys the mode as ``define`` does: IncompatibleDefinitionError
        listing each breaking change, nothing attached.
        """
        mode = self.compatibility
        if mode == "none":
            return
        from .definitions import check_compatibility, definition_json

        for model in models:
            existing = owner._index.get(model.model_name)
            if (
                existing is not None
                and existing is not model
                and existing.definition.fingerprint != model.definition.fingerprint
            ):
                check_compatibility(
                    model.model_name, definition_json(existing), definition_json(model), mode
                )

    def _attach_locked(self, owner: Owner, model: type[Model], as_app: bool, events: Batch) -> None:
        name = model.model_name
        existing = owner._index.get(name)
        self._ensure_owner_name(owner)
        treg = self._tenants.get(owner.tenant)
        was_registered = self._is_registered(model)
        rec = record_of(model)
        rev = None
        if existing is not model:
            source = rec.owner if was_registered and rec.owner is not owner else None
            rev = self._share_attach(owner, model, source, events)
        if was_registered and rec.owner is not owner:
            assert treg is not None
            old_owner = self._unindex(treg, model)
            events.append(RegistryEvent("removed", treg.code, old_owner, name))
        if existing is not model:
            rec.owner = owner
            rec.registry = self
            set_class_attrs(model, tenant=owner.tenant)
            self._set_owner_attrs(model, owner, as_app)
        if existing is not None and existing is not model:
            # Put the newcomer in the old one's slot, then let the old one go.
            self._replace(owner, existing, model, events, already_deps=was_registered)
        elif existing is not model:
            if was_registered:
                self._reindex(model, events)
            else:
                self._add(model, events)
        if existing is not model and not self._applying:
            self._log("attach", owner, name, model, rev)
        self._registrations += 1

    @staticmethod
    def _set_owner_attrs(model: type[Model], owner: Any, as_app: bool) -> None:
        if as_app or owner.owner_type == "app":
            set_class_attrs(model, app=owner)
        elif owner.owner_type == "dataSource":
            set_class_attrs(model, data_source=owner, app=None)
        else:
            set_class_attrs(model, app=None)

    def _reindex(self, model: type[Model], events: Batch) -> None:
        """Index an already-stored class under its (new) owner, without touching users."""
        self._index(self._store(model.tenant), model, events)  # type: ignore[arg-type]

    def _replace(
        self,
        owner: Any,
        old: type[Model],
        new: type[Model],
        events: Batch,
        *,
        already_deps: bool = False,
    ) -> None:
        """Swap ``old`` for ``new`` in the owner's slot (keeping its place); lock held."""
        self._snapshot(old)
        treg = self._store(owner.tenant)
        # Indexing ``new`` under the same owner and name overwrites ``old`` in the owner's
        # slot (keeping its place) and in the name index; only its users remain to release.
        if already_deps:
            self._reindex(new, events)
        else:
            self._add(new, events)
        events.insert(len(events) - 1, RegistryEvent("removed", treg.code, owner, old.model_name))
        events.removed.append(old)
        self._release_deps(treg, old, events)

    def commit_define(
        self,
        owner: Any,
        name: str,
        fingerprint: str,
        settings: Mapping[str, Any],
        build: Callable[[AnonymousResolver], type[Model]],
    ) -> type[Model]:
        """Register the class ``build`` makes for ``owner`` under ``name``; return it.

        The builder's path for ``define``: under the registry's lock, an identical
        existing definition (same fingerprint and settings) is returned as it is;
        otherwise ``build(resolver)`` makes the class — reusing or creating anonymous
        models through ``resolver`` — and it is registered, replacing (with a
        ModelRedefinedWarning) another class of that name. Raises ValueError if the
        owner's name was taken meanwhile; whatever ``build`` raises leaves the registry
        unchanged.
        """
        events = Batch()
        with self._lock:
            if self._applying and self._apply_batch is not None:
                events = self._apply_batch  # sync() delivers them, stamped, after its lock
            existing = owner._index.get(name)
            if existing is not None and existing.definition.same_as(fingerprint, settings):
                return existing
            self._ensure_owner_name(owner)
            resolver = AnonymousResolver(self, owner.tenant)
            cls = build(resolver)
            op = "define" if existing is None else "redefine"
            # Compatibility, then the store: if either raises, nothing was changed here.
            rev, note = self._share_definition(op, owner, cls, existing, events)
            if existing is not None and not self._applying:
                _warn_redefined(owner, name, note)
            for anon in resolver.created:
                self._add(anon, events)
                self._registrations += 1
            if existing is not None:
                self._replace(owner, existing, cls, events)
            else:
                self._add(cls, events)
            self._registrations += 1
            if not self._applying:  # sync() logs what it applies, with its revision
                self._log(op, owner, name, cls, rev)
        if events is not self._apply_batch:
            self._emit(events)
        return cls

    def resolve_anonymous(
        self, tenant: str, build: Callable[[AnonymousResolver], type[Model]]
    ) -> type[Model]:
        """Return the anonymous class ``build`` resolves in ``tenant`` (``resolve_type``).

        Like :meth:`commit_define` for a nested shape on its own: what ``build`` creates
        through the resolver is registered; a reused class is returned as it is.
        """
        events = Batch()
        with self._lock:
            resolver = AnonymousResolver(self, tenant)
            cls = build(resolver)
            for anon in resolver.created:
                self._add(anon, events)
                self._registrations += 1
        self._emit(events)
        return cls

    def delete(self, owner: Any, name: str) -> None:
        """Remove the owner's model ``name`` (``ds.delete_model``); ModelNotFoundError."""
        cls = owner._index.get(name) if isinstance(name, str) else None
        if cls is None:
            raise ModelNotFoundError(_missing_in_owner(owner, name))
        events = Batch()
        with self._lock:
            if owner._index.get(name) is cls:
                rev = self._share_delete(owner, name, events)
                self._remove(cls, events)
                self._log("delete", owner, name, None, rev)
        self._emit(events)

    def disconnect(self, owner: Any) -> int:
        """Remove every model of ``owner`` and free its name; return how many (idempotent)."""
        events = Batch()
        with self._lock:
            models = list(owner._index.values())
            for cls in models:
                self._remove(cls, events)
            names = self._owner_names.get(owner.tenant)
            if names is not None and names.get(owner.name) is owner:
                del names[owner.name]
                if not names:
                    del self._owner_names[owner.tenant]
            link = self._link
            if link is not None and link.owners.get((owner.tenant, owner.name)) is owner:
                # Local only (DESIGN §12.5): the store keeps the owner for everyone else.
                del link.owners[(owner.tenant, owner.name)]
                link.payloads.pop((owner.tenant, owner.name), None)
        self._emit(events)
        return len(models)

    # shared store (DESIGN §12.5) ------------------------------------------------------

    @property
    def store(self) -> Store | None:
        """Return the connected shared store, or None."""
        link = self._link
        return None if link is None else link.store

    @property
    def compatibility(self) -> str:
        """Return the compatibility mode redefinitions are checked against.

        With a store connected it is the store's mode (recorded as a revision), so one
        kernel cannot bypass it.
        """
        link = self._link
        return self._compatibility if link is None else link.mode

    @compatibility.setter
    def compatibility(self, mode: str) -> None:
        """Set the mode; ValueError for an unknown one, StoreError if the store fails."""
        from .definitions import COMPATIBILITY_MODES
        from .store import Change

        if mode not in COMPATIBILITY_MODES:
            raise ValueError(
                f"unknown compatibility mode {mode!r}; one of {', '.join(COMPATIBILITY_MODES)}"
            )
        with self._lock:
            link = self._link
            if link is not None:
                rev = link.store.commit(Change("compatibility", payload={"mode": mode}))
                link.committed(rev)
                link.mode = mode
            self._compatibility = mode

    def connect_store(self, url: str, *, listen: bool = False) -> Store:
        """Connect this registry to the shared store at ``url`` and return the store.

        Pulls the store (creating its owners and models here), then pushes this
        registry's named owners and models that the store lacks. Raises ConflictError
        listing every clash (same tenant, owner and model with another fingerprint, or
        an owner of another connector or settings) with nothing applied; ValueError /
        TypeError for a malformed URL or an unknown scheme; StoreError when the store
        cannot be opened, or this registry is already connected. ``listen=True``
        (PostgreSQL) applies other processes' revisions as they are announced.
        """
        from .sharing import StoreLink
        from .store import open_store

        if self._link is not None:
            raise StoreError(
                f"this registry is already connected to store {self._link.store.url!r}; "
                "call disconnect_store() first"
            )
        store = open_store(url)
        link = StoreLink(store)
        events = Batch()
        try:
            if listen:
                # Listen first, so that a store that cannot (SQLite) or a listener that
                # fails leaves nothing changed here, and no revision committed while the
                # pull runs goes unannounced (the callback marks the link pending).
                link.stop_listening = store.listen(lambda revision: self._on_notify(revision, link))
            with self._lock:
                revisions = store.revisions(0)
                clashes = self._clashes(store, revisions)
                if clashes:
                    raise ConflictError(
                        f"cannot connect to store {store.url!r}: {len(clashes)} clash"
                        f"{'es' if len(clashes) != 1 else ''} with this registry — "
                        + "; ".join(clashes)
                        + "; nothing was applied — rename or remove them here, then connect",
                        clashes=clashes,
                    )
                link.mode = store.compatibility()
                self._link = link
                try:
                    events = self._pull_state(link, revisions)
                    self._push_local(link)
                except BaseException:
                    self._link = None
                    raise
        except BaseException:
            if link.stop_listening is not None:
                link.stop_listening()
            store.close()
            raise
        self._emit(events)
        if link.pending.is_set() and not self.deferred_sync:
            self.sync()  # announced while connecting
        return store

    def disconnect_store(self) -> None:
        """Disconnect the shared store (idempotent); everything here stays, as local."""
        with self._lock:
            link, self._link = self._link, None
        if link is not None:
            if link.stop_listening is not None:
                link.stop_listening()
            link.store.close()

    def sync(self) -> int:
        """Apply other processes' revisions in order; return how many were applied.

        Idle (nothing new) it is one cheap change check. Raises StoreError when the
        store cannot be read (nothing is applied then; lookups keep working).
        """
        link = self._link
        if link is None:
            return 0
        pending = link.pending.is_set()
        if not pending and not link.store.changed():
            return 0
        link.pending.clear()
        with self._lock:
            if self._link is not link:
                return 0
            revisions = link.store.revisions(link.head)
            applied = sum(1 for r in revisions if r.revision not in link.own)
            events = self._apply_revisions(link, revisions)
        self._emit(events)
        return applied

    def _on_notify(self, revision: int | None, link: StoreLink | None = None) -> None:
        """Listener callback (its own thread): apply now, or at the next sync() in IPython.

        ``link`` is the connection the listener belongs to; while it is still being made
        (or after it was replaced) the announcement only marks it pending.
        """
        link = self._link if link is None else link
        if link is None or (revision is not None and revision <= link.head):
            return
        link.pending.set()
        if self.deferred_sync or self._link is not link:
            return
        try:
            self.sync()
        except Exception:  # the listener thread must survive a failed sync
            import logging

            logging.getLogger("nbregistry").exception("applying announced revisions failed")

    def owner_created(self, owner: Any, *, explicit: bool) -> None:
        """Share a newly created owner with an explicit name (owners call this last).

        With a store connected: an owner whose name a shared owner holds, with the same
        connector and non-secret settings, adopts it (its models move to the new object);
        otherwise it is committed to the store. Raises ValueError naming both owners when
        the shared one differs, StoreError when the store fails — the name is released
        and nothing changed.
        """
        from .sharing import describe_payload, owner_payload, same_payload
        from .store import Change

        link = self._link
        if link is None or not explicit or self._applying:
            return
        key = (owner.tenant, owner.name)
        payload = owner_payload(owner)
        events = Batch()
        with self._lock:
            holder = link.owners.get(key)
            if holder is owner:
                return
            if holder is not None:
                if not same_payload(link.payloads[key], payload):
                    raise ValueError(
                        f"{type(owner).__name__} {owner.name!r} of tenant {owner.tenant!r}: "
                        f"the shared owner of that name is {describe_payload(link.payloads[key])}"
                        f", this one is {describe_payload(payload)}; use the same connector "
                        "and settings to adopt it, or another name"
                    )
                self._adopt(link, holder, owner, events)
            else:
                try:
                    rev = link.store.commit(
                        Change("owner", owner.tenant, owner.name, payload=payload)
                    )
                except ConflictError as exc:
                    self._release_name(owner)
                    raise ValueError(str(exc)) from None
                except BaseException:
                    self._release_name(owner)
                    raise
                link.committed(rev)
                link.owners[key] = owner
                link.payloads[key] = payload
                if rev is None:  # the store had it already: take its current models
                    self._pull_owner(link, owner, events)
        self._emit(events)

    def _release_name(self, owner: Any) -> None:
        names = self._owner_names.get(owner.tenant)
        if names is not None and names.get(owner.name) is owner:
            del names[owner.name]
            if not names:
                del self._owner_names[owner.tenant]

    def _adopt(self, link: StoreLink, old: Any, new: Any, events: Batch) -> None:
        """Make ``new`` the holder of ``old``'s shared identity, moving its models."""
        names = self._owner_names.setdefault(new.tenant, weakref.WeakValueDictionary())
        names[new.name] = new
        link.owners[(new.tenant, new.name)] = new
        was, self._applying = self._applying, True
        try:
            for cls in list(old._index.values()):
                self._attach_locked(new, cls, new.owner_type == "app", events)
        finally:
            self._applying = was

    def _pull_owner(self, link: StoreLink, owner: Any, events: Batch) -> None:
        """Build the store's current definitions of a shared owner here (lock held)."""

        for d in link.store.definitions():
            if (d.tenant, d.owner) == (owner.tenant, owner.name):
                made = link.store.revisions(d.revision - 1, limit=1)
                rev = _define_revision(d, made[0] if made else None)
                events.stamp = (rev.revision, rev.by)
                self._apply_one(link, rev, events)
        events.stamp = None

    def _is_shared(self, owner: Any) -> bool:
        link = self._link
        return link is not None and link.owners.get((owner.tenant, owner.name)) is owner

    def _share_definition(
        self, op: str, owner: Any, cls: type[Model], existing: type[Model] | None, events: Batch
    ) -> tuple[Revision | None, str]:
        """Check compatibility and commit a define/redefine; return (revision, note).

        Raises IncompatibleDefinitionError, ConflictError or StoreError with nothing
        changed here (the caller has not touched the registry yet).
        """
        from .definitions import check_compatibility, definition_json
        from .store import Change

        if self._applying:
            return None, ""
        mode = self.compatibility
        shared = self._is_shared(owner)
        checked = existing is not None and mode != "none"
        if not (shared or checked):
            return None, ""  # the local log keeps the class itself: no JSON needed
        data = definition_json(cls)
        if checked:
            check_compatibility(cls.model_name, definition_json(existing), data, mode)
        if not shared:
            return None, ""
        link = self._link
        assert link is not None
        key = (owner.tenant, owner.name, cls.model_name)
        seen = link.seen.get(key, 0)
        note = ""
        by = link.authors.get(key)
        if existing is not None and by is not None and by != _author():
            note = f"; it replaced revision {seen} by {by}"
        rev = link.store.commit(
            Change(
                op,
                owner.tenant,
                owner.name,
                cls.model_name,
                cls.definition.fingerprint,
                {"definition": data},
                expect=seen,
            )
        )
        link.committed(rev, key)
        if rev is not None:
            events.stamp = (rev.revision, rev.by)
        return rev, note

    def _share_delete(self, owner: Any, name: str, events: Batch) -> Revision | None:
        """Commit the delete of a shared model (ConflictError / StoreError: nothing changed)."""
        from .store import Change

        if self._applying or not self._is_shared(owner):
            return None
        link = self._link
        assert link is not None
        key = (owner.tenant, owner.name, name)
        rev = link.store.commit(
            Change("delete", owner.tenant, owner.name, name, expect=link.seen.get(key, 0))
        )
        link.committed(rev, key)
        if rev is not None:
            events.stamp = (rev.revision, rev.by)
        return rev

    def _share_attach(
        self, owner: Any, model: type[Model], source: Any, events: Batch
    ) -> Revision | None:
        """Commit an attach (or, leaving a shared owner for a local one, a delete)."""
        from .definitions import definition_json
        from .store import Change

        if self._applying or self._link is None:
            return None
        link = self._link
        name = model.model_name
        src_shared = source is not None and self._is_shared(source)
        if self._is_shared(owner):
            key = (owner.tenant, owner.name, name)
            src_key = (source.tenant, source.name, name) if src_shared else None
            rev = link.store.commit(
                Change(
                    "attach",
                    owner.tenant,
                    owner.name,
                    name,
                    model.definition.fingerprint,
                    {
                        "definition": definition_json(model),
                        "from_owner": source.name if src_shared else None,
                    },
                    expect=link.seen.get(key, 0),
                    expect_from=None if src_key is None else link.seen.get(src_key, 0),
                )
            )
            link.committed(rev, key)
            if src_key is not None:
                link.seen.pop(src_key, None)
                link.authors.pop(src_key, None)
        elif src_shared:
            return self._share_delete(source, name, events)
        else:
            return None
        if rev is not None:
            events.stamp = (rev.revision, rev.by)
        return rev

    def _commit_store_wide(self, op: str, tenant: str | None) -> Revision:
        """Commit a cleanup_tenant / clear for every process; StoreError without a store."""
        from .store import Change

        link = self._store_scope_link(f"{op} was not done")
        rev = link.store.commit(Change(op, tenant))
        assert rev is not None
        link.committed(rev)
        return rev

    def _store_scope_link(self, undone: str) -> StoreLink:
        """Return the store link for a ``scope="store"`` call; StoreError saying ``undone``."""
        link = self._link
        if link is None:
            raise StoreError(
                f"scope='store' needs a connected store ({undone}); call "
                "registry.connect_store(url) first, or use scope='local'"
            )
        return link

    def _forget_tenant(self, code: str | None) -> None:
        """Drop local history and shared bookkeeping of a tenant (None: all); lock held."""
        for key in [k for k in self._history if code is None or k[0] == code]:
            del self._history[key]
        if self._link is not None:
            self._link.forget_tenant(code)

    def _log(
        self,
        op: str,
        owner: Any,
        name: str,
        cls: type[Model] | None,
        rev: Revision | None,
    ) -> None:
        """Append one entry to the local history of (tenant, name); lock held."""
        from .sharing import HISTORY_LIMIT, HistoryEntry

        if rev is None:
            revision, by = next(self._local_revisions), _author()
        else:
            revision, by = rev.revision, rev.by
        entries = self._history.setdefault((owner.tenant, name), [])
        entries.append(
            HistoryEntry(
                revision,
                op,
                _now(),
                by,
                owner.tenant,
                owner.name,
                name,
                None if cls is None else cls.definition.fingerprint,
                cls,
            )
        )
        if len(entries) > HISTORY_LIMIT:
            del entries[0]

    def _clashes(self, store: Store, revisions: list[Revision]) -> list[str]:
        """Return one line per clash between the store's state and this registry's."""
        from .sharing import describe_payload, owner_payload, same_payload

        owners = {
            (o.tenant, o.name): {
                "owner_type": o.owner_type,
                "connector": o.connector,
                "settings": o.settings,
            }
            for o in store.owners()
        }
        authors = {r.revision: r.by for r in revisions}
        defs = {
            (d.tenant, d.owner, d.model): (d.fingerprint, d.revision, authors.get(d.revision, "?"))
            for d in store.definitions()
        }
        out: list[str] = []
        for code, names in list(self._owner_names.items()):
            for name, owner in list(names.items()):
                stored = owners.get((code, name))
                if stored is None:
                    continue
                if owner in self._auto_named:
                    out.append(
                        f"the store has an owner {name!r} of tenant {code!r}, a name a local "
                        "owner holds automatically (automatic names stay local)"
                    )
                    continue
                mine = owner_payload(owner)
                if not same_payload(stored, mine):
                    out.append(
                        f"owner {name!r} of tenant {code!r} is {describe_payload(stored)} in "
                        f"the store but {describe_payload(mine)} here"
                    )
                    continue
                for model, cls in list(owner._index.items()):
                    hit = defs.get((code, name, model))
                    if hit is not None and hit[0] != cls.definition.fingerprint:
                        out.append(
                            f"model {model!r} of owner {name!r} (tenant {code!r}) has "
                            f"fingerprint {hit[0]} in the store (revision {hit[1]} by {hit[2]}) "
                            f"but {cls.definition.fingerprint} here"
                        )
        return out

    def _pull_state(self, link: StoreLink, revisions: list[Revision]) -> Batch:
        """Build here the store's current owners and definitions (connect; lock held).

        The store's *state*, not a replay of its log: an old ``delete``, ``cleanup`` or
        ``clear`` in the log must not remove a model this registry holds locally (it is
        pushed next, as DESIGN §12.5's "pull, then push" wants). Each item carries the
        time and author of the revision that made it.
        """
        from .store import Revision

        by_number = {r.revision: r for r in revisions}

        def stamp(number: int) -> tuple[str, str]:
            r = by_number.get(number)
            return ("", "") if r is None else (r.at, r.by)

        pulled: list[Revision] = []
        for o in link.store.owners():
            payload = {
                "owner_type": o.owner_type,
                "connector": o.connector,
                "settings": dict(o.settings),
            }
            pulled.append(
                Revision(
                    o.revision, "owner", o.tenant, o.name, None, None, payload, *stamp(o.revision)
                )
            )
        for d in link.store.definitions():
            pulled.append(_define_revision(d, by_number.get(d.revision)))
        events = self._apply_revisions(link, pulled)
        link.head = revisions[-1].revision if revisions else 0
        return events

    def _push_local(self, link: StoreLink) -> None:
        """Commit the named owners and models only this registry holds (lock held)."""
        from .definitions import definition_json
        from .sharing import owner_payload
        from .store import Change

        for code, names in list(self._owner_names.items()):
            for name, owner in list(names.items()):
                if owner in self._auto_named:
                    continue
                key = (code, name)
                if link.owners.get(key) is not owner:
                    payload = owner_payload(owner)
                    link.committed(link.store.commit(Change("owner", code, name, payload=payload)))
                    link.owners[key] = owner
                    link.payloads[key] = payload
                for model, cls in list(owner._index.items()):
                    mkey = (code, name, model)
                    if mkey in link.seen:
                        continue
                    rev = link.store.commit(
                        Change(
                            "define",
                            code,
                            name,
                            model,
                            cls.definition.fingerprint,
                            {"definition": definition_json(cls)},
                            expect=0,
                        )
                    )
                    link.committed(rev, mkey)

    def _apply_revisions(self, link: StoreLink, revisions: list[Revision]) -> Batch:
        """Apply other processes' revisions in order (lock held); return the events."""
        from .sharing import prune

        events = Batch()
        for rev in prune([r for r in revisions if r.revision not in link.own]):
            events.stamp = (rev.revision, rev.by)
            try:
                self._apply_one(link, rev, events)
            except (StoreError, ConflictError):
                raise
            except Exception as exc:  # one bad revision must not block every later one
                import warnings

                warnings.warn(
                    f"revision {rev.revision} ({rev.op} of {rev.model or rev.owner!r} in tenant "
                    f"{rev.tenant!r}, by {rev.by}) could not be applied here: {exc}",
                    RuntimeWarning,
                    stacklevel=2,
                )
        events.stamp = None
        if revisions:
            last = revisions[-1].revision
            link.head = max(link.head, last)
            link.own = {r for r in link.own if r > link.head}
        return events

    def _apply_one(self, link: StoreLink, rev: Revision, events: Batch) -> None:
        """Apply one revision here without committing anything (lock held)."""
        if (rev.tenant, rev.owner) in link.unavailable:
            return  # a shared owner this process cannot hold (warned once)
        keys: list[tuple[Any, Any, Any]] = []
        if rev.op in ("define", "redefine", "attach", "delete"):
            keys.append((rev.tenant, rev.owner, rev.model))
            src = rev.payload.get("from_owner") if rev.op == "attach" else None
            if src is not None:
                keys.append((rev.tenant, src, rev.model))
            if any(link.latest.get(k, 0) > rev.revision for k in keys):
                return  # this process wrote that model after it: already superseded here
        was, self._applying = self._applying, True
        was_batch, self._apply_batch = self._apply_batch, events
        try:
            self._apply_locked(link, rev, events)
        finally:
            self._applying = was
            self._apply_batch = was_batch
        for k in keys:
            link.latest[k] = max(link.latest.get(k, 0), rev.revision)

    def _apply_locked(self, link: StoreLink, rev: Revision, events: Batch) -> None:
        from .sharing import owner_payload, same_payload

        op, tenant = rev.op, rev.tenant
        if op == "owner":
            key = (tenant, rev.owner)
            if key in link.owners:
                return
            names = self._owner_names.get(tenant)  # type: ignore[arg-type]
            holder = None if names is None else names.get(rev.owner)  # type: ignore[arg-type]
            self._refuse_automatic(link, tenant, rev.owner, holder)  # type: ignore[arg-type]
            if holder is not None:
                if same_payload(owner_payload(holder), rev.payload):
                    link.owners[key] = holder  # type: ignore[index]
                    link.payloads[key] = dict(rev.payload)  # type: ignore[index]
                    return
                raise ValueError(
                    f"a local owner named {rev.owner!r} differs from the shared one; "
                    "its models will not be synced here"
                )
            self._materialize_owner(link, tenant, rev.owner, dict(rev.payload))  # type: ignore[arg-type]
        elif op in ("define", "redefine", "attach"):
            self._apply_definition(link, rev, events)
        elif op == "delete":
            key = (tenant, rev.owner, rev.model)
            owner = link.owners.get((tenant, rev.owner))  # type: ignore[arg-type]
            cls = None if owner is None else owner._index.get(rev.model)
            if cls is not None:
                self._remove(cls, events)
                self._log("delete", owner, rev.model, None, rev)  # type: ignore[arg-type]
            link.seen.pop(key, None)  # type: ignore[arg-type]
            link.authors.pop(key, None)  # type: ignore[arg-type]
        elif op in ("cleanup_tenant", "clear"):
            codes = (
                [tenant] if op == "cleanup_tenant" else list({**self._tenants, **self._owner_names})
            )
            released: list[Any] = []
            for code in codes:
                released.extend(self._cleanup_locked(code)[1])  # type: ignore[arg-type]
            self._forget_tenant(tenant if op == "cleanup_tenant" else None)
            _release_data(released)
            kind = "tenant_cleaned" if op == "cleanup_tenant" else "cleared"
            events.append(RegistryEvent(kind, tenant, None, None))
        elif op == "compatibility":
            link.mode = str(rev.payload.get("mode", "none"))

    def _refuse_automatic(self, link: StoreLink, tenant: str, name: str, holder: Any) -> None:
        """Raise ValueError if an automatically named local owner holds a shared name.

        Automatically named owners stay local (DESIGN §12.5), so the shared owner of that
        name cannot live here: it is marked unavailable (its later revisions are skipped)
        and the one ValueError becomes sync()'s one warning.
        """
        if holder is None or holder not in self._auto_named:
            return
        link.unavailable.add((tenant, name))
        raise ValueError(
            f"a local owner with the automatic name {name!r} holds that name in tenant "
            f"{tenant!r}, and automatically named owners stay local; the shared owner "
            f"{name!r} and its models are not synced here — give the local owner a name "
            "(or the shared one another) and connect again"
        )

    def _materialize_owner(
        self, link: StoreLink, tenant: str, name: str, payload: dict[str, Any]
    ) -> Any:
        """Create here the shared owner a revision describes (lock held, applying)."""
        names = self._owner_names.get(tenant)
        self._refuse_automatic(link, tenant, name, None if names is None else names.get(name))
        kind = payload.get("owner_type")
        factory = OWNER_TYPES.get(kind)  # type: ignore[arg-type]
        if factory is None:
            raise ValueError(f"unknown owner type {kind!r} in the store")
        owner = factory.from_store(self, tenant, name, payload)
        link.owners[(tenant, name)] = owner
        link.payloads[(tenant, name)] = payload
        return owner

    def _owner_for(self, link: StoreLink, tenant: str, name: str) -> Any:
        """Return the shared owner (tenant, name) here, creating it from the store if needed."""
        owner = link.owners.get((tenant, name))
        if owner is not None:
            return owner
        for rec in link.store.owners():
            if (rec.tenant, rec.name) == (tenant, name):
                payload = {
                    "owner_type": rec.owner_type,
                    "connector": rec.connector,
                    "settings": dict(rec.settings),
                }
                return self._materialize_owner(link, tenant, name, payload)
        raise ValueError(f"owner {name!r} of tenant {tenant!r} is not in the store")

    def _apply_definition(self, link: StoreLink, rev: Revision, events: Batch) -> None:
        from .definitions import define_arguments

        tenant, model = rev.tenant, rev.model
        assert tenant is not None and model is not None and rev.owner is not None
        owner = self._owner_for(link, tenant, rev.owner)
        key = (tenant, rev.owner, model)
        definition = rev.payload["definition"]
        settings = dict(definition.get("settings") or {})
        src_name = rev.payload.get("from_owner") if rev.op == "attach" else None
        src = None if src_name is None else link.owners.get((tenant, src_name))
        moved = None if src is None else src._index.get(model)
        existing = owner._index.get(model)
        if existing is not None and existing.definition.same_as(rev.fingerprint, settings):
            pass
        elif moved is not None and moved.definition.same_as(rev.fingerprint, settings):
            self._attach_locked(owner, moved, owner.owner_type == "app", events)
            self._log(rev.op, owner, model, moved, rev)
        else:

            def resolve(name: str, owner_name: str | None, fp: str) -> Any:
                holder = owner if owner_name is None else link.owners.get((tenant, owner_name))
                cls = None if holder is None else holder._index.get(name)
                if cls is None or cls.definition.fingerprint != fp:
                    raise ValueError(
                        f"it embeds model {name!r} of owner {owner_name!r} (fingerprint {fp}), "
                        "which is not defined here"
                    )
                return cls

            props, settings = define_arguments(definition, resolve)
            assert DEFINER is not None, "nbregistry.core.builder sets DEFINER when imported"
            built = DEFINER(owner).define(model, props, settings)
            if built.definition.fingerprint != rev.fingerprint:
                raise ValueError(
                    f"its definition builds fingerprint {built.definition.fingerprint} here, "
                    f"not {rev.fingerprint} (another nbregistry version?)"
                )
            self._log(rev.op, owner, model, built, rev)
        if src is not None:
            link.seen.pop((tenant, src_name, model), None)  # type: ignore[arg-type]
            if moved is not None and src._index.get(model) is moved:
                self._remove(moved, events)
        link.seen[key] = rev.revision
        link.authors[key] = rev.by

    # history ----------------------------------------------------------------------

    def _entries(self, name: str, code: str) -> list[HistoryEntry]:
        """Return the history entries of (tenant, model): the store's when it has any."""
        from .sharing import HistoryEntry

        link = self._link
        if link is not None:
            revs = link.store.model_revisions(code, name)
            if any(r.op in ("define", "redefine", "attach", "delete") for r in revs):
                import datetime as dt

                out = []
                for r in revs:
                    d = r.payload.get("definition") if r.payload else None
                    at = dt.datetime.fromisoformat(r.at).timestamp()
                    out.append(
                        HistoryEntry(
                            r.revision, r.op, at, r.by, code, r.owner, name, r.fingerprint, d
                        )
                    )
                return out
        return list(self._history.get((code, name), []))

    def history(self, name: str, *, tenant: str | None = None) -> pd.DataFrame:
        """Return the changes of model ``name`` as a DataFrame, oldest first.

        Columns: revision, op, at (UTC), by, owner, fingerprint, properties. With a
        store connected and holding the model: the store's revisions (every process);
        otherwise this registry's local log, numbered 1, 2, … per registry. Raises
        TenantError; ModelNotFoundError when the model has no history here.
        """
        import datetime as dt

        from ..render.frames import frame
        from .definitions import properties_text

        code = self.tenant_of(tenant)
        entries = self._entries(name, code)
        if not entries:
            raise ModelNotFoundError(
                f"model {name!r} has no history in tenant {code!r}; define it first "
                "(history covers this registry's changes and, with a store, every process's)"
            )
        rows = [
            (
                e.revision,
                e.op,
                dt.datetime.fromtimestamp(e.at, dt.UTC),
                e.by,
                e.owner,
                e.fingerprint,
                properties_text(e.definition),
            )
            for e in entries
        ]
        columns = ["revision", "op", "at", "by", "owner", "fingerprint", "properties"]
        df = frame(columns, rows, dtypes={"revision": "int64"})
        df["at"] = df["at"].astype("datetime64[ns, UTC]")
        return df

    def diff(self, name: str, a: int, b: int, *, tenant: str | None = None) -> pd.DataFrame:
        """Return how model ``name`` changed from revision ``a`` to ``b`` as a DataFrame.

        Columns: property, change (added/removed/changed), before, after. Revisions are
        those of :meth:`history`. Raises ModelNotFoundError naming the revisions it has
        when ``a`` or ``b`` is not one of them.
        """
        from ..render.frames import frame
        from .definitions import diff_definitions

        code = self.tenant_of(tenant)
        entries = {e.revision: e for e in self._entries(name, code)}
        for r in (a, b):
            if r not in entries:
                raise ModelNotFoundError(
                    f"model {name!r} of tenant {code!r} has no revision {r!r}; its revisions: "
                    f"{', '.join(map(str, entries)) or 'none'} (see registry.history({name!r}))"
                )
        rows = diff_definitions(entries[a].definition, entries[b].definition)
        return frame(["property", "change", "before", "after"], rows)

    # lookups -------------------------------------------------------------------------

    def find_model_by_name(self, name: str, *, tenant: str | None = None) -> type[Model] | None:
        """Return the model named ``name`` in the tenant, else in global, else None.

        ``"owner.Model"`` qualifies by owner name. Raises AmbiguousModelError when two
        owners of the tenant define the name, TenantError for a bad tenant code and
        TypeError for a non-str name.
        """
        if tenant is None:  # noqa: SIM108 (the common case first, without a call)
            code = OVERRIDE.get() or self._session_tenant
        else:
            code = validate_tenant(tenant)
        treg = self._tenants.get(code)
        if treg is not None and type(name) is str:
            hit = treg.by_name.get(name)
            if hit is not None:
                next(self._lookups)
                treg.last_accessed = _now()
                if type(hit) is dict:
                    raise _ambiguous(name, code, hit)
                return hit
        return self._find_slow(name, code, treg)

    def _find_slow(
        self, name: object, code: str, treg: TenantRegistry | None
    ) -> type[Model] | None:
        if not isinstance(name, str):
            raise TypeError(f"model name must be a str, got {name!r:.80}")
        next(self._lookups)
        if treg is not None:
            treg.last_accessed = _now()
        if "." in name:
            owner_name, _, model_name = name.partition(".")
            for c in (code, GLOBAL_TENANT) if code != GLOBAL_TENANT else (code,):
                names = self._owner_names.get(c)
                owner = None if names is None else names.get(owner_name)
                if owner is not None:
                    return owner._index.get(model_name)
            return None
        if code == GLOBAL_TENANT:
            return None
        g = self._tenants.get(GLOBAL_TENANT)
        if g is None:
            return None
        g.last_accessed = _now()
        hit = g.by_name.get(name)
        if type(hit) is dict:
            raise _ambiguous(name, GLOBAL_TENANT, hit)
        return hit

    def get_model(self, name: str, *, tenant: str | None = None) -> type[Model]:
        """Return the model named ``name`` (as ``find_model_by_name``).

        Raises ModelNotFoundError with close-match suggestions when missing,
        AmbiguousModelError, TenantError or TypeError.
        """
        cls = self.find_model_by_name(name, tenant=tenant)
        if cls is None:
            code = self.tenant_of(tenant)
            candidates: set[str] = set()
            for c in {code, GLOBAL_TENANT}:
                treg = self._tenants.get(c)
                if treg is not None:
                    candidates.update(treg.by_name)
            import difflib

            close = difflib.get_close_matches(name, sorted(candidates), n=3)
            where = f"tenant {code!r}" + (" or the global tenant" if code != GLOBAL_TENANT else "")
            hint = (
                f"; did you mean {', '.join(repr(c) for c in close)}?"
                if close
                else "; define it first with ds.define(...)"
            )
            raise ModelNotFoundError(f"no model named {name!r} in {where}{hint}")
        return cls

    def find_model_by_structure(
        self, properties: Mapping[str, Any], *, tenant: str | None = None, strict: bool = False
    ) -> type[Model] | None:
        """Return the anonymous model with this structure in the tenant (else global), or None.

        O(1) by fingerprint; counts a reuse hit or miss. Raises TypeError for a
        non-mapping, DefinitionError for a malformed spec, TenantError.
        """
        code = self.tenant_of(tenant)
        fp = lookup_fingerprint(properties)
        key = (fp, bool(strict))
        next(self._lookups)
        treg = self._tenants.get(code)
        if treg is not None:
            treg.last_accessed = _now()
        hit = self._structure_hit(key, code)
        next(self._hits if hit is not None else self._misses)
        return hit

    def _structure_hit(self, key: tuple[str, bool], code: str) -> type[Model] | None:
        treg = self._tenants.get(code)
        hit = None if treg is None else treg.by_structure.get(key)
        if hit is None and code != GLOBAL_TENANT:
            g = self._tenants.get(GLOBAL_TENANT)
            if g is not None:
                hit = g.by_structure.get(key)
        return hit

    def _owner_ok(self, owner: Any) -> bool:
        if owner is None or getattr(owner, "_registry", None) is not self:
            return False
        treg = self._tenants.get(owner.tenant)
        if treg is not None:
            treg.last_accessed = _now()
        return True

    def models_for_owner(self, owner: Any) -> list[type[Model]]:
        """Return the owner's models in definition order (a new list); ``[]`` if none."""
        next(self._lookups)
        if not self._owner_ok(owner):
            return []
        return list(owner._index.values())

    def model_names_for_owner(self, owner: Any) -> list[str]:
        """Return the owner's model names in definition order; ``[]`` if none."""
        next(self._lookups)
        if not self._owner_ok(owner):
            return []
        return list(owner._index)

    def has_model_for_owner(self, owner: Any, name: str) -> bool:
        """Return True if the owner holds a model named ``name`` (O(1))."""
        next(self._lookups)
        if not self._owner_ok(owner):
            return False
        try:
            return name in owner._index
        except TypeError:  # unhashable name: not there (as ``name in owner.models``)
            return False

    def get_model_for_owner(self, owner: Any, name: str) -> type[Model] | None:
        """Return the owner's model named ``name`` or None (O(1))."""
        next(self._lookups)
        try:
            if owner._registry is not self:
                return None
            index = owner._index
            treg = self._tenants.get(owner.tenant)
        except AttributeError:  # None or not an owner
            return None
        if treg is not None:
            treg.last_accessed = _now()
        try:
            return index.get(name)
        except TypeError:  # unhashable name: not there (as ``owner.models.get(name)``)
            return None

    # tenants -------------------------------------------------------------------------

    def tenants(self) -> list[str]:
        """Return the codes of tenants holding models, global included if it does."""
        return list(self._tenants)

    def tenant_registry(self, code: str) -> TenantRegistry | None:
        """Return the read-only store of one tenant, or None; TenantError for a bad code."""
        return self._tenants.get(validate_tenant(code))

    def cleanup_tenant(self, code: str, *, scope: str = "local") -> int:
        """Remove every model of a tenant (one operation) and return how many; TenantError.

        Owner views of the tenant turn empty, owner names are freed, connector data is
        released, and one ``"tenant_cleaned"`` event is emitted. ``scope="local"`` (the
        default) changes only this process; ``scope="store"`` first records the cleanup
        in the connected store for every process (StoreError: nothing changed).
        """
        code = validate_tenant(code)
        _check_scope(scope)
        batch = Batch()
        with self._lock:
            if scope == "store":
                rev = self._commit_store_wide("cleanup_tenant", code)
                batch.stamp = (rev.revision, rev.by)
            removed, owners = self._cleanup_locked(code)
            self._forget_tenant(code)
        _release_data(owners)
        if removed or owners or batch.stamp:
            batch.append(RegistryEvent("tenant_cleaned", code, None, None))
            self._emit(batch)
        return removed

    def _cleanup_locked(self, code: str) -> tuple[int, list[Any]]:
        treg = self._tenants.get(code)
        names = self._owner_names.pop(code, None)
        owners: list[Any] = [] if names is None else list(names.values())
        if treg is None:
            return 0, owners
        removed = treg.model_count()
        for owner in treg.by_owner:
            owner._index.clear()
            if owner not in owners:
                owners.append(owner)
        for anon in treg.anonymous:
            record_of(anon).users = 0
        self._drop_tenant_store(code)
        return removed, owners

    def cleanup_inactive_tenants(self, max_idle_seconds: float, *, scope: str = "local") -> int:
        """Clean every tenant idle for at least ``max_idle_seconds``; return how many.

        Idle means no registration or lookup *in this process* since. ``scope="local"``
        (the default) changes only this process; ``scope="store"`` records each tenant's
        cleanup in the connected store for every process (StoreError, before anything is
        cleaned, when no store is connected). Raises TypeError / ValueError for a
        non-numeric or negative age, ValueError for an unknown scope.
        """
        if isinstance(max_idle_seconds, bool) or not isinstance(max_idle_seconds, (int, float)):
            raise TypeError(f"max_idle_seconds must be a number, got {max_idle_seconds!r}")
        if max_idle_seconds < 0:
            raise ValueError(f"max_idle_seconds must be >= 0, got {max_idle_seconds!r}")
        _check_scope(scope)
        if scope == "store":
            self._store_scope_link("no tenant was cleaned")
        now = _now()
        stale = [
            c for c, t in list(self._tenants.items()) if now - t.last_accessed >= max_idle_seconds
        ]
        for code in stale:
            self.cleanup_tenant(code, scope=scope)
        return len(stale)

    def start_auto_cleanup(self, max_idle_seconds: float, *, interval: float = 60.0) -> AutoCleanup:
        """Start a daemon thread cleaning idle tenants every ``interval`` s; ``.stop()`` it."""
        if interval <= 0:
            raise ValueError(f"interval must be > 0 seconds, got {interval!r}")
        return AutoCleanup(self, max_idle_seconds, interval)

    def clear(self, *, scope: str = "local") -> None:
        """Remove everything — tenants, models, owner names — and reset the counters.

        ``scope="local"`` (the default) changes only this process (a connected store
        stays connected and keeps everything); ``scope="store"`` first records the clear
        in the store for every process (StoreError: nothing changed).
        """
        _check_scope(scope)
        batch = Batch()
        with self._lock:
            if scope == "store":
                rev = self._commit_store_wide("clear", None)
                batch.stamp = (rev.revision, rev.by)
            owners: list[Any] = []
            for code in {**self._tenants, **self._owner_names}:
                owners.extend(self._cleanup_locked(code)[1])
            self._forget_tenant(None)
            self._reset_counters()
        _release_data(owners)
        batch.append(RegistryEvent("cleared", None, None, None))
        self._emit(batch)

    # stats, frames, events ---------------------------------------------------------

    def tenant_stats(self, code: str) -> TenantStats | None:
        """Return the counts of one tenant, or None if it holds no models; TenantError."""
        treg = self._tenants.get(validate_tenant(code))
        return None if treg is None else _tenant_stats(treg, _now())

    def stats(self) -> RegistryStats:
        """Return a frozen snapshot of sizes and counters."""
        now = _now()
        per = [_tenant_stats(treg, now) for treg in list(self._tenants.values())]
        hits = self._hit_counter.value
        misses = self._miss_counter.value
        return RegistryStats(
            tenants=sum(1 for t in per if t.tenant != GLOBAL_TENANT),
            models=sum(t.models for t in per),
            named_models=sum(t.named_models for t in per),
            anonymous_models=sum(t.anonymous_models for t in per),
            owners=sum(t.owners for t in per),
            unique_structures=sum(t.unique_structures for t in per),
            registrations=self._registrations,
            lookups=self._lookup_counter.value,
            reuse_hits=hits,
            reuse_misses=misses,
            hit_rate=hits / (hits + misses) if hits + misses else 0.0,
            per_tenant=tuple(per),
        )

    def all_models(self, *, tenant: str | None = None) -> list[type[Model]]:
        """Return every model (of one tenant if given) in registration order; TenantError."""
        if tenant is not None:
            treg = self._tenants.get(validate_tenant(tenant))
            return [] if treg is None else treg.models()
        out: list[type[Model]] = []
        for treg in list(self._tenants.values()):
            out.extend(treg.models())
        out.sort(key=_seq_of)
        return out

    def to_frame(self, *, tenant: str | None = None) -> pd.DataFrame:
        """Return one row per model (all tenants unless ``tenant=``); TenantError."""
        from .tables import models_frame

        return models_frame(self.all_models(tenant=tenant))

    def subscribe(self, callback: Callable[[RegistryEvent], Any]) -> Subscription:
        """Call ``callback(RegistryEvent)`` after every change; TypeError if not callable."""
        if not callable(callback):
            raise TypeError(f"subscribe() needs a callable, got {callback!r}")
        key = next(self._sub_keys)
        self._subscribers[key] = callback
        return Subscription(self, key)

    def owner_of(self, cls: type[Model]) -> Any:
        """Return the owner holding a model class (None for anonymous and ownerless ones)."""
        return owner_of(cls)

    def bookkeeping(self) -> tuple[dict[str, TenantRegistry], dict[str, Any]]:
        """Return the registry's two top-level maps, for memory accounting (benchmarks).

        ``(tenant code → TenantRegistry, tenant code → {owner name → owner, weakly})``:
        the live objects, to be measured with ``sys.getsizeof``, never changed.
        """
        return self._tenants, self._owner_names

    def __repr__(self) -> str:
        n = sum(t.model_count() for t in list(self._tenants.values()))
        return f"<ModelRegistry: {n} models in {len(self._tenants)} tenants>"

    def _repr_html_(self) -> str:
        from .tables import registry_table

        return registry_table(self).html()


# --- helpers -------------------------------------------------------------------------


def _describe(obj: object) -> str:
    """Return a short description naming ``obj`` for error messages."""
    if isinstance(obj, type):
        return f"{obj!r} (a class not built by a builder)"
    return f"{obj!r:.80}"


def _tenant_stats(treg: TenantRegistry, now: float) -> TenantStats:
    models = treg.models()
    n_anon = len(treg.anonymous)
    return TenantStats(
        treg.code,
        len(models),
        len(treg.by_owner),
        treg.created_at,
        treg.last_accessed,
        max(0.0, now - treg.last_accessed),
        named_models=len(models) - n_anon,
        anonymous_models=n_anon,
        unique_structures=len({m.definition.fingerprint for m in models}),
    )


def _release_data(owners: list[Any]) -> None:
    """Let each owner release what it holds (a DataSource: its connector's rows)."""
    for owner in owners:
        owner.release_data()


def _seq_of(cls: type[Model]) -> int:
    return record_of(cls).seq


def _is_built_model(model: object) -> bool:
    """Return True for a class made by a builder (a hand-written subclass has no definition)."""
    return (
        isinstance(model, type)
        and issubclass(model, Model)
        and "definition" in vars(model)
        and "model_name" in vars(model)
    )


def _check_owner_name(name: object) -> None:
    if not isinstance(name, str):
        raise TypeError(f"owner name must be a str, got {name!r} ({type(name).__name__})")
    if not name or "." in name:
        raise ValueError(
            f"invalid owner name {name!r}: it must be a non-empty str without '.', "
            "since 'owner.Model' qualifies model names; e.g. 'crm'"
        )


def _ambiguous(name: str, code: str, hits: dict[Any, type[Model]]) -> AmbiguousModelError:
    quals = sorted(
        f"{o.name}.{name}" if o is not None else f"{name} (anonymous/ownerless)" for o in hits
    )
    shown = " and ".join(repr(q) for q in quals[:5])
    if len(quals) > 5:
        shown += f" and {len(quals) - 5} more"
    return AmbiguousModelError(
        f"model name {name!r} is ambiguous in tenant {code!r}: defined by "
        f"{shown}; qualify it, e.g. {quals[0]!r}"
    )


def _missing_in_owner(owner: Any, name: object) -> str:
    import difflib

    close = difflib.get_close_matches(str(name), list(owner._index), n=3)
    hint = f"; did you mean {', '.join(repr(c) for c in close)}?" if close else ""
    have = ", ".join(owner._index) or "none"
    return (
        f"{type(owner).__name__} {owner.name!r} has no model named {name!r} (it has: {have}){hint}"
    )


def user_stacklevel() -> int:
    """Return the ``stacklevel`` that points a warning at the first frame outside nbregistry."""
    import os
    import sys

    # The whole package (this file is nbregistry/core/registry.py).
    package = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep
    frame = sys._getframe(1)  # the caller of this function is stacklevel 1
    level = 1
    while frame is not None and frame.f_code.co_filename.startswith(package):
        frame = frame.f_back
        level += 1
    return level


def _warn_redefined(owner: Any, name: str, note: str = "") -> None:
    import warnings

    warnings.warn(
        f"model {name!r} of {type(owner).__name__} {owner.name!r} (tenant "
        f"{owner.tenant!r}) was redefined with a different definition; the old class "
        f"left the registry{note}",
        ModelRedefinedWarning,
        stacklevel=user_stacklevel(),
    )


# owner_type → the Owner class that re-creates a shared owner of that type (``sync()``),
# through its ``from_store(registry, tenant, name, payload)``. Filled by
# ``Owner.__init_subclass__``, so the registry imports none of the owner modules.
OWNER_TYPES: dict[str, Any] = {}
# owner → a ModelBuilder defining for that owner; set by nbregistry.core.builder.
DEFINER: Callable[[Any], Any] | None = None


def _define_revision(d: DefinitionRecord, made: Revision | None) -> Revision:
    """Return a ``define`` revision of a stored definition, stamped as ``made`` (if known)."""
    from .store import Revision

    at, by = ("", "") if made is None else (made.at, made.by)
    payload = {"definition": d.definition}
    return Revision(
        d.revision, "define", d.tenant, d.owner, d.model, d.fingerprint, payload, at, by
    )


def _check_scope(scope: object) -> None:
    if scope not in ("local", "store"):
        raise ValueError(
            f"scope must be 'local' (this process only) or 'store' (every process sharing "
            f"the store), got {scope!r}"
        )


_AUTHOR: tuple[int, str] | None = None


def _author() -> str:
    """Return this process's ``user@host:pid`` (cached per pid)."""
    global _AUTHOR
    import os

    pid = os.getpid()
    if _AUTHOR is None or _AUTHOR[0] != pid:
        from .store import author

        _AUTHOR = (pid, author())
    return _AUTHOR[1]


#: The process-wide registry.
registry = ModelRegistry()
