"""``DataSource``: an owner whose models have rows, kept by its connector."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar

from . import plugins
from .builder import ModelBuilder
from .connector import Connector, UnavailableConnector
from .errors import DefinitionError
from .owners import Owner

if TYPE_CHECKING:
    from .model import Model
    from .registry import ModelRegistry

__all__ = ["DataSource", "create_connector"]


def create_connector(name: object, settings: dict[str, Any]) -> Connector:
    """Return a new connector for ``name``, found in the ``nbregistry.connectors`` group.

    Raises TypeError for a non-str name, ValueError naming the known connectors if
    unknown, and the connector's own errors for bad settings (PersistenceError for an
    unusable memory store file).
    """
    if not isinstance(name, str):
        raise TypeError(f"connector must be a connector name (str), got {name!r}")
    cls = plugins.load(plugins.CONNECTORS, name)
    return cls(dict(settings))


class DataSource(Owner):
    """A data source: owns models and (for ``"memory"``) stores their rows.

    ``DataSource(connector="memory", *, name=None, tenant=None, registry=None, **settings)``.
    Two DataSources with identical settings are still two owners. Raises TenantError,
    TypeError/ValueError for a bad name, ValueError for an unknown connector.
    """

    owner_type: ClassVar[str] = "dataSource"
    _FIXED = Owner._FIXED | {"connector", "settings", "model_builder"}

    connector: Any
    settings: dict[str, Any]
    model_builder: ModelBuilder

    def __init__(
        self,
        connector: str = "memory",
        *,
        name: str | None = None,
        tenant: str | None = None,
        registry: ModelRegistry | None = None,
        **settings: Any,
    ) -> None:
        conn = create_connector(connector, settings)
        self._setup(conn, connector, name, tenant, registry, conn.public_settings())

    def _setup(
        self,
        conn: Connector,
        connector: Any,
        name: str | None,
        tenant: str | None,
        registry: ModelRegistry | None,
        public: dict[str, Any],
    ) -> None:
        object.__setattr__(self, "_name_prefix", connector if isinstance(connector, str) else "ds")
        self._init_owner(name, tenant, registry)
        # Only the public settings: a secret (a password, a URL's password) stays inside the
        # connector and never shows in ds.settings, reprs, widgets or magics.
        object.__setattr__(self, "settings", public)
        object.__setattr__(self, "connector", conn)
        object.__setattr__(self, "model_builder", ModelBuilder._bound(self))
        conn.bind(self)
        self._registry.owner_created(self, explicit=name is not None)

    @classmethod
    def from_store(
        cls, registry: ModelRegistry, tenant: str, name: str, payload: Mapping[str, Any]
    ) -> DataSource:
        """Re-create a shared DataSource from its stored connector and settings (``sync()``).

        The connector gets ``peer_settings`` (the memory connector never opens another
        process's file). A connector that cannot be created here does not raise: the
        DataSource arrives with an UnavailableConnector whose data access says why.
        """
        connector = str(payload.get("connector"))
        settings = dict(payload.get("settings") or {})
        try:
            impl = plugins.load(plugins.CONNECTORS, connector)
            conn = impl(impl.peer_settings(dict(settings)))
        except Exception as exc:  # any failure: the models still arrive (DESIGN §12.5)
            conn = UnavailableConnector(connector, dict(settings), f"{type(exc).__name__}: {exc}")
        self = object.__new__(cls)
        self._setup(conn, connector, name, tenant, registry, dict(settings))
        return self

    def define(
        self,
        name: str,
        properties: Mapping[str, Any] | None = None,
        settings: Mapping[str, Any] | None = None,
    ) -> type[Model]:
        """Build and register a model owned by this DataSource (see ModelBuilder.define)."""
        return self.model_builder.define(name, properties, settings)

    def attach(self, model_class: type[Model]) -> type[Model]:
        """Make this DataSource the owner of ``model_class``; TypeError / ValueError."""
        return self._registry.attach(self, model_class)

    def disconnect(self) -> int:
        """Remove all of this DataSource's models and rows; return how many models. Idempotent."""
        n = self._registry.disconnect(self)
        self.release_data()
        return n

    # --- database schema (SQL connectors; memory: see Connector) -------------------------

    def _model_list(self, models: Any) -> list[type[Model]]:
        """Return the classes named by ``models`` (None: all of this DataSource's models)."""
        own = self.models
        if models is None:
            return [own[name] for name in own]
        if isinstance(models, (str, type)):
            models = [models]
        out: list[type[Model]] = []
        for m in models:
            if isinstance(m, str):
                cls = getattr(own, m, None)
                if cls is None:
                    from .errors import ModelNotFoundError

                    raise ModelNotFoundError(
                        f"DataSource {self.name!r} has no model {m!r}; its models: "
                        f"{', '.join(own) or 'none'}"
                    )
                out.append(cls)
            elif isinstance(m, type) and getattr(m, "data_source", None) is self:
                out.append(m)
            else:
                raise TypeError(
                    f"models must be model names or model classes of DataSource "
                    f"{self.name!r}, got {m!r:.80}"
                )
        return out

    def _writable(self, models: Any) -> list[type[Model]]:
        """Return the classes named by ``models``; None: all but the read-only ones."""
        found = self._model_list(models)
        if models is None:
            found = [c for c in found if not c.definition.settings.get("read_only", False)]
        return found

    def ping(self) -> bool:
        """Check the connection to the database; return True. DataSourceConnectionError."""
        return bool(self.connector.ping())

    def automigrate(self, models: Any = None) -> None:
        """Drop and recreate the tables of ``models`` (default all; rows are lost).

        Without ``models``, read-only models (views, tables without a primary key) are
        left alone; naming one is a SchemaError. Raises TypeError for a connector without
        a database schema (memory), ModelNotFoundError for an unknown name,
        DataSourceConnectionError.
        """
        self.connector.automigrate(self._writable(models))

    def autoupdate(self, models: Any = None) -> None:
        """Create missing tables and add missing columns/indexes; never drops data.

        Without ``models``, read-only models are left alone (naming one: SchemaError).
        Raises TypeError (memory connector), ModelNotFoundError, DataSourceConnectionError.
        """
        self.connector.autoupdate(self._writable(models))

    def is_actual(self, models: Any = None) -> bool:
        """Return True when every table of ``models`` exists and fits its definition.

        Raises TypeError (memory connector), ModelNotFoundError, DataSourceConnectionError.
        """
        return bool(self.connector.is_actual(self._model_list(models)))

    def discover_model_definitions(self, schema: str | None = None) -> list[dict[str, Any]]:
        """Return the tables and views: ``[{"name", "type", "schema"}]``; TypeError (memory)."""
        return self.connector.discover_model_definitions(schema)

    def discover_schema(self, table: str, schema: str | None = None) -> dict[str, Any]:
        """Return a property spec for an existing table that ``define`` accepts.

        Raises TypeError (memory connector), SchemaError for a missing table.
        """
        return self.connector.discover_schema(table, schema)

    def discover_and_define(
        self, tables: Any = None, schema: str | None = None
    ) -> dict[str, type[Model]]:
        """Define a model for each discovered table; return ``{model name: class}``.

        Model names are the PascalCase of table names (``order_items`` → ``OrderItems``),
        the real name kept in ``settings["table"]``; ``tables`` may also be a mapping
        ``{table: model name}`` to choose the names. Discovered models are strict (the
        table has no ``_extra`` column, so a column of that name is a property). A view
        or a table without a one-column primary key (no ``id`` in its spec) is defined
        with ``read_only=True``: reads work (rows ordered by every column when no
        ``order`` is given), writes raise SchemaError, and the table is never created,
        migrated or altered.

        All or nothing: every spec is checked before the first model is defined, so a
        failure defines none. Raises TypeError (memory connector, a bad ``tables``),
        SchemaError for a missing table, DefinitionError for a name that cannot be a
        model or for two tables that would get the same model name (naming both: pass
        ``tables={table: name}``).
        """
        if tables is None:
            tables = [d["name"] for d in self.discover_model_definitions(schema)]
        elif isinstance(tables, str):
            tables = [tables]
        if isinstance(tables, Mapping):
            chosen = dict(tables)
            for table, name in chosen.items():
                if not isinstance(name, str):
                    raise TypeError(
                        f"tables={{table: model name}} needs str model names, got {name!r} "
                        f"for table {table!r}"
                    )
        elif isinstance(tables, (list, tuple)):
            chosen = {t: _pascal(t) if isinstance(t, str) else t for t in tables}
        else:
            raise TypeError(
                "tables must be None, a table name, a list of table names or a mapping "
                f"{{table: model name}}, got {tables!r:.80}"
            )
        by_name: dict[str, str] = {}
        for table, name in chosen.items():
            if name in by_name:
                raise DefinitionError(
                    f"tables {by_name[name]!r} and {table!r} would both become model "
                    f"{name!r}; choose the names: ds.discover_and_define({{{by_name[name]!r}: "
                    f"{name!r}, {table!r}: {name + '2'!r}}}) (nothing was defined)"
                )
            by_name[name] = table
        plan: list[tuple[str, dict[str, Any], dict[str, Any]]] = []
        for table, name in chosen.items():
            spec = self.discover_schema(table, schema)  # TypeError, SchemaError
            settings: dict[str, Any] = {"table": table, "id_injection": False, "strict": True}
            if not any(isinstance(p, Mapping) and p.get("id") for p in spec.values()):
                settings["read_only"] = True
            if schema is not None:
                settings["schema"] = schema
            plan.append((name, spec, settings))
        self._check_definitions(plan)
        return {name: self.define(name, spec, settings) for name, spec, settings in plan}

    def _check_definitions(self, plan: list[tuple[str, dict[str, Any], dict[str, Any]]]) -> None:
        """Raise what ``define`` would raise for any of ``plan``, defining nothing here.

        Each definition is built in a scratch registry (names, specs, settings, indexes)
        and checked against this connector's name rules (``check_names``).
        """
        from .registry import ModelRegistry

        scratch = ModelRegistry()
        try:
            owner = DataSource("memory", registry=scratch, tenant=self.tenant, name="check")
            for name, spec, settings in plan:
                try:
                    cls = owner.define(name, spec, settings)
                    self.connector.check_names(cls.definition)
                except DefinitionError as exc:
                    raise DefinitionError(
                        f"table {settings['table']!r} cannot become model {name!r}: {exc} "
                        "(nothing was defined)",
                        path=exc.path,
                    ) from None
        finally:
            scratch.clear()

    def release_data(self) -> None:
        """Release this DataSource's rows and connections (its connector's ``release``)."""
        self.connector.release()


def _pascal(table: str) -> str:
    """Return the PascalCase model name of a table name: ``order_items`` → ``OrderItems``."""
    import re

    parts = [p for p in re.split(r"[^0-9A-Za-z]+", table) if p]
    name = "".join(p[:1].upper() + p[1:] for p in parts) or "Table"
    return name if not name[0].isdigit() else f"T{name}"
