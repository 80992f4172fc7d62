"""Owners: the shared base :class:`Owner` (of DataSource, App and ModelBuilder) and ``App``.

An owner belongs to one tenant and one registry, fixed at creation. Its models live in
that tenant's registry; ``owner.models`` is a live :class:`~nbregistry.ModelsView` over
the name index the registry keeps for it.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar

from . import registry as _registry_module
from .registry import ModelRegistry, user_stacklevel
from .views import ModelsView

if TYPE_CHECKING:
    from .model import Model

__all__ = ["App", "Owner"]


def _registry_arg(registry: ModelRegistry | None) -> ModelRegistry:
    if registry is None:
        return _registry_module.registry
    if not isinstance(registry, ModelRegistry):
        raise TypeError(f"registry must be a ModelRegistry, got {registry!r:.80}")
    return registry


class Owner:
    """Common state of every owner: name, tenant, registry and the live ``models`` view.

    ``_index`` is the owner's name index ``{model name → class}``: the registry keeps it
    (only nbregistry.core writes it) and it is the very ``__dict__`` of ``models``.
    Everything outside the core reads it through ``owner.models``.
    """

    owner_type: ClassVar[str] = ""
    _name_prefix: ClassVar[str] = "owner"
    _FIXED = frozenset({"name", "tenant", "owner_type", "_registry", "_index"})

    def __init_subclass__(cls, **kw: Any) -> None:
        super().__init_subclass__(**kw)
        if cls.owner_type:  # sync() re-creates shared owners of this type through it
            _registry_module.OWNER_TYPES[cls.owner_type] = cls

    @classmethod
    def from_store(
        cls, registry: ModelRegistry, tenant: str, name: str, payload: Mapping[str, Any]
    ) -> Owner:
        """Re-create a shared owner from its stored payload (``sync()`` calls this)."""
        return cls(name=name, tenant=tenant, registry=registry)  # type: ignore[call-arg]

    name: str
    tenant: str
    models: ModelsView
    _registry: ModelRegistry
    _index: dict[str, type[Model]]

    def _init_owner(
        self, name: str | None, tenant: str | None, registry: ModelRegistry | None
    ) -> None:
        reg = _registry_arg(registry)
        code = reg.tenant_of(tenant)
        # The owner's name index {model name → class}: kept by the registry, and the
        # very ``__dict__`` of ``self.models`` (a view, not a second store).
        index: dict[str, type[Model]] = {}
        object.__setattr__(self, "_registry", reg)
        object.__setattr__(self, "tenant", code)
        object.__setattr__(self, "_index", index)
        # Plain instance attribute (not a property): ``ds.models`` stays a C-level lookup.
        object.__setattr__(self, "models", ModelsView(self, index))
        object.__setattr__(self, "name", "")
        object.__setattr__(self, "name", reg.claim_name(self, name, self._name_prefix))

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
                reg.check_attachable(self, value)
            except (TypeError, ValueError) as exc:
                raise type(exc)(f"{exc} (entry {key!r}; nothing was attached)") from None
            if key != value.model_name:
                raise ValueError(
                    f"key {key!r} does not match the model's name {value.model_name!r}; "
                    "nothing was attached"
                )
        reg.attach_all(self, [value for _, value in items])

    @property
    def registry(self) -> ModelRegistry:
        """Return the registry this owner belongs to."""
        return self._registry

    def delete_model(self, name: str) -> None:
        """Remove the model ``name`` from the registry; ModelNotFoundError if absent."""
        self._registry.delete(self, name)

    def release_data(self) -> None:
        """Release what this owner holds besides models (a DataSource: its rows)."""

    def __repr__(self) -> str:
        return (
            f"<{type(self).__name__} {self.name!r} tenant={self.tenant!r}: "
            f"{len(self._index)} models>"
        )

    def _repr_html_(self) -> str:
        from .tables import owner_table

        return owner_table(self).html()


class App(Owner):
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
        self._registry.owner_created(self, explicit=name is not None)

    def model(self, model_class: type[Model]) -> type[Model]:
        """Give this app ownership of ``model_class`` and return it; TypeError / ValueError."""
        return self._registry.attach(self, model_class, as_app=True)
