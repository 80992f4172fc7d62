"""``DataSource``: an owner whose models have rows, kept by its connector."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar

from . import plugins
from .builder import ModelBuilder
from .connector import Connector
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
        object.__setattr__(self, "_name_prefix", connector if isinstance(connector, str) else "ds")
        self._init_owner(name, tenant, registry)
        object.__setattr__(self, "settings", dict(settings))
        object.__setattr__(self, "connector", conn)
        object.__setattr__(self, "model_builder", ModelBuilder._bound(self))
        conn.bind(self)

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

    def release_data(self) -> None:
        """Release this DataSource's rows and connections (its connector's ``release``)."""
        self.connector.release()
