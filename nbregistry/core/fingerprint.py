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
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .errors import DefinitionError
from .model import INDEXABLE_TYPES as _INDEXABLE
from .model import Model, PropertyDefinition, make_property
from .typenames import PYTHON_TYPES, TYPE_NAMES, canonical_type_name, check_scalar, expected

__all__ = [
    "NProp",
    "NStruct",
    "Normalizer",
    "digest",
    "fingerprint",
    "lookup_fingerprint",
    "normalize_with_fingerprint",
    "prop_text",
    "struct_text",
]

_OPTION_KEYS = ("type", "required", "default", "id", "index", "unique")


@dataclass(frozen=True, slots=True)
class NStruct:
    """A normalised nested object spec, before it is bound to an anonymous model class."""

    props: tuple[NProp, ...]
    text: str  # canonical JSON text of the structure: '["object",[...props sorted...]]'
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
    index: bool = False  # DESIGN §12.4: an index on this property (``unique`` implies it)
    unique: bool = False
    # The PropertyDefinition a scalar NProp binds to, made once when it is normalised
    # (leaf NProps are shared through the leaf cache, so defining a model mostly reads
    # this slot instead of building definitions). None for nested and array types.
    bound: Any = field(default=None, compare=False, repr=False)


def _with_binding(p: NProp) -> NProp:
    """Return ``p`` with ``bound`` set when it is a plain scalar property."""
    if type(p.type) is str and p.items is None and p.bound is None:
        pd = make_property(p.name, p.type, p.required, p.default, p.id, None, p.index, p.unique)
        return NProp(p.name, p.type, p.required, p.default, p.id, None, p.index, p.unique, pd)
    return p


try:  # the builtin module: importing hashlib would load OpenSSL (slow to import)
    from _blake2 import blake2b as _blake2b
except ImportError:  # pragma: no cover - every CPython build has _blake2
    from hashlib import blake2b as _blake2b


def digest(text: str) -> str:
    return _blake2b(text.encode("utf-8"), digest_size=16).hexdigest()


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


_dumps = json.JSONEncoder(separators=(",", ":"), ensure_ascii=True).encode


def _type_text(t: Any) -> str:
    if isinstance(t, str):
        return _dumps(t)
    if isinstance(t, NStruct):
        return t.text
    # A Model subclass: anonymous ones are their structure; named ones name + fingerprint.
    definition = t.definition
    if t.anonymous:
        return definition._text
    return _dumps(["model", t.model_name, definition.fingerprint])


def prop_text(p: Any, *, with_name: bool = True) -> str:
    """Return the canonical JSON text of an NProp or PropertyDefinition.

    The text is exactly ``json.dumps([name, type, required, default, id, items])`` with
    compact separators, where a nested structure is ``["object", [props sorted by name]]``.
    An index adds a seventh element, ``"index"`` or ``"unique"`` (DESIGN §12.4), so a
    property without one keeps exactly its earlier text and fingerprint.
    """
    items = "null" if p.items is None else prop_text(p.items, with_name=False)
    name = _dumps(p.name) if with_name else "null"
    default = "null" if p.default is None else _dumps(_canon_default(p.default))
    flags = ',"unique"' if p.unique else ',"index"' if p.index else ""
    return (
        f"[{name},{_type_text(p.type)},{'true' if p.required else 'false'},{default},"
        f"{'true' if p.id else 'false'},{items}{flags}]"
    )


def struct_text(props: Any, texts: list[str]) -> str:
    """Return the canonical text of a structure from its properties' texts, sorted by name."""
    # Names are unique within a structure, so sorting the pairs never compares texts.
    pairs = sorted(zip([p.name for p in props], texts, strict=True))
    return '["object",[' + ",".join([t for _, t in pairs]) + "]]"


def _is_model_class(obj: Any) -> bool:
    return isinstance(obj, type) and issubclass(obj, Model) and obj is not Model


# (property name, hashable spec) → (NProp, canonical text) for plain leaf spellings such
# as "string", str or {"type": "number", "required": True}. Only specs made of strs,
# builtin types, bools and scalar defaults are cached (never a Model class, so the cache
# keeps no class alive); bounded by clearing when full.
_LEAF_CACHE: dict[Any, tuple[NProp, str]] = {}
_LEAF_CACHE_MAX = 8192
_SCALARS = (str, int, float, bool, type(None))


def _leaf_key(name: str, spec: Any) -> Any:
    """Return a cache key for a plain leaf spec, or None when it must not be cached."""
    if type(spec) is str or (type(spec) is type and spec in PYTHON_TYPES):
        return (name, spec)
    if type(spec) is list and len(spec) == 1:
        item = spec[0]
        if type(item) is str or (type(item) is type and item in PYTHON_TYPES):
            return (name, "[]", item)
        return None
    if type(spec) is dict and "type" in spec:
        t = spec["type"]
        if not (type(t) is str or (type(t) is type and t in PYTHON_TYPES)):
            return None
        for v in spec.values():
            if type(v) not in _SCALARS and not (type(v) is type and v in PYTHON_TYPES):
                return None
        # Value types are part of the key: 1 == True == 1.0 must not share an entry.
        return (name, tuple(spec.items()), tuple(map(type, spec.values())))
    return None


def _type_error(spec: Any, path: str) -> DefinitionError:
    import difflib

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


class Normalizer:
    """Turn a raw properties mapping into a tuple of NProp, detecting cycles."""

    def __init__(self) -> None:
        self._active: set[int] = set()  # ids of containers on the current path (cycles)

    def struct(self, spec: Mapping[Any, Any], path: str) -> tuple[tuple[NProp, ...], list[str]]:
        """Return the normalised properties of ``spec`` and their canonical texts.

        Raises DefinitionError naming the path of a bad or circular spec.
        """
        if id(spec) in self._active:
            raise DefinitionError(
                f"circular property spec at {path!r}: a nested dict contains itself; "
                "use a named Model subclass for recursive structures",
                path=path,
            )
        self._active.add(id(spec))
        try:
            out: list[NProp] = []
            texts: list[str] = []
            for name, sub in spec.items():
                if type(name) is not str or not name:
                    sub_path = f"{path}.{name}" if path else str(name)
                    raise DefinitionError(
                        f"property names must be non-empty str, got {name!r}"
                        + (f" in {path!r}" if path else ""),
                        path=sub_path,
                    )
                key = (name, sub) if type(sub) is str else _leaf_key(name, sub)
                hit = None if key is None else _LEAF_CACHE.get(key)
                if hit is None:
                    nprop = _with_binding(self.prop(name, sub, f"{path}.{name}" if path else name))
                    text = prop_text(nprop)
                    if key is not None:
                        if len(_LEAF_CACHE) >= _LEAF_CACHE_MAX:
                            _LEAF_CACHE.clear()
                        _LEAF_CACHE[key] = (nprop, text)
                else:
                    nprop, text = hit
                out.append(nprop)
                texts.append(text)
            return tuple(out), texts
        finally:
            self._active.discard(id(spec))

    def prop(self, name: str, spec: Any, path: str) -> NProp:
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
            index, unique = self._index_flags(spec, base, path)
            return NProp(name, base.type, required, default, is_id, base.items, index, unique)
        return self.type_of(name, spec, path)

    def type_of(self, name: str, spec: Any, path: str) -> NProp:
        """Normalise a bare type spelling (no options) to an NProp."""
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
            props, texts = self.struct(spec, path)
            text = struct_text(props, texts)
            return NProp(name, NStruct(props, text, digest(text)))
        raise _type_error(spec, path)

    def _index_flags(self, spec: Mapping[Any, Any], base: NProp, path: str) -> tuple[bool, bool]:
        """Return ``(index, unique)`` of a property dict (LoopBack spellings); DefinitionError."""
        index = spec.get("index", False)
        unique = spec.get("unique", False)
        if isinstance(index, Mapping):
            bad = [k for k in index if k != "unique"]
            if bad or not isinstance(index.get("unique", False), bool):
                raise DefinitionError(
                    f"'index' of property {path!r} must be True, False or {{'unique': True}}, "
                    f"got {index!r:.80}",
                    path=path,
                )
            unique = unique or index.get("unique", False)
            index = True
        for key, flag in (("index", index), ("unique", unique)):
            if not isinstance(flag, bool):
                raise DefinitionError(
                    f"{key!r} of property {path!r} must be True or False, got {flag!r}",
                    path=path,
                )
        index = index or unique
        if index:
            if path.endswith("[]"):
                raise DefinitionError(
                    f"indexes apply to top-level properties, not to the elements of array "
                    f"{path[:-2]!r}; put 'index' beside the array's type instead of inside it",
                    path=path,
                )
            if base.type not in _INDEXABLE:
                raise DefinitionError(
                    f"property {path!r} cannot be indexed: indexes cover "
                    f"{', '.join(sorted(_INDEXABLE))} properties, not {base.type!r}"
                    if isinstance(base.type, str)
                    else f"property {path!r} cannot be indexed: it is an embedded object",
                    path=path,
                )
        return index, unique

    def _from_pd(self, name: str, pd: Any) -> NProp:
        items = None if pd.items is None else self._from_pd(name, pd.items)
        return NProp(name, pd.type, pd.required, pd.default, pd.id, items, pd.index, pd.unique)

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


def normalize_with_fingerprint(properties: Any) -> tuple[tuple[NProp, ...], str]:
    """Return ``(normalised props, fingerprint)``; TypeError / DefinitionError as above."""
    if not isinstance(properties, Mapping):
        raise TypeError(
            f"properties must be a mapping of property name → type spec, got "
            f"{type(properties).__name__} {properties!r:.80}"
        )
    props, texts = Normalizer().struct(properties, "")
    return props, digest(struct_text(props, texts))


# pickled spec → fingerprint, for find_model_by_structure: a lookup then costs one C-level
# ``pickle.dumps`` and a dict probe instead of a full normalisation. The pickle is an exact
# snapshot of the spec's current content (1, 1.0 and True pickle differently; builtin types
# pickle by reference). A Model class pickles as its reference (core.pickling: tenant,
# owner, name and fingerprint, or tenant, fingerprint and strict for an anonymous one),
# which determines its canonical text, so the key stays exact; the memo holds bytes only
# and keeps no class alive. Bounded by clearing.
_FP_MEMO: dict[bytes, str] = {}
_FP_MEMO_MAX = 4096
_pickle_dumps: Any = None


def lookup_fingerprint(properties: Any) -> str:
    """Return the fingerprint of a spec, memoised for plain specs; TypeError/DefinitionError."""
    global _pickle_dumps
    if type(properties) is dict:
        if _pickle_dumps is None:
            import pickle

            _pickle_dumps = pickle.dumps
        try:
            key = _pickle_dumps(properties, 5)
        except Exception:  # unpicklable content (a Model class, a lambda...): no memo
            key = None
        if key is not None:
            fp = _FP_MEMO.get(key)
            if fp is None:
                fp = normalize_with_fingerprint(properties)[1]
                if len(_FP_MEMO) >= _FP_MEMO_MAX:
                    _FP_MEMO.clear()
                _FP_MEMO[key] = fp
            return fp
    return normalize_with_fingerprint(properties)[1]


def fingerprint(properties: Mapping[str, Any]) -> str:
    """Return the stable hex digest of a property structure.

    Raises TypeError for a non-mapping and DefinitionError for a malformed or circular spec.
    """
    return normalize_with_fingerprint(properties)[1]
