"""Find connector and store implementations by name, without importing them upward.

The core never imports the layers above it. Implementations are registered under the
entry-point groups ``nbregistry.connectors`` (by connector name: ``"memory"``) and
``nbregistry.stores`` (by URL scheme: ``"sqlite"``), as SQLAlchemy finds third-party
dialects; nbregistry's own are registered in its ``pyproject.toml``. A source checkout
without installed metadata still finds the built-ins by their module path
(:data:`BUILTIN`), imported only when first used.
"""

from __future__ import annotations

import importlib
import threading
from typing import Any

__all__ = ["BUILTIN", "available", "load"]

CONNECTORS = "nbregistry.connectors"
STORES = "nbregistry.stores"

#: group → {name → "module:attribute"} for the implementations nbregistry ships.
BUILTIN: dict[str, dict[str, str]] = {
    CONNECTORS: {
        "memory": "nbregistry.data.memory:MemoryConnector",
        "sqlite": "nbregistry.data.sql:SQLiteConnector",
        "postgresql": "nbregistry.data.sql:PostgreSQLConnector",
    },
    STORES: {
        "sqlite": "nbregistry.store.sqlite:SQLiteStore",
        "postgresql": "nbregistry.store.postgresql:PostgreSQLStore",
    },
}

# group → {name → loaded object}: each entry point is imported once per process.
_loaded: dict[str, dict[str, Any]] = {CONNECTORS: {}, STORES: {}}
# group → {name → "module:attribute"} read from installed metadata (None until first use;
# reading entry points costs a scan of the installed distributions, so it is done once).
_declared: dict[str, dict[str, str]] = {}
_lock = threading.Lock()


def _entry_points(group: str) -> dict[str, str]:
    found = _declared.get(group)
    if found is None:
        from importlib.metadata import entry_points

        found = {ep.name: ep.value for ep in entry_points(group=group)}
        _declared[group] = found
    return found


def available(group: str) -> list[str]:
    """Return the sorted names registered in ``group`` (built-ins included)."""
    return sorted({**BUILTIN.get(group, {}), **_entry_points(group)})


def load(group: str, name: str) -> Any:
    """Return the implementation registered as ``name`` in ``group``.

    Raises ValueError naming the available ones when ``name`` is unknown, and
    ImportError (naming the package to install) when its module cannot be imported.
    """
    cache = _loaded.setdefault(group, {})
    hit = cache.get(name)
    if hit is not None:
        return hit
    with _lock:
        target = _entry_points(group).get(name) or BUILTIN.get(group, {}).get(name)
        if target is None:
            kind = "connector" if group == CONNECTORS else "store URL scheme"
            raise ValueError(f"unknown {kind} {name!r}; available: {', '.join(available(group))}")
        module_name, _, attr = target.partition(":")
        obj: Any = importlib.import_module(module_name)
        for part in attr.split(".") if attr else ():
            obj = getattr(obj, part)
        cache[name] = obj
        return obj
