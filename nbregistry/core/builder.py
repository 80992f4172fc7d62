"""``ModelBuilder``: defines model classes and resolves nested types to anonymous models."""

from __future__ import annotations

import weakref
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar

from . import registry as _registry_module
from .errors import DefinitionError
from .fingerprint import Normalizer, NProp, NStruct, digest, prop_text, struct_text
from .meta import new_model_class, registry_of, set_class_attrs
from .model import (
    Model,
    PropertyDefinition,
    make_definition,
    make_property,
    settings_dict,
    validate_model_name,
)
from .owners import Owner
from .tenancy import GLOBAL_TENANT

if TYPE_CHECKING:
    from .registry import AnonymousResolver, ModelRegistry

__all__ = ["ModelBuilder"]


class ModelBuilder(Owner):
    """Build model classes. A standalone builder is an owner of type ``"builder"``.

    ``ModelBuilder(*, tenant=None, registry=None, strict_embedded_models=False, name=None)``.
    ``ds.model_builder`` is the builder bound to a DataSource: what it defines is owned
    by the DataSource, and its ``models`` is the DataSource's view.
    """

    owner_type: ClassVar[str] = "builder"
    _name_prefix: ClassVar[str] = "builder"
    _FIXED = Owner._FIXED | {"strict_embedded_models"}

    strict_embedded_models: bool
    _target_ref: Any

    def __init__(
        self,
        *,
        tenant: str | None = None,
        registry: ModelRegistry | None = None,
        strict_embedded_models: bool = False,
        name: str | None = None,
    ) -> None:
        if not isinstance(strict_embedded_models, bool):
            raise TypeError(
                f"strict_embedded_models must be True or False, got {strict_embedded_models!r}"
            )
        self._init_owner(name, tenant, registry)
        object.__setattr__(self, "strict_embedded_models", strict_embedded_models)
        object.__setattr__(self, "_target_ref", None)
        self._registry.owner_created(self, explicit=name is not None)

    @classmethod
    def from_store(
        cls, registry: ModelRegistry, tenant: str, name: str, payload: Mapping[str, Any]
    ) -> ModelBuilder:
        """Re-create a shared standalone builder from its stored payload (``sync()``)."""
        settings = payload.get("settings") or {}
        strict = bool(settings.get("strict_embedded_models", False))
        return cls(tenant=tenant, registry=registry, name=name, strict_embedded_models=strict)

    @classmethod
    def _bound(cls, ds: Any) -> ModelBuilder:
        """Return the builder of an owner (not an owner itself; defines for ``ds``).

        A DataSource's ``model_builder``; ``sync()`` also builds an App's or a
        builder's shared models through one.
        """
        self = object.__new__(cls)
        strict = getattr(ds, "strict_embedded_models", None)
        if strict is None:
            strict = bool(getattr(ds, "settings", {}).get("strict_embedded_models", False))
        for key, value in (
            ("_registry", ds._registry),
            ("tenant", ds.tenant),
            ("_index", ds._index),
            ("models", ds.models),
            ("name", ds.name),
            ("strict_embedded_models", strict),
            # Weak: ds → model_builder → ds would be a reference cycle.
            ("_target_ref", weakref.ref(ds)),
        ):
            object.__setattr__(self, key, value)
        return self

    @property
    def _target(self) -> Any:
        """Return the owner of what this builder defines; ReferenceError if it is gone."""
        ref = self._target_ref
        if ref is None:
            return self
        target = ref()
        if target is None:
            raise ReferenceError("the DataSource of this ModelBuilder no longer exists")
        return target

    @property
    def owner(self) -> Any:
        """Return the owner of what this builder defines (itself, or its DataSource)."""
        return self._target

    def define(
        self,
        name: str,
        properties: Mapping[str, Any] | None = None,
        settings: Mapping[str, Any] | None = None,
    ) -> type[Model]:
        """Build and register a model class; return it.

        Re-defining a name on the same owner: an identical definition returns the existing
        class; a different one replaces it with a ModelRedefinedWarning. Raises
        DefinitionError for a bad name, property spec or settings, TypeError for a
        non-mapping ``properties``, ValueError if the owner's name was taken meanwhile.
        The registry is unchanged when anything raises.
        """
        validate_model_name(name)
        if properties is not None and not isinstance(properties, Mapping):
            raise DefinitionError(
                f"properties of model {name!r} must be a mapping of property name → type "
                f"spec, got {type(properties).__name__} {properties!r:.80}"
            )
        nprops, texts = Normalizer().struct(properties or {}, "")
        for p in nprops:
            if p.name in RESERVED_PROPERTY_NAMES:
                raise DefinitionError(
                    f"property name {p.name!r} of model {name!r} is reserved: instances "
                    f"have a {p.name}() method; rename the property (e.g. {p.name + '_'!r})",
                    path=p.name,
                )
        self._check_model_types(nprops, "")
        settings_d = settings_dict(settings, name)
        plist, _, fp = with_id(list(nprops), list(texts), settings_d)
        target = self._target
        existing = target._index.get(name)
        if existing is not None and existing.definition.same_as(fp, settings_d):
            return existing
        data_source = target if target.owner_type == "dataSource" else None
        strict = self.strict_embedded_models

        def build(resolver: AnonymousResolver) -> type[Model]:
            props = [_bind(p, strict, resolver) for p in plist]
            # A named model's canonical text is only needed for its fingerprint: keep "".
            definition = make_definition(name, props, settings_d, text="", fp=fp)
            if data_source is not None:
                data_source.connector.check_names(definition)  # DefinitionError
            cls = new_model_class(
                name,
                definition,
                tenant=target.tenant,
                anonymous=False,
                owner=target,
                registry=self._registry,
                data_source=data_source,
            )
            if target.owner_type == "app":  # sync() building an App's shared model
                set_class_attrs(cls, app=target)
            return cls

        return self._registry.commit_define(target, name, fp, settings_d, build)

    def resolve_type(self, spec: Any) -> Any:
        """Resolve a property type spec.

        A nested dict → its anonymous model (reused by structure in this tenant or the
        global tenant, else created and registered); a Model subclass → itself; a type
        name or Python type → the canonical name; a one-element list → ``[resolved]``.
        Raises DefinitionError for a bad spec.
        """
        nprop = Normalizer().prop("", spec, "")
        self._check_model_types((nprop,), "")
        return self._resolve(nprop)

    def _check_model_types(self, props: Any, prefix: str) -> None:
        """Raise DefinitionError for a Model class type from another tenant or registry.

        Tenants never see each other's models: a property may only embed a model of the
        builder's tenant or of the global tenant, in the same registry.
        """
        for p in props:
            node: Any = p
            while node is not None:
                t = node.type
                if type(t) is str:
                    node = node.items
                    continue
                path = f"{prefix}{p.name}" if p.name else prefix.rstrip(".")
                if type(t) is NStruct:
                    self._check_model_types(t.props, f"{path}." if path else "")
                else:
                    reg = registry_of(t)
                    if reg is not None and reg is not self._registry:
                        raise DefinitionError(
                            f"property {path!r} uses model {t.model_name!r} from another "
                            "ModelRegistry; define it in this registry",
                            path=path,
                        )
                    if t.tenant not in (None, self.tenant, GLOBAL_TENANT):
                        raise DefinitionError(
                            f"property {path!r} uses model {t.model_name!r} of tenant "
                            f"{t.tenant!r}; a model of tenant {self.tenant!r} may only embed "
                            "models of its own tenant or the global tenant",
                            path=path,
                        )
                node = node.items

    def _resolve(self, p: NProp) -> Any:
        t = p.type
        if isinstance(t, NStruct):
            strict = self.strict_embedded_models
            return self._registry.resolve_anonymous(
                self.tenant, lambda resolver: _anonymous_for(t, strict, resolver)
            )
        if p.items is not None:
            return [self._resolve(p.items)]
        return t

    def __repr__(self) -> str:
        if self._target is not self:
            return f"<ModelBuilder of DataSource {self.name!r} tenant={self.tenant!r}>"
        return super().__repr__()


#: Property names that would shadow an instance method (``inst.save()`` must keep working).
RESERVED_PROPERTY_NAMES = frozenset({"save", "delete", "to_dict"})

_ID_PROP = NProp("id", "integer", id=True)
_ID_TEXT = prop_text(_ID_PROP)


def with_id(
    plist: list[NProp], texts: list[str], settings: dict[str, Any]
) -> tuple[list[NProp], str, str]:
    """Apply id injection (LoopBack idInjection); return ``(props, text, fingerprint)``."""
    if not any(p.id for p in plist) and settings.get("id_injection", True) is not False:
        for i, p in enumerate(plist):
            if p.name == "id":
                plist[i] = NProp(
                    p.name, p.type, p.required, p.default, True, p.items, p.index, p.unique
                )
                texts[i] = prop_text(plist[i])
                break
        else:
            plist.insert(0, _ID_PROP)
            texts.insert(0, _ID_TEXT)
    text = struct_text(plist, texts)
    return plist, text, digest(text)


def _bind(p: NProp, strict: bool, resolver: AnonymousResolver) -> PropertyDefinition:
    """Return the PropertyDefinition of a normalised property, nested shapes bound to classes."""
    t = p.type
    if type(t) is str and p.items is None:
        pd = p.bound
        if pd is None:
            return make_property(p.name, t, p.required, p.default, p.id, None, p.index, p.unique)
        return pd
    items = None if p.items is None else _bind(p.items, strict, resolver)
    if type(t) is NStruct:
        t = _anonymous_for(t, strict, resolver)
    return make_property(p.name, t, p.required, p.default, p.id, items, p.index, p.unique)


def _anonymous_for(struct: NStruct, strict: bool, resolver: AnonymousResolver) -> type[Model]:
    """Return the anonymous class for a nested shape: reused if known, else built."""
    hit = resolver.reuse(struct.fingerprint, strict)
    if hit is not None:
        return hit
    props = [_bind(p, strict, resolver) for p in struct.props]
    settings: dict[str, Any] = {"strict": True} if strict else {}
    anon_name = resolver.next_name()
    definition = make_definition(
        anon_name, props, settings, text=struct.text, fp=struct.fingerprint
    )
    cls = new_model_class(
        anon_name,
        definition,
        tenant=resolver.tenant,
        anonymous=True,
        owner=None,
        registry=resolver.registry,
    )
    resolver.add(cls)
    return cls


_registry_module.DEFINER = ModelBuilder._bound
