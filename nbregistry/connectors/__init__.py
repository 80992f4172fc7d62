"""Connectors: the storage behind a DataSource. ``"memory"`` is built in.

``DataSource("memory")`` gets a :class:`MemoryConnector`: an embedded store with
LoopBack-style filters and optional JSON or SQLite persistence (``file=``/``path=``).
"""

from __future__ import annotations

from typing import Any

from .base import Connector
from .memory import MemoryConnector

__all__ = ["Connector", "MemoryConnector", "create_connector"]

_CONNECTORS: dict[str, type[Connector]] = {"memory": MemoryConnector}


def create_connector(name: object, settings: dict[str, Any]) -> Connector:
    """Return a new connector for ``name``.

    Raises TypeError for a non-str name, ValueError naming the known connectors if
    unknown, and the connector's own errors for bad settings (PersistenceError for an
    unusable memory store file).
    """
    if not isinstance(name, str):
        raise TypeError(f"connector must be a connector name (str), got {name!r}")
    cls = _CONNECTORS.get(name)
    if cls is None:
        raise ValueError(f"unknown connector {name!r}; available: {', '.join(sorted(_CONNECTORS))}")
    return cls(dict(settings))
