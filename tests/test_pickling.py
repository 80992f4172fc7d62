"""Pickling of model classes and instances by reference (DESIGN §12.6), in real processes.

The worker processes (spawn, forkserver, ProcessPoolExecutor, joblib's loky) define the
same models by importing ``tests/pickle_models.py``, as a user's module would, and the
pools also run ``pickle_models.init_worker`` as their initializer; the parent imports it
only inside the fixtures, which remove its tenants again afterwards. Pools are created
once per module (and start method) to keep the suite fast.
"""

from __future__ import annotations

import contextlib
import functools
import importlib
import multiprocessing
import pickle
import subprocess
import sys
import warnings
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from multiprocessing.pool import Pool
from pathlib import Path
from types import ModuleType
from typing import Any

import cloudpickle
import joblib
import pytest
from joblib.externals.loky import get_reusable_executor

import nbregistry
import nbregistry.models
from nbregistry import DataSource, ModelRedefinedWarning, ModelRegistry, registry
from nbregistry.core.pickling import _refresh, model_class

TESTS = Path(__file__).parent


def _import_pm() -> ModuleType:
    if str(TESTS) not in sys.path:
        sys.path.insert(0, str(TESTS))
    return importlib.import_module("pickle_models")


@pytest.fixture
def pm() -> Iterator[ModuleType]:
    """Yield ``pickle_models`` with its models defined in the process-wide registry."""
    module = _import_pm()
    module.setup()
    yield module
    registry.cleanup_tenant(module.TENANT)


@pytest.fixture(scope="module")
def auto() -> Iterator[tuple[str, type[Any]]]:
    """Yield ``(owner name, Point)``: Point defined on an automatically named owner."""
    module = _import_pm()
    ds = DataSource("memory", tenant=module.AUTO_TENANT)
    assert ds.name.startswith("memory-")
    yield ds.name, ds.define("Point", module.POINT)
    registry.cleanup_tenant(module.AUTO_TENANT)


@pytest.fixture(scope="module", params=["spawn", "forkserver"])
def pool(request: pytest.FixtureRequest, auto: tuple[str, type[Any]]) -> Iterator[Pool]:
    """Yield a 2-process Pool of the start method whose initializer defines Point."""
    module = _import_pm()
    ctx = multiprocessing.get_context(request.param)
    with ctx.Pool(2, initializer=module.init_worker, initargs=(auto[0],)) as p:
        yield p


@pytest.fixture(scope="module")
def loky() -> Iterator[None]:
    """Shut joblib's reusable loky workers down after this module."""
    yield
    get_reusable_executor().shutdown(wait=True)


def _samples(pm: ModuleType) -> tuple[Any, Any]:
    models = pm.setup()
    user = models["User"](name="ada", address={"city": "Oslo", "zip": "0150"})
    order = models["Order"](user=user, lines=[{"sku": "a", "qty": 2}, {"sku": "b", "qty": 1}])
    return user, order


def _walk(cls: type) -> Any:
    """Resolve ``cls`` at its address as pickle and cloudpickle do (module + qualname)."""
    return functools.reduce(getattr, cls.__qualname__.split("."), sys.modules[cls.__module__])


@contextlib.contextmanager
def _redefined_user(pm: ModuleType) -> Iterator[Any]:
    """Yield a User instance of another definition, current while inside; then restore."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ModelRedefinedWarning)
        try:
            yield pm.crm.define("User", {"name": str, "age": int})(name="bob", age=3)
        finally:
            pm.setup()


# --- in one process ---------------------------------------------------------------------


@pytest.mark.parametrize("protocol", range(pickle.HIGHEST_PROTOCOL + 1))
def test_classes_and_instances_round_trip_in_process(pm: ModuleType, protocol: int) -> None:
    models = pm.setup()
    user_cls, order_cls = models["User"], models["Order"]
    anon = user_cls.definition.properties["address"].type
    line = order_cls.definition.properties["lines"].items.type
    for cls in (user_cls, order_cls, anon, line):
        assert pickle.loads(pickle.dumps(cls, protocol)) is cls
    user, order = _samples(pm)
    back = pickle.loads(pickle.dumps(order, protocol))
    assert back == order and type(back) is order_cls
    assert type(back.user) is user_cls and type(back.user.address) is anon
    assert all(type(x) is line for x in back.lines)
    assert pickle.loads(pickle.dumps(user, protocol)).to_dict() == user.to_dict()


def test_the_base_class_pickles_by_name() -> None:
    assert pickle.loads(pickle.dumps(nbregistry.Model)) is nbregistry.Model
    assert pickle.loads(cloudpickle.dumps(nbregistry.Model)) is nbregistry.Model


def test_a_class_pickles_as_a_reference_not_by_value(pm: ModuleType) -> None:
    user_cls = pm.setup()["User"]
    data = pickle.dumps(user_cls)
    # The reference names the resolver, tenant, owner, model and fingerprint — no code.
    for part in (b"model_class", b"pickletest", b"crm", b"User"):
        assert part in data
    assert user_cls.definition.fingerprint.encode() in data
    assert b"nbregistry.models" not in data


def test_a_model_class_lives_at_its_address_in_nbregistry_models(pm: ModuleType) -> None:
    models = pm.setup()
    user_cls = models["User"]
    anon = user_cls.definition.properties["address"].type
    assert user_cls.__module__ == "nbregistry.models" and user_cls.__name__ == "User"
    assert repr(user_cls) == "<class 'nbregistry.models.pickletest.crm.User'>"
    assert nbregistry.models.pickletest.crm.User is user_cls
    assert anon.__qualname__ == f"pickletest.<anonymous>.{anon.model_name}"
    assert _walk(anon) is anon and _walk(models["Order"]) is models["Order"]
    assert "pickletest" in dir(nbregistry.models)
    assert dir(nbregistry.models.pickletest) == ["<anonymous>", "crm"]
    assert dir(nbregistry.models.pickletest.crm) == ["Order", "User"]
    pm.crm.delete_model("Order")
    with pytest.raises(AttributeError, match=r"holds no model named .Order."):
        nbregistry.models.pickletest.crm.Order  # noqa: B018
    with pytest.raises(AttributeError, match=r"no owner named 'nobody'"):
        nbregistry.models.pickletest.nobody  # noqa: B018
    with pytest.raises(AttributeError, match=r"'_private' \(not a tenant code\)"):
        nbregistry.models._private  # noqa: B018


def test_the_address_follows_a_model_to_another_owner(pm: ModuleType) -> None:
    ds = DataSource("memory", name="elsewhere", tenant=pm.TENANT)
    thing = pm.crm.define("Thing", {"x": int})
    assert thing.__qualname__ == "pickletest.crm.Thing"
    ds.attach(thing)
    assert thing.__qualname__ == "pickletest.elsewhere.Thing" and _walk(thing) is thing
    assert pickle.loads(cloudpickle.dumps(thing)) is thing


def test_odd_tenant_and_owner_names_are_percent_encoded(reg: ModelRegistry) -> None:
    tenant = "pickle.odd:t-1"
    ds = DataSource("memory", name="<50%>", tenant=tenant)
    try:
        cls = ds.define("Odd", {"x": int, "sub": {"y": int}})
        anon = cls.definition.properties["sub"].type
        assert cls.__qualname__ == "pickle%2Eodd:t-1.%3C50%25>.Odd"
        assert _walk(cls) is cls and _walk(anon) is anon
        assert getattr(getattr(nbregistry.models, tenant), "<50%>").Odd is cls  # unencoded
        for obj in (cls, anon, cls(x=1, sub={"y": 2})):
            back = pickle.loads(cloudpickle.dumps(obj))
            assert back is obj if isinstance(obj, type) else back == obj
    finally:
        registry.cleanup_tenant(tenant)


def test_cloudpickle_pickles_classes_and_instances_by_reference(pm: ModuleType) -> None:
    models = pm.setup()
    user_cls, order_cls = models["User"], models["Order"]
    anon = user_cls.definition.properties["address"].type
    line = order_cls.definition.properties["lines"].items.type
    for cls in (user_cls, order_cls, anon, line):
        data = cloudpickle.dumps(cls)
        assert pickle.loads(data) is cls
        # A reference: resolver + tenant + names + fingerprint, no class body.
        assert b"model_class" in data and b"PropertyDefinition" not in data
        assert len(data) < 300
    _, order = _samples(pm)
    back = pickle.loads(cloudpickle.dumps(order))
    assert back == order and type(back) is order_cls and type(back.user.address) is anon


def test_cloudpickle_refuses_a_class_not_at_its_address(pm: ModuleType, reg: ModelRegistry) -> None:
    private = DataSource("memory", name="crm", tenant=pm.TENANT, registry=reg).define(
        "Private", {"x": int}
    )
    stale = pm.setup()["User"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ModelRedefinedWarning)
        pm.crm.define("User", {"name": str, "age": int})
    for cls, name in ((private, "Private"), (stale, "User")):
        with pytest.raises(pickle.PicklingError, match=rf"model class '{name}' by value.*private"):
            cloudpickle.dumps(cls)
        with pytest.raises(pickle.PicklingError, match=rf"model class '{name}' by value"):
            cloudpickle.dumps(cls.__new__(cls))
        assert b"model_class" in pickle.dumps(cls)  # plain pickle: still a reference


def test_unknown_owner_or_model_raises_unpickling_error(pm: ModuleType) -> None:
    user, _ = _samples(pm)
    data = pickle.dumps(user)
    pm.crm.delete_model("Order")
    pm.crm.delete_model("User")
    with pytest.raises(pickle.UnpicklingError, match=r"model 'User' of owner 'crm'.*not defined"):
        pickle.loads(data)
    registry.cleanup_tenant(pm.TENANT)
    with pytest.raises(pickle.UnpicklingError, match=r"no owner named 'crm'.*import the module"):
        pickle.loads(data)


def test_other_fingerprint_raises_unpickling_error_naming_both(pm: ModuleType) -> None:
    user, _ = _samples(pm)
    data = pickle.dumps(user)
    old_fp = type(user).definition.fingerprint
    with pytest.warns(ModelRedefinedWarning):
        new = pm.crm.define("User", {"name": str})
    with pytest.raises(pickle.UnpicklingError) as info:
        pickle.loads(data)
    message = str(info.value)
    assert "'User'" in message and old_fp in message and new.definition.fingerprint in message
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ModelRedefinedWarning)
        current = pm.setup()["User"]
    back = pickle.loads(data)  # the same definition again: it resolves to the new class
    assert type(back) is current and back.to_dict() == user.to_dict()


def test_anonymous_structure_missing_raises_unpickling_error(pm: ModuleType) -> None:
    user, _ = _samples(pm)
    data = pickle.dumps(user.address)
    registry.cleanup_tenant(pm.TENANT)
    with pytest.raises(pickle.UnpicklingError, match=r"anonymous embedded model.*'pickletest'"):
        pickle.loads(data)


def test_a_private_registry_class_resolves_in_the_process_wide_one(reg: ModelRegistry) -> None:
    ds = DataSource("memory", name="private", tenant="pickleprivate", registry=reg)
    cls = ds.define("Thing", {"x": int})
    with pytest.raises(pickle.UnpicklingError, match=r"nbregistry\.registry"):
        pickle.loads(pickle.dumps(cls))


def test_a_miss_without_a_store_is_not_retried(
    reg: ModelRegistry, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The store paths of _refresh (sync, connecting to $NBREGISTRY_STORE) are tested with
    # the store itself; here: no store and no variable → no refresh, a clear error.
    monkeypatch.delenv("NBREGISTRY_STORE", raising=False)
    assert _refresh(reg) is False and _refresh(registry) is False
    with pytest.raises(pickle.UnpicklingError, match=r"no owner named 'ghost'"):
        model_class("named", "pickletest", "ghost", "User", "0" * 16)
    with pytest.raises(pickle.UnpicklingError, match=r"unknown model reference kind 'bogus'"):
        model_class("bogus", "pickletest")
    with pytest.raises(pickle.UnpicklingError, match=r"bad tenant '' in a model reference"):
        model_class("anonymous", "", "0" * 16, False)


# --- other processes ------------------------------------------------------------------


def test_pool_workers_resolve_the_same_classes(
    pm: ModuleType, pool: Pool, auto: tuple[str, type[Any]]
) -> None:
    user, order = _samples(pm)
    point = auto[1](x=1, y=2, note={"text": "hi"})
    objs = [user, order, point, user.address]
    described = pool.map(pm.describe, objs)
    assert [d["data"] for d in described] == [o.to_dict() for o in objs]
    assert all(d["is_registered_class"] and d["embedded_is_registered"] for d in described)
    # Back in the parent, the workers' instances and classes are the parent's classes.
    echoed = pool.map(pm.echo, objs)
    assert echoed == objs and [type(e) for e in echoed] == [type(o) for o in objs]
    assert type(echoed[1].user) is type(user) and type(echoed[2].note) is type(point.note)
    assert pool.apply(pm.classes) == (type(user), type(order))


def test_pool_workers_reject_unknown_classes_and_other_fingerprints(
    pm: ModuleType, pool: Pool
) -> None:
    thing = DataSource("memory", name="ghost", tenant=pm.TENANT).define("Thing", {"x": int})
    with _redefined_user(pm) as other:
        data = [pickle.dumps(thing(x=1)), pickle.dumps(other)]
    results = pool.map(pm.try_loads, data)
    assert results[0].startswith(
        "UnpicklingError: cannot unpickle model 'Thing' of owner 'ghost' (tenant 'pickletest'): "
        "this process's registry (nbregistry.registry) has no owner named 'ghost'"
    )
    assert results[1].startswith("UnpicklingError: cannot unpickle model 'User' of owner 'crm'")
    assert "it was pickled with fingerprint" in results[1]


def test_process_pool_executor(pm: ModuleType, auto: tuple[str, type[Any]]) -> None:
    user, order = _samples(pm)
    point = auto[1](x=3, y=4, note={"text": "ppe"})
    ctx = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(
        max_workers=2, mp_context=ctx, initializer=pm.init_worker, initargs=(auto[0],)
    ) as ex:
        described = list(ex.map(pm.describe, [user, order, point]))
        back = ex.submit(pm.echo, order).result()
    assert all(d["is_registered_class"] and d["embedded_is_registered"] for d in described)
    assert [d["data"] for d in described] == [user.to_dict(), order.to_dict(), point.to_dict()]
    assert back == order and type(back) is type(order)


def test_joblib_loky_workers_resolve_the_same_classes(pm: ModuleType, loky: None) -> None:
    user, order = _samples(pm)
    objs = [user, order, user.address]
    described = joblib.Parallel(n_jobs=2)(joblib.delayed(pm.describe)(o) for o in objs)
    assert [d["data"] for d in described] == [o.to_dict() for o in objs]
    assert all(d["is_registered_class"] and d["embedded_is_registered"] for d in described)
    echoed = joblib.Parallel(n_jobs=2)(joblib.delayed(pm.echo)(o) for o in objs)
    assert echoed == objs and [type(e) for e in echoed] == [type(o) for o in objs]


def test_joblib_loky_workers_reject_unknown_classes_and_other_fingerprints(
    pm: ModuleType, loky: None
) -> None:
    def fails_in_worker(obj: Any) -> str:
        # loky reports a task its worker cannot unpickle as a broken pool, carrying the
        # worker's traceback as the cause.
        with pytest.raises(BrokenProcessPool, match="failed to un-serialize") as info:
            joblib.Parallel(n_jobs=2)(joblib.delayed(pm.echo)(o) for o in [obj])
        return str(info.value.__cause__)

    thing = DataSource("memory", name="ghost", tenant=pm.TENANT).define("Thing", {"x": int})
    assert (
        "UnpicklingError: cannot unpickle model 'Thing' of owner 'ghost' (tenant 'pickletest'): "
        "this process's registry (nbregistry.registry) has no owner named 'ghost'"
    ) in fails_in_worker(thing(x=1))
    with _redefined_user(pm) as other:
        cause = fails_in_worker(other)
    assert (
        "UnpicklingError: cannot unpickle model 'User' of owner 'crm' (tenant 'pickletest'): "
        "it was pickled with fingerprint"
    ) in cause


def test_a_process_without_the_model_gets_a_clear_unpickling_error(pm: ModuleType) -> None:
    user, _ = _samples(pm)
    code = "import pickle, sys, nbregistry; pickle.loads(sys.stdin.buffer.read())"
    proc = subprocess.run(
        [sys.executable, "-c", code], input=pickle.dumps(user), capture_output=True, timeout=120
    )
    assert proc.returncode != 0
    err = proc.stderr.decode()
    assert "_pickle.UnpicklingError: cannot unpickle model 'User' of owner 'crm'" in err
    assert "import the module that defines it" in err
