"""Definitions as plain JSON: what a store keeps, what history shows, what diffs compare.

A model class is built at run time and cannot be stored; its *definition* can. This
module turns a built class into its canonical JSON form (:func:`definition_json`) and
back into the ``properties`` / ``settings`` arguments of ``define``
(:func:`define_arguments`), so that another process builds a class of the very same
fingerprint. It also describes, diffs and checks the compatibility of two such forms
(DESIGN §12.5, Confluent Schema Registry's modes).

The JSON form is ``{"properties": {name: prop}, "settings": {...}}`` where ``prop`` is an
options dict ``{"type": T, "required": true, "default": ..., "id": true, "index": true,
"unique": true}`` (flags only when set) and ``T`` is a canonical type name, a one-element
list ``[prop]`` for a typed array, a dict of props for an embedded (anonymous) structure,
or ``{"$model": name, "$owner": owner, "$fingerprint": fp}`` for a named model class.
Defaults must be JSON values (a date default is kept as its ISO string).
"""

from __future__ import annotations

import datetime as _dt
import json
from collections.abc import Callable, Mapping
from typing import Any

from .errors import DefinitionError, IncompatibleDefinitionError
from .meta import owner_of
from .model import PropertyDefinition

__all__ = [
    "COMPATIBILITY_MODES",
    "check_compatibility",
    "compatibility_breaks",
    "define_arguments",
    "definition_json",
    "describe_property",
    "diff_definitions",
    "properties_text",
]

#: Confluent Schema Registry's compatibility modes (DESIGN §12.5); "none" is the default.
COMPATIBILITY_MODES = ("none", "backward", "forward", "full")


# --- class → JSON -------------------------------------------------------------------------


def definition_json(cls: Any) -> dict[str, Any]:
    """Return the canonical JSON form of a built model class's definition.

    Raises DefinitionError naming the property whose default is not a JSON value.
    """
    definition = cls.definition
    return {
        "properties": _props_json(definition.properties, cls.model_name),
        "settings": _json_value(dict(definition.settings), f"the settings of {cls.model_name!r}"),
    }


def _props_json(props: Mapping[str, PropertyDefinition], where: str) -> dict[str, Any]:
    return {name: _prop_json(p, f"{where}.{name}") for name, p in props.items()}


def _prop_json(p: PropertyDefinition, path: str) -> dict[str, Any]:
    out: dict[str, Any] = {"type": _type_json(p, path)}
    if p.required:
        out["required"] = True
    if p.default is not None:
        out["default"] = _json_value(
            _encode_default(p.default), f"the default of property {path!r}"
        )
    if p.id:
        out["id"] = True
    if p.unique:
        out["unique"] = True
    elif p.index:
        out["index"] = True
    return out


def _type_json(p: PropertyDefinition, path: str) -> Any:
    t = p.type
    if isinstance(t, str):
        if t == "array" and p.items is not None:
            return [_prop_json(p.items, f"{path}[]")]
        return t
    if t.anonymous:
        return _props_json(t.definition.properties, path)
    owner = owner_of(t)
    return {
        "$model": t.model_name,
        "$owner": None if owner is None else owner.name,
        "$fingerprint": t.definition.fingerprint,
    }


_TAGS = {
    "$datetime": _dt.datetime.fromisoformat,
    "$date": _dt.date.fromisoformat,
    "$bytes": bytes.fromhex,
}


def _encode_default(v: Any) -> Any:
    """Return a default as JSON, dates and bytes tagged (``{"$date": iso}``) to round-trip."""
    if isinstance(v, _dt.datetime):
        return {"$datetime": v.isoformat()}
    if isinstance(v, _dt.date):
        return {"$date": v.isoformat()}
    if isinstance(v, (bytes, bytearray)):
        return {"$bytes": bytes(v).hex()}
    if isinstance(v, (list, tuple)):
        return [_encode_default(x) for x in v]
    if isinstance(v, Mapping):
        return {k: _encode_default(x) for k, x in v.items()}
    return v


def _decode_default(v: Any) -> Any:
    if isinstance(v, list):
        return [_decode_default(x) for x in v]
    if isinstance(v, Mapping):
        if len(v) == 1:
            ((key, value),) = v.items()
            if key in _TAGS and isinstance(value, str):
                return _TAGS[key](value)
        return {k: _decode_default(x) for k, x in v.items()}
    return v


def _json_value(value: Any, what: str) -> Any:
    try:
        return json.loads(json.dumps(value, allow_nan=False))
    except (TypeError, ValueError) as exc:
        raise DefinitionError(
            f"{what} cannot be shared through a store: {value!r:.80} is not a JSON value "
            f"({exc}); use a str, number, bool, list or dict"
        ) from None


# --- JSON → define() arguments ---------------------------------------------------------------

#: (model name, owner name or None, fingerprint) → the class it names; raises DefinitionError.
ModelResolver = Callable[[str, "str | None", str], Any]


def define_arguments(
    data: Mapping[str, Any], resolve: ModelResolver
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Return ``(properties, settings)`` for ``define`` from a definition's JSON form.

    ``resolve`` turns a named-model reference into its class. Raises DefinitionError for
    a malformed form.
    """
    props = data.get("properties")
    if not isinstance(props, Mapping):
        raise DefinitionError(f"a stored definition needs a 'properties' mapping, got {data!r:.80}")
    return {n: _spec(p, resolve) for n, p in props.items()}, dict(data.get("settings") or {})


def _spec(prop: Any, resolve: ModelResolver) -> Any:
    if not isinstance(prop, Mapping) or "type" not in prop:
        raise DefinitionError(f"a stored property needs a 'type', got {prop!r:.80}")
    out = dict(prop)
    if "default" in out:
        out["default"] = _decode_default(out["default"])
    t = prop["type"]
    if isinstance(t, list):
        out["type"] = [_spec(t[0], resolve)]
    elif isinstance(t, Mapping):
        if "$model" in t:
            out["type"] = resolve(t["$model"], t.get("$owner"), t.get("$fingerprint", ""))
        else:
            out["type"] = {n: _spec(p, resolve) for n, p in t.items()}
    return out


# --- describing and diffing -----------------------------------------------------------------


def _type_text(t: Any) -> str:
    if isinstance(t, str):
        return t
    if isinstance(t, list):
        return f"array<{_type_text(t[0]['type'])}>"
    if "$model" in t:
        return str(t["$model"])
    inner = ", ".join(f"{n}: {_type_text(p['type'])}" for n, p in sorted(t.items()))
    return "{" + inner + "}"


def describe_property(prop: Mapping[str, Any]) -> str:
    """Return a short text for a property's JSON form, e.g. ``string, required, index``."""
    parts = [_type_text(prop["type"])]
    if prop.get("id"):
        parts.append("id")
    if prop.get("required"):
        parts.append("required")
    if "default" in prop:
        parts.append(f"default={_decode_default(prop['default'])!r}")
    if prop.get("unique"):
        parts.append("unique")
    elif prop.get("index"):
        parts.append("index")
    return ", ".join(parts)


def properties_text(data: Mapping[str, Any] | None) -> str:
    """Return ``name: type, ...`` for a definition's JSON form ("" for None)."""
    if not data:
        return ""
    props = data.get("properties") or {}
    return "; ".join(f"{n}: {describe_property(p)}" for n, p in props.items())


def diff_definitions(
    before: Mapping[str, Any] | None, after: Mapping[str, Any] | None
) -> list[tuple[str, str, str | None, str | None]]:
    """Return ``(property, change, before, after)`` rows, change added/removed/changed.

    Settings changes appear as property ``"(settings)"``.
    """
    a = dict((before or {}).get("properties") or {})
    b = dict((after or {}).get("properties") or {})
    rows: list[tuple[str, str, str | None, str | None]] = []
    for name in [*a, *[n for n in b if n not in a]]:
        if name not in b:
            rows.append((name, "removed", describe_property(a[name]), None))
        elif name not in a:
            rows.append((name, "added", None, describe_property(b[name])))
        elif a[name] != b[name]:
            rows.append((name, "changed", describe_property(a[name]), describe_property(b[name])))
    sa = dict((before or {}).get("settings") or {})
    sb = dict((after or {}).get("settings") or {})
    if before is not None and after is not None and sa != sb:
        rows.append(
            (
                "(settings)",
                "changed",
                json.dumps(sa, sort_keys=True),
                json.dumps(sb, sort_keys=True),
            )
        )
    return rows


# --- compatibility ---------------------------------------------------------------------------


def _shape(prop: Mapping[str, Any]) -> str:
    """Return the type of a property's JSON form as canonical text (flags excluded)."""
    return json.dumps(prop["type"], sort_keys=True)


def compatibility_breaks(
    before: Mapping[str, Any], after: Mapping[str, Any], mode: str
) -> list[str]:
    """Return one line per change of ``after`` that breaks ``mode`` against ``before``.

    ``backward``: the new definition reads data written with the last one (add optional
    properties — or required ones with a default, which fills data written without them,
    as Confluent allows — remove properties, widen integer → number). ``forward``: the last one
    reads data written with the new one (add properties, remove optional ones).
    ``full``: both. Changing a type otherwise, making a property required, changing
    ``id`` or ``strict`` breaks every mode but ``none``. ValueError for an unknown mode.
    """
    if mode not in COMPATIBILITY_MODES:
        raise ValueError(
            f"unknown compatibility mode {mode!r}; one of {', '.join(COMPATIBILITY_MODES)}"
        )
    if mode == "none":
        return []
    back = mode in ("backward", "full")
    fwd = mode in ("forward", "full")
    a = dict(before.get("properties") or {})
    b = dict(after.get("properties") or {})
    out: list[str] = []
    for name, p in b.items():
        if name in a:
            continue
        if back and p.get("required") and "default" not in p:
            out.append(
                f"added required property {name!r}: the new definition cannot read data "
                "written without it (make it optional, or give it a default)"
            )
    for name, p in a.items():
        if name in b:
            continue
        if fwd and p.get("required"):
            out.append(
                f"removed required property {name!r}: the last definition cannot read data "
                "written without it"
            )
    for name in [n for n in a if n in b]:
        old, new = a[name], b[name]
        if bool(old.get("id")) != bool(new.get("id")):
            out.append(
                f"changed the id of property {name!r} ({describe_property(old)} → "
                f"{describe_property(new)})"
            )
        if _shape(old) != _shape(new):
            widen = old["type"] == "integer" and new["type"] == "number"
            if not widen or fwd:
                out.append(
                    f"changed the type of property {name!r} from {_type_text(old['type'])} "
                    f"to {_type_text(new['type'])}"
                    + (" (a widening: only backward-compatible)" if widen else "")
                )
        if new.get("required") and not old.get("required"):
            out.append(f"made property {name!r} required")
        elif fwd and old.get("required") and not new.get("required"):
            out.append(
                f"made property {name!r} optional: the last definition cannot read data "
                "written without it"
            )
    sa = dict(before.get("settings") or {})
    sb = dict(after.get("settings") or {})
    if bool(sa.get("strict", False)) != bool(sb.get("strict", False)):
        out.append(
            f"changed strict from {bool(sa.get('strict', False))} to "
            f"{bool(sb.get('strict', False))}"
        )
    return out


def check_compatibility(
    name: str, before: Mapping[str, Any], after: Mapping[str, Any], mode: str
) -> None:
    """Raise IncompatibleDefinitionError listing every change of ``after`` that breaks ``mode``."""
    breaks = compatibility_breaks(before, after, mode)
    if breaks:
        raise IncompatibleDefinitionError(
            f"the new definition of model {name!r} is not {mode}-compatible with the last "
            f"one ({len(breaks)} breaking change{'s' if len(breaks) != 1 else ''}): "
            + "; ".join(breaks)
            + f"; nothing was changed — keep the change {mode}-compatible, or set "
            "registry.compatibility = 'none'",
            changes=breaks,
        )
