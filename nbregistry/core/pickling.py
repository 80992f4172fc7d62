"""Pickling of model classes and instances by reference (DESIGN §12.6).

**The reference.** A model class is built at run time, so another process cannot
import it. Its metaclass :class:`~nbregistry.core.model.ModelType` gets a ``copyreg``
reducer instead (registered below), which pickles a named model as ``(tenant, owner
name, model name, fingerprint)`` and an anonymous one as ``(tenant, fingerprint,
strict)``. An instance needs nothing of its own: pickle's default reduction of an
instance is ``(its class, its __dict__)``, and its class goes through the reducer.

**The address, and why cloudpickle needs it.** ``pickle`` consults the ``copyreg``
dispatch table before pickling any class by module and name, so plain ``pickle``,
``multiprocessing`` (spawn, forkserver) and ``ProcessPoolExecutor`` use the reducer
directly. cloudpickle (joblib's default loky backend) first runs its
``reducer_override`` on every class: it looks ``cls.__module__`` up in ``sys.modules``,
walks ``cls.__qualname__`` there with ``getattr``, and unless that yields the very
class it pickles the class *by value* — a copy in the worker, not the registered class.
When the walk succeeds it hands the class back to the pickler, which then finds our
reducer. So every model class has a real address: ``__module__`` is
:mod:`nbregistry.models`, a real module whose PEP 562 ``__getattr__`` resolves
``<tenant>.<owner>.<Model>`` in the process-wide registry (the namespace classes
below), and ``__qualname__`` is that path (:func:`~nbregistry.core.meta.model_address`,
kept current when a model moves to another owner). ``repr(cls)`` therefore reads
``<class 'nbregistry.models.acme.crm.User'>``. The owner segment of an anonymous model
is ``<anonymous>`` (of a named one without owner ``<ownerless>``); a segment that
cannot stand as one dotted name is percent-encoded (tenant ``acme.eu`` →
``acme%2Eeu``). Only the pickling process walks the address; the worker resolves the
reference. A class that is *not* the one the process-wide registry holds at its address
(a private ``ModelRegistry``'s, or one redefined or deleted since) would make cloudpickle
fall back to by-value, which its record refuses with a ``pickle.PicklingError`` naming
it (:class:`~nbregistry.core.meta.ModelRecord`); plain pickle still pickles it as a
reference, which the other process resolves or rejects as below.

**Resolving a reference** (:func:`model_class`), in the process-wide registry
``nbregistry.registry``: a named model by (tenant, owner *name*, model name), then its
fingerprint must match; an anonymous one by (tenant, fingerprint, strict). Owner names
are compared as strings, so an owner with an explicit name (``name="crm"``) resolves in
any process that created an owner of that name. An automatic name (``memory-1``) is
numbered per process in creation order: it resolves only where an owner got (or was
given, ``name="memory-1"``) the same name — give owners that pickled models cross
processes an explicit name. On a miss the registry is refreshed once and the lookup
retried (:func:`_refresh`: ``sync()`` with a store connected; connecting to
``$NBREGISTRY_STORE`` when it is set and none is). A reference that still does not
resolve, or resolves to a class of another fingerprint, raises
``pickle.UnpicklingError`` saying which model and how to make it available.
"""

from __future__ import annotations

import copyreg
import os
import pickle
from typing import Any

from . import registry as _registry_module
from .meta import ANONYMOUS_SEGMENT, OWNERLESS_SEGMENT, address_segment, owner_of
from .model import Model, ModelType
from .tenancy import validate_tenant

__all__ = [
    "OwnerModels",
    "TenantModels",
    "model_class",
    "model_reference",
    "reduce_model_class",
    "tenant_models",
    "tenant_names",
]

_FIX = (
    "define it in this process before unpickling (e.g. import the module that defines "
    "it, or run a pool initializer that does), with the same definition, or connect a "
    "shared store that holds it ($NBREGISTRY_STORE)"
)


# --- pickling -------------------------------------------------------------------------


def model_reference(cls: type[Model]) -> tuple[Any, ...]:
    """Return the reference a model class pickles as: ``("named", tenant, owner, name, fp)``
    or ``("anonymous", tenant, fp, strict)``."""
    definition = cls.definition
    if cls.anonymous:
        return ("anonymous", cls.tenant, definition.fingerprint, definition.strict)
    owner = owner_of(cls)
    owner_name = None if owner is None else owner.name
    return ("named", cls.tenant, owner_name, cls.model_name, definition.fingerprint)


def reduce_model_class(cls: ModelType) -> Any:
    """Reduce a model class to ``(model_class, reference)``; a hand-written one by name."""
    if "definition" not in vars(cls) or "_nbr_meta" not in vars(cls):
        return cls.__qualname__  # ``Model`` itself or a subclass in a real module
    return model_class, model_reference(cls)  # type: ignore[arg-type]


# --- unpickling -----------------------------------------------------------------------


def _refresh(reg: Any) -> bool:
    """Bring ``reg`` up to date with its shared store; return True if a retry may help.

    With a store connected, ``reg.sync()``; with none but ``$NBREGISTRY_STORE`` set,
    ``reg.connect_store(url)`` (a worker connects by itself, DESIGN §12.6); else False.
    Raises what ``sync``/``connect_store`` raise (StoreError, ConflictError).
    """
    # Only the no-store path is tested here; the store paths are tested with the store.
    store = getattr(reg, "store", None)
    if store is not None:
        reg.sync()
        return True
    url = os.environ.get("NBREGISTRY_STORE")
    if url:
        reg.connect_store(url)
        return True
    return False


def _tenant_registry(reg: Any, tenant: Any) -> Any:
    try:
        return reg.tenant_registry(tenant)
    except (TypeError, ValueError) as exc:  # TenantError: a corrupt or foreign pickle
        raise pickle.UnpicklingError(f"bad tenant {tenant!r} in a model reference: {exc}") from None


def _lookup(reg: Any, kind: str, tenant: Any, rest: tuple[Any, ...]) -> tuple[Any, str]:
    """Return ``(class, "")`` for a reference, or ``(None, why)`` when it does not resolve."""
    treg = _tenant_registry(reg, tenant)
    if kind == "anonymous":
        fingerprint, strict = rest
        cls = None if treg is None else treg.by_structure.get((fingerprint, strict))
        if cls is None:
            return None, (
                f"cannot unpickle the anonymous embedded model of fingerprint {fingerprint} "
                f"(strict={strict}) of tenant {tenant!r}: this process's registry "
                "(nbregistry.registry) has no such structure; define the model embedding it "
                "in this process before unpickling, with the same definition"
            )
        return cls, ""
    owner_name, name, fingerprint = rest
    what = f"model {name!r} of owner {owner_name!r} (tenant {tenant!r})"
    if owner_name is None:
        cls = None if treg is None else treg.ownerless.get(name)
    else:
        owner = reg.owner_by_name(owner_name, tenant=tenant)
        if owner is None:
            return None, (
                f"cannot unpickle {what}: this process's registry (nbregistry.registry) has "
                f"no owner named {owner_name!r} in tenant {tenant!r}; {_FIX}"
            )
        cls = reg.get_model_for_owner(owner, name)
    if cls is None:
        return None, (
            f"cannot unpickle {what}: it is not defined in this process's registry "
            f"(nbregistry.registry); {_FIX}"
        )
    have = cls.definition.fingerprint
    if have != fingerprint:
        return None, (
            f"cannot unpickle {what}: it was pickled with fingerprint {fingerprint}, but here "
            f"it has fingerprint {have} (another definition); define the same definition "
            "here, or pickle it again from the current one"
        )
    return cls, ""


def model_class(kind: str, tenant: Any, *rest: Any) -> type[Model]:
    """Return the class a pickled reference names in the process-wide registry.

    On a miss, refreshes the registry from its shared store once and retries. Raises
    pickle.UnpicklingError naming the model when it is not defined here or has another
    fingerprint.
    """
    if kind not in ("named", "anonymous"):
        raise pickle.UnpicklingError(f"unknown model reference kind {kind!r} in a pickle")
    reg = _registry_module.registry
    cls, why = _lookup(reg, kind, tenant, rest)
    if cls is None and _refresh(reg):
        cls, why = _lookup(reg, kind, tenant, rest)
    if cls is None:
        raise pickle.UnpicklingError(why)
    return cls  # type: ignore[no-any-return]


# ModelType → its reducer: pickle looks the type of a class up here before pickling the
# class by module and name (which a model class cannot be found by in another process).
copyreg.pickle(ModelType, reduce_model_class)


# --- the address namespace (nbregistry.models) ----------------------------------------


def _unquote(segment: str) -> str:
    from urllib.parse import unquote  # at first use: kept off `import nbregistry`

    return unquote(segment)


def _slot(obj: object, name: str) -> Any:
    # A slot read that never falls back to ``__getattr__`` (no recursion on a half-built
    # object, e.g. inside copy or pickle).
    try:
        return object.__getattribute__(obj, name)
    except AttributeError:
        raise AttributeError(name) from None


class TenantModels:
    """``nbregistry.models.<tenant>``: the owners of one tenant of the process-wide registry.

    Attributes are owner names (and ``<anonymous>`` / ``<ownerless>``), each an
    :class:`OwnerModels`; AttributeError for an owner that does not exist.
    """

    __slots__ = ("tenant",)

    def __init__(self, tenant: str) -> None:
        self.tenant = tenant

    def __getattr__(self, segment: str) -> OwnerModels:
        tenant = _slot(self, "tenant")
        if segment in (ANONYMOUS_SEGMENT, OWNERLESS_SEGMENT):
            return OwnerModels(tenant, segment, None)
        name = _unquote(segment)
        if _registry_module.registry.owner_by_name(name, tenant=tenant) is None:
            raise AttributeError(
                f"tenant {tenant!r} of nbregistry.registry has no owner named {name!r}"
            )
        return OwnerModels(tenant, segment, name)

    def __dir__(self) -> list[str]:
        reg = _registry_module.registry
        out = {address_segment(o.name) for o in reg.owners(tenant=self.tenant)}
        treg = reg.tenant_registry(self.tenant)
        if treg is not None and treg.anonymous:
            out.add(ANONYMOUS_SEGMENT)
        if treg is not None and treg.ownerless:
            out.add(OWNERLESS_SEGMENT)
        return sorted(out)

    def __repr__(self) -> str:
        return f"<nbregistry.models namespace of tenant {self.tenant!r}>"


class OwnerModels:
    """``nbregistry.models.<tenant>.<owner>``: the model classes one owner holds.

    Attributes are model names; AttributeError for a model the owner does not hold.
    """

    __slots__ = ("owner_name", "segment", "tenant")

    def __init__(self, tenant: str, segment: str, owner_name: str | None) -> None:
        self.tenant = tenant
        self.segment = segment
        self.owner_name = owner_name

    def _classes(self) -> dict[str, type[Model]]:
        reg = _registry_module.registry
        treg = reg.tenant_registry(self.tenant)
        if self.segment == ANONYMOUS_SEGMENT:
            return {} if treg is None else {c.model_name: c for c in treg.anonymous}
        if self.segment == OWNERLESS_SEGMENT:
            return {} if treg is None else dict(treg.ownerless)
        owner = reg.owner_by_name(self.owner_name, tenant=self.tenant)
        return {} if owner is None else {c.model_name: c for c in reg.models_for_owner(owner)}

    def __getattr__(self, name: str) -> type[Model]:
        tenant, owner_name = _slot(self, "tenant"), _slot(self, "owner_name")
        reg = _registry_module.registry
        cls: type[Model] | None
        if owner_name is None:  # anonymous / ownerless: O(1) through the name index
            treg = reg.tenant_registry(tenant)
            hit = None if treg is None else treg.by_name.get(name)
            cls = hit.get(None) if type(hit) is dict else hit
            if cls is not None and not (
                cls in treg.anonymous
                if _slot(self, "segment") == ANONYMOUS_SEGMENT
                else treg.ownerless.get(name) is cls
            ):
                cls = self._classes().get(name)  # a name shared with another kind: scan
        else:
            owner = reg.owner_by_name(owner_name, tenant=tenant)
            cls = None if owner is None else reg.get_model_for_owner(owner, name)
        if cls is None:
            raise AttributeError(
                f"{_slot(self, 'segment')} of tenant {tenant!r} holds no model named "
                f"{name!r} in nbregistry.registry"
            )
        return cls

    def __dir__(self) -> list[str]:
        return sorted(self._classes())

    def __repr__(self) -> str:
        return f"<nbregistry.models namespace of {self.segment} (tenant {self.tenant!r})>"


def tenant_models(segment: str) -> TenantModels:
    """Return ``nbregistry.models.<segment>`` (the module's ``__getattr__``).

    ``segment`` is a tenant code, percent-encoded as in an address (``acme%2Eeu``) or
    not. Raises AttributeError for a string that is not a tenant code.
    """
    code = _unquote(segment)
    try:
        return TenantModels(validate_tenant(code))
    except (TypeError, ValueError):
        raise AttributeError(
            f"module 'nbregistry.models' has no attribute {segment!r} (not a tenant code)"
        ) from None


def tenant_names() -> list[str]:
    """Return the address segments of the process-wide registry's tenants (``dir()``)."""
    return sorted(address_segment(code) for code in _registry_module.registry.tenants())
