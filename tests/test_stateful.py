"""Stateful property test: random operation sequences against a plain-dict reference model.

Hypothesis drives define / identical re-define / changed re-define / delete_model / attach
(``attach``, ``app.model``, view assignment) / ``resolve_type`` / ``disconnect`` /
``cleanup_tenant`` / ``clear`` / ``use_tenant`` / ``with tenant()`` / ``register_model``
across four tenants, and after every step compares every view, owner query, name and
structure lookup, ``tenants()`` and every ``stats()`` counter with the reference.

CI runs the bounded ``ci`` profile; ``pytest --hypothesis-profile=long`` (or
``HYPOTHESIS_PROFILE=long``) searches much longer.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any

import pytest
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from nbregistry import (
    GLOBAL_TENANT,
    AmbiguousModelError,
    App,
    DataSource,
    Model,
    ModelBuilder,
    ModelNotFoundError,
    ModelRedefinedWarning,
    ModelRegistry,
    tenant,
)
from nbregistry.core.meta import record_of

TENANTS = [GLOBAL_TENANT, "acme", "globex", "initech"]
MODEL_NAMES = ["User", "Order", "keys"]  # "keys" shadows a Mapping method: view["keys"]
OWNER_NAMES: list[str | None] = [None, "crm", "erp"]
MAX_OWNERS = 8

# Nested shapes: id → (spec, structure key, child shape ids in binding order).
SHAPES: dict[str, tuple[dict[str, Any], str, list[str]]] = {
    "street": ({"street": "string"}, "street", []),
    "city": ({"city": "string"}, "city", []),
    "city2": ({"city": str}, "city", []),  # another spelling of the same structure
    "lat": ({"lat": "number"}, "lat", []),
    "geo": ({"geo": {"lat": "number"}}, "geo", ["lat"]),
}

# Property variants: id → (spec, nested shape ids in binding order, direct-dep shape ids).
VARIANTS: dict[str, tuple[dict[str, Any], list[str]]] = {
    "plain": ({"name": "string"}, []),
    "plain_num": ({"name": "string", "age": {"type": "number", "required": True}}, []),
    "addr": ({"address": SHAPES["street"][0], "name": "string"}, ["street"]),
    "twice": ({"home": SHAPES["city"][0], "work": SHAPES["city2"][0]}, ["city", "city2"]),
    "geo": ({"loc": SHAPES["geo"][0]}, ["geo"]),
    "tags": ({"tags": [SHAPES["street"][0]]}, ["street"]),
    "mixed": ({"a": SHAPES["street"][0], "b": SHAPES["geo"][0]}, ["street", "geo"]),
}
SETTINGS: list[dict[str, Any] | None] = [None, {}, {"strict": True}]


def _settings_key(s: dict[str, Any] | None) -> tuple[Any, ...]:
    return tuple(sorted((s or {}).items()))


@dataclass(eq=False)
class RefOwner:
    """The reference's record of one owner object."""

    obj: Any
    kind: str  # "ds" | "app" | "builder"
    tenant: str
    name: str
    strict: bool = False
    models: dict[str, type[Model]] = field(default_factory=dict)  # definition order


@dataclass(eq=False)
class RefClass:
    """The reference's record of one class the SUT returned (registered or not)."""

    cls: type[Model]
    tenant: str
    anonymous: bool
    struct: str  # structure key (for unique_structures)
    deps: list[type[Model]]  # direct anonymous deps (unique, any tenant)
    defkey: tuple[Any, ...] = ()  # (variant, settings key) for named models
    strict: bool = False  # anonymous: strict flag
    owner: RefOwner | None = None
    users: int = 0
    seq: int = 0


class RegistryMachine(RuleBasedStateMachine):
    """Drive one ModelRegistry and a dict reference side by side."""

    def __init__(self) -> None:
        super().__init__()
        self.reg = ModelRegistry()
        self.owners: list[RefOwner] = []
        self.classes: dict[type[Model], RefClass] = {}  # every class ever returned
        self.known: list[type[Model]] = []  # same, in order, for index draws
        # tenant → {owner name → RefOwner}: live owner-name reservations
        self.names: dict[str, dict[str, RefOwner]] = {}
        # tenant → ordered {anon class → None}; tenant → {(struct, strict) → anon class}
        self.anon: dict[str, dict[type[Model], None]] = {}
        self.struct: dict[str, dict[tuple[str, bool], type[Model]]] = {}
        self.by_owner: dict[str, list[RefOwner]] = {}  # owners holding models, first-reg order
        self.tenant_order: list[str] = []
        self.auto: dict[str, itertools.count[int]] = {}
        self.seq = itertools.count(1)
        self.session = GLOBAL_TENANT
        self.registrations = 0
        self.lookups = 0
        self.hits = 0
        self.misses = 0

    # --- reference helpers ------------------------------------------------------------

    def _registered(self, rc: RefClass) -> bool:
        if rc.anonymous:
            return rc.cls in self.anon.get(rc.tenant, {})
        return rc.owner is not None and rc.owner.models.get(rc.cls.model_name) is rc.cls

    def _touch_tenant(self, code: str) -> None:
        if code not in self.tenant_order:
            self.tenant_order.append(code)
            self.anon.setdefault(code, {})
            self.struct.setdefault(code, {})
            self.by_owner.setdefault(code, [])

    def _tenant_models(self, code: str) -> list[type[Model]]:
        out = [c for o in self.by_owner.get(code, []) for c in o.models.values()]
        out += list(self.anon.get(code, {}))
        return sorted(out, key=lambda c: self.classes[c].seq)

    def _drop_if_empty(self, code: str) -> None:
        if code in self.tenant_order and not self._tenant_models(code):
            self._drop_tenant(code)

    def _drop_tenant(self, code: str) -> None:
        if code in self.tenant_order:
            self.tenant_order.remove(code)
        for o in self.by_owner.pop(code, []):
            o.models.clear()
        for a in self.anon.pop(code, {}):
            self.classes[a].users = 0
        self.struct.pop(code, None)

    def _add(self, rc: RefClass) -> None:
        """Mirror ModelRegistry._add: store a class (re-adding dropped deps)."""
        self._touch_tenant(rc.tenant)
        for dep in rc.deps:
            d = self.classes[dep]
            if d.tenant == rc.tenant:
                if not self._registered(d):
                    self._add(d)
                d.users += 1
        if rc.anonymous:
            self.anon[rc.tenant][rc.cls] = None
            self.struct[rc.tenant].setdefault((rc.struct[2:], rc.strict), rc.cls)
        else:
            assert rc.owner is not None
            self._index(rc)
        if not rc.seq:
            rc.seq = next(self.seq)

    def _index(self, rc: RefClass) -> None:
        assert rc.owner is not None
        self._touch_tenant(rc.tenant)
        if rc.owner not in self.by_owner[rc.tenant]:
            self.by_owner[rc.tenant].append(rc.owner)
        rc.owner.models[rc.cls.model_name] = rc.cls

    def _unindex(self, rc: RefClass) -> None:
        code = rc.tenant
        if rc.anonymous:
            self.anon[code].pop(rc.cls, None)
            key = (rc.struct[2:], rc.strict)
            if self.struct[code].get(key) is rc.cls:
                del self.struct[code][key]
                for other in self.anon[code]:
                    o = self.classes[other]
                    if (o.struct[2:], o.strict) == key:
                        self.struct[code][key] = other
                        break
        else:
            owner = rc.owner
            assert owner is not None
            if owner.models.get(rc.cls.model_name) is rc.cls:
                del owner.models[rc.cls.model_name]
            if not owner.models and owner in self.by_owner.get(code, []):
                self.by_owner[code].remove(owner)

    def _release(self, rc: RefClass) -> int:
        removed = 0
        for dep in rc.deps:
            d = self.classes[dep]
            if d.tenant != rc.tenant or d.users <= 0:
                continue
            d.users -= 1
            if d.users == 0 and self._registered(d):
                removed += self._remove(d)
        return removed

    def _remove(self, rc: RefClass) -> int:
        self._unindex(rc)
        n = 1 + self._release(rc)
        self._drop_if_empty(rc.tenant)
        return n

    def _lookup_shape(self, shape: str, code: str, strict: bool, pending: dict[Any, Any]) -> Any:
        """Mirror the structure lookup of define/resolve_type: count it, return a hit or None."""
        key = (SHAPES[shape][1], strict)
        self.lookups += 1
        hit = pending.get(key)
        if hit is None:
            hit = self.struct.get(code, {}).get(key)
        if hit is None and code != GLOBAL_TENANT:
            hit = self.struct.get(GLOBAL_TENANT, {}).get(key)
        if hit is not None:
            self.hits += 1
        else:
            self.misses += 1
        return hit

    def _claim_auto(self, prefix: str, code: str) -> str:
        counter = self.auto.setdefault(prefix, itertools.count(1))
        names = self.names.get(code, {})
        while True:
            cand = f"{prefix}-{next(counter)}"
            if cand not in names:
                return cand

    def _name_free_for(self, o: RefOwner) -> bool:
        holder = self.names.get(o.tenant, {}).get(o.name)
        return holder is None or holder is o

    def _reserve(self, o: RefOwner) -> None:
        self.names.setdefault(o.tenant, {})[o.name] = o

    # --- rules ------------------------------------------------------------------------

    @precondition(lambda self: len(self.owners) < MAX_OWNERS)
    @rule(
        kind=st.sampled_from(["ds", "app", "builder"]),
        code=st.sampled_from(TENANTS),
        how=st.sampled_from(["arg", "ctx", "none"]),
        name=st.sampled_from(OWNER_NAMES),
        strict=st.booleans(),
    )
    def new_owner(self, kind: str, code: str, how: str, name: str | None, strict: bool) -> None:
        expected_tenant = self.session if how == "none" else code
        kwargs: dict[str, Any] = {"registry": self.reg}
        if how == "arg":
            kwargs["tenant"] = code

        def make() -> Any:
            if kind == "ds":
                return DataSource("memory", name=name, strict_embedded_models=strict, **kwargs)
            if kind == "app":
                return App(name, **kwargs)
            return ModelBuilder(name=name, strict_embedded_models=strict, **kwargs)

        taken = name is not None and name in self.names.get(expected_tenant, {})
        if taken:
            with pytest.raises(ValueError, match=repr(name)):
                if how == "ctx":
                    with tenant(code):
                        make()
                else:
                    make()
            return
        if how == "ctx":
            with tenant(code):
                obj = make()
        else:
            obj = make()
        prefix = {"ds": "memory", "app": "app", "builder": "builder"}[kind]
        exp_name = name if name is not None else self._claim_auto(prefix, expected_tenant)
        assert obj.tenant == expected_tenant
        assert obj.name == exp_name
        assert obj.owner_type == {"ds": "dataSource", "app": "app", "builder": "builder"}[kind]
        o = RefOwner(obj, kind, expected_tenant, exp_name, strict=strict and kind != "app")
        self._reserve(o)
        self.owners.append(o)

    @precondition(lambda self: any(o.kind != "app" for o in self.owners))
    @rule(
        i=st.integers(0, MAX_OWNERS - 1),
        model=st.sampled_from(MODEL_NAMES),
        variant=st.sampled_from(sorted(VARIANTS)),
        settings_i=st.integers(0, len(SETTINGS) - 1),
        via_builder=st.booleans(),
    )
    def define(self, i: int, model: str, variant: str, settings_i: int, via_builder: bool) -> None:
        definers = [o for o in self.owners if o.kind != "app"]
        o = definers[i % len(definers)]
        props, shapes = VARIANTS[variant]
        settings = SETTINGS[settings_i]
        defkey = (variant, _settings_key(settings))
        existing = o.models.get(model)
        if existing is not None and self.classes[existing].defkey == defkey:
            target = o.obj.model_builder if (o.kind == "ds" and via_builder) else o.obj
            assert target.define(model, props, settings) is existing
            return
        if not self._name_free_for(o):
            with pytest.raises(ValueError, match=repr(o.name)):
                o.obj.define(model, props, settings)
            return
        before = set(self.reg.all_models())
        if existing is not None:
            with pytest.warns(ModelRedefinedWarning, match=repr(model)):
                cls = o.obj.define(model, props, settings)
        else:
            cls = o.obj.define(model, props, settings)
        assert cls is not existing and cls.model_name == model and not cls.anonymous
        assert cls.tenant == o.tenant
        self._reserve(o)
        # Structure resolution, in binding order, mirrored on the reference.
        pending: dict[Any, Any] = {}
        created = sorted(
            set(self.reg.all_models()) - before - {cls}, key=lambda c: record_of(c).seq
        )
        created_iter = iter(created)
        deps: list[type[Model]] = []
        for shape in shapes:
            got = self._bind_shape(shape, o.tenant, o.strict, pending, created_iter)
            if got not in deps:
                deps.append(got)
        assert next(created_iter, None) is None, "SUT created more anonymous models than expected"
        rc = RefClass(cls, o.tenant, False, "P:" + variant, deps, defkey=defkey, owner=o)
        self.classes[cls] = rc
        self.known.append(cls)
        if existing is not None:
            # _replace: the new class takes the old one's slot, then the old one's deps go.
            self._add(rc)
            self._release(self.classes[existing])
        else:
            self._add(rc)
        self.registrations += 1
        self._check_deps(cls, deps)

    def _bind_shape(
        self, shape: str, code: str, strict: bool, pending: dict[Any, Any], created: Any
    ) -> type[Model]:
        """Reuse or create the anonymous class for a shape, as define/resolve_type do."""
        hit = self._lookup_shape(shape, code, strict, pending)
        if hit is not None:
            return hit
        _, skey, children = SHAPES[shape]
        deps: list[type[Model]] = []
        for child in children:
            c = self._bind_shape(child, code, strict, pending, created)
            if c not in deps:
                deps.append(c)
        # The reference predicts a new anonymous class; take the SUT's next new one.
        sut = next(created, None)
        assert sut is not None, f"expected a new anonymous model for shape {shape!r}"
        assert sut.anonymous and sut.tenant == code
        assert sut.model_name.startswith("AnonymousModel_")
        rc = RefClass(sut, code, True, "S:" + skey, deps, strict=strict)
        self.classes[sut] = rc
        self.known.append(sut)
        self._add(rc)
        self.registrations += 1
        pending[(skey, strict)] = sut
        self._check_deps(sut, deps)
        return sut

    def _check_deps(self, cls: type[Model], deps: list[type[Model]]) -> None:
        actual: list[type[Model]] = []
        for p in cls.definition.properties.values():
            while p is not None:
                if not isinstance(p.type, str) and p.type.anonymous and p.type not in actual:
                    actual.append(p.type)
                p = p.items
        assert actual == deps

    @precondition(lambda self: any(o.kind != "app" for o in self.owners))
    @rule(i=st.integers(0, MAX_OWNERS - 1), shape=st.sampled_from(sorted(SHAPES)))
    def resolve_type(self, i: int, shape: str) -> None:
        definers = [o for o in self.owners if o.kind != "app"]
        o = definers[i % len(definers)]
        builder = o.obj.model_builder if o.kind == "ds" else o.obj
        before = set(self.reg.all_models())
        got = builder.resolve_type(SHAPES[shape][0])
        created = sorted(set(self.reg.all_models()) - before, key=lambda c: record_of(c).seq)
        it = iter(created)
        exp = self._bind_shape(shape, o.tenant, o.strict, {}, it)
        assert next(it, None) is None
        assert got is exp

    @precondition(lambda self: any(o.models for o in self.owners))
    @rule(
        i=st.integers(0, 10 * MAX_OWNERS),
        how=st.sampled_from(["method", "del_item", "del_attr"]),
    )
    def delete_model(self, i: int, how: str) -> None:
        pairs = [(o, n) for o in self.owners for n in o.models]
        o, name = pairs[i % len(pairs)]
        rc = self.classes[o.models[name]]
        if how == "method":
            o.obj.delete_model(name)
        elif how == "del_item":
            del o.obj.models[name]
        else:
            delattr(o.obj.models, name)
        self._remove(rc)

    @precondition(lambda self: bool(self.owners))
    @rule(i=st.integers(0, MAX_OWNERS - 1), name=st.sampled_from([*MODEL_NAMES, "Nope"]))
    def delete_missing(self, i: int, name: str) -> None:
        o = self.owners[i % len(self.owners)]
        if name in o.models:
            return
        with pytest.raises(ModelNotFoundError, match=repr(name)):
            o.obj.delete_model(name)
        with pytest.raises(KeyError):
            del o.obj.models[name]

    @precondition(lambda self: bool(self.owners) and bool(self.known))
    @rule(
        i=st.integers(0, MAX_OWNERS - 1),
        j=st.integers(0, 200),
        how=st.sampled_from(["attach", "view_item", "view_attr"]),
    )
    def attach(self, i: int, j: int, how: str) -> None:
        o = self.owners[i % len(self.owners)]
        cls = self.known[j % len(self.known)]
        rc = self.classes[cls]
        name = cls.model_name

        def do() -> Any:
            if how == "attach" and o.kind != "builder":
                return o.obj.model(cls) if o.kind == "app" else o.obj.attach(cls)
            if how in ("attach", "view_item"):
                o.obj.models[name] = cls
                return cls
            setattr(o.obj.models, name, cls)
            return cls

        if how == "view_attr" and name == "keys":
            with pytest.raises(AttributeError, match="keys"):
                do()
            return
        if rc.anonymous:
            with pytest.raises(ValueError, match=repr(name)):
                do()
            return
        if rc.tenant != o.tenant:
            with pytest.raises(ValueError, match=repr(rc.tenant)):
                do()
            return
        existing = o.models.get(name)
        if existing is not cls and not self._name_free_for(o):
            with pytest.raises(ValueError, match=repr(o.name)):
                do()
            return
        if existing is not None and existing is not cls:
            with pytest.warns(ModelRedefinedWarning, match=repr(name)):
                assert do() is cls
        else:
            assert do() is cls
        self.registrations += 1
        self._reserve(o)
        if existing is cls:
            return
        was = self._registered(rc)
        if was and rc.owner is not o:
            self._unindex(rc)
        rc.owner = o
        if existing is not None:
            if was:
                self._index(rc)
            else:
                self._add(rc)
            self._release(self.classes[existing])
        elif was:
            self._index(rc)
        else:
            self._add(rc)
        if o.kind == "app":
            assert cls.app is o.obj
        else:
            assert cls.app is None
            if o.kind == "ds":
                assert cls.data_source is o.obj

    @precondition(lambda self: bool(self.known))
    @rule(j=st.integers(0, 200))
    def register_model(self, j: int) -> None:
        cls = self.known[j % len(self.known)]
        rc = self.classes[cls]
        if self._registered(rc):
            assert self.reg.register_model(cls) is cls
            self.registrations += 1
            return
        if rc.anonymous:
            # An anonymous class that was dropped comes back into its tenant.
            assert self.reg.register_model(cls) is cls
            self.registrations += 1
            self._add(rc)
            return
        o = rc.owner
        assert o is not None
        if not self._name_free_for(o):
            with pytest.raises(ValueError, match=repr(o.name)):
                self.reg.register_model(cls)
            return
        existing = o.models.get(cls.model_name)
        if existing is not None:
            with pytest.warns(ModelRedefinedWarning, match=repr(cls.model_name)):
                assert self.reg.register_model(cls) is cls
        else:
            assert self.reg.register_model(cls) is cls
        self.registrations += 1
        self._reserve(o)
        self._add(rc)
        if existing is not None:
            self._release(self.classes[existing])

    @precondition(lambda self: any(o.kind == "ds" for o in self.owners))
    @rule(i=st.integers(0, MAX_OWNERS - 1))
    def disconnect(self, i: int) -> None:
        dss = [o for o in self.owners if o.kind == "ds"]
        o = dss[i % len(dss)]
        expected = len(o.models)
        for cls in list(o.models.values()):
            self._remove(self.classes[cls])
        names = self.names.get(o.tenant, {})
        if names.get(o.name) is o:
            del names[o.name]
        assert o.obj.disconnect() == expected
        assert o.obj.disconnect() == 0

    @rule(code=st.sampled_from(TENANTS))
    def cleanup_tenant(self, code: str) -> None:
        expected = len(self._tenant_models(code))
        self._drop_tenant(code)
        self.names.pop(code, None)
        assert self.reg.cleanup_tenant(code) == expected

    @rule()
    def clear(self) -> None:
        for code in list(self.tenant_order):
            self._drop_tenant(code)
        self.names.clear()
        self.registrations = self.lookups = self.hits = self.misses = 0
        self.reg.clear()

    @rule(code=st.sampled_from([*TENANTS, None]))
    def use_tenant(self, code: str | None) -> None:
        self.reg.use_tenant(code)
        self.session = GLOBAL_TENANT if code is None else code
        assert self.reg.current_tenant() == self.session

    @rule(
        code=st.sampled_from(TENANTS),
        name=st.sampled_from([*MODEL_NAMES, "crm.User", "erp.Order"]),
    )
    def lookup_in_context(self, code: str, name: str) -> None:
        with tenant(code):
            assert self.reg.current_tenant() == code
            self._check_find(name, None, code)
        assert self.reg.current_tenant() == self.session
        self._check_find(name, None, self.session)

    # --- checks -----------------------------------------------------------------------

    def _expect_find(self, name: str, code: str) -> Any:
        """Return the class the reference expects, or ("ambiguous", holders), or None."""
        if "." in name:
            owner_name, _, model_name = name.partition(".")
            for c in (code, GLOBAL_TENANT) if code != GLOBAL_TENANT else (code,):
                owner = self.names.get(c, {}).get(owner_name)
                if owner is not None:
                    return owner.models.get(model_name)
            return None
        for c in (code, GLOBAL_TENANT) if code != GLOBAL_TENANT else (code,):
            holders = [(o, o.models[name]) for o in self.by_owner.get(c, []) if name in o.models]
            holders += [(None, a) for a in self.anon.get(c, {}) if a.model_name == name]
            if len(holders) > 1:
                return ("ambiguous", holders)
            if holders:
                return holders[0][1]
        return None

    def _check_find(self, name: str, tenant_arg: str | None, code: str) -> None:
        exp = self._expect_find(name, code)
        self.lookups += 2  # find_model_by_name + get_model
        if isinstance(exp, tuple):
            with pytest.raises(AmbiguousModelError) as info:
                self.reg.find_model_by_name(name, tenant=tenant_arg)
            for o, _ in exp[1]:
                if o is not None:
                    assert f"{o.name}.{name}" in str(info.value)
            with pytest.raises(AmbiguousModelError):
                self.reg.get_model(name, tenant=tenant_arg)
            return
        assert self.reg.find_model_by_name(name, tenant=tenant_arg) is exp
        if exp is None:
            with pytest.raises(ModelNotFoundError, match=repr(name)):
                self.reg.get_model(name, tenant=tenant_arg)
        else:
            assert self.reg.get_model(name, tenant=tenant_arg) is exp

    @invariant()
    def everything_matches(self) -> None:
        """Compare stats first (the other checks count lookups), then everything else."""
        self.stats_match()
        self.tenants_match()
        self.views_match()
        self.owner_queries_match()
        self.name_lookups_match()
        self.structure_lookups_match()
        self.anonymous_users_match()

    def stats_match(self) -> None:
        s = self.reg.stats()
        per = [
            (code, len(self._tenant_models(code)), len(self.by_owner[code]))
            for code in self.tenant_order
        ]
        assert [(t.tenant, t.models, t.owners) for t in s.per_tenant] == per
        assert s.tenants == sum(1 for c in self.tenant_order if c != GLOBAL_TENANT)
        all_models = [c for code in self.tenant_order for c in self._tenant_models(code)]
        n_anon = sum(len(self.anon[c]) for c in self.tenant_order)
        assert s.models == len(all_models)
        assert s.anonymous_models == n_anon
        assert s.named_models == len(all_models) - n_anon
        assert s.owners == sum(len(self.by_owner[c]) for c in self.tenant_order)
        assert s.unique_structures == sum(
            len({self.classes[m].struct for m in self._tenant_models(c)}) for c in self.tenant_order
        )
        assert s.registrations == self.registrations
        assert s.lookups == self.lookups
        assert s.reuse_hits == self.hits
        assert s.reuse_misses == self.misses
        total = self.hits + self.misses
        assert s.hit_rate == (self.hits / total if total else 0.0)
        assert self.reg.tenants() == self.tenant_order

    def tenants_match(self) -> None:
        for code in TENANTS:
            treg = self.reg.tenant_registry(code)
            if code not in self.tenant_order:
                assert treg is None
                continue
            assert treg is not None
            assert treg.models() == self._tenant_models(code)
            assert treg.owners() == [o.obj for o in self.by_owner[code]]

    def views_match(self) -> None:
        for o in self.owners:
            view = o.obj.models
            assert view is o.obj.models
            assert list(view.items()) == list(o.models.items())
            assert list(view) == list(o.models)
            assert len(view) == len(o.models)
            assert view == o.models
            for name in MODEL_NAMES:
                assert (name in view) == (name in o.models)
                assert view.get(name) is o.models.get(name)
                if name in o.models:
                    assert view[name] is o.models[name]
                    if name != "keys":
                        assert getattr(view, name) is o.models[name]
                else:
                    with pytest.raises(KeyError):
                        view[name]
                    if name != "keys":
                        assert getattr(view, name, None) is None
            if o.kind == "ds":
                assert o.obj.model_builder.models is view
            for cls in o.models.values():
                assert cls.tenant == o.tenant and not cls.anonymous
                if o.kind == "app":
                    assert cls.app is o.obj
                elif o.kind == "ds":
                    assert cls.data_source is o.obj and cls.app is None

    def owner_queries_match(self) -> None:
        for o in self.owners:
            assert self.reg.models_for_owner(o.obj) == list(o.models.values())
            assert self.reg.model_names_for_owner(o.obj) == list(o.models)
            self.lookups += 2
            for name in MODEL_NAMES:
                assert self.reg.has_model_for_owner(o.obj, name) == (name in o.models)
                assert self.reg.get_model_for_owner(o.obj, name) is o.models.get(name)
                self.lookups += 2
        assert self.reg.models_for_owner(None) == []
        assert self.reg.model_names_for_owner(None) == []
        assert self.reg.has_model_for_owner(None, "User") is False
        self.lookups += 3

    def name_lookups_match(self) -> None:
        owner_names = sorted({o.name for o in self.owners})
        anon_names = [a.model_name for c in self.tenant_order for a in self.anon[c]]
        queries = (
            MODEL_NAMES
            + anon_names
            + [f"{on}.{mn}" for on in owner_names for mn in MODEL_NAMES[:2]]
        )
        for code in TENANTS:
            for name in queries:
                self._check_find(name, code, code)

    def structure_lookups_match(self) -> None:
        for code in TENANTS:
            for shape, (spec, skey, _) in SHAPES.items():
                if shape == "city2":
                    continue
                for strict in (False, True):
                    key = (skey, strict)
                    exp = self.struct.get(code, {}).get(key)
                    if exp is None and code != GLOBAL_TENANT:
                        exp = self.struct.get(GLOBAL_TENANT, {}).get(key)
                    got = self.reg.find_model_by_structure(spec, tenant=code, strict=strict)
                    assert got is exp
                    self.lookups += 1
                    if exp is None:
                        self.misses += 1
                    else:
                        self.hits += 1

    def anonymous_users_match(self) -> None:
        for code in self.tenant_order:
            for a in self.anon[code]:
                assert record_of(a).users == self.classes[a].users, a.model_name

    def teardown(self) -> None:
        self.reg.clear()


TestRegistryStateMachine = RegistryMachine.TestCase


# --- regressions: counterexamples the machine found, pinned as plain examples ---------------


def test_app_view_assignment_sets_model_app(reg: ModelRegistry) -> None:
    """``app.models["X"] = cls`` gives the app ownership, so ``cls.app is app`` (as app.model)."""
    ds = DataSource("memory", name="crm", tenant="acme", registry=reg)
    app = App("shop", tenant="acme", registry=reg)
    user = ds.define("User", {"name": "string"})
    app.models["User"] = user
    assert user.app is app and user.data_source is ds
    assert list(app.models) == ["User"] and list(ds.models) == []
    order = ds.define("Order", {"n": "integer"})
    app.models.Order = order
    assert order.app is app


def test_view_attribute_named_like_a_method_is_rejected(reg: ModelRegistry) -> None:
    """``view.keys = cls`` raises AttributeError (use ``view["keys"] = cls``), changes nothing."""
    ds = DataSource("memory", name="crm", tenant="acme", registry=reg)
    keys = ds.define("keys", {"name": "string"})
    other = DataSource("memory", name="erp", tenant="acme", registry=reg)
    before = reg.stats().registrations
    with pytest.raises(AttributeError, match="'keys'"):
        other.models.keys = keys
    assert list(other.models) == [] and ds.models["keys"] is keys
    assert reg.stats().registrations == before
    other.models["keys"] = keys
    assert other.models["keys"] is keys and callable(other.models.keys)


def test_register_model_of_a_replaced_class_replaces_with_warning(reg: ModelRegistry) -> None:
    """Re-registering a deleted class whose name was re-defined replaces the newer class.

    It used to overwrite the owner's slot silently, leaving the newer class's embedded
    anonymous model with a user that no longer existed (never removed, counts wrong).
    """
    ds = DataSource("memory", name="crm", tenant="acme", registry=reg)
    old = ds.define("User", {"name": "string"})
    ds.delete_model("User")
    new = ds.define("User", {"address": {"street": "string"}})
    anon = new.definition.properties["address"].type
    with pytest.warns(ModelRedefinedWarning, match="'User'"):
        assert reg.register_model(old) is old
    assert ds.models.User is old
    s = reg.stats()
    assert (s.models, s.anonymous_models) == (1, 0)  # the newer class's anonymous model left
    assert reg.find_model_by_name(anon.model_name, tenant="acme") is None
    assert record_of(anon).users == 0
