"""The one bookkeeping record per model class, and the only code that writes class state.

As Django keeps one ``_meta`` per model class instead of attributes scattered on it,
every model class carries one :class:`ModelRecord` (its ``_nbr_meta``): who owns it,
which registry holds it, when and in which order it was registered, and — for anonymous
embedded models — how many registered models use it. The record is mutable; the class is
not touched again after it is built, except through :func:`set_class_attrs`, which is
the one place that assigns the public class attributes (``tenant``, ``data_source``,
``app``) with ``type.__setattr__`` — and keeps the class's address current with them.

A model class's ``__module__`` is ``nbregistry.models``, a real module, and its
``__qualname__`` is its address there, ``<tenant>.<owner>.<Model>`` (see
:func:`model_address`), so ``repr(cls)`` reads ``<class
'nbregistry.models.acme.crm.User'>`` and ``nbregistry.models.acme.crm.User`` is the
class. Pickling relies on it (:mod:`nbregistry.core.pickling`).

Nothing outside ``nbregistry.core`` reads ``_nbr_meta``: use :func:`owner_of`,
:func:`registry_of` and :func:`registered_at` instead.
"""

from __future__ import annotations

import pickle
from typing import TYPE_CHECKING, Any

from .model import Model, ModelType

if TYPE_CHECKING:
    from .model import ModelDefinition

__all__ = [
    "ANONYMOUS_SEGMENT",
    "MODELS_MODULE",
    "OWNERLESS_SEGMENT",
    "ModelRecord",
    "address_segment",
    "is_registered",
    "model_address",
    "new_model_class",
    "owner_of",
    "record_of",
    "registered_at",
    "registry_of",
    "set_class_attrs",
]


class ModelRecord:
    """The registry's bookkeeping for one model class (see module docstring)."""

    __slots__ = ("name", "owner", "registered_at", "registry", "seq", "users")

    def __init__(self, owner: Any, registry: Any, name: str = "") -> None:
        # The model name (for error messages only).
        self.name = name
        # The owner object (DataSource, App or ModelBuilder) holding the class, or None
        # for anonymous and ownerless models. Strong: the owner's index holds the class
        # and the class its owner, which the registry breaks on removal.
        self.owner = owner
        # The ModelRegistry the class belongs to (None until first registered).
        self.registry = registry
        # Registration order (0 = never registered): sorts models in definition order.
        self.seq = 0
        # time.time() of the first registration.
        self.registered_at = 0.0
        # Anonymous models only: how many registered models of the same tenant embed it;
        # it leaves the registry with its last user.
        self.users = 0

    def __repr__(self) -> str:
        return (
            f"<ModelRecord owner={getattr(self.owner, 'name', None)!r} seq={self.seq} "
            f"users={self.users}>"
        )

    def __reduce__(self) -> Any:
        """Refuse to be pickled: only a model class *by value* would carry its record.

        Raises pickle.PicklingError naming the model. Pickle and cloudpickle pickle a
        model class by reference (:mod:`nbregistry.core.pickling`); cloudpickle falls back
        to pickling a class by value when it cannot find it at its address, which happens
        only for a class that is not the one ``nbregistry.registry`` holds there.
        """
        raise pickle.PicklingError(
            f"cannot pickle model class {self.name!r} by value: a model class pickles by "
            "reference, and only the class nbregistry.registry holds at its address "
            "(nbregistry.models.<tenant>.<owner>.<Model>) can be referenced — this one "
            "belongs to a private ModelRegistry, or was redefined, deleted or cleaned up "
            "since; pickle the current class (registry.get_model(...)) or its instances"
        )


_PUBLIC_ATTRS = frozenset({"tenant", "data_source", "app"})

# The real module model classes name as their ``__module__``; its attributes resolve
# addresses through the process-wide registry (nbregistry/models.py, core/pickling.py).
MODELS_MODULE = "nbregistry.models"
# The owner segment of an anonymous model's address, and of a named one without owner.
# An owner *named* like this is escaped (``%3C...``), so the segments never collide.
ANONYMOUS_SEGMENT = "<anonymous>"
OWNERLESS_SEGMENT = "<ownerless>"


def address_segment(text: str) -> str:
    """Return ``text`` as one segment of a model address (``urllib.parse.unquote`` inverts).

    Percent-encodes what cannot stand in one dotted segment: ``%`` itself, ``.`` and a
    leading ``<`` (reserved for the two segments above). Tenant codes and model names
    never contain ``%`` or ``<``, and owner names never contain ``.``.
    """
    text = text.replace("%", "%25").replace(".", "%2E")
    return "%3C" + text[1:] if text.startswith("<") else text


def model_address(name: str, tenant: Any, owner: Any, anonymous: bool) -> str:
    """Return a model class's ``__qualname__``: ``<tenant>.<owner>.<Model>``.

    The owner segment is the owner's name, :data:`ANONYMOUS_SEGMENT` for an anonymous
    model or :data:`OWNERLESS_SEGMENT` for a named one without owner; segments are
    percent-encoded where needed (a tenant ``acme.eu`` reads ``acme%2Eeu``).
    """
    if anonymous:
        middle = ANONYMOUS_SEGMENT
    elif owner is None:
        middle = OWNERLESS_SEGMENT
    else:
        middle = address_segment(str(owner.name))
    return f"{address_segment(str(tenant))}.{middle}.{name}"


def new_model_class(
    name: str,
    definition: ModelDefinition,
    *,
    tenant: str,
    anonymous: bool,
    owner: Any,
    registry: Any,
    data_source: Any = None,
) -> type[Model]:
    """Create the class object for a definition, with its record (not registered yet)."""
    ns = {
        "__module__": MODELS_MODULE,
        "__qualname__": model_address(name, tenant, owner, anonymous),
        # First in the class dict, so that a by-value pickle stops here with a clear error
        # (ModelRecord.__reduce__) before reaching the owner and its registry.
        "_nbr_meta": ModelRecord(owner, registry, name),
        "model_name": name,
        "definition": definition,
        "tenant": tenant,
        "anonymous": anonymous,
        "data_source": data_source,
        "app": None,
    }
    return ModelType(name, (Model,), ns)


def record_of(cls: type[Model]) -> ModelRecord:
    """Return the bookkeeping record of a model class; TypeError for a class without one."""
    rec = cls.__dict__.get("_nbr_meta")
    if rec is None:
        raise TypeError(f"{cls!r} is not a model class built by a builder")
    return rec


def owner_of(cls: type[Model]) -> Any:
    """Return the owner holding a model class (None for anonymous and ownerless ones)."""
    rec = cls.__dict__.get("_nbr_meta")
    return None if rec is None or cls.anonymous else rec.owner


def registry_of(cls: type[Model]) -> Any:
    """Return the ModelRegistry a model class belongs to, or None."""
    rec = cls.__dict__.get("_nbr_meta")
    return None if rec is None else rec.registry


def registered_at(cls: type[Model]) -> float:
    """Return the ``time.time()`` of a model's first registration (0.0 if never)."""
    rec = cls.__dict__.get("_nbr_meta")
    return 0.0 if rec is None else rec.registered_at


def set_class_attrs(cls: type[Model], **attrs: Any) -> None:
    """Assign public class attributes (``tenant``, ``data_source``, ``app``); KeyError else.

    Also brings the class's address (``__qualname__``) up to date with its tenant and
    its record's owner, which the registry sets before calling this.
    """
    for key, value in attrs.items():
        if key not in _PUBLIC_ATTRS:
            raise KeyError(f"{key!r} is not a settable model class attribute")
        type.__setattr__(cls, key, value)
    rec = cls.__dict__.get("_nbr_meta")
    address = model_address(
        cls.model_name, cls.tenant, None if rec is None else rec.owner, cls.anonymous
    )
    if cls.__qualname__ != address:
        type.__setattr__(cls, "__qualname__", address)


def is_registered(cls: type[Model]) -> bool:
    """Return True while a named model class is the one its owner's view holds."""
    rec = cls.__dict__.get("_nbr_meta")
    owner = None if rec is None else rec.owner
    return owner is not None and owner._index.get(cls.model_name) is cls
