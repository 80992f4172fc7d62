"""Tenancy (DESIGN §2, §11): codes, resolution order, scopes, threads, asyncio."""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

import nbregistry
from nbregistry import (
    GLOBAL_TENANT,
    DataSource,
    ModelRegistry,
    TenantError,
    carry_tenant,
    current_tenant,
    tenant,
    use_tenant,
    validate_tenant,
)

BAD_CODES = [
    "",
    0,
    1,
    False,
    True,
    None,
    b"acme",
    ["acme"],
    "-acme",
    "_acme",
    ".x",
    "acme\n",
    "ac me",
    "acmé",
    "a/b",
    "a" * 129,
    "\uff46\uff55\uff4c\uff4c",  # fullwidth letters are not ASCII
    "٣",
]


@pytest.mark.parametrize("code", ["acme", "a", "0", "A1_b.c:d-e", "trap", "a" * 128, "global"])
def test_valid_codes_are_returned_unchanged(code: str) -> None:
    assert validate_tenant(code) == code


@pytest.mark.parametrize("code", [c for c in BAD_CODES if c is not None])
def test_invalid_codes_raise_tenant_error_naming_the_value(code: object) -> None:
    with pytest.raises(TenantError) as info:
        validate_tenant(code)
    assert repr(code)[:40] in str(info.value) or repr(code)[:40] in repr(info.value.args)
    assert isinstance(info.value, ValueError)


@pytest.mark.parametrize("code", [c for c in BAD_CODES if c is not None])
def test_every_tenant_entry_point_validates(code: object, reg: ModelRegistry) -> None:
    with pytest.raises(TenantError):
        tenant(code)  # type: ignore[arg-type]
    with pytest.raises(TenantError):
        reg.use_tenant(code)  # type: ignore[arg-type]
    with pytest.raises(TenantError):
        DataSource("memory", tenant=code, registry=reg)  # type: ignore[arg-type]
    with pytest.raises(TenantError):
        reg.find_model_by_name("User", tenant=code)  # type: ignore[arg-type]
    with pytest.raises(TenantError):
        reg.cleanup_tenant(code)  # type: ignore[arg-type]
    assert reg.tenants() == []
    assert reg.owners(tenant="global") == []


def test_resolution_order_override_then_session_then_global(reg: ModelRegistry) -> None:
    assert reg.current_tenant() == GLOBAL_TENANT
    reg.use_tenant("acme")
    assert reg.current_tenant() == "acme"
    with tenant("globex"):
        assert reg.current_tenant() == "globex"
        with tenant("initech"):
            assert reg.current_tenant() == "initech"
        assert reg.current_tenant() == "globex"
    assert reg.current_tenant() == "acme"
    reg.use_tenant(None)
    assert reg.current_tenant() == GLOBAL_TENANT


def test_each_registry_has_its_own_session_default() -> None:
    a, b = ModelRegistry(), ModelRegistry()
    a.use_tenant("acme")
    assert b.current_tenant() == GLOBAL_TENANT
    with tenant("x"):  # the override is honoured by every registry
        assert a.current_tenant() == "x" and b.current_tenant() == "x"


def test_module_level_use_tenant_and_current_tenant() -> None:
    try:
        use_tenant("acme")
        assert current_tenant() == "acme"
        assert nbregistry.registry.session_tenant == "acme"
    finally:
        use_tenant(None)
    assert current_tenant() == GLOBAL_TENANT


def test_override_restored_on_exception() -> None:
    with pytest.raises(RuntimeError), tenant("acme"):
        raise RuntimeError("boom")
    assert current_tenant() == GLOBAL_TENANT


def test_owner_created_in_scope_belongs_to_that_tenant(reg: ModelRegistry) -> None:
    with tenant("acme"):
        ds = DataSource("memory", registry=reg)
    assert ds.tenant == "acme"
    explicit = DataSource("memory", tenant="globex", registry=reg)
    assert explicit.tenant == "globex"


def test_decorator_sync_and_async() -> None:
    @tenant("acme")
    def sync() -> str:
        return current_tenant()

    @tenant("globex")
    async def coro() -> str:
        await asyncio.sleep(0)
        return current_tenant()

    assert sync() == "acme"
    assert asyncio.run(coro()) == "globex"
    assert current_tenant() == GLOBAL_TENANT
    assert sync.__name__ == "sync"


def test_same_scope_object_can_be_reentered() -> None:
    scope = tenant("acme")
    with scope:
        with scope:
            assert current_tenant() == "acme"
        assert current_tenant() == "acme"
    assert current_tenant() == GLOBAL_TENANT


def test_async_with() -> None:
    async def main() -> str:
        async with tenant("acme"):
            return current_tenant()

    assert asyncio.run(main()) == "acme"


def test_threads_do_not_inherit_or_leak_overrides() -> None:
    seen: dict[str, str] = {}
    barrier = threading.Barrier(2)

    def worker(code: str) -> None:
        with tenant(code):
            barrier.wait()
            seen[code] = current_tenant()

    with tenant("main"):
        threads = [threading.Thread(target=worker, args=(c,)) for c in ("t1", "t2")]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        fresh: list[str] = []
        th = threading.Thread(target=lambda: fresh.append(current_tenant()))
        th.start()
        th.join()
        assert current_tenant() == "main"
    assert seen == {"t1": "t1", "t2": "t2"}
    assert fresh == [GLOBAL_TENANT]


def test_asyncio_tasks_each_see_their_own_override() -> None:
    async def task(i: int) -> tuple[int, str]:
        with tenant(f"t{i}"):
            await asyncio.sleep(0)
            await asyncio.sleep(0.001 * (i % 3))
            return i, current_tenant()

    async def main() -> list[tuple[int, str]]:
        return await asyncio.gather(*(task(i) for i in range(50)))

    for i, code in asyncio.run(main()):
        assert code == f"t{i}"


def test_carry_tenant_into_executor() -> None:
    with ThreadPoolExecutor(max_workers=2) as pool, tenant("acme"):
        plain = pool.submit(current_tenant).result()
        carried = pool.submit(carry_tenant(current_tenant)).result()
    assert plain == GLOBAL_TENANT
    assert carried == "acme"


def test_import_starts_no_thread() -> None:
    import subprocess
    import sys

    out = subprocess.run(
        [sys.executable, "-c", "import threading, nbregistry; print(threading.active_count())"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert out.stdout.strip() == "1"
