"""The *before* architecture, kept only so the benchmarks can measure before vs after.

This is the duplicate-storage design that the seed document's "Before" section describes
(LoopBack juggler before the centralized registry), ported as faithfully as Python allows:

* **Three stores.** ``LegacyDataSource.define`` builds the class with the DataSource's own
  ``LegacyModelBuilder``, which keeps it in ``builder.models``; the DataSource keeps it
  again in ``ds.models``; and the ``LegacyRegistry`` keeps it a third time in the tenant's
  store. Every removal has to touch all three (``cleanup_data_source``); the registry's
  ``cleanup_tenant`` alone leaves the classes alive in the other two.
* **Scans.** The tenant store is one dict keyed by model name (last writer wins when two
  owners of a tenant use the same name, as in the original). Owner queries
  (``models_for_owner`` and friends) and structure searches (``find_model_by_structure``)
  walk every model of the tenant. The scan is the generous kind: the query is normalised
  once and each candidate's stored canonical text is compared (no per-candidate work).
* **No reuse.** Every nested object spec creates a new anonymous model class, on every
  ``define`` and every ``resolve_type``; nothing is looked up by structure first. There is
  no hit/miss counter (the original had none).
* **Name lookup** tries the current tenant, then global, then — as the original did —
  every other tenant in creation order, so one tenant can see another's model.

Class building reuses the core's machinery (property normalisation, id injection,
``make_definition``/``new_model_class``), so a comparison isolates the architecture, not
the class builder. Nothing here touches ``nbregistry.registry`` or any ``ModelRegistry``:
legacy classes belong to no ModelRegistry (``registry_of(cls) is None``). Do not use
this module in applications.
"""

from __future__ import annotations

import itertools
import sys
from collections.abc import Iterator, Mapping
from typing import Any

from ..core.builder import with_id
from ..core.errors import ModelNotFoundError
from ..core.fingerprint import Normalizer, NProp, NStruct, struct_text
from ..core.meta import new_model_class, owner_of, set_class_attrs
from ..core.model import (
    Model,
    PropertyDefinition,
    make_definition,
    make_property,
    settings_dict,
    validate_model_name,
)
from ..core.tenancy import GLOBAL_TENANT, OVERRIDE, validate_tenant

__all__ = [
    "LegacyApp",
    "LegacyDataSource",
    "LegacyModelBuilder",
    "LegacyModels",
    "LegacyRegistry",
    "LegacyTenantRegistry",
    "cleanup_data_source",
    "legacy_registry",
]


class LegacyModels:
    """A plain store of model classes: the "direct object" ``ds.models`` of the before design.

    Its instance ``__dict__`` *is* the store, so ``models.User`` is a plain attribute
    lookup (like a property of a JavaScript object); ``models["User"]``, ``in``, ``len``,
    iteration, ``keys/values/items/get`` work too. It is a real second (and third) copy of
    the references: nothing keeps it in sync with the other stores.
    """

    def __getitem__(self, name: str) -> type[Model]:
        return self.__dict__[name]

    def __setitem__(self, name: str, model: type[Model]) -> None:
        self.__dict__[name] = model

    def __delitem__(self, name: str) -> None:
        del self.__dict__[name]

    def __contains__(self, name: object) -> bool:
        return name in self.__dict__

    def __len__(self) -> int:
        return len(self.__dict__)

    def __iter__(self) -> Iterator[str]:
        return iter(self.__dict__)

    def keys(self) -> Any:
        """Return the model names."""
        return self.__dict__.keys()

    def values(self) -> Any:
        """Return the model classes."""
        return self.__dict__.values()

    def items(self) -> Any:
        """Return ``(name, class)`` pairs."""
        return self.__dict__.items()

    def get(self, name: str, default: Any = None) -> Any:
        """Return the model named ``name``, or ``default``."""
        return self.__dict__.get(name, default)

    def clear(self) -> None:
        """Drop every reference held by this store."""
        self.__dict__.clear()

    def __repr__(self) -> str:
        return f"<LegacyModels: {', '.join(self.__dict__) or '(empty)'}>"


class LegacyTenantRegistry:
    """The registry's store for one tenant: ``models`` by name (the third copy)."""

    __slots__ = ("code", "models")

    def __init__(self, code: str) -> None:
        self.code = code
        # model name → class; last writer wins (the original keyed modelsByName by name).
        self.models: dict[str, type[Model]] = {}

    def __len__(self) -> int:
        return len(self.models)

    def __repr__(self) -> str:
        return f"<LegacyTenantRegistry {self.code!r}: {len(self.models)} models>"


class LegacyRegistry:
    """The before registry: one name-keyed store per tenant; owner/structure queries scan."""

    def __init__(self) -> None:
        self._tenants: dict[str, LegacyTenantRegistry] = {}
        self._session_tenant = GLOBAL_TENANT
        self._anon_counter = itertools.count(1)
        self._auto_names: dict[str, itertools.count[int]] = {}
        self.registrations = 0
        self.lookups = 0

    # tenancy -------------------------------------------------------------------------

    def use_tenant(self, code: str | None) -> None:
        """Set the session-default tenant (None resets to global); TenantError."""
        self._session_tenant = GLOBAL_TENANT if code is None else validate_tenant(code)

    def current_tenant(self) -> str:
        """Return the tenant in force: scoped override, else session default, else global."""
        return OVERRIDE.get() or self._session_tenant

    def _tenant_of(self, tenant: object) -> str:
        if tenant is None:
            return OVERRIDE.get() or self._session_tenant
        return validate_tenant(tenant)

    def _auto_name(self, prefix: str) -> str:
        counter = self._auto_names.setdefault(prefix, itertools.count(1))
        return f"{prefix}-{next(counter)}"

    # writes --------------------------------------------------------------------------

    def register_model(self, model: type[Model]) -> type[Model]:
        """Store ``model`` in its tenant's store (by name, last writer wins); TypeError."""
        if not (isinstance(model, type) and issubclass(model, Model)) or model is Model:
            raise TypeError(f"register_model() takes a Model subclass, got {model!r:.80}")
        code = model.tenant or self.current_tenant()
        treg = self._tenants.get(code)
        if treg is None:
            treg = self._tenants[code] = LegacyTenantRegistry(code)
        treg.models[model.model_name] = model
        self.registrations += 1
        return model

    def unregister_model(self, model: type[Model]) -> bool:
        """Remove ``model`` from the registry's store only; return True if it was there."""
        treg = self._tenants.get(model.tenant or GLOBAL_TENANT)
        if treg is None or treg.models.get(model.model_name) is not model:
            return False
        del treg.models[model.model_name]
        return True

    def cleanup_tenant(self, code: str) -> int:
        """Drop the tenant's registry store and return how many models it held; TenantError.

        Only the registry's copy goes: ``ds.models`` and ``builder.models`` of the tenant's
        owners still hold every class (the before design's cleanup problem).
        """
        treg = self._tenants.pop(validate_tenant(code), None)
        if treg is None:
            return 0
        n = len(treg.models)
        treg.models.clear()
        return n

    def clear(self) -> None:
        """Drop every tenant store (owners' stores are untouched) and reset the counters."""
        for treg in self._tenants.values():
            treg.models.clear()
        self._tenants.clear()
        self.registrations = self.lookups = 0

    # lookups -------------------------------------------------------------------------

    def find_model_by_name(self, name: str, *, tenant: str | None = None) -> type[Model] | None:
        """Return the model named ``name``: tenant, then global, then any tenant; TenantError."""
        code = self._tenant_of(tenant)
        self.lookups += 1
        treg = self._tenants.get(code)
        if treg is not None:
            hit = treg.models.get(name)
            if hit is not None:
                return hit
        g = self._tenants.get(GLOBAL_TENANT)
        if g is not None:
            hit = g.models.get(name)
            if hit is not None:
                return hit
        for other in list(self._tenants.values()):  # the original's cross-tenant fallback
            hit = other.models.get(name)
            if hit is not None:
                return hit
        return None

    def get_model(self, name: str, *, tenant: str | None = None) -> type[Model]:
        """Return the model named ``name``; ModelNotFoundError if missing, TenantError."""
        cls = self.find_model_by_name(name, tenant=tenant)
        if cls is None:
            raise ModelNotFoundError(f"no model named {name!r} in the legacy registry")
        return cls

    def find_model_by_structure(
        self, properties: Mapping[str, Any], *, tenant: str | None = None, strict: bool = False
    ) -> type[Model] | None:
        """Return an anonymous model with this structure by scanning the tenant, then global.

        Raises TypeError for a non-mapping, DefinitionError for a bad spec, TenantError.
        """
        code = self._tenant_of(tenant)
        if not isinstance(properties, Mapping):
            raise TypeError(
                f"properties must be a mapping of property name → type spec, got {properties!r:.80}"
            )
        props, texts = Normalizer().struct(properties, "")
        text = struct_text(props, texts)
        self.lookups += 1
        for c in (code, GLOBAL_TENANT) if code != GLOBAL_TENANT else (code,):
            treg = self._tenants.get(c)
            if treg is None:
                continue
            for m in treg.models.values():
                if m.anonymous and m.definition._text == text and m.definition.strict == strict:
                    return m
        return None

    def _scan_owner(self, owner: Any) -> list[type[Model]]:
        treg = self._tenants.get(getattr(owner, "tenant", None) or GLOBAL_TENANT)
        if treg is None:
            return []
        if getattr(owner, "owner_type", None) == "app":
            return [m for m in treg.models.values() if m.app is owner]
        # The seed's getModelsForOwner: ``if (model.dataSource === owner) models.push(model)``.
        return [m for m in treg.models.values() if owner_of(m) is owner]

    def models_for_owner(self, owner: Any) -> list[type[Model]]:
        """Return the owner's models by scanning every model of its tenant (O(n))."""
        self.lookups += 1
        if owner is None:
            return []
        return self._scan_owner(owner)

    def model_names_for_owner(self, owner: Any) -> list[str]:
        """Return the owner's model names by scanning (O(n))."""
        self.lookups += 1
        if owner is None:
            return []
        return [m.model_name for m in self._scan_owner(owner)]

    def has_model_for_owner(self, owner: Any, name: str) -> bool:
        """Return True if the owner has a model ``name``, by scanning (O(n))."""
        return self.get_model_for_owner(owner, name) is not None

    def get_model_for_owner(self, owner: Any, name: str) -> type[Model] | None:
        """Return the owner's model ``name`` or None, by scanning its owner's list (O(n))."""
        self.lookups += 1
        if owner is None:
            return None
        for m in self._scan_owner(owner):
            if m.model_name == name:
                return m
        return None

    # inspection ----------------------------------------------------------------------

    def tenants(self) -> list[str]:
        """Return the codes of tenants with a store, in creation order."""
        return list(self._tenants)

    def tenant_registry(self, code: str) -> LegacyTenantRegistry | None:
        """Return the store of one tenant, or None; TenantError."""
        return self._tenants.get(validate_tenant(code))

    def all_models(self) -> list[type[Model]]:
        """Return every model in the registry's stores."""
        return [m for t in self._tenants.values() for m in t.models.values()]

    def stats(self) -> dict[str, int]:
        """Return sizes and counters as a dict (the before design had no stats type)."""
        models = self.all_models()
        anonymous = sum(1 for m in models if m.anonymous)
        return {
            "tenants": sum(1 for c in self._tenants if c != GLOBAL_TENANT),
            "models": len(models),
            "named_models": len(models) - anonymous,
            "anonymous_models": anonymous,
            "registrations": self.registrations,
            "lookups": self.lookups,
        }

    def structure_bytes(self) -> int:
        """Return ``sys.getsizeof`` of the registry's containers (not of the classes)."""
        total = sys.getsizeof(self._tenants)
        for treg in self._tenants.values():
            total += sys.getsizeof(treg) + sys.getsizeof(treg.models)
        return total

    def __repr__(self) -> str:
        n = sum(len(t.models) for t in self._tenants.values())
        return f"<LegacyRegistry: {n} models in {len(self._tenants)} tenants>"


#: The before design's process-wide registry (separate from ``nbregistry.registry``).
legacy_registry = LegacyRegistry()


def _legacy_registry_arg(registry: LegacyRegistry | None) -> LegacyRegistry:
    if registry is None:
        return legacy_registry
    if not isinstance(registry, LegacyRegistry):
        raise TypeError(f"registry must be a LegacyRegistry, got {registry!r:.80}")
    return registry


class LegacyModelBuilder:
    """The before ``ModelBuilder``: keeps its own ``models`` store; never reuses shapes.

    ``LegacyModelBuilder(*, tenant=None, registry=None, owner=None, name=None)``; a builder
    created by a DataSource defines classes whose owner is that DataSource.
    """

    owner_type = "builder"

    def __init__(
        self,
        *,
        tenant: str | None = None,
        registry: LegacyRegistry | None = None,
        owner: Any = None,
        name: str | None = None,
    ) -> None:
        self.registry = _legacy_registry_arg(registry)
        self.tenant = self.registry._tenant_of(tenant)
        self.name = name if name is not None else self.registry._auto_name("builder")
        self.owner = self if owner is None else owner
        # Store 1: the builder's own dict of every class it built (anonymous ones too).
        self.models = LegacyModels()

    def define(
        self,
        name: str,
        properties: Mapping[str, Any] | None = None,
        settings: Mapping[str, Any] | None = None,
    ) -> type[Model]:
        """Build a class, keep it in ``builder.models`` and register it; DefinitionError.

        Raises DefinitionError for a bad name, spec or settings, TypeError for a
        non-mapping ``properties``. Every nested spec becomes a new anonymous class.
        """
        validate_model_name(name)
        if properties is not None and not isinstance(properties, Mapping):
            raise TypeError(
                f"properties of model {name!r} must be a mapping, got {properties!r:.80}"
            )
        nprops, texts = Normalizer().struct(properties or {}, "")
        settings_d = settings_dict(settings, name)
        plist, _, fp = with_id(list(nprops), list(texts), settings_d)
        props = [self._bind(p) for p in plist]
        # As in the core: a named model keeps only its fingerprint, not its canonical text.
        definition = make_definition(name, props, settings_d, text="", fp=fp)
        owner = self.owner
        cls = new_model_class(
            name,
            definition,
            tenant=self.tenant,
            anonymous=False,
            owner=owner,
            registry=None,
            data_source=owner if getattr(owner, "owner_type", "") == "dataSource" else None,
        )
        self.models[name] = cls
        self.registry.register_model(cls)
        return cls

    def resolve_type(self, spec: Any) -> Any:
        """Resolve a type spec; a nested dict always becomes a *new* anonymous model.

        Raises DefinitionError for a bad spec.
        """
        nprop = Normalizer().prop("type", spec, "type")
        if nprop.items is not None and not isinstance(nprop.type, NStruct):
            return [self._bind(nprop.items).type]
        return self._bind(nprop).type

    def _bind(self, p: NProp) -> PropertyDefinition:
        items = None if p.items is None else self._bind(p.items)
        t = p.type
        if type(t) is NStruct:
            t = self._anonymous(t)
        # The core's class builder shares immutable scalar definitions: so does this one,
        # with the same table, so only the architecture differs.
        return make_property(p.name, t, p.required, p.default, p.id, items)

    def _anonymous(self, struct: NStruct) -> type[Model]:
        props = [self._bind(p) for p in struct.props]
        anon_name = f"AnonymousModel_{next(self.registry._anon_counter)}"
        definition = make_definition(anon_name, props, {}, text=struct.text, fp=struct.fingerprint)
        cls = new_model_class(
            anon_name, definition, tenant=self.tenant, anonymous=True, owner=None, registry=None
        )
        self.models[anon_name] = cls
        self.registry.register_model(cls)
        return cls

    def __repr__(self) -> str:
        return f"<LegacyModelBuilder {self.name!r} tenant={self.tenant!r}: {len(self.models)}>"


class LegacyDataSource:
    """The before ``DataSource``: its own ``models`` store plus its builder's store.

    ``LegacyDataSource(connector="memory", *, name=None, tenant=None, registry=None,
    **settings)``. There is no connector behind it (the benchmarks only build classes).
    """

    owner_type = "dataSource"

    def __init__(
        self,
        connector: str = "memory",
        *,
        name: str | None = None,
        tenant: str | None = None,
        registry: LegacyRegistry | None = None,
        **settings: Any,
    ) -> None:
        self.registry = _legacy_registry_arg(registry)
        self.tenant = self.registry._tenant_of(tenant)
        self.connector = connector
        self.settings = dict(settings)
        self.name = name if name is not None else self.registry._auto_name(connector)
        self.model_builder = LegacyModelBuilder(
            tenant=self.tenant, registry=self.registry, owner=self, name=self.name
        )
        # Store 2: the DataSource's own dict (store 1 is model_builder.models).
        self.models = LegacyModels()

    def define(
        self,
        name: str,
        properties: Mapping[str, Any] | None = None,
        settings: Mapping[str, Any] | None = None,
    ) -> type[Model]:
        """Build with the builder (stores 1 and 3) and keep the class here too (store 2).

        Raises DefinitionError / TypeError as ``LegacyModelBuilder.define``.
        """
        cls = self.model_builder.define(name, properties, settings)
        self.models[name] = cls
        return cls

    def delete_model(self, name: str) -> None:
        """Remove the model from all three stores; ModelNotFoundError if this owner lacks it."""
        cls = self.models.get(name)
        if cls is None:
            raise ModelNotFoundError(f"LegacyDataSource {self.name!r} has no model {name!r}")
        del self.models[name]
        if self.model_builder.models.get(name) is cls:
            del self.model_builder.models[name]
        self.registry.unregister_model(cls)

    def disconnect(self) -> int:
        """Remove this DataSource's models from all three stores; return how many."""
        return cleanup_data_source(self)

    def __repr__(self) -> str:
        return f"<LegacyDataSource {self.name!r} tenant={self.tenant!r}: {len(self.models)}>"


class LegacyApp:
    """The before ``App``: ``app.model(cls)`` stores the class in ``app.models`` too."""

    owner_type = "app"

    def __init__(
        self,
        name: str | None = None,
        *,
        tenant: str | None = None,
        registry: LegacyRegistry | None = None,
    ) -> None:
        self.registry = _legacy_registry_arg(registry)
        self.tenant = self.registry._tenant_of(tenant)
        self.name = name if name is not None else self.registry._auto_name("app")
        self.models = LegacyModels()

    def model(self, model_class: type[Model]) -> type[Model]:
        """Take ownership of ``model_class`` (a fourth reference); TypeError for a non-Model."""
        if not (isinstance(model_class, type) and issubclass(model_class, Model)):
            raise TypeError(f"app.model() takes a Model subclass, got {model_class!r:.80}")
        set_class_attrs(model_class, app=self)
        self.models[model_class.model_name] = model_class
        return model_class


def cleanup_data_source(ds: LegacyDataSource) -> int:
    """Remove a DataSource's models from all three stores (the seed's manual cleanup).

    Returns how many named models the DataSource held. Anonymous models built for it
    leave its builder's store and the registry too.
    """
    n = len(ds.models)
    reg = ds.registry
    for cls in list(ds.model_builder.models.values()):
        reg.unregister_model(cls)
    for cls in list(ds.models.values()):
        reg.unregister_model(cls)
    ds.model_builder.models.clear()
    ds.models.clear()
    return n
