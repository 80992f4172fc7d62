"""The one bookkeeping record per model class, and the only code that writes class state.

As Django keeps one ``_meta`` per model class instead of attributes scattered on it,
every model class carries one :class:`ModelRecord` (its ``_nbr_meta``): who owns it,
which registry holds it, when and in which order it was registered, and — for anonymous
embedded models — how many registered models use it. The record is mutable; the class is
not touched again after it is built, except through :func:`set_class_attrs`, which is
the one place that assigns the public class attributes (``tenant``, ``data_source``,
``app``) with ``type.__setattr__``.

Nothing outside ``nbregistry.core`` reads ``_nbr_meta``: use :func:`owner_of`,
:func:`registry_of` and :func:`registered_at` instead.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .model import Model, ModelType

if TYPE_CHECKING:
    from .model import ModelDefinition

__all__ = [
    "ModelRecord",
    "is_registered",
    "new_model_class",
    "owner_of",
    "record_of",
    "registered_at",
    "registry_of",
    "set_class_attrs",
]


class ModelRecord:
    """The registry's bookkeeping for one model class (see module docstring)."""

    __slots__ = ("owner", "registered_at", "registry", "seq", "users")

    def __init__(self, owner: Any, registry: Any) -> None:
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


_PUBLIC_ATTRS = frozenset({"tenant", "data_source", "app"})


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
        "__module__": "nbregistry.models",
        "__qualname__": name,
        "model_name": name,
        "definition": definition,
        "tenant": tenant,
        "anonymous": anonymous,
        "data_source": data_source,
        "app": None,
        "_nbr_meta": ModelRecord(owner, registry),
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
    """Assign public class attributes (``tenant``, ``data_source``, ``app``); KeyError else."""
    for key, value in attrs.items():
        if key not in _PUBLIC_ATTRS:
            raise KeyError(f"{key!r} is not a settable model class attribute")
        type.__setattr__(cls, key, value)


def is_registered(cls: type[Model]) -> bool:
    """Return True while a named model class is the one its owner's view holds."""
    rec = cls.__dict__.get("_nbr_meta")
    owner = None if rec is None else rec.owner
    return owner is not None and owner._index.get(cls.model_name) is cls
