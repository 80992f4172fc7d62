"""Bad-input catalogue: every public entry point rejects bad values cleanly.

Each case asserts the error type, that the message names the bad value (its ``repr``), and
that ``stats()`` (every field but timestamps) and every view are unchanged afterwards.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

import nbregistry
from nbregistry import (
    App,
    DataSource,
    DefinitionError,
    FilterError,
    Model,
    ModelBuilder,
    ModelNotFoundError,
    ModelRegistry,
    TenantError,
    ValidationError,
    tenant,
)


@dataclass
class Ctx:
    """A small populated registry the cases poke at."""

    reg: ModelRegistry
    ds: DataSource
    app: App
    builder: ModelBuilder
    User: type[Model]
    Order: type[Model]
    anon: type[Model]
    other: type[Model]  # a model of another tenant
    foreign: type[Model]  # a model of another registry


def _ctx() -> Ctx:
    reg = ModelRegistry()
    ds = DataSource("memory", name="crm", tenant="acme", registry=reg)
    user = ds.define("User", {"name": "string", "age": "integer", "address": {"street": "string"}})
    order = ds.define("Order", {"total": "number"})
    app = App("shop", tenant="acme", registry=reg)
    app.model(order)
    builder = ModelBuilder(tenant="global", registry=reg, name="b")
    builder.define("Shared", {"x": "string"})
    other = DataSource("memory", name="crm", tenant="globex", registry=reg).define("Thing")
    foreign = DataSource("memory", name="x", registry=ModelRegistry()).define("Foreign")
    if callable(getattr(Model, "create", None)):
        user.create(name="ann", age=3)
    return Ctx(
        reg,
        ds,
        app,
        builder,
        user,
        order,
        user.definition.properties["address"].type,
        other,
        foreign,
    )


def _snapshot(c: Ctx) -> Any:
    s = c.reg.stats()
    fields = {
        k: getattr(s, k)
        for k in (
            "tenants",
            "models",
            "named_models",
            "anonymous_models",
            "owners",
            "unique_structures",
            "registrations",
            "lookups",
            "reuse_hits",
            "reuse_misses",
            "hit_rate",
        )
    }
    per = [(t.tenant, t.models, t.owners) for t in s.per_tenant]
    views = {
        f"{o.tenant}/{o.name}": list(o.models.items())
        for code in ("acme", "globex", "global")
        for o in c.reg.owners(tenant=code)
    }
    rows = c.User.count() if callable(getattr(Model, "create", None)) else None
    return (
        fields,
        per,
        views,
        c.reg.tenants(),
        c.reg.session_tenant,
        c.reg.current_tenant(),
        rows,
    )


def _with_deprecation(fn: Callable[[], Any]) -> Callable[[], Any]:
    def run() -> Any:
        with pytest.warns(DeprecationWarning, match="deprecated"):
            return fn()

    return run


def _circular() -> dict[str, Any]:
    d: dict[str, Any] = {"name": "string"}
    d["self"] = d
    return d


# (id, action(ctx), error type, value the message must name — its repr, or a raw needle)
Case = tuple[str, Callable[[Ctx], Any], type[BaseException], Any]
RAW = object()  # marker: the needle is a literal substring, not a value to repr

CASES: list[Case] = [
    # tenant codes ------------------------------------------------------------------
    ("ds_tenant_empty", lambda c: DataSource(tenant="", registry=c.reg), TenantError, ""),
    ("ds_tenant_zero", lambda c: DataSource(tenant=0, registry=c.reg), TenantError, 0),
    ("ds_tenant_false", lambda c: DataSource(tenant=False, registry=c.reg), TenantError, False),
    ("app_tenant_newline", lambda c: App(tenant="acme\n", registry=c.reg), TenantError, "acme\n"),
    (
        "builder_tenant_space",
        lambda c: ModelBuilder(tenant="a b", registry=c.reg),
        TenantError,
        "a b",
    ),
    ("tenant_cm_leading_dash", lambda c: tenant("-acme"), TenantError, "-acme"),
    ("tenant_cm_too_long", lambda c: tenant("x" * 129), TenantError, "x" * 129),
    ("tenant_cm_bytes", lambda c: tenant(b"acme"), TenantError, b"acme"),
    ("use_tenant_slash", lambda c: c.reg.use_tenant("ac/me"), TenantError, "ac/me"),
    ("use_tenant_int", lambda c: c.reg.use_tenant(7), TenantError, 7),
    (
        "find_tenant_bang",
        lambda c: c.reg.find_model_by_name("User", tenant="ACME!"),
        TenantError,
        "ACME!",
    ),
    (
        "get_model_tenant_list",
        lambda c: c.reg.get_model("User", tenant=["acme"]),
        TenantError,
        ["acme"],
    ),
    (
        "structure_tenant_unicode",
        lambda c: c.reg.find_model_by_structure({"street": "string"}, tenant="äcme"),
        TenantError,
        "äcme",
    ),
    ("cleanup_tenant_empty", lambda c: c.reg.cleanup_tenant(""), TenantError, ""),
    ("cleanup_tenant_none", lambda c: c.reg.cleanup_tenant(None), TenantError, None),
    ("tenant_registry_space", lambda c: c.reg.tenant_registry(" acme"), TenantError, " acme"),
    ("validate_tenant_float", lambda c: nbregistry.validate_tenant(1.5), TenantError, 1.5),
    # model names ---------------------------------------------------------------------
    ("name_empty", lambda c: c.ds.define(""), DefinitionError, ""),
    ("name_none", lambda c: c.ds.define(None), DefinitionError, None),
    ("name_int", lambda c: c.ds.define(42), DefinitionError, 42),
    ("name_dunder", lambda c: c.ds.define("__init__"), DefinitionError, "__init__"),
    ("name_private", lambda c: c.ds.define("_User"), DefinitionError, "_User"),
    ("name_space", lambda c: c.ds.define("my model"), DefinitionError, "my model"),
    ("name_digit_first", lambda c: c.ds.define("1User"), DefinitionError, "1User"),
    ("name_keyword", lambda c: c.ds.define("class"), DefinitionError, "class"),
    ("name_keyword_none", lambda c: c.builder.define("None"), DefinitionError, "None"),
    ("name_dash", lambda c: c.ds.model_builder.define("User-2"), DefinitionError, "User-2"),
    # property specs and settings ---------------------------------------------------------
    ("prop_unknown_type", lambda c: c.ds.define("X", {"age": "numbr"}), DefinitionError, "numbr"),
    ("prop_empty_name", lambda c: c.ds.define("X", {"": "string"}), DefinitionError, ""),
    ("prop_int_name", lambda c: c.ds.define("X", {1: "string"}), DefinitionError, 1),
    (
        "prop_unknown_option",
        lambda c: c.ds.define("X", {"a": {"type": "string", "requird": 1}}),
        DefinitionError,
        "requird",
    ),
    (
        "prop_two_element_list",
        lambda c: c.ds.define("X", {"a": ["string", "number"]}),
        DefinitionError,
        "a",
    ),
    (
        "prop_required_not_bool",
        lambda c: c.ds.define("X", {"a": {"type": "string", "required": "yes"}}),
        DefinitionError,
        "yes",
    ),
    ("prop_float_spec", lambda c: c.ds.define("X", {"a": 3.5}), DefinitionError, 3.5),
    (
        "prop_nested_path",
        lambda c: c.ds.define("X", {"a": {"b": {"c": "nope"}}}),
        DefinitionError,
        "a.b.c",
    ),
    (
        "prop_default_mismatch",
        lambda c: c.ds.define("X", {"a": {"type": "number", "default": "x"}}),
        DefinitionError,
        "x",
    ),
    ("prop_circular", lambda c: c.ds.define("X", _circular()), DefinitionError, "self"),
    (
        "props_not_mapping",
        lambda c: c.ds.define("X", "name:string"),
        DefinitionError,
        "name:string",
    ),
    ("settings_not_mapping", lambda c: c.ds.define("X", {}, "strict"), DefinitionError, "strict"),
    (
        "settings_strict_not_bool",
        lambda c: c.ds.define("X", {}, {"strict": "yes"}),
        DefinitionError,
        "yes",
    ),
    (
        "redefine_bad_spec_keeps_old",
        lambda c: c.ds.define("User", {"name": "strin"}),
        DefinitionError,
        "strin",
    ),
    ("resolve_type_unknown", lambda c: c.builder.resolve_type("numbr"), DefinitionError, "numbr"),
    ("fingerprint_list", lambda c: nbregistry.fingerprint([1]), TypeError, [1]),
    (
        "structure_not_mapping",
        lambda c: c.reg.find_model_by_structure("street"),
        TypeError,
        "street",
    ),
    (
        "structure_bad_type",
        lambda c: c.reg.find_model_by_structure({"a": "numbr"}),
        DefinitionError,
        "numbr",
    ),
    # view writes ---------------------------------------------------------------------------
    ("view_set_int", lambda c: c.ds.models.__setitem__("User", 5), TypeError, 5),
    ("view_set_dict_type", lambda c: c.ds.models.__setitem__("User", dict), TypeError, dict),
    ("view_set_model_base", lambda c: c.ds.models.__setitem__("Model", Model), TypeError, Model),
    ("view_attr_str", lambda c: setattr(c.ds.models, "Other", "User"), TypeError, "User"),
    ("view_key_mismatch", lambda c: c.ds.models.__setitem__("Wrong", c.User), ValueError, "Wrong"),
    ("view_get_missing", lambda c: c.ds.models["Nope"], KeyError, "Nope"),
    ("view_del_missing", lambda c: c.ds.models.__delitem__("Nope"), KeyError, "Nope"),
    ("view_delattr_missing", lambda c: delattr(c.ds.models, "Nope"), AttributeError, "Nope"),
    (
        "view_set_method_name",
        lambda c: setattr(c.ds.models, "keys", c.User),
        AttributeError,
        "keys",
    ),
    (
        "view_set_owner_prop",
        lambda c: setattr(c.ds.models, "owner", c.app),
        AttributeError,
        "owner",
    ),
    ("view_set_private", lambda c: setattr(c.ds.models, "_index", {}), AttributeError, "_index"),
    (
        "models_setter_bad_entry",
        lambda c: _with_deprecation(lambda: setattr(c.app, "models", {"User": c.User, "X": 1}))(),
        TypeError,
        1,
    ),
    (
        "models_setter_not_mapping",
        lambda c: _with_deprecation(lambda: setattr(c.app, "models", ["User"]))(),
        TypeError,
        ["User"],
    ),
    ("owner_fixed_attr", lambda c: setattr(c.ds, "tenant", "globex"), AttributeError, "tenant"),
    # owners ------------------------------------------------------------------------------
    ("owner_name_empty", lambda c: DataSource(name="", registry=c.reg), ValueError, ""),
    ("owner_name_dot", lambda c: App("a.b", registry=c.reg), ValueError, "a.b"),
    ("owner_name_int", lambda c: DataSource(name=5, registry=c.reg), TypeError, 5),
    ("owner_name_taken", lambda c: App("crm", tenant="acme", registry=c.reg), ValueError, "crm"),
    ("connector_unknown", lambda c: DataSource("mongo", registry=c.reg), ValueError, "mongo"),
    ("connector_int", lambda c: DataSource(3, registry=c.reg), TypeError, 3),
    ("registry_not_registry", lambda c: DataSource(registry="reg"), TypeError, "reg"),
    (
        "builder_strict_not_bool",
        lambda c: ModelBuilder(strict_embedded_models="yes", registry=c.reg),
        TypeError,
        "yes",
    ),
    # register / attach / delete ---------------------------------------------------------
    ("register_int", lambda c: c.reg.register_model(5), TypeError, 5),
    ("register_base_model", lambda c: c.reg.register_model(Model), TypeError, Model),
    ("register_foreign", lambda c: c.reg.register_model(c.foreign), ValueError, "Foreign"),
    ("attach_anonymous", lambda c: c.ds.attach(c.anon), ValueError, RAW),
    ("attach_other_tenant", lambda c: c.ds.attach(c.other), ValueError, "globex"),
    ("attach_foreign", lambda c: c.ds.attach(c.foreign), ValueError, "Foreign"),
    ("app_model_str", lambda c: c.app.model("User"), TypeError, "User"),
    ("delete_missing", lambda c: c.ds.delete_model("Nope"), ModelNotFoundError, "Nope"),
    ("delete_none", lambda c: c.ds.delete_model(None), ModelNotFoundError, None),
    (
        "get_model_missing",
        lambda c: c.reg.get_model("Usr", tenant="acme"),
        ModelNotFoundError,
        "Usr",
    ),
    ("find_name_int", lambda c: c.reg.find_model_by_name(123, tenant="acme"), TypeError, 123),
    ("get_model_bytes", lambda c: c.reg.get_model(b"User", tenant="acme"), TypeError, b"User"),
    ("inactive_negative", lambda c: c.reg.cleanup_inactive_tenants(-1), ValueError, -1),
    ("inactive_str", lambda c: c.reg.cleanup_inactive_tenants("5"), TypeError, "5"),
    ("subscribe_not_callable", lambda c: c.reg.subscribe(5), TypeError, 5),
    ("auto_cleanup_interval", lambda c: c.reg.start_auto_cleanup(10, interval=0), ValueError, 0),
]

DATA_CASES: list[Case] = [
    # filters and rows (the memory connector) -------------------------------------------
    ("where_unknown_op", lambda c: c.User.find(where={"age": {"gtx": 3}}), FilterError, "gtx"),
    (
        "order_bad_direction",
        lambda c: c.User.find(order="age SIDEWAYS"),
        FilterError,
        "age SIDEWAYS",
    ),
    ("limit_negative", lambda c: c.User.find(limit=-1), FilterError, -1),
    ("between_one_value", lambda c: c.User.find(where={"age": {"between": [1]}}), FilterError, [1]),
    ("inq_not_list", lambda c: c.User.find(where={"age": {"inq": 3}}), FilterError, 3),
    ("like_not_pattern", lambda c: c.User.find(where={"name": {"like": 5}}), FilterError, 5),
    ("create_invalid_row", lambda c: c.User.create(age="x"), ValidationError, "x"),
    (
        "create_bulk_one_invalid",
        lambda c: c.User.create([{"name": "ok", "age": 1}, {"name": 7}]),
        ValidationError,
        7,
    ),
]


# A lookup that finds nothing still counts as a lookup (README "Decisions"); a lookup that
# raises for a bad argument counts nothing.
COUNTED_MISSES = {"get_model_missing"}


def _run_case(
    action: Callable[[Ctx], Any], exc: type[BaseException], needle: Any, counted: int = 0
) -> None:
    c = _ctx()
    before = _snapshot(c)
    before[0]["lookups"] += counted
    with pytest.raises(exc) as info:
        action(c)
    if needle is not RAW:
        text = str(info.value)
        want = repr(needle)
        assert want in text or re.escape(want) in text or repr(want)[1:-1] in text, (
            f"message {text!r} does not name {want}"
        )
    else:
        assert c.anon.model_name in str(info.value)
    assert _snapshot(c) == before, "bad input changed the registry"


@pytest.mark.parametrize(
    ("action", "exc", "needle", "counted"),
    [(*c[1:], int(c[0] in COUNTED_MISSES)) for c in CASES],
    ids=[c[0] for c in CASES],
)
def test_bad_input_is_rejected_and_changes_nothing(
    action: Callable[[Ctx], Any], exc: type[BaseException], needle: Any, counted: int
) -> None:
    """Raise the documented error naming the value; stats and views stay as they were."""
    _run_case(action, exc, needle, counted)


@pytest.mark.parametrize(
    ("action", "exc", "needle"), [c[1:] for c in DATA_CASES], ids=[c[0] for c in DATA_CASES]
)
def test_bad_data_input_is_rejected_and_changes_nothing(
    action: Callable[[Ctx], Any], exc: type[BaseException], needle: Any
) -> None:
    """Filters and rows: the documented error naming the value; nothing stored or counted."""
    if not callable(getattr(Model, "create", None)):
        pytest.skip("the memory connector's data access is not available yet")
    _run_case(action, exc, needle)


def test_catalogue_is_large_enough() -> None:
    """The issue asks for at least 40 parametrised cases across the public API."""
    assert len(CASES) + len(DATA_CASES) >= 40
    assert len({c[0] for c in CASES + DATA_CASES}) == len(CASES) + len(DATA_CASES)


def test_redefine_with_bad_spec_keeps_the_old_class() -> None:
    """A failed re-define leaves the existing class in place, reachable everywhere."""
    c = _ctx()
    with pytest.raises(DefinitionError):
        c.ds.define("User", {"name": {"type": "strin"}})
    assert c.ds.models.User is c.User
    assert c.reg.get_model("User", tenant="acme") is c.User


def test_unhashable_names_in_owner_queries_are_simply_absent() -> None:
    """Owner queries answer like the view for an unhashable name: absent, no TypeError."""
    c = _ctx()
    assert (["x"] in c.ds.models) is False and c.ds.models.get(["x"]) is None
    assert c.reg.has_model_for_owner(c.ds, ["x"]) is False
    assert c.reg.get_model_for_owner(c.ds, ["x"]) is None
