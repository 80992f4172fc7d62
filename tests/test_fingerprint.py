"""Structure fingerprints (DESIGN §5, §10): canonical, order-free, nested-aware, stable."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys

import pytest

from nbregistry import (
    DefinitionError,
    ModelBuilder,
    ModelRedefinedWarning,
    ModelRegistry,
    PropertyDefinition,
    fingerprint,
)


def test_key_order_never_matters() -> None:
    a = {"street": "string", "city": "string", "geo": {"lat": "number", "lng": "number"}}
    b = {"geo": {"lng": "number", "lat": "number"}, "city": "string", "street": "string"}
    assert fingerprint(a) == fingerprint(b)


@pytest.mark.parametrize(
    "spelling",
    ["string", "String", "STRING", str, {"type": "string"}, {"type": str, "required": False}],
)
def test_every_spelling_of_a_type_normalises_first(spelling: object) -> None:
    assert fingerprint({"name": spelling}) == fingerprint({"name": "string"})


@pytest.mark.parametrize(
    ("py", "name"),
    [
        (str, "string"),
        (float, "number"),
        (int, "integer"),
        (bool, "boolean"),
        (dt.datetime, "date"),
        (dict, "object"),
        (list, "array"),
        (bytes, "buffer"),
        (object, "any"),
    ],
)
def test_python_types_map_to_type_names(py: type, name: str) -> None:
    assert fingerprint({"x": py}) == fingerprint({"x": name})


def test_nested_key_names_count_regression_of_the_js_original() -> None:
    # The JavaScript original serialised through JSON and lost nested key names.
    assert fingerprint({"address": {"street": "string"}}) != fingerprint(
        {"address": {"city": "string"}}
    )


def test_nested_types_array_items_and_flags_count() -> None:
    base = fingerprint({"a": {"b": "string"}})
    assert fingerprint({"a": {"b": "number"}}) != base
    assert fingerprint({"tags": ["string"]}) != fingerprint({"tags": ["number"]})
    assert fingerprint({"tags": ["string"]}) != fingerprint({"tags": "array"})
    assert fingerprint({"x": {"type": "string", "required": True}}) != fingerprint({"x": "string"})
    assert fingerprint({"x": {"type": "string", "default": "a"}}) != fingerprint({"x": "string"})
    assert fingerprint({"x": {"type": "string", "default": "a"}}) != fingerprint(
        {"x": {"type": "string", "default": "b"}}
    )
    assert fingerprint({"x": {"type": "integer", "id": True}}) != fingerprint({"x": "integer"})
    assert fingerprint({"x": {"type": "any", "default": 1}}) != fingerprint(
        {"x": {"type": "any", "default": True}}
    )


def test_required_false_equals_plain_type() -> None:
    assert fingerprint({"x": {"type": "number", "required": False}}) == fingerprint({"x": float})


def test_model_subclass_types_count_by_name_and_structure(reg: ModelRegistry) -> None:
    b = ModelBuilder(registry=reg)
    a1 = b.define("A", {"x": "string"})
    b2 = b.define("B", {"x": "string"})
    assert fingerprint({"ref": a1}) != fingerprint({"ref": b2})
    anon = b.resolve_type({"street": "string"})
    assert fingerprint({"addr": anon}) == fingerprint({"addr": {"street": "string"}})


def test_stable_across_processes() -> None:
    spec = "{'a': 'string', 'b': {'c': ['number'], 'd': {'type': 'date', 'required': True}}}"
    code = f"from nbregistry import fingerprint; print(fingerprint({spec}))"
    outs = {
        subprocess.run(
            [sys.executable, "-c", code],
            capture_output=True,
            text=True,
            check=True,
            env={"PYTHONHASHSEED": str(seed)},
        ).stdout.strip()
        for seed in (1, 2)
    }
    assert len(outs) == 1
    value = outs.pop()
    assert len(value) == 32 and int(value, 16) >= 0


def test_fingerprint_of_definition_properties_round_trips(reg: ModelRegistry) -> None:
    b = ModelBuilder(registry=reg)
    m = b.define("M", {"a": "string", "n": {"b": ["integer"]}})
    assert fingerprint(dict(m.definition.properties)) == m.definition.fingerprint


def test_non_mapping_raises_type_error() -> None:
    for bad in (["a"], "string", 3, None):
        with pytest.raises(TypeError):
            fingerprint(bad)  # type: ignore[arg-type]


def test_circular_spec_raises_definition_error_with_path() -> None:
    spec: dict[str, object] = {"a": {"b": {}}}
    spec["a"]["b"]["c"] = spec["a"]  # type: ignore[index]
    with pytest.raises(DefinitionError) as info:
        fingerprint(spec)
    assert "a.b.c" in str(info.value)
    items: list[object] = []
    items.append(items)
    with pytest.raises(DefinitionError):
        fingerprint({"x": items})


def test_property_definition_is_an_accepted_spelling() -> None:
    pd = PropertyDefinition("x", "string", required=True)
    assert fingerprint({"x": pd}) == fingerprint({"x": {"type": "string", "required": True}})


def test_structure_lookup_memo_is_exact() -> None:
    from nbregistry.core.fingerprint import lookup_fingerprint

    spec: dict[str, object] = {"a": {"type": "any", "default": 1}}
    assert lookup_fingerprint(spec) == fingerprint(spec)
    true_spec = {"a": {"type": "any", "default": True}}
    assert lookup_fingerprint(true_spec) == fingerprint(true_spec) != fingerprint(spec)
    spec["b"] = "string"  # mutating a spec changes its snapshot, so never a stale answer
    assert lookup_fingerprint(spec) == fingerprint(spec)
    nested: dict[str, object] = {"x": {"y": ["number"]}}
    assert lookup_fingerprint(nested) == fingerprint(nested)


def test_structure_lookup_memo_keeps_no_class_alive(reg: ModelRegistry) -> None:
    import gc
    import weakref

    from nbregistry.core.fingerprint import _FP_MEMO, lookup_fingerprint

    builder = ModelBuilder(registry=reg)
    model = builder.define("Ref", {"a": "string"})
    ref = weakref.ref(model)
    assert lookup_fingerprint({"r": model}) == fingerprint({"r": model})
    # A model class pickles as its reference (DESIGN §12.6), so the memo key holds the
    # reference's bytes (name and fingerprint, which fix the spec's text), not the class.
    assert all(type(k) is bytes for k in _FP_MEMO)
    assert any(model.definition.fingerprint.encode() in k for k in _FP_MEMO)
    with pytest.warns(ModelRedefinedWarning):
        other = builder.define("Ref", {"a": "integer"})
    assert lookup_fingerprint({"r": other}) == fingerprint({"r": other})
    assert fingerprint({"r": other}) != fingerprint({"r": model})
    del other
    reg.clear()
    del model
    gc.collect()
    assert ref() is None


def test_structure_lookup_still_reports_bad_specs(reg: ModelRegistry) -> None:
    spec: dict[str, object] = {"a": {}}
    spec["a"]["self"] = spec  # type: ignore[index]
    with pytest.raises(DefinitionError):
        reg.find_model_by_structure(spec)
    with pytest.raises(DefinitionError, match="'nope'"):
        reg.find_model_by_structure({"a": "nope"})
    with pytest.raises(DefinitionError):
        reg.find_model_by_structure({"a": "nope"})  # the failure is not memoised
