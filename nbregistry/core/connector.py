"""The connector contract: what a DataSource expects of the storage behind its models.

A connector is the only thing a DataSource asks for rows, as an httpx client asks only
its transport. :class:`Connector` is a small, fully documented abstract base: every data
method the model classes' data access (``Model.create``, ``find``, ...) calls, with its
real signature. The core calls nothing else, and a connector never reads registry
internals: it learns about the registry only through :meth:`Connector.bind`, the public
attributes of model classes and owners, and :meth:`Connector.on_model_removed`.

Implementations are found by name through the entry-point group ``nbregistry.connectors``
(see :mod:`nbregistry.core.plugins`); the built-in ``"memory"`` connector is
:class:`nbregistry.data.memory.MemoryConnector`.
"""

from __future__ import annotations

import abc
import weakref
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

if TYPE_CHECKING:
    import pandas as pd

    from .model import Model, ModelDefinition

__all__ = ["Connector", "Fields", "Order", "UnavailableConnector", "Where"]

#: A LoopBack ``where`` filter: ``{"age": {"gt": 30}}``, ``{"or": [...]}``; None = all rows.
Where = Mapping[str, Any] | None
#: ``"age DESC"``, ``"age DESC, name"`` or a list of such terms; None = id order.
Order = str | Sequence[str] | None
#: ``["name", "age"]`` or ``{"secret": False}``; None = every property.
Fields = Sequence[str] | Mapping[str, bool] | None


class Connector(abc.ABC):
    """The storage of one DataSource's rows (DESIGN §12.2).

    ``Connector(settings)`` receives the DataSource's settings (a dict it may keep);
    the DataSource then calls :meth:`bind` with itself. ``cls`` arguments are model
    classes owned (or once owned, for App-taken models) by that DataSource; every data
    method raises ``ModelNotFoundError`` for a class that is no longer registered,
    ``FilterError`` for a malformed filter and ``ValidationError`` for rows that do not
    fit the model, leaving the stored rows unchanged.
    """

    #: The name the connector is registered under (``DataSource(name, ...)``).
    name: ClassVar[str] = "connector"
    #: Names of settings that are secrets (passwords): never shown in a repr, an error,
    #: a log, a DataFrame, a widget or a store.
    secret_settings: ClassVar[frozenset[str]] = frozenset({"password"})

    def __init__(self, settings: dict[str, Any]) -> None:
        self.settings = settings
        self._bound: weakref.ref[Any] | None = None

    @classmethod
    def peer_settings(cls, settings: dict[str, Any]) -> dict[str, Any]:
        """Return the settings another process creates this DataSource with (``sync()``).

        The default is the stored settings themselves (credentials come from the
        environment, never from the store). The memory connector drops ``file=``/``path=``:
        one writer per file, so another process never opens it.
        """
        return dict(settings)

    # lifecycle -------------------------------------------------------------------

    def bind(self, data_source: Any) -> None:
        """Remember the owning DataSource (weakly: it holds this connector)."""
        self._bound = weakref.ref(data_source)

    @property
    def data_source(self) -> Any:
        """Return the owning DataSource, or None (unbound, or no longer alive)."""
        return None if self._bound is None else self._bound()

    def check_names(self, definition: ModelDefinition) -> None:  # noqa: B027 (optional hook)
        """Check a definition against the backend's name limits; DefinitionError if over.

        Called by ``define`` before anything is registered. The default accepts every
        name (the memory connector has no limits).
        """

    @abc.abstractmethod
    def release(self) -> None:
        """Release what this DataSource holds (rows in memory, connections); idempotent."""

    @abc.abstractmethod
    def on_model_removed(self, cls: type[Model]) -> None:
        """Forget a model class that left the registry (delete, disconnect, cleanup).

        The registry calls it once per removed class, after its indexes are updated,
        outside its lock. A class replaced by a redefinition is removed too; the owner's
        view (``owner.models``) then already holds the new class.
        """

    # data ------------------------------------------------------------------------

    @abc.abstractmethod
    def create(self, cls: type[Model], rows: list[Mapping[str, Any]], *, bulk: bool) -> list[Model]:
        """Validate and store ``rows`` (all or none); return copies as instances.

        ``bulk`` says the caller passed a list (its errors name each row's index).
        """

    @abc.abstractmethod
    def find(
        self,
        cls: type[Model],
        where: Where = None,
        order: Order = None,
        limit: int | None = None,
        skip: int | None = None,
        fields: Fields = None,
        *,
        offset: int | None = None,
    ) -> list[Model]:
        """Return copies of the matching rows, ordered, paged and projected.

        Without ``order`` rows come in id order; ``offset`` is an alias of ``skip`` (the
        data access passes it only when the caller gave it; both given and different:
        FilterError); ``limit=0`` returns no rows.
        """

    @abc.abstractmethod
    def find_by_id(self, cls: type[Model], id_value: Any) -> Model | None:
        """Return a copy of the row with that id, or None (an id of the wrong type: None)."""

    @abc.abstractmethod
    def count(self, cls: type[Model], where: Where = None) -> int:
        """Return how many rows match ``where``."""

    @abc.abstractmethod
    def update_all(self, cls: type[Model], where: Where, data: Mapping[str, Any]) -> int:
        """Set ``data`` on every matching row (all or nothing); return how many."""

    @abc.abstractmethod
    def destroy_all(self, cls: type[Model], where: Where = None) -> int:
        """Delete the matching rows; return how many."""

    @abc.abstractmethod
    def save(self, inst: Model) -> None:
        """Insert ``inst`` (giving it an id) or replace the row with its id."""

    @abc.abstractmethod
    def delete(self, inst: Model) -> bool:
        """Delete the row with ``inst``'s id; return True if one was deleted."""

    @abc.abstractmethod
    def to_frame(
        self,
        cls: type[Model],
        where: Where = None,
        order: Order = None,
        limit: int | None = None,
        skip: int | None = None,
        fields: Fields = None,
        *,
        offset: int | None = None,
    ) -> pd.DataFrame:
        """Return the matching rows as a DataFrame (ids as the index, typed columns).

        ``offset`` as in :meth:`find`; date columns are ``datetime64[ns, UTC]``.
        """

    # database schema (SQL connectors; DESIGN §12.2) -----------------------------------
    #
    # Decision: these are optional. ``ping`` of a connector without a server is True (an
    # embedded store is always reachable); the schema methods of a connector without a
    # database schema (the memory connector) raise TypeError naming the connector, since
    # there are no tables to migrate or discover.

    def ping(self) -> bool:
        """Check that the backend answers; return True. DataSourceConnectionError if not."""
        return True

    def _no_schema(self, what: str) -> TypeError:
        return TypeError(
            f"connector {self.name!r} has no database schema, so {what} does not apply; "
            "use DataSource('sqlite', file=...) or DataSource('postgresql', url=...)"
        )

    def automigrate(self, models: Sequence[type[Model]]) -> None:
        """Drop and recreate the tables of ``models`` (their rows are lost); TypeError here."""
        raise self._no_schema("automigrate()")

    def autoupdate(self, models: Sequence[type[Model]]) -> None:
        """Create missing tables, columns and indexes of ``models``; TypeError here."""
        raise self._no_schema("autoupdate()")

    def is_actual(self, models: Sequence[type[Model]]) -> bool:
        """Return True when the tables of ``models`` fit their definitions; TypeError here."""
        raise self._no_schema("is_actual()")

    def discover_model_definitions(self, schema: str | None = None) -> list[dict[str, Any]]:
        """Return ``[{"name", "type": "table"|"view", "schema"}]``; TypeError here."""
        raise self._no_schema("discover_model_definitions()")

    def discover_schema(self, table: str, schema: str | None = None) -> dict[str, Any]:
        """Return a property spec ``define`` accepts for an existing table; TypeError here."""
        raise self._no_schema("discover_schema()")

    # display ---------------------------------------------------------------------

    def public_settings(self) -> dict[str, Any]:
        """Return the settings without secrets (safe to show or store)."""
        return {k: v for k, v in self.settings.items() if k not in self.secret_settings}

    def describe(self) -> dict[str, str]:
        """Return what displays show of the backend: ``{"connector": name, ...}``, no secret.

        The browser and ``%registry`` show it. Keys beyond ``connector`` are the
        connector's own; the built-in ones use ``database`` (a file or a database name),
        ``schema``, ``host`` and ``user``. Values are str. The default names the connector.
        """
        return {"connector": self.name}

    def record_counts(self, models: Sequence[type[Model]]) -> dict[str, int]:
        """Return ``{model name: rows}`` of ``models``, for displays (one count per model).

        Never reads a row and never creates a table: a missing table counts 0. Raises
        the connector's errors (DataSourceConnectionError, ModelNotFoundError); the
        default asks :meth:`count` once per model.
        """
        return {cls.model_name: self.count(cls) for cls in models}

    def redact(self, text: str) -> str:
        """Return ``text`` with every secret of this connector replaced by ``***``.

        The displays pass error messages through it before showing them. The default
        removes the values of :attr:`secret_settings` still present in ``settings``.
        """
        for key in self.secret_settings:
            value = self.settings.get(key)
            if isinstance(value, str) and value:
                text = text.replace(value, "***")
        return text

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r}>"


class UnavailableConnector(Connector):
    """The connector of a synced DataSource whose own connector cannot be created here.

    ``sync()`` re-creates a shared DataSource from its stored connector name and
    settings; when that fails (a missing package, an unreachable path) the DataSource
    still arrives with its models, and every data access raises
    DataSourceConnectionError saying why and how to fix it.
    """

    name: ClassVar[str] = "unavailable"

    def __init__(self, connector: str, settings: dict[str, Any], reason: str) -> None:
        super().__init__(settings)
        self.connector_name = connector
        self.reason = reason

    def public_settings(self) -> dict[str, Any]:
        """Return the stored (already secret-free) settings."""
        return dict(self.settings)

    def _fail(self, *_: Any, **__: Any) -> Any:
        from .errors import DataSourceConnectionError

        ds = self.data_source
        who = (
            f"DataSource {ds.name!r} (tenant {ds.tenant!r})"
            if ds is not None
            else "this DataSource"
        )
        raise DataSourceConnectionError(
            f"{who} came from the shared store, but its connector {self.connector_name!r} "
            f"cannot be created in this process: {self.reason}; install what it needs or "
            "make its settings valid here, then reconnect the store"
        )

    def release(self) -> None:
        """Release nothing (nothing was opened)."""

    def on_model_removed(self, cls: type[Model]) -> None:
        """Forget nothing (no rows are held)."""

    create = find = find_by_id = count = update_all = destroy_all = _fail
    save = delete = to_frame = ping = _fail

    def __repr__(self) -> str:
        return f"<UnavailableConnector {self.connector_name!r}: {self.reason}>"
