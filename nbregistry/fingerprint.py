"""Property-spec normalisation and structure fingerprints.

Every spelling of a property (``"string"``, ``str``, ``{"type": "String"}``, a
:class:`~nbregistry.PropertyDefinition`) normalises first to one canonical tree; the
fingerprint is a BLAKE2b digest of that tree's canonical JSON, with properties sorted by
name — so key order never matters, while nested key names, nested types, array element
types and the ``required``/``default``/``id`` flags all count. No ``hash()`` is involved,
so a fingerprint is stable across processes and machines and can be stored.

(The JavaScript original serialised through ``JSON.stringify`` and lost constructor
types and nested key names, so ``{address: {street}}`` and ``{address: {city}}`` collided
and a wrong model was reused. The regression tests pin that down.)
"""

from __future__ import annotations

import datetime as _dt
import difflib
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ._types import PYTHON_TYPES, TYPE_NAMES, canonical_type_name, check_scalar, expected
from .errors import DefinitionError

__all__ = ["NProp", "NStruct", "fingerprint", "normalize_properties"]

_OPTION_KEYS = ("type", "required", "default", "id")


@dataclass(frozen=True, slots=True)
class NStruct:
    """A normalised nested object spec, before it is bound to an anonymous model class."""

    props: tuple[NProp, ...]
    canon: tuple[Any, ...]
    fingerprint: str


@dataclass(frozen=True, slots=True)
class NProp:
    """One normalised property. ``type`` is a canonical name, an NStruct or a Model class."""

    name: str
    type: Any
    required: bool = False
    default: Any = None
    id: bool = False
    items: NProp | None = None


def _digest(canon: Any) -> str:
    text = json.dumps(canon, separators=(",", ":"), ensure_ascii=True)
    return hashlib.blake2b(text.encode("ascii"), digest_size=16).hexdigest()


def _canon_default(v: Any) -> Any:
    """Return a JSON-able, type-tagged form of a default (so 1, 1.0 and True differ)."""
    if v is None:
        return None
    if isinstance(v, bool):
        return ["b", v]
    if isinstance(v, int):
        return ["i", str(v)]
    if isinstance(v, float):
        return ["f", repr(v)]
    if isinstance(v, str):
        return ["s", v]
    if isinstance(v, (_dt.datetime, _dt.date)):
        return ["d", v.isoformat()]
    if isinstance(v, (bytes, bytearray)):
        return ["y", bytes(v).hex()]
    if isinstance(v, (list, tuple)):
        return ["l", [_canon_default(x) for x in v]]
    if isinstance(v, Mapping):
        return ["m", sorted(([str(k), _canon_default(x)] for k, x in v.items()))]
    if callable(v):
        return ["c", f"{getattr(v, '__module__', '?')}.{getattr(v, '__qualname__', repr(v))}"]
    return ["r", f"{type(v).__qualname__}:{v!r}"]


def _canon_type(t: Any) -> Any:
    if isinstance(t, str):
        return t
    if isinstance(t, NStruct):
        return ["object", list(t.canon)]
    # A Model subclass: anonymous ones are their structure; named ones their name + print.
    definition = t.definition
    if t.anonymous:
        return ["object", list(definition._canon)]
    return ["model", t.model_name, definition.fingerprint]


def canon_prop(p: Any, *, with_name: bool = True) -> list[Any]:
    """Return the canonical list form of an NProp or a PropertyDefinition."""
    items = None if p.items is None else canon_prop(p.items, with_name=False)
    return [
        p.name if with_name else None,
        _canon_type(p.type),
        bool(p.required),
        _canon_default(p.default),
        bool(p.id),
        items,
    ]


def canon_props(props: Any) -> tuple[Any, ...]:
    """Return the canonical, name-sorted form of a sequence of properties."""
    return tuple(sorted((canon_prop(p) for p in props), key=lambda c: c[0]))


def _is_model_class(obj: Any) -> bool:
    from .model import Model

    return isinstance(obj, type) and issubclass(obj, Model) and obj is not Model


def _type_error(spec: Any, path: str) -> DefinitionError:
    hint = ""
    if isinstance(spec, str):
        close = difflib.get_close_matches(spec.lower(), TYPE_NAMES, n=1)
        if close:
            hint = f" Did you mean {close[0]!r}?"
    return DefinitionError(
        f"unknown type {spec!r} for property {path!r}; valid: one of {', '.join(TYPE_NAMES)}, "
        "a Python type (str, float, int, bool, datetime, dict, list, bytes, object), "
        "a dict with 'type', a one-element list, a nested dict, or a Model subclass." + hint,
        path=path,
    )


class _Normalizer:
    """Turn a raw properties mapping into a tuple of NProp, detecting cycles."""

    def __init__(self) -> None:
        self._active: set[int] = set()  # ids of containers on the current path (cycles)

    def struct(self, spec: Mapping[Any, Any], path: str) -> tuple[NProp, ...]:
        if id(spec) in self._active:
            raise DefinitionError(
                f"circular property spec at {path!r}: a nested dict contains itself; "
                "use a named Model subclass for recursive structures",
                path=path,
            )
        self._active.add(id(spec))
        try:
            out = []
            for name, sub in spec.items():
                sub_path = f"{path}.{name}" if path else str(name)
                if not isinstance(name, str) or not name:
                    raise DefinitionError(
                        f"property names must be non-empty str, got {name!r}"
                        + (f" in {path!r}" if path else ""),
                        path=sub_path,
                    )
                out.append(self.prop(name, sub, sub_path))
            return tuple(out)
        finally:
            self._active.discard(id(spec))

    def prop(self, name: str, spec: Any, path: str) -> NProp:
        from .model import PropertyDefinition

        if isinstance(spec, PropertyDefinition):
            return self._from_pd(name, spec)
        if isinstance(spec, Mapping) and "type" in spec:
            unknown = [k for k in spec if k not in _OPTION_KEYS]
            if unknown:
                raise DefinitionError(
                    f"unknown key {unknown[0]!r} in the definition of property {path!r}; "
                    f"valid keys: {', '.join(_OPTION_KEYS)}",
                    path=path,
                )
            required = spec.get("required", False)
            is_id = spec.get("id", False)
            for key, flag in (("required", required), ("id", is_id)):
                if not isinstance(flag, bool):
                    raise DefinitionError(
                        f"{key!r} of property {path!r} must be True or False, got {flag!r}",
                        path=path,
                    )
            base = self.type_of(name, spec["type"], path)
            default = spec.get("default")
            if default is not None:
                self._check_default(base, default, path)
            return NProp(name, base.type, required, default, is_id, base.items)
        return self.type_of(name, spec, path)

    def type_of(self, name: str, spec: Any, path: str) -> NProp:
        """Normalise a bare type spelling (no options) to an NProp."""
        from .model import PropertyDefinition

        if isinstance(spec, str):
            canon = canonical_type_name(spec)
            if canon is None:
                raise _type_error(spec, path)
            return NProp(name, canon)
        if isinstance(spec, type):
            if spec in PYTHON_TYPES:
                return NProp(name, PYTHON_TYPES[spec])
            if _is_model_class(spec):
                return NProp(name, spec)
            raise _type_error(spec, path)
        if isinstance(spec, PropertyDefinition):
            return self._from_pd(name, spec)
        if isinstance(spec, list):
            if len(spec) != 1:
                raise DefinitionError(
                    f"array spec of property {path!r} must have exactly one element type, "
                    f"got {len(spec)} elements; write e.g. ['string'], or 'array' for an "
                    "untyped array",
                    path=path,
                )
            if id(spec) in self._active:
                raise DefinitionError(
                    f"circular property spec at {path!r}: a list contains itself", path=path
                )
            self._active.add(id(spec))
            try:
                item = self.prop(name, spec[0], f"{path}[]")
            finally:
                self._active.discard(id(spec))
            return NProp(name, "array", items=item)
        if isinstance(spec, Mapping):
            if not spec:
                return NProp(name, "object")
            props = self.struct(spec, path)
            canon = canon_props(props)
            return NProp(name, NStruct(props, canon, _digest(["object", list(canon)])))
        raise _type_error(spec, path)

    def _from_pd(self, name: str, pd: Any) -> NProp:
        items = None if pd.items is None else self._from_pd(name, pd.items)
        return NProp(name, pd.type, pd.required, pd.default, pd.id, items)

    def _check_default(self, base: NProp, default: Any, path: str) -> None:
        t = base.type
        if isinstance(t, str) and t != "array":
            ok, _ = check_scalar(t, default)
            if not ok:
                raise DefinitionError(
                    f"default {default!r} of property {path!r} is not {expected(t)}",
                    path=path,
                )
        elif t == "array" and not isinstance(default, list):
            raise DefinitionError(
                f"default {default!r} of property {path!r} is not a list", path=path
            )


def normalize_properties(properties: Any, *, what: str = "properties") -> tuple[NProp, ...]:
    """Normalise a properties mapping; raise TypeError (not a mapping) or DefinitionError."""
    if properties is None:
        return ()
    if not isinstance(properties, Mapping):
        raise TypeError(
            f"{what} must be a mapping of property name → type spec, got "
            f"{type(properties).__name__} {properties!r:.80}"
        )
    return _Normalizer().struct(properties, "")


def struct_fingerprint(props: tuple[Any, ...]) -> tuple[tuple[Any, ...], str]:
    """Return ``(canon, fingerprint)`` of a sequence of NProp/PropertyDefinition."""
    canon = canon_props(props)
    return canon, _digest(["object", list(canon)])


def fingerprint(properties: Mapping[str, Any]) -> str:
    """Return the stable hex digest of a property structure.

    Raises TypeError for a non-mapping and DefinitionError for a malformed or circular spec.
    """
    return struct_fingerprint(normalize_properties(properties))[1]
