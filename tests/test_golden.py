"""Golden values pinned before the package is restructured (step 0 of the refactoring).

Everything here is what the code returned at commit 67db64d, written down literally:
structure fingerprints of 38 property specs, the definitions of defined models, and the
structure (not the timings) of ``python -m nbregistry bench lookups --scale ci --json``.
A failure means the restructuring changed behaviour; change a value here only on purpose.

Only public names (``import nbregistry``) and the command line are used, never internal
module paths, because the modules are about to move.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import nbregistry
from nbregistry import DataSource, ModelBuilder, ModelRegistry, PropertyDefinition, fingerprint

ROOT = Path(__file__).resolve().parents[1]

# --- 1. fingerprints of property specs ----------------------------------------------------


def _models() -> dict[str, Any]:
    """Define, in a fresh isolated registry, the models the specs below embed or borrow from."""
    reg = ModelRegistry()
    ds = DataSource("memory", name="golden", registry=reg)
    person = ds.define("Person", {"name": {"type": "string", "required": True}, "age": "integer"})
    holder = ds.define(
        "Holder", {"address": {"street": "string", "city": "string"}, "tags": ["string"]}
    )
    return {"reg": reg, "Person": person, "Holder": holder}


@pytest.fixture(scope="module")
def models() -> Iterator[dict[str, Any]]:
    """Yield the models of ``_models`` and clear their registry afterwards."""
    handles = _models()
    yield handles
    handles["reg"].clear()


EVERY_TYPE_NAME = {
    "s": "string",
    "n": "number",
    "i": "integer",
    "b": "boolean",
    "d": "date",
    "o": "object",
    "a": "array",
    "x": "any",
    "y": "buffer",
}


def golden_specs(m: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Return spec name → property spec; ``m`` holds the models of ``_models``."""
    person, holder = m["Person"], m["Holder"]
    props = holder.definition.properties
    return {
        "every_type_name": dict(EVERY_TYPE_NAME),
        "type_names_any_case": {
            "s": "String",
            "n": "NUMBER",
            "i": "Integer",
            "b": "bOOLEAN",
            "d": "Date",
            "o": "OBJECT",
            "a": "Array",
            "x": "ANY",
            "y": "Buffer",
        },
        "python_types": {
            "s": str,
            "n": float,
            "i": int,
            "b": bool,
            "d": dt.datetime,
            "o": dict,
            "a": list,
            "x": object,
            "y": bytes,
        },
        "option_dicts_no_flags": {
            "s": {"type": "string"},
            "n": {"type": float},
            "i": {"type": "INTEGER", "required": False},
            "b": {"type": "boolean", "default": None},
            "d": {"type": dt.date, "id": False},
            "o": {"type": {}},
            "a": {"type": list},
            "x": {"type": "any", "required": False, "default": None, "id": False},
            "y": {"type": "buffer"},
        },
        "every_type_name_reversed_order": dict(reversed(EVERY_TYPE_NAME.items())),
        "empty_spec": {},
        "empty_dict_property": {"meta": {}},
        "object_property": {"meta": "object"},
        "date_as_python_date": {"when": dt.date},
        "date_as_python_datetime": {"when": dt.datetime},
        "required_and_id_flags": {
            "code": {"type": "string", "id": True},
            "email": {"type": "string", "required": True},
            "note": "string",
        },
        "default_int_on_number": {"v": {"type": "number", "default": 1}},
        "default_float_on_number": {"v": {"type": "number", "default": 1.0}},
        "default_true_on_any": {"v": {"type": "any", "default": True}},
        "default_int_on_any": {"v": {"type": "any", "default": 1}},
        "default_str": {"v": {"type": "string", "default": "x"}},
        "default_list": {"v": {"type": "array", "default": ["a", 1, 2.5, False]}},
        "default_dict": {"v": {"type": "object", "default": {"k": 1, "j": "x"}}},
        "default_datetime": {"v": {"type": "date", "default": dt.datetime(2024, 1, 2, 3, 4, 5)}},
        "default_bytes": {"v": {"type": "buffer", "default": b"\x00\xff"}},
        "every_option_at_once": {
            "n": {"type": "integer", "required": True, "default": 7, "id": True}
        },
        "nested_2_levels": {"name": "string", "address": {"street": "string", "city": "string"}},
        "nested_2_levels_other_key": {
            "name": "string",
            "address": {"street": "string", "zip": "string"},
        },
        "nested_3_levels": {
            "user": {
                "name": "string",
                "address": {"street": "string", "geo": {"lat": "number", "lng": "number"}},
            }
        },
        "nested_in_option_dict": {
            "address": {"type": {"street": "string", "city": "string"}, "required": True}
        },
        "array_of_scalars": {"tags": ["string"], "scores": [float], "flags": [{"type": "Boolean"}]},
        "array_required_with_default": {
            "tags": {"type": ["string"], "required": True, "default": ["a", "b"]}
        },
        "array_of_objects": {
            "lines": [
                {"sku": "string", "qty": "integer", "price": {"type": "number", "required": True}}
            ]
        },
        "array_of_arrays_of_objects": {"matrix": [[{"tag": "string"}]]},
        "array_of_arrays_of_scalars": {"grid": [["number"]]},
        "property_definitions_from_model": {
            "name": person.definition.properties["name"],
            "address": props["address"],
            "tags": props["tags"],
        },
        "property_definitions_spelled_out": {
            "name": {"type": "string", "required": True},
            "address": {"street": "string", "city": "string"},
            "tags": ["string"],
        },
        "property_definition_under_another_key": {"nick": person.definition.properties["name"]},
        "property_definition_built_directly": {
            "nick": PropertyDefinition("ignored", "string", required=True)
        },
        "named_model_embedded": {"owner": person, "note": "string"},
        "named_model_in_array": {"members": [person]},
        "named_model_in_option_dict": {"owner": {"type": person, "required": True}},
        "realistic_mixed": {
            "name": {"type": "string", "required": True},
            "price": {"type": float, "default": 9.5},
            "in_stock": {"type": "boolean", "default": True},
            "released": dt.datetime,
            "tags": ["string"],
            "dims": {"w": "number", "h": "number", "unit": {"type": "string", "default": "cm"}},
            "variants": [{"color": "string", "stock": "integer"}],
            "maker": person,
            "extra": {},
        },
    }


# spec name → the hex digest nbregistry.fingerprint(spec) returned at commit 67db64d.
GOLDEN_FINGERPRINTS: dict[str, str] = {
    "every_type_name": "3b07e9b7eab254f46c321ee510027f9d",
    "type_names_any_case": "3b07e9b7eab254f46c321ee510027f9d",
    "python_types": "3b07e9b7eab254f46c321ee510027f9d",
    "option_dicts_no_flags": "3b07e9b7eab254f46c321ee510027f9d",
    "every_type_name_reversed_order": "3b07e9b7eab254f46c321ee510027f9d",
    "empty_spec": "1a2c3d5272d8fcc805db0237f8022fff",
    "empty_dict_property": "c2f0e3c19deb2040ccef11cf471986ae",
    "object_property": "c2f0e3c19deb2040ccef11cf471986ae",
    "date_as_python_date": "2afab29436d436f14fe4772ba1bac8bc",
    "date_as_python_datetime": "2afab29436d436f14fe4772ba1bac8bc",
    "required_and_id_flags": "b685b4cd5cf404c779a339e855b9c6bf",
    "default_int_on_number": "2c6b0a6134a7748886ac628e8bab2f81",
    "default_float_on_number": "412d7cfdc0e7aeaab0cd7bf0f66d289e",
    "default_true_on_any": "7c8b81fd63be4349b1138d6d893c708c",
    "default_int_on_any": "7cc5f497403d9bd45963e110ce8c2e6a",
    "default_str": "3c5d47e41357f48c21a1c468d56c024c",
    "default_list": "c8e393076752cd54cc4f1521b6d785d6",
    "default_dict": "df9894092326f9d00d5f2fa3373f845e",
    "default_datetime": "79663ae2739edbd5b106204b64fbd321",
    "default_bytes": "04a6419beb20de5a65a8544bde3490c7",
    "every_option_at_once": "03c37683acb990bc1a81187de283c361",
    "nested_2_levels": "96d15d5b8671f72db8316a037498bb18",
    "nested_2_levels_other_key": "9d77a320bbc273885bc8d4e529fd4844",
    "nested_3_levels": "9877cc4234a4ffc03a7740c4834f19f5",
    "nested_in_option_dict": "b3d7d0995efc294d572108e1695ba41b",
    "array_of_scalars": "cf08c8cca473dad6dcad8f61105ff98b",
    "array_required_with_default": "295080e3a788aee34f3f0e4a99b9edd4",
    "array_of_objects": "456901dd9481d98b4b97bad1c519ce16",
    "array_of_arrays_of_objects": "a11129267bb2344a6b94eeb69cad0645",
    "array_of_arrays_of_scalars": "16f7346aace2fe5846724568980c526e",
    "property_definitions_from_model": "04b3e1b2c1ba127528344e3c39e14424",
    "property_definitions_spelled_out": "04b3e1b2c1ba127528344e3c39e14424",
    "property_definition_under_another_key": "1ed6beb642a2c2d34c36f0e3b83b833d",
    "property_definition_built_directly": "1ed6beb642a2c2d34c36f0e3b83b833d",
    "named_model_embedded": "aa667bb104ee3b17a1e5a517db3e93ce",
    "named_model_in_array": "398db1701fb91174aca1f6c36b725ac3",
    "named_model_in_option_dict": "5514039cd3d10c81973d72a542420df4",
    "realistic_mixed": "d4dddaf35e8249ac8646fcb9a5bc885d",
}

# Groups of specs that are spellings of one structure, so they must share one digest.
EQUIVALENT: list[tuple[str, ...]] = [
    (
        "every_type_name",
        "type_names_any_case",
        "python_types",
        "option_dicts_no_flags",
        "every_type_name_reversed_order",
    ),
    ("empty_dict_property", "object_property"),
    ("date_as_python_date", "date_as_python_datetime"),
    ("property_definitions_from_model", "property_definitions_spelled_out"),
    ("property_definition_under_another_key", "property_definition_built_directly"),
]


def test_every_spec_has_a_golden_digest(models: dict[str, Any]) -> None:
    assert sorted(golden_specs(models)) == sorted(GOLDEN_FINGERPRINTS)


@pytest.mark.parametrize("name", sorted(GOLDEN_FINGERPRINTS))
def test_golden_fingerprint(models: dict[str, Any], name: str) -> None:
    assert fingerprint(golden_specs(models)[name]) == GOLDEN_FINGERPRINTS[name]


def test_equivalent_spellings_share_a_digest_and_nothing_else_does(
    models: dict[str, Any],
) -> None:
    digests = {name: fingerprint(spec) for name, spec in golden_specs(models).items()}
    for group in EQUIVALENT:
        assert len({digests[n] for n in group}) == 1, group
    grouped = {n for group in EQUIVALENT for n in group}
    classes = len(EQUIVALENT) + len(set(digests) - grouped)
    assert len(set(digests.values())) == classes


# The digest of one spec computed in a child process with another hash seed.
GOLDEN_PROCESS_DIGEST = "ba00ca90cb8470dd3f237cd304dd4ec0"


def test_fingerprint_is_the_same_in_a_fresh_process() -> None:
    code = (
        "import datetime as dt, nbregistry; print(nbregistry.fingerprint("
        "{'v': {'type': 'date', 'default': dt.datetime(2024, 1, 2, 3, 4, 5)}, "
        "'matrix': [[{'tag': 'string'}]]}))"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONHASHSEED": "123"}
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True
    )
    assert out.stdout.strip() == GOLDEN_PROCESS_DIGEST


# --- 1b. definitions of defined models ----------------------------------------------------


def user_spec(person: Any) -> dict[str, Any]:
    """Return the property spec of the ``User`` model (every kind of property once)."""
    return {
        "name": {"type": "string", "required": True},
        "email": str,
        "age": {"type": "integer", "default": 0},
        "score": float,
        "active": {"type": bool, "default": True},
        "joined": dt.datetime,
        "avatar": bytes,
        "meta": {},
        "extra": object,
        "tags": ["string"],
        "address": {"street": "string", "geo": {"lat": "number", "lng": "number"}},
        "orders": [{"sku": "string", "qty": "integer"}],
        "matrix": [[{"tag": "string"}]],
        "friend": person,
        "pals": [person],
    }


def _define_user(settings: dict[str, Any] | None, *, via: str = "datasource") -> Any:
    """Define Person then User in a fresh registry; return ``(registry, User)``."""
    reg = ModelRegistry()
    if via == "datasource":
        owner: Any = DataSource("memory", name="golden", registry=reg)
    else:
        owner = ModelBuilder(name="golden", registry=reg)
    person = owner.define("Person", {"name": "string"})
    return reg, owner.define("User", user_spec(person), settings)


# Property rows (name, describe(), required, default, id) in definition order.
USER_PROPS_WITHOUT_ID = [
    ("name", "string", True, None, False),
    ("email", "string", False, None, False),
    ("age", "integer", False, 0, False),
    ("score", "number", False, None, False),
    ("active", "boolean", False, True, False),
    ("joined", "date", False, None, False),
    ("avatar", "buffer", False, None, False),
    ("meta", "object", False, None, False),
    ("extra", "any", False, None, False),
    ("tags", "array<string>", False, None, False),
    ("address", "AnonymousModel_2", False, None, False),  # geo is AnonymousModel_1
    ("orders", "array<AnonymousModel_3>", False, None, False),
    ("matrix", "array<array<AnonymousModel_4>>", False, None, False),
    ("friend", "Person", False, None, False),
    ("pals", "array<Person>", False, None, False),
]
USER_PROPS_WITH_ID = [("id", "integer", False, None, True), *USER_PROPS_WITHOUT_ID]

# settings → (definition.fingerprint, strict, id_property) at commit 67db64d.
GOLDEN_USER_DEFINITIONS: dict[str, tuple[str, bool, str | None]] = {
    "default": ("f5c8d98c0da3e0b082d6b273d8fa2d6a", False, "id"),
    "no_id_injection": ("746367fb98f20004bf1546dad7eaa42e", False, None),
    "strict": ("f5c8d98c0da3e0b082d6b273d8fa2d6a", True, "id"),  # strict is not in it
    "strict_no_id_injection": ("746367fb98f20004bf1546dad7eaa42e", True, None),
}
USER_SETTINGS: dict[str, dict[str, Any] | None] = {
    "default": None,
    "no_id_injection": {"id_injection": False},
    "strict": {"strict": True},
    "strict_no_id_injection": {"strict": True, "id_injection": False},
}


@pytest.mark.parametrize("label", sorted(USER_SETTINGS))
def test_golden_user_definition(label: str) -> None:
    reg, user = _define_user(USER_SETTINGS[label])
    try:
        assert issubclass(user, nbregistry.Model) and user.model_name == "User"
        definition = user.definition
        fp, strict, id_property = GOLDEN_USER_DEFINITIONS[label]
        assert (definition.fingerprint, definition.strict, definition.id_property) == (
            fp,
            strict,
            id_property,
        )
        rows = [
            (p.name, p.describe(), p.required, p.default, p.id)
            for p in definition.properties.values()
        ]
        expected = USER_PROPS_WITH_ID if id_property else USER_PROPS_WITHOUT_ID
        assert rows == expected
        assert [type(r[3]) for r in rows] == [type(r[3]) for r in expected]
    finally:
        reg.clear()


def test_a_standalone_builder_defines_the_same_user() -> None:
    reg, user = _define_user(None, via="builder")
    try:
        assert user.definition.fingerprint == GOLDEN_USER_DEFINITIONS["default"][0]
    finally:
        reg.clear()


# model name → (fingerprint, id_property, [(name, describe(), id)]) at commit 67db64d.
GOLDEN_ID_HANDLING: dict[str, tuple[str, str | None, list[tuple[str, str, bool]]]] = {
    "OwnId": (
        "3d693832d1bbfb1716cccb8ca97db40e",
        "id",
        [("id", "string", True), ("name", "string", False)],
    ),
    "Flagged": ("e2557b83f28312d0c42111f8cb0a65dc", "code", [("code", "string", True)]),
    "Empty": ("71c8f83081f97a266caf44bd8e24217f", "id", [("id", "integer", True)]),
}


def test_golden_id_handling() -> None:
    reg = ModelRegistry()
    ds = DataSource("memory", name="ids", registry=reg)
    try:
        own_id = ds.define("OwnId", {"id": "string", "name": "string"}).definition
        flagged = ds.define("Flagged", {"code": {"type": "string", "id": True}}).definition
        empty = ds.define("Empty").definition
        got = {
            name: (
                d.fingerprint,
                d.id_property,
                [(p.name, p.describe(), p.id) for p in d.properties.values()],
            )
            for name, d in (("OwnId", own_id), ("Flagged", flagged), ("Empty", empty))
        }
        assert got == GOLDEN_ID_HANDLING
    finally:
        reg.clear()


# --- 2. the lookup benchmark table --------------------------------------------------------

# Child-process sitecustomize: timeit's auto-ranging (≥ 0.2 s per statement, ~80 s for the
# whole ci table on this machine) is cut to 100 loops, which keeps every row, label and
# target and only makes the timings coarser. Any sitecustomize it shadows still runs.
_FAST_TIMEIT = textwrap.dedent(
    '''
    """Test-only: shorten timeit auto-ranging for test_golden; then run a shadowed one."""
    import importlib.machinery
    import importlib.util
    import os
    import sys
    import timeit


    def _autorange(self, callback=None):
        return 100, self.timeit(100)


    timeit.Timer.autorange = _autorange
    _here = os.path.dirname(os.path.abspath(__file__))
    _rest = [p for p in sys.path if os.path.abspath(p or os.curdir) != _here]
    _spec = importlib.machinery.PathFinder.find_spec("sitecustomize", _rest)
    if _spec is not None and _spec.loader is not None:
        _spec.loader.exec_module(importlib.util.module_from_spec(_spec))
    '''
)

LOOKUP_COLUMNS = ["op", "layout", "N", "ns", "dict_ns", "ratio", "target", "meets", "vs_N10"]
_BASE_OPS = [
    ("ds.models.User", 2.0),
    ('ds.models["User"]', 4.0),
    ('get_model_for_owner(ds, "User")', 6.0),
    ('find_model_by_name("User")', 8.0),
    ("find_model_by_structure(10 props)", None),
]
_LIST_OP = ("list(ds.models)", 2.0)
# (layout, N, ops) blocks in table order, as ``--scale ci`` produced them at commit 67db64d.
LOOKUP_BLOCKS: list[tuple[str, int, list[tuple[str, float | None]]]] = [
    ("10/owner, 1 tenant", 10, _BASE_OPS),
    ("10/owner, 1 tenant", 1000, _BASE_OPS),
    ("10/owner, 1 tenant", 10000, _BASE_OPS),
    ("10/owner, 100 tenants", 1000, _BASE_OPS),
    ("10/owner, 100 tenants", 10000, _BASE_OPS),
    ("1000/owner, 1 tenant", 1000, [*_BASE_OPS, _LIST_OP]),
    ("1000/owner, 1 tenant", 10000, [*_BASE_OPS, _LIST_OP]),
]
CORE_COLUMNS = ["metric", "value", "target"]
# core metric → target; the value kind: "measured" (positive finite) or the exact value.
CORE_ROWS: list[tuple[str, str, Any]] = [
    ("define(10 props) µs", "≤ 30", "measured"),
    ("registry bookkeeping B/model", "≤ 150", "measured"),
    ("class + definition B/model", "≤ 5000", "measured"),
    ("cleanup_tenant(2001 models) ms", "≤ 50", "measured"),
    ("classes alive after cleanup + gc", "0", 0),
    ("import nbregistry ms (over bare python)", "≤ 60", "measured"),
    ("heavy modules imported", "none", "none"),
    ("threads after import", "1", 1),
]
MACHINE_KEYS = ["python", "implementation", "platform", "cpus", "processor"]


def _positive_finite(value: Any) -> bool:
    return (
        isinstance(value, int | float)
        and not isinstance(value, bool)
        and math.isfinite(value)
        and value > 0
    )


@pytest.fixture(scope="module")
def lookups_json(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Run ``python -m nbregistry bench lookups --scale ci --json``; return its JSON."""
    site = tmp_path_factory.mktemp("fast_timeit")
    (site / "sitecustomize.py").write_text(_FAST_TIMEIT, encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), str(ROOT)])}
    out = subprocess.run(
        [sys.executable, "-m", "nbregistry", "bench", "lookups", "--scale", "ci", "--json"],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=600,
        check=False,
    )
    assert out.returncode == 0, out.stderr
    assert "lookups: 10/owner, 1 tenant, N=10" in out.stderr  # progress goes to stderr
    return json.loads(out.stdout)


def test_bench_lookups_sections_and_machine(lookups_json: dict[str, Any]) -> None:
    assert list(lookups_json) == ["machine", "scale", "lookups", "core"]
    assert lookups_json["scale"] == "ci"
    machine = lookups_json["machine"]
    assert list(machine) == MACHINE_KEYS
    assert isinstance(machine["cpus"], int) and machine["cpus"] >= 1
    assert machine["python"] == ".".join(map(str, sys.version_info[:3]))


def test_bench_lookups_rows_columns_and_targets(lookups_json: dict[str, Any]) -> None:
    rows = lookups_json["lookups"]
    assert all(list(r) == LOOKUP_COLUMNS for r in rows)
    expected = [(op, layout, n, target) for layout, n, ops in LOOKUP_BLOCKS for op, target in ops]
    assert [(r["op"], r["layout"], r["N"], r["target"]) for r in rows] == expected
    assert len(rows) == 37


def test_bench_lookups_figures_are_positive_and_finite(lookups_json: dict[str, Any]) -> None:
    for row in lookups_json["lookups"]:
        for col in ("ns", "dict_ns", "ratio"):
            assert _positive_finite(row[col]), (row, col)
        # vs_N10 compares with the same op at N=10, which list(ds.models) never has.
        if row["op"] == _LIST_OP[0]:
            assert row["vs_N10"] is None, row
        else:
            assert _positive_finite(row["vs_N10"]), row
        assert row["meets"] in ((None,) if row["target"] is None else ("yes", "NO")), row


def test_bench_core_rows(lookups_json: dict[str, Any]) -> None:
    rows = lookups_json["core"]
    assert all(list(r) == CORE_COLUMNS for r in rows)
    assert [(r["metric"], r["target"]) for r in rows] == [(m, t) for m, t, _ in CORE_ROWS]
    for row, (_, _, kind) in zip(rows, CORE_ROWS, strict=True):
        if kind == "measured":
            assert _positive_finite(row["value"]), row
        else:
            assert row["value"] == kind and type(row["value"]) is type(kind), row
