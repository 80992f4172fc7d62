"""Models for the pickling tests, defined at import in the process-wide registry.

A worker process (spawn, forkserver, ProcessPoolExecutor, joblib's loky) imports this
module to find the functions below, and so defines the same models, as a user's own
module would. :func:`init_worker` is a pool initializer that defines one more model on an
owner named like the parent's automatically named one.
"""

from __future__ import annotations

import pickle
from typing import Any

from nbregistry import DataSource, Model, registry

TENANT = "pickletest"
AUTO_TENANT = "pickleauto"
ADDRESS = {"city": str, "zip": str}
POINT = {"x": int, "y": int, "note": {"text": str}}

# The one DataSource of this module; kept here so it lives as long as the process.
crm: DataSource | None = None
# Owners the initializer created (kept alive: an owner's name lives as long as it does).
_owners: list[DataSource] = []


def setup() -> dict[str, type[Model]]:
    """(Re)define the test models in the process-wide registry; return them by name."""
    global crm
    if crm is None:
        crm = DataSource("memory", name="crm", tenant=TENANT)
    user = crm.define("User", {"name": {"type": str, "required": True}, "address": dict(ADDRESS)})
    order = crm.define("Order", {"user": user, "lines": [{"sku": str, "qty": int}]})
    return {"User": user, "Order": order}


def init_worker(owner_name: str) -> None:
    """Pool initializer: define ``Point`` on an owner named ``owner_name`` (the parent's
    automatic name, e.g. ``memory-7``) in :data:`AUTO_TENANT`."""
    ds = DataSource("memory", name=owner_name, tenant=AUTO_TENANT)
    _owners.append(ds)
    ds.define("Point", POINT)


def _registered(cls: type[Model]) -> bool:
    """Return whether ``cls`` is the class this process's registry gives for its name."""
    if cls.anonymous:
        return cls is registry.find_model_by_structure(ADDRESS, tenant=TENANT)
    owner = cls.data_source
    assert owner is not None
    return cls is registry.get_model(f"{owner.name}.{cls.model_name}", tenant=cls.tenant)


def describe(obj: Any) -> dict[str, Any]:
    """Return, in a worker, whether ``obj``'s classes are this process's registered ones."""
    cls = type(obj)
    out: dict[str, Any] = {"data": obj.to_dict(), "is_registered_class": _registered(cls)}
    if cls.model_name == "User":
        embedded = [type(obj.address) is cls.definition.properties["address"].type]
    elif cls.model_name == "Order":
        line = cls.definition.properties["lines"].items.type
        embedded = [_registered(type(obj.user))] + [type(x) is line for x in obj.lines]
    elif cls.model_name == "Point":
        embedded = [type(obj.note) is cls.definition.properties["note"].type]
    else:  # the anonymous address on its own
        embedded = []
    out["embedded_is_registered"] = all(embedded)
    return out


def echo(obj: Any) -> Any:
    """Return ``obj`` as it arrived (it is pickled back to the parent)."""
    return obj


def classes() -> tuple[type[Model], type[Model]]:
    """Return this process's User and Order classes (pickled back by reference)."""
    return registry.get_model("crm.User", tenant=TENANT), registry.get_model(
        "crm.Order", tenant=TENANT
    )


def try_loads(data: bytes) -> str:
    """Unpickle ``data`` here; return ``"ok"`` or the error as ``"<type>: <message>"``."""
    try:
        pickle.loads(data)
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}"
    return "ok"


setup()


def describe_from_store(obj: Any) -> dict[str, Any]:
    """In a worker that defined nothing itself: the class came from $NBREGISTRY_STORE."""
    cls = type(obj)
    assert registry.store is not None  # unpickling connected this process by itself
    found = registry.get_model(f"{cls.data_source.name}.{cls.model_name}", tenant=cls.tenant)
    return {"data": obj.to_dict(), "is_registered_class": cls is found, "store": registry.store.url}
