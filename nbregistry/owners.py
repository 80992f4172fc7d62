"""Owners: ``DataSource``, ``App`` (and the shared base of ``ModelBuilder``).

An owner belongs to one tenant and one registry, fixed at creation. Its models live in
that tenant's registry; ``owner.models`` is a live :class:`~nbregistry.ModelsView` over
the name index the registry keeps for it.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar

from .views import ModelsView

if TYPE_CHECKING:
    from .builder import ModelBuilder
    from .model import Model
    from .registry import ModelRegistry

__all__ = ["App", "DataSource"]


def _registry_arg(registry: ModelRegistry | None) -> ModelRegistry:
    from .registry import ModelRegistry, _default_registry

    if registry is None:
        return _default_registry()
    if not isinstance(registry, ModelRegistry):
        raise TypeError(f"registry must be a ModelRegistry, got {registry!r:.80}")
    return registry


class _Owner:
    """Common state of every owner: name, tenant, registry and the live ``models`` view."""

    owner_type: ClassVar[str] = ""
    _name_prefix: ClassVar[str] = "owner"
    _FIXED = frozenset({"name", "tenant", "owner_type", "_registry", "_index"})

    name: str
    tenant: str
    models: ModelsView
    _registry: ModelRegistry
    _index: dict[str, type[Model]]

    def _init_owner(
        self, name: str | None, tenant: str | None, registry: ModelRegistry | None
    ) -> None:
        reg = _registry_arg(registry)
        code = reg._tenant_of(tenant)
        # The owner's name index {model name → class}: kept by the registry, and the
        # very ``__dict__`` of ``self.models`` (a view, not a second store).
        index: dict[str, type[Model]] = {}
        object.__setattr__(self, "_registry", reg)
        object.__setattr__(self, "tenant", code)
        object.__setattr__(self, "_index", index)
        # Plain instance attribute (not a property): ``ds.models`` stays a C-level lookup.
        object.__setattr__(self, "models", ModelsView(self, index))
        object.__setattr__(self, "name", "")
        object.__setattr__(self, "name", reg._claim_owner_name(self, name, self._name_prefix))

    def __setattr__(self, key: str, value: Any) -> None:
        if key == "models":
            self._set_models(value)
            return
        if key in self._FIXED:
            raise AttributeError(
                f"{key!r} of {type(self).__name__} {self.name!r} is fixed at creation; "
                "create a new owner instead"
            )
        object.__setattr__(self, key, value)

    def _set_models(self, models: Any) -> None:
        """Implement the deprecated ``owner.models = {...}`` setter (additive, all-or-nothing)."""
        from .registry import _warn_redefined, user_stacklevel

        warnings.warn(
            f"{type(self).__name__}.models setter is deprecated; models are managed by the "
            "registry (use attach() or owner.models[name] = cls)",
            DeprecationWarning,
            stacklevel=user_stacklevel(),
        )
        if isinstance(models, ModelsView) and models is self.models:
            return
        if not isinstance(models, Mapping):
            raise TypeError(
                f"{type(self).__name__}.models can only be assigned a mapping of "
                f"name → Model class, got {models!r:.80}"
            )
        items = list(models.items())
        reg = self._registry
        # All-or-nothing: every entry is checked (and every redefinition warned about)
        # before the first one is attached.
        for key, value in items:
            try:
                reg._check_attachable(self, value)
            except (TypeError, ValueError) as exc:
                raise type(exc)(f"{exc} (entry {key!r}; nothing was attached)") from None
            if key != value.model_name:
                raise ValueError(
                    f"key {key!r} does not match the model's name {value.model_name!r}; "
                    "nothing was attached"
                )
        for _, value in items:
            existing = self._index.get(value.model_name)
            if existing is not None and existing is not value:
                _warn_redefined(self, value.model_name)
        with reg._lock:
            for _, value in items:
                reg._attach(self, value, warn=False)

    @property
    def registry(self) -> ModelRegistry:
        """Return the registry this owner belongs to."""
        return self._registry

    def delete_model(self, name: str) -> None:
        """Remove the model ``name`` from the registry; ModelNotFoundError if absent."""
        self._registry._delete(self, name)

    def __repr__(self) -> str:
        return (
            f"<{type(self).__name__} {self.name!r} tenant={self.tenant!r}: "
            f"{len(self._index)} models>"
        )

    def _repr_html_(self) -> str:
        from .display import owner_html

        return owner_html(self)


class DataSource(_Owner):
    """A data source: owns models and (for ``"memory"``) stores their rows.

    ``DataSource(connector="memory", *, name=None, tenant=None, registry=None, **settings)``.
    Two DataSources with identical settings are still two owners. Raises TenantError,
    TypeError/ValueError for a bad name, ValueError for an unknown connector.
    """

    owner_type: ClassVar[str] = "dataSource"
    _FIXED = _Owner._FIXED | {"connector", "settings", "model_builder"}

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
        from .builder import ModelBuilder
        from .connectors import create_connector

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
        return self._registry._attach(self, model_class)

    def disconnect(self) -> int:
        """Remove all of this DataSource's models and rows; return how many models. Idempotent."""
        n = self._registry._disconnect(self)
        self._release_data()
        return n

    def _release_data(self) -> None:
        self.connector.release()


class App(_Owner):
    """An application owner: ``app.model(cls)`` takes ownership of a model.

    The model leaves its DataSource's view and appears in ``app.models``; it keeps
    ``data_source`` for persistence.
    """

    owner_type: ClassVar[str] = "app"
    _name_prefix: ClassVar[str] = "app"

    def __init__(
        self,
        name: str | None = None,
        *,
        tenant: str | None = None,
        registry: ModelRegistry | None = None,
    ) -> None:
        self._init_owner(name, tenant, registry)

    def model(self, model_class: type[Model]) -> type[Model]:
        """Give this app ownership of ``model_class`` and return it; TypeError / ValueError."""
        return self._registry._attach(self, model_class, as_app=True)
