"""The connector base class: what a DataSource expects of its storage."""

from __future__ import annotations

import weakref
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..model import Model

__all__ = ["Connector"]


class Connector:
    """Base connector: binds to one DataSource, releases its data on request.

    The data-access methods raise TypeError: a connector that stores rows overrides them.
    """

    name = "base"

    def __init__(self, settings: dict[str, Any]) -> None:
        self.settings = settings
        self._bound: Any = None

    def bind(self, data_source: Any) -> None:
        """Remember the owning DataSource (weakly: it holds this connector)."""
        self._bound = weakref.ref(data_source)

    @property
    def data_source(self) -> Any:
        """Return the owning DataSource, or None (unbound, or no longer alive)."""
        return None if self._bound is None else self._bound()

    def release(self) -> None:
        """Drop every stored row."""

    def _unsupported(self, what: str) -> TypeError:
        return TypeError(
            f"connector {self.name!r} stores no data, so {what} is not available; "
            "use DataSource('memory')"
        )

    def create(self, cls: type[Model], items: list[Any], *, bulk: bool = True) -> list[Model]:
        """Store rows; TypeError here (no storage)."""
        raise self._unsupported("create()")

    def find(self, cls: type[Model], *args: Any, **kwargs: Any) -> list[Model]:
        """Query rows; TypeError here (no storage)."""
        raise self._unsupported("find()")

    def find_by_id(self, cls: type[Model], id_value: Any) -> Model | None:
        """Fetch one row by id; TypeError here (no storage)."""
        raise self._unsupported("find_by_id()")

    def count(self, cls: type[Model], where: Any = None) -> int:
        """Count rows; TypeError here (no storage)."""
        raise self._unsupported("count()")

    def update_all(self, cls: type[Model], where: Any, data: Any) -> int:
        """Update rows; TypeError here (no storage)."""
        raise self._unsupported("update_all()")

    def destroy_all(self, cls: type[Model], where: Any = None) -> int:
        """Delete rows; TypeError here (no storage)."""
        raise self._unsupported("destroy_all()")

    def save(self, inst: Model) -> None:
        """Upsert one instance; TypeError here (no storage)."""
        raise self._unsupported("save()")

    def delete(self, inst: Model) -> bool:
        """Delete one instance; TypeError here (no storage)."""
        raise self._unsupported("delete()")

    def to_frame(self, cls: type[Model], *args: Any, **kwargs: Any) -> Any:
        """Build a DataFrame; TypeError here (no storage)."""
        raise self._unsupported("to_frame()")

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r}>"
