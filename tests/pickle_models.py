"""Models for the pickling tests, defined at import in the process-wide registry.

A worker process (spawn, forkserver, ProcessPoolExecutor) imports this module to find the
functions below, and so defines the same models, as a user's own module would.
"""

from __future__ import annotations

from typing import Any

from nbregistry import DataSource, Model, registry

TENANT = "pickletest"

# The one DataSource of this module; kept here so it lives as long as the process.
crm: DataSource | None = None


def setup() -> dict[str, type[Model]]:
    """(Re)define the test models in the process-wide registry; return them by name."""
    global crm
    if crm is None:
        crm = DataSource("memory", name="crm", tenant=TENANT)
    user = crm.define(
        "User",
        {"name": {"type": str, "required": True}, "address": {"city": str, "zip": str}},
    )
    order = crm.define("Order", {"user": user, "lines": [{"sku": str, "qty": int}]})
    return {"User": user, "Order": order}


def describe(obj: Any) -> dict[str, Any]:
    """Return, in a worker, whether ``obj``'s classes are this process's registered ones."""
    user = registry.get_model("crm.User", tenant=TENANT)
    order = registry.get_model("crm.Order", tenant=TENANT)
    out: dict[str, Any] = {"data": obj.to_dict()}
    if type(obj).model_name == "User":
        out["is_registered_class"] = type(obj) is user
        out["embedded_is_registered"] = (
            type(obj.address) is user.definition.properties["address"].type
        )
    else:
        out["is_registered_class"] = type(obj) is order
        out["embedded_is_registered"] = type(obj.user) is user and all(
            type(line) is order.definition.properties["lines"].items.type for line in obj.lines
        )
    return out


def echo(obj: Any) -> Any:
    """Return ``obj`` as it arrived (it is pickled back to the parent)."""
    return obj


def classes() -> tuple[type[Model], type[Model]]:
    """Return this process's User and Order classes (pickled back by reference)."""
    return registry.get_model("crm.User", tenant=TENANT), registry.get_model(
        "crm.Order", tenant=TENANT
    )


setup()
