"""Pickling of model classes and instances by reference (DESIGN §12.6), in real processes.

The worker processes (spawn, forkserver, ProcessPoolExecutor) define the same models by
importing ``tests/pickle_models.py``, as a user's module would; the parent imports it only
inside the fixture, which removes its tenant again afterwards.
"""

from __future__ import annotations

import importlib
import multiprocessing
import pickle
import subprocess
import sys
import warnings
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from types import ModuleType

import pytest

import nbregistry
from nbregistry import DataSource, ModelRedefinedWarning, ModelRegistry, registry

TESTS = Path(__file__).parent


@pytest.fixture
def pm() -> Iterator[ModuleType]:
    """Yield ``pickle_models`` with its models defined in the process-wide registry."""
    if str(TESTS) not in sys.path:
        sys.path.insert(0, str(TESTS))
    module = importlib.import_module("pickle_models")
    module.setup()
    yield module
    registry.cleanup_tenant(module.TENANT)


def _samples(pm: ModuleType) -> tuple[object, object]:
    models = pm.setup()
    user = models["User"](name="ada", address={"city": "Oslo", "zip": "0150"})
    order = models["Order"](user=user, lines=[{"sku": "a", "qty": 2}, {"sku": "b", "qty": 1}])
    return user, order


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


def test_a_class_pickles_as_a_reference_not_by_value(pm: ModuleType) -> None:
    user_cls = pm.setup()["User"]
    data = pickle.dumps(user_cls)
    # The reference names the resolver, tenant, owner, model and fingerprint — no code.
    for part in (b"model_class", b"pickletest", b"crm", b"User"):
        assert part in data
    assert user_cls.definition.fingerprint.encode() in data
    assert b"nbregistry.models" not in data


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


@pytest.mark.parametrize("method", ["spawn", "forkserver"])
def test_multiprocessing_pool_workers_resolve_the_same_classes(pm: ModuleType, method: str) -> None:
    user, order = _samples(pm)
    ctx = multiprocessing.get_context(method)
    with ctx.Pool(2) as pool:
        described = pool.map(pm.describe, [user, order])
        echoed = pool.map(pm.echo, [user, order])
        worker_classes = pool.apply(pm.classes)
    assert [d["data"] for d in described] == [user.to_dict(), order.to_dict()]
    assert all(d["is_registered_class"] and d["embedded_is_registered"] for d in described)
    # Back in the parent, the workers' instances and classes are the parent's classes.
    assert echoed == [user, order] and type(echoed[1].user) is type(user)
    assert worker_classes == (type(user), type(order))


def test_process_pool_executor(pm: ModuleType) -> None:
    user, order = _samples(pm)
    ctx = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=2, mp_context=ctx) as ex:
        described = list(ex.map(pm.describe, [user, order]))
        back = ex.submit(pm.echo, order).result()
    assert all(d["is_registered_class"] and d["embedded_is_registered"] for d in described)
    assert back == order and type(back) is type(order)


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
