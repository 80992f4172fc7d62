"""Pickling of model classes and instances by reference (DESIGN §12.6).

A model class is built at run time, so pickle cannot find it by module and name. Its
metaclass :class:`~nbregistry.core.model.ModelType` gets a ``copyreg`` reducer instead,
which pickle consults before pickling a class by name: a named model pickles as
``(tenant, owner name, model name, fingerprint)``, an anonymous one as ``(tenant,
fingerprint, strict)``. An instance needs nothing of its own: pickle's default reduction
of an instance is ``(its class, its __dict__)``, and its class goes through the reducer.

Unpickling resolves the reference in the process-wide registry (``nbregistry.registry``),
so in a worker process ``type(instance) is registry.get_model(...)`` holds when the
worker defined the same model (by importing the module that defines it). A reference
that does not resolve, or resolves to a class with another fingerprint, raises
``pickle.UnpicklingError`` saying which model and how to make it available.
"""

from __future__ import annotations

import copyreg
import pickle
from typing import Any

from . import registry as _registry_module
from .meta import owner_of
from .model import Model, ModelType

__all__ = ["model_class", "model_reference", "reduce_model_class"]

_FIX = (
    "define it in this process before unpickling (e.g. import the module that defines "
    "it, or run a pool initializer that does), with the same definition"
)


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


def model_class(kind: str, tenant: Any, *rest: Any) -> type[Model]:
    """Return the class a pickled reference names in the process-wide registry.

    Raises pickle.UnpicklingError naming the model when it is not defined here or has
    another fingerprint.
    """
    reg = _registry_module.registry
    if kind == "anonymous":
        fingerprint, strict = rest
        treg = reg._tenants.get(tenant)
        cls = None if treg is None else treg.by_structure.get((fingerprint, strict))
        if cls is None:
            raise pickle.UnpicklingError(
                f"cannot unpickle the anonymous embedded model of fingerprint {fingerprint} "
                f"(strict={strict}) of tenant {tenant!r}: this process's registry "
                "(nbregistry.registry) has no such structure; define the model embedding it "
                "in this process before unpickling, with the same definition"
            )
        return cls
    if kind != "named":
        raise pickle.UnpicklingError(f"unknown model reference kind {kind!r} in a pickle")
    owner_name, name, fingerprint = rest
    what = f"model {name!r} of owner {owner_name!r} (tenant {tenant!r})"
    treg = reg._tenants.get(tenant)
    if owner_name is None:
        cls = None if treg is None else treg.ownerless.get(name)
    else:
        names = reg._owner_names.get(tenant)
        owner = None if names is None else names.get(owner_name)
        if owner is None:
            raise pickle.UnpicklingError(
                f"cannot unpickle {what}: this process's registry (nbregistry.registry) has "
                f"no owner named {owner_name!r} in tenant {tenant!r}; {_FIX}"
            )
        cls = owner._index.get(name)
    if cls is None:
        raise pickle.UnpicklingError(
            f"cannot unpickle {what}: it is not defined in this process's registry "
            f"(nbregistry.registry); {_FIX}"
        )
    have = cls.definition.fingerprint
    if have != fingerprint:
        raise pickle.UnpicklingError(
            f"cannot unpickle {what}: it was pickled with fingerprint {fingerprint}, but here "
            f"it has fingerprint {have} (another definition); define the same definition "
            "here, or pickle it again from the current one"
        )
    return cls


# ModelType → its reducer: pickle looks the type of a class up here before pickling the
# class by module and name (which a model class cannot be found by).
copyreg.pickle(ModelType, reduce_model_class)
