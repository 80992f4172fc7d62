"""``ModelBuilder``: defines model classes and resolves nested types to anonymous models."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar

from .errors import DefinitionError
from .fingerprint import NProp, NStruct, _digest, _Normalizer, prop_text, struct_text
from .model import _settings_dict, validate_model_name
from .owners import _Owner

if TYPE_CHECKING:
    from .model import Model
    from .registry import ModelRegistry

__all__ = ["ModelBuilder"]


class ModelBuilder(_Owner):
    """Build model classes. A standalone builder is an owner of type ``"builder"``.

    ``ModelBuilder(*, tenant=None, registry=None, strict_embedded_models=False, name=None)``.
    ``ds.model_builder`` is the builder bound to a DataSource: what it defines is owned
    by the DataSource, and its ``models`` is the DataSource's view.
    """

    owner_type: ClassVar[str] = "builder"
    _name_prefix: ClassVar[str] = "builder"
    _FIXED = _Owner._FIXED | {"strict_embedded_models"}

    strict_embedded_models: bool
    _target: Any

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
        object.__setattr__(self, "_target", self)

    @classmethod
    def _bound(cls, ds: Any) -> ModelBuilder:
        """Return the builder of a DataSource (not an owner itself; defines for ``ds``)."""
        self = object.__new__(cls)
        for key, value in (
            ("_registry", ds._registry),
            ("tenant", ds.tenant),
            ("_index", ds._index),
            ("models", ds.models),
            ("name", ds.name),
            ("strict_embedded_models", bool(ds.settings.get("strict_embedded_models", False))),
            ("_target", ds),
        ):
            object.__setattr__(self, key, value)
        return self

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
        normalizer = _Normalizer()
        nprops = normalizer.struct(properties or {}, "")
        settings_d = _settings_dict(settings, name)
        plist, text, fp = _with_id(list(nprops), list(normalizer.last_texts), settings_d)
        target = self._target
        existing = target._index.get(name)
        if existing is not None and existing.definition.same_as(fp, settings_d):
            return existing
        data_source = target if target.owner_type == "dataSource" else None
        return self._registry._commit_define(
            target, name, plist, settings_d, fp, text, self.strict_embedded_models, data_source
        )

    def resolve_type(self, spec: Any) -> Any:
        """Resolve a property type spec.

        A nested dict → its anonymous model (reused by structure in this tenant or the
        global tenant, else created and registered); a Model subclass → itself; a type
        name or Python type → the canonical name; a one-element list → ``[resolved]``.
        Raises DefinitionError for a bad spec.
        """
        nprop = _Normalizer().prop("type", spec, "type")
        return self._resolve(nprop)

    def _resolve(self, p: NProp) -> Any:
        t = p.type
        if isinstance(t, NStruct):
            return self._registry._resolve_anonymous(t, self.tenant, self.strict_embedded_models)
        if p.items is not None:
            return [self._resolve(p.items)]
        return t

    def __repr__(self) -> str:
        if self._target is not self:
            return f"<ModelBuilder of DataSource {self.name!r} tenant={self.tenant!r}>"
        return super().__repr__()


_ID_PROP = NProp("id", "integer", id=True)
_ID_TEXT = prop_text(_ID_PROP)


def _with_id(
    plist: list[NProp], texts: list[str], settings: dict[str, Any]
) -> tuple[list[NProp], str, str]:
    """Apply id injection (LoopBack idInjection); return ``(props, text, fingerprint)``."""
    if not any(p.id for p in plist) and settings.get("id_injection", True) is not False:
        for i, p in enumerate(plist):
            if p.name == "id":
                plist[i] = NProp(p.name, p.type, p.required, p.default, True, p.items)
                texts[i] = prop_text(plist[i])
                break
        else:
            plist.insert(0, _ID_PROP)
            texts.insert(0, _ID_TEXT)
    text = struct_text(plist, texts)
    return plist, text, _digest(text)
