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

from .errors import AmbiguousModelError, ModelNotFoundError, ModelRedefinedWarning
from .fingerprint import lookup_fingerprint
from .meta import owner_of, record_of, set_class_attrs
from .model import Model, model_deps
from .tenancy import GLOBAL_TENANT, OVERRIDE, validate_tenant

if TYPE_CHECKING:
    import pandas as pd

    from .owners import Owner

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

    __slots__ = ("events", "removed")

    def __init__(self) -> None:
        self.events: list[RegistryEvent] = []  # in the order the changes happened
        self.removed: list[type[Model]] = []  # classes that left the registry

    @classmethod
    def of(cls, event: RegistryEvent) -> Batch:
        """Return a batch holding one event."""
        batch = cls()
        batch.events.append(event)
        return batch

    def append(self, event: RegistryEvent) -> None:
        """Record an event."""
        self.events.append(event)

    def insert(self, index: int, event: RegistryEvent) -> None:
        """Record an event at a position."""
        self.events.insert(index, event)

    def __len__(self) -> int:
        return len(self.events)


# --- public value types ----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RegistryEvent:
    """One change in a registry, delivered to ``subscribe()`` callbacks.

    ``kind`` is ``"registered"``, ``"removed"``, ``"tenant_cleaned"`` or ``"cleared"``;
    ``owner`` is the owner object (``None`` for anonymous models and whole-tenant events).
    """

    kind: str
    tenant: str | None
    owner: Any
    model_name: str | None


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
    """

    def __init__(self) -> None:
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
        # automatic-name counters: prefix ("memory", "app", "builder") → next number.
        self._auto_names: dict[str, itertools.count[int]] = {}
        # numbers of AnonymousModel_<n> names, and of registration order (ModelRecord.seq).
        self._anon_counter = itertools.count(1)
        self._seq = itertools.count(1)
        self._session_tenant = GLOBAL_TENANT
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
                return candidate
            _check_owner_name(name)
            assert isinstance(name, str)
            other = names.get(name)
            if other is not None and other is not owner:
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

    def _remove(self, cls: type[Model], events: Batch) -> int:
        """Remove a registered class and any anonymous model left without users; count."""
        treg = self._tenants.get(cls.tenant)  # type: ignore[arg-type]
        if treg is None:
            return 0
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

    def _attach_locked(self, owner: Owner, model: type[Model], as_app: bool, events: Batch) -> None:
        name = model.model_name
        existing = owner._index.get(name)
        self._ensure_owner_name(owner)
        treg = self._tenants.get(owner.tenant)
        was_registered = self._is_registered(model)
        rec = record_of(model)
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
            existing = owner._index.get(name)
            if existing is not None and existing.definition.same_as(fingerprint, settings):
                return existing
            self._ensure_owner_name(owner)
            resolver = AnonymousResolver(self, owner.tenant)
            cls = build(resolver)
            if existing is not None:
                _warn_redefined(owner, name)
            for anon in resolver.created:
                self._add(anon, events)
                self._registrations += 1
            if existing is not None:
                self._replace(owner, existing, cls, events)
            else:
                self._add(cls, events)
            self._registrations += 1
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
                self._remove(cls, events)
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
        self._emit(events)
        return len(models)

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

    def cleanup_tenant(self, code: str) -> int:
        """Remove every model of a tenant (one operation) and return how many; TenantError.

        Owner views of the tenant turn empty, owner names are freed, connector data is
        released, and one ``"tenant_cleaned"`` event is emitted.
        """
        code = validate_tenant(code)
        with self._lock:
            removed, owners = self._cleanup_locked(code)
        _release_data(owners)
        if removed or owners:
            self._emit(Batch.of(RegistryEvent("tenant_cleaned", code, None, None)))
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

    def cleanup_inactive_tenants(self, max_idle_seconds: float) -> int:
        """Clean every tenant idle for at least ``max_idle_seconds``; return how many.

        Idle means no registration or lookup since. Raises ValueError for a negative or
        non-numeric age.
        """
        if isinstance(max_idle_seconds, bool) or not isinstance(max_idle_seconds, (int, float)):
            raise TypeError(f"max_idle_seconds must be a number, got {max_idle_seconds!r}")
        if max_idle_seconds < 0:
            raise ValueError(f"max_idle_seconds must be >= 0, got {max_idle_seconds!r}")
        now = _now()
        stale = [
            c for c, t in list(self._tenants.items()) if now - t.last_accessed >= max_idle_seconds
        ]
        for code in stale:
            self.cleanup_tenant(code)
        return len(stale)

    def start_auto_cleanup(self, max_idle_seconds: float, *, interval: float = 60.0) -> AutoCleanup:
        """Start a daemon thread cleaning idle tenants every ``interval`` s; ``.stop()`` it."""
        if interval <= 0:
            raise ValueError(f"interval must be > 0 seconds, got {interval!r}")
        return AutoCleanup(self, max_idle_seconds, interval)

    def clear(self) -> None:
        """Remove everything — tenants, models, owner names — and reset the counters."""
        with self._lock:
            owners: list[Any] = []
            for code in {**self._tenants, **self._owner_names}:
                owners.extend(self._cleanup_locked(code)[1])
            self._reset_counters()
        _release_data(owners)
        self._emit(Batch.of(RegistryEvent("cleared", None, None, None)))

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


def _warn_redefined(owner: Any, name: str) -> None:
    import warnings

    warnings.warn(
        f"model {name!r} of {type(owner).__name__} {owner.name!r} (tenant "
        f"{owner.tenant!r}) was redefined with a different definition; the old class "
        "left the registry",
        ModelRedefinedWarning,
        stacklevel=user_stacklevel(),
    )


#: The process-wide registry.
registry = ModelRegistry()
