"""Connectors: the storage behind a DataSource. ``"memory"`` is built in."""

from __future__ import annotations

from typing import Any

__all__ = ["create_connector"]


class Connector:
    """Base connector: binds to one DataSource, releases its data on request."""

    name = "base"

    def __init__(self, settings: dict[str, Any]) -> None:
        self.settings = settings
        self.data_source: Any = None

    def bind(self, data_source: Any) -> None:
        """Remember the owning DataSource."""
        self.data_source = data_source

    def release(self) -> None:
        """Drop every stored row."""

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r}>"


class MemoryConnector(Connector):
    """The embedded in-memory store (data access arrives with the connector issue)."""

    name = "memory"


_CONNECTORS: dict[str, type[Connector]] = {"memory": MemoryConnector}


def create_connector(name: object, settings: dict[str, Any]) -> Connector:
    """Return a new connector for ``name``; ValueError naming the known ones if unknown."""
    if not isinstance(name, str):
        raise TypeError(f"connector must be a connector name (str), got {name!r}")
    cls = _CONNECTORS.get(name)
    if cls is None:
        raise ValueError(f"unknown connector {name!r}; available: {', '.join(sorted(_CONNECTORS))}")
    return cls(dict(settings))
