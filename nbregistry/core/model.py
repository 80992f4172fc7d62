"""Model classes: ``Model``, ``ModelDefinition``, ``PropertyDefinition`` and validation."""

from __future__ import annotations

import keyword
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, ClassVar

from .access import DataAccess
from .errors import DefinitionError, ValidationError
from .typenames import check_scalar, expected

if TYPE_CHECKING:
    from .owners import App, DataSource

__all__ = [
    "Model",
    "ModelDefinition",
    "ModelType",
    "PropertyDefinition",
    "check_update",
    "check_value",
    "settings_dict",
    "validate_model_name",
]


@dataclass(frozen=True, slots=True)
class PropertyDefinition:
    """One property of a model: canonical ``type`` (a name or a Model class) and flags.

    For an array, ``type`` is ``"array"`` and ``items`` is the element's definition
    (``None`` for an untyped list). ``index``/``unique`` (DESIGN §12.4) ask the connector
    for an index; ``unique`` implies ``index``. Equal spellings compare equal.
    """

    name: str
    type: Any
    required: bool = False
    default: Any = None
    id: bool = False
    items: PropertyDefinition | None = None
    index: bool = False
    unique: bool = False

    def __post_init__(self) -> None:
        """Set ``index`` when ``unique`` is set (a unique property is always indexed)."""
        if self.unique and not self.index:
            object.__setattr__(self, "index", True)

    def describe(self) -> str:
        """Return a short human-readable type, e.g. ``array<string>`` or ``Address``."""
        t = self.type
        if isinstance(t, str):
            if t == "array" and self.items is not None:
                return f"array<{self.items.describe()}>"
            return t
        return t.model_name


def settings_dict(settings: Any, model_name: str) -> dict[str, Any]:
    if settings is None:
        return {}
    if not isinstance(settings, Mapping):
        raise DefinitionError(
            f"settings of model {model_name!r} must be a mapping, got {settings!r:.80}; "
            "e.g. {'strict': True}"
        )
    out = dict(settings)
    for key in ("strict", "id_injection", "read_only"):
        if key in out and not isinstance(out[key], bool):
            raise DefinitionError(
                f"setting {key!r} of model {model_name!r} must be True or False, got {out[key]!r}"
            )
    return out


@dataclass(frozen=True, eq=False, slots=True)
class ModelDefinition:
    """The definition behind a model class: name, properties, settings and fingerprint."""

    name: str
    properties: Mapping[str, PropertyDefinition]
    settings: Mapping[str, Any]
    fingerprint: str
    _text: str = field(repr=False)

    @property
    def strict(self) -> bool:
        """Return True when unknown properties are rejected."""
        return bool(self.settings.get("strict", False))

    @property
    def id_property(self) -> str | None:
        """Return the name of the id property, or None."""
        for p in self.properties.values():
            if p.id:
                return p.name
        return None

    def same_as(self, fingerprint: str, settings: Mapping[str, Any]) -> bool:
        """Return True when a definition with that fingerprint and settings is identical."""
        return self.fingerprint == fingerprint and dict(self.settings) == dict(settings)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ModelDefinition):
            return NotImplemented
        return (
            self.name == other.name
            and self.fingerprint == other.fingerprint
            and dict(self.settings) == dict(other.settings)
        )

    def __hash__(self) -> int:
        return hash((self.name, self.fingerprint))


# (name, type, required, default, type(default), id, index, unique) → a shared scalar
# PropertyDefinition.
# Frozen and class-free, so sharing is safe and keeps nothing alive; bounded by clearing.
_PD_INTERN: dict[tuple[Any, ...], PropertyDefinition] = {}
_INTERNABLE = frozenset({type(None), str, int, float, bool})


def make_property(
    name: str,
    type_: Any,
    required: bool,
    default: Any,
    is_id: bool,
    items: Any,
    index: bool = False,
    unique: bool = False,
) -> PropertyDefinition:
    """Return a PropertyDefinition, shared with equal ones when it is a plain scalar."""
    if type(type_) is str and items is None and type(default) in _INTERNABLE:
        key = (name, type_, required, default, type(default), is_id, index, unique)
        pd = _PD_INTERN.get(key)
        if pd is None:
            if len(_PD_INTERN) >= 8192:
                _PD_INTERN.clear()
            pd = _PD_INTERN[key] = PropertyDefinition(
                name, type_, required, default, is_id, None, index, unique
            )
        return pd
    return PropertyDefinition(name, type_, required, default, is_id, items, index, unique)


#: Property types an index may cover (values hashable and ordered within one property).
INDEXABLE_TYPES = frozenset({"string", "number", "integer", "boolean", "date"})


def check_indexes(name: str, props: Mapping[str, PropertyDefinition], settings: Any) -> None:
    """Check the model-level ``indexes`` setting (LoopBack style); DefinitionError if bad.

    ``{"indexes": {"city_age": {"keys": {"city": 1, "age": -1}, "options": {"unique":
    False}}}}``; the shorthand ``{"city_age": {"city": 1, "age": -1}}`` is accepted too.
    """
    indexes = settings.get("indexes")
    if indexes is None:
        return
    example = "e.g. {'indexes': {'city_age': {'keys': {'city': 1, 'age': -1}}}}"
    if not isinstance(indexes, Mapping):
        raise DefinitionError(
            f"setting 'indexes' of model {name!r} must be a dict of index name → "
            f"{{'keys': ..., 'options': ...}}, got {indexes!r:.80}; {example}"
        )
    for iname, spec in indexes.items():
        where = f"index {iname!r} of model {name!r}"
        if not isinstance(iname, str) or not iname:
            raise DefinitionError(
                f"index names of model {name!r} must be non-empty str, got {iname!r}"
            )
        if not isinstance(spec, Mapping):
            raise DefinitionError(f"{where} must be a dict, got {spec!r:.80}; {example}")
        keys, options = index_parts(spec)
        if not isinstance(keys, Mapping) or not keys:
            raise DefinitionError(
                f"{where}: 'keys' must be a non-empty dict, got {keys!r:.80}; {example}"
            )
        if not isinstance(options, Mapping) or any(k != "unique" for k in options):
            raise DefinitionError(
                f"{where}: 'options' must be a dict such as {{'unique': True}}, got {options!r:.80}"
            )
        if not isinstance(options.get("unique", False), bool):
            raise DefinitionError(f"{where}: 'unique' must be True or False")
        for key, direction in keys.items():
            prop = props.get(key) if isinstance(key, str) else None
            if prop is None:
                raise DefinitionError(
                    f"{where} names {key!r}, which is not a property of the model (indexes "
                    f"apply to top-level properties: {', '.join(props) or 'none'})"
                )
            if prop.type not in INDEXABLE_TYPES:
                raise DefinitionError(
                    f"{where}: property {key!r} is {prop.describe()}; indexes cover "
                    f"{', '.join(sorted(INDEXABLE_TYPES))} properties"
                )
            if direction not in (1, -1) or isinstance(direction, bool):
                raise DefinitionError(
                    f"{where}: direction of {key!r} must be 1 or -1, got {direction!r}"
                )


def index_parts(spec: Mapping[str, Any]) -> tuple[Any, Any]:
    """Return ``(keys, options)`` of one model-level index spec (either LoopBack form)."""
    if "keys" in spec:
        return spec["keys"], spec.get("options", {}) or {}
    return {k: v for k, v in spec.items() if k != "options"}, spec.get("options", {}) or {}


def validate_model_name(name: object) -> str:
    """Return ``name`` if it is a valid model name; raise DefinitionError naming it otherwise."""
    if not isinstance(name, str) or not name:
        raise DefinitionError(f"model name must be a non-empty str, got {name!r}; e.g. 'User'")
    if not name.isidentifier() or keyword.iskeyword(name) or name.startswith("_"):
        raise DefinitionError(
            f"invalid model name {name!r}: it must be a Python identifier that is not a "
            "keyword and does not start with '_' (so ds.models.<name> works); e.g. 'User'"
        )
    return name


def make_definition(
    name: str,
    props: Iterable[PropertyDefinition],
    settings: dict[str, Any],
    *,
    text: str,
    fp: str,
) -> ModelDefinition:
    """Build a ModelDefinition (properties already bound to classes).

    ``text``/``fp`` come from the normalised spec (the canonical text of an anonymous
    class equals that of the nested spec it came from; named models keep ``""``).
    """
    plist = list(props)
    check_indexes(name, {p.name: p for p in plist}, settings)
    return ModelDefinition(
        name,
        MappingProxyType({p.name: p for p in plist}),
        MappingProxyType(settings),
        fp,
        text,
    )


# --- validation -----------------------------------------------------------------


def _describe_value(v: Any) -> str:
    text = repr(v)
    if len(text) > 60:
        text = text[:57] + "..."
    return f"{text} ({type(v).__name__})"


def check_value(
    prop: PropertyDefinition, value: Any, path: str, errors: list[tuple[str, str]]
) -> Any:
    """Return the stored form of ``value`` for ``prop``, appending failures to ``errors``."""
    if value is None:
        if prop.required:
            errors.append((path, "is required (got None)"))
        return None
    t = prop.type
    if isinstance(t, str):
        if t == "array":
            if not isinstance(value, list):
                errors.append((path, f"expected a list, got {_describe_value(value)}"))
                return value
            if prop.items is None:
                return list(value)
            return [
                check_value(prop.items, item, f"{path}[{i}]", errors)
                for i, item in enumerate(value)
            ]
        ok, stored = check_scalar(t, value)
        if not ok:
            errors.append((path, f"expected {expected(t)}, got {_describe_value(value)}"))
        return stored
    # An embedded model class (anonymous or named).
    if isinstance(value, t):
        return value
    if isinstance(value, Mapping):
        values, sub_errors = t._validate(value, prefix=f"{path}.")
        if sub_errors:
            errors.extend(sub_errors)
            return value
        inst = object.__new__(t)
        inst.__dict__.update(values)
        return inst
    errors.append(
        (path, f"expected a dict or {t.model_name} instance, got {_describe_value(value)}")
    )
    return value


class ModelType(type):
    """The metaclass of every model class; it adds no behaviour of its own.

    It exists so that model *classes* have a type of their own: ``copyreg`` reducers
    are keyed by type, and pickle consults them before pickling a class by its module
    and name (which a model class, built at run time, cannot be found by). The reducer
    is registered in :mod:`nbregistry.core.pickling`. No attribute hook is defined here,
    so class attribute lookups stay as fast as on a plain class.
    """


class Model(DataAccess, metaclass=ModelType):
    """Base class of every model class. Instances validate on construction.

    Class attributes: ``model_name``, ``definition``, ``data_source``, ``app``,
    ``tenant`` and ``anonymous``. Build classes with ``DataSource.define`` or
    ``ModelBuilder.define``.
    """

    model_name: ClassVar[str] = "Model"
    definition: ClassVar[ModelDefinition]
    data_source: ClassVar[DataSource | None] = None
    app: ClassVar[App | None] = None
    tenant: ClassVar[str | None] = None
    anonymous: ClassVar[bool] = False
    # Internal: the class's one bookkeeping record (nbregistry.core.meta.ModelRecord):
    # owner, registry, registration order/time, users. Only nbregistry.core reads it.
    _nbr_meta: ClassVar[Any] = None

    __hash__ = None  # type: ignore[assignment]  # mutable data: not hashable

    def __init__(self, **data: Any) -> None:
        values, errors = type(self)._validate(data)
        if errors:
            raise ValidationError(type(self).model_name, errors)
        self.__dict__.update(values)

    @classmethod
    def _validate(
        cls, data: Mapping[str, Any], *, prefix: str = ""
    ) -> tuple[dict[str, Any], list[tuple[str, str]]]:
        """Return ``(values, errors)`` for ``data``; every failing property is listed."""
        definition = cls.definition
        errors: list[tuple[str, str]] = []
        values: dict[str, Any] = {}
        props = definition.properties
        for name, prop in props.items():
            path = prefix + name
            if name in data:
                values[name] = check_value(prop, data[name], path, errors)
            elif prop.default is not None:
                default = prop.default
                if isinstance(default, (list, dict)):
                    import copy

                    default = copy.deepcopy(default)
                values[name] = check_value(prop, default, path, errors)
            else:
                if prop.required and not prop.id:
                    errors.append((path, "is required"))
                values[name] = None
        if len(data) > len(values) or any(k not in props for k in data):
            strict = definition.settings.get("strict", False)
            for key, value in data.items():
                if key in props:
                    continue
                if strict:
                    errors.append(
                        (
                            prefix + str(key),
                            f"unknown property (model {cls.model_name!r} is strict)",
                        )
                    )
                else:
                    values[key] = value
        return values, errors

    def to_dict(self) -> dict[str, Any]:
        """Return the data as a plain dict; embedded instances become dicts, defaults included."""
        return {k: _plain(v) for k, v in self.__dict__.items()}

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        return self.__dict__ == other.__dict__

    def __repr__(self) -> str:
        inner = ", ".join(f"{k}={v!r}" for k, v in self.__dict__.items())
        return f"{type(self).model_name}({inner})"


def _plain(v: Any) -> Any:
    if isinstance(v, Model):
        return v.to_dict()
    if isinstance(v, list):
        return [_plain(x) for x in v]
    return v


def model_deps(cls: type[Model]) -> list[type[Model]]:
    """Return the anonymous model classes a class embeds directly (arrays included)."""
    out: list[type[Model]] = []
    for p in cls.definition.properties.values():
        while p is not None:
            t = p.type
            if not isinstance(t, str) and t.anonymous and t not in out:
                out.append(t)
            p = p.items
    return out


def check_update(
    cls: type[Model], data: Any, id_name: str | None
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Validate ``update_all`` data; return ``(known properties checked, unknown ones)``.

    The one check every connector runs before writing anything: TypeError for data that
    is not a dict; ValidationError (naming every bad key) for a changed id, an unknown
    property of a strict model (or a non-str key), or a value that does not fit its
    property. Unknown properties of a non-strict model are returned as given.
    """
    if not isinstance(data, Mapping):
        raise TypeError(
            f"update_all(where, data): data must be a dict of property values, got {data!r:.80}"
        )
    if id_name is not None and id_name in data:
        raise ValidationError(
            cls.model_name,
            [(id_name, "ids cannot be changed by update_all; create a new row instead")],
        )
    props = cls.definition.properties
    strict = cls.definition.settings.get("strict", False)
    errors: list[tuple[str, str]] = []
    known: dict[str, Any] = {}
    unknown: dict[str, Any] = {}
    for key, value in data.items():
        prop = props.get(key) if isinstance(key, str) else None
        if prop is None:
            if strict or not isinstance(key, str):
                errors.append((str(key), f"unknown property (model {cls.model_name!r} is strict)"))
            else:
                unknown[key] = value
        else:
            known[key] = check_value(prop, value, key, errors)
    if errors:
        raise ValidationError(cls.model_name, errors)
    return known, unknown
