"""Concurrency: threads and asyncio tasks hammering one registry, with exact final counts."""

from __future__ import annotations

import asyncio
import random
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from nbregistry import (
    GLOBAL_TENANT,
    DataSource,
    ModelRegistry,
    carry_tenant,
    tenant,
)

N_THREADS = 8
N_REGS = 5_000
PROPS = {"name": "string", "n": "integer"}


def test_threads_register_lookup_and_cleanup_without_cross_tenant_leaks(
    reg: ModelRegistry,
) -> None:
    """8 writers x 5 000 defines, readers and a cleaner of other tenants: exact counts."""
    shared = DataSource("memory", name="shared", tenant=GLOBAL_TENANT, registry=reg)
    shared.define("Shared", PROPS)  # every tenant may fall back to this one
    start = threading.Barrier(N_THREADS + 3)
    stop = threading.Event()
    errors: list[BaseException] = []
    lookups = [0, 0, 0]  # one slot per reader/cleaner thread: no shared +=
    victim_regs = [0]
    victim_cleanups = [0]

    def writer(i: int) -> None:
        try:
            ds = DataSource("memory", name=f"ds{i}", tenant=f"w{i}", registry=reg)
            start.wait()
            for k in range(N_REGS):
                cls = ds.define(f"M{k}", PROPS)
                assert cls.tenant == f"w{i}"
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    def reader(seed: int) -> None:
        rnd = random.Random(seed)
        n = 0
        try:
            start.wait()
            while not stop.is_set():
                i = rnd.randrange(N_THREADS)
                code = f"w{i}"
                cls = reg.find_model_by_name(f"M{rnd.randrange(N_REGS)}", tenant=code)
                n += 1
                assert cls is None or cls.tenant == code, (code, cls)
                shared_cls = reg.find_model_by_name("Shared", tenant=code)
                n += 1
                assert shared_cls is not None and shared_cls.tenant == GLOBAL_TENANT
                # A victim tenant's model is never visible from a writer tenant.
                assert reg.find_model_by_name("Victim", tenant=code) is None
                n += 1
                # Yield the GIL: a reader spinning for whole 5 ms switch intervals turns the
                # writers' lock into a convoy (CPython behaviour, not the registry's).
                time.sleep(0)
        except BaseException as exc:  # pragma: no cover
            errors.append(exc)
        finally:
            lookups[seed] = n

    def cleaner() -> None:
        n = 0
        try:
            start.wait()
            round_ = 0
            while not stop.is_set():
                code = f"victim{round_ % 3}"
                ds = DataSource("memory", name=f"v{round_}", tenant=code, registry=reg)
                ds.define("Victim", PROPS)
                victim_regs[0] += 1
                assert reg.find_model_by_name("Victim", tenant=code) is ds.models.Victim
                n += 1
                assert reg.cleanup_tenant(code) == 1
                victim_cleanups[0] += 1
                assert len(ds.models) == 0
                round_ += 1
                time.sleep(0)
        except BaseException as exc:  # pragma: no cover
            errors.append(exc)
        finally:
            lookups[0] = n

    writers = [threading.Thread(target=writer, args=(i,)) for i in range(N_THREADS)]
    others = [threading.Thread(target=reader, args=(s,)) for s in (1, 2)]
    others.append(threading.Thread(target=cleaner))
    for t in writers + others:
        t.start()
    for t in writers:
        t.join(timeout=300)
    stop.set()
    for t in others:
        t.join(timeout=60)
    assert not errors, errors[:3]
    assert victim_cleanups[0] >= 1 and lookups[1] > 0 and lookups[2] > 0

    s = reg.stats()
    assert s.models == N_THREADS * N_REGS + 1
    assert s.named_models == N_THREADS * N_REGS + 1
    assert s.anonymous_models == 0
    assert s.tenants == N_THREADS
    assert s.owners == N_THREADS + 1
    assert s.registrations == N_THREADS * N_REGS + 1 + victim_regs[0]
    assert s.lookups == sum(lookups)
    assert sorted(reg.tenants()) == sorted([GLOBAL_TENANT] + [f"w{i}" for i in range(N_THREADS)])
    for i in range(N_THREADS):
        code = f"w{i}"
        owner = reg.owner_by_name(f"ds{i}", tenant=code)
        assert list(owner.models) == [f"M{k}" for k in range(N_REGS)]
        for k in (0, N_REGS // 2, N_REGS - 1):
            assert reg.get_model(f"M{k}", tenant=code).tenant == code


def test_concurrent_defines_on_one_owner_keep_one_class_per_name(reg: ModelRegistry) -> None:
    """Threads racing identical defines of the same names end with one class each."""
    ds = DataSource("memory", name="crm", tenant="acme", registry=reg)
    results: list[list[Any]] = [[] for _ in range(4)]
    barrier = threading.Barrier(4)

    def work(i: int) -> None:
        barrier.wait()
        for k in range(500):
            results[i].append(ds.define(f"M{k}", PROPS))

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for k in range(500):
        assert {id(r[k]) for r in results} == {id(ds.models[f"M{k}"])}
    s = reg.stats()
    assert s.models == 500
    assert s.registrations == 500  # an identical re-define does not count


def test_fifty_asyncio_tasks_keep_their_own_tenant_override(reg: ModelRegistry) -> None:
    """50 tasks with nested tenant() overrides interleave at awaits without leaking."""
    codes = [f"task{i}" for i in range(50)]
    for code in codes:
        DataSource("memory", name="crm", tenant=code, registry=reg).define(
            "User", {"code": {"type": "string", "default": code}}
        )
    seen: list[tuple[str, str, str]] = []

    async def task(i: int) -> None:
        code = codes[i]
        inner = codes[(i + 1) % 50]
        async with tenant(code):
            for _ in range(5):
                await asyncio.sleep(0)
                assert reg.current_tenant() == code
                assert reg.get_model("User").definition.properties["code"].default == code
                with tenant(inner):
                    await asyncio.sleep(0)
                    assert reg.current_tenant() == inner
                    assert reg.get_model("User").tenant == inner
                await asyncio.sleep(0)
                assert reg.current_tenant() == code
                seen.append((code, reg.current_tenant(), reg.get_model("User").tenant))

        @tenant(inner)
        async def decorated() -> str:
            await asyncio.sleep(0)
            return reg.current_tenant()

        assert await decorated() == inner
        assert reg.current_tenant() == GLOBAL_TENANT

    async def main() -> None:
        await asyncio.gather(*(task(i) for i in range(50)))

    asyncio.run(main())
    assert len(seen) == 250
    assert all(a == b == c for a, b, c in seen)
    assert reg.current_tenant() == GLOBAL_TENANT


def test_override_does_not_leak_into_other_threads(reg: ModelRegistry) -> None:
    """A thread started inside ``with tenant()`` sees the session default, not the override."""
    reg.use_tenant("session")
    got: list[str] = []
    with tenant("acme"):
        t = threading.Thread(target=lambda: got.append(reg.current_tenant()))
        t.start()
        t.join()
        assert reg.current_tenant() == "acme"
    assert got == ["session"]


def test_executor_threads_need_carry_tenant(reg: ModelRegistry) -> None:
    """ThreadPoolExecutor drops the override; ``carry_tenant(fn)`` carries it per call."""
    DataSource("memory", name="crm", tenant="acme", registry=reg).define("User", PROPS)
    DataSource("memory", name="crm", tenant="globex", registry=reg).define("User", PROPS)

    def which() -> str | None:
        cls = reg.find_model_by_name("User")
        return None if cls is None else cls.tenant

    with ThreadPoolExecutor(max_workers=4) as pool:
        with tenant("acme"):
            plain = [f.result() for f in [pool.submit(which) for _ in range(8)]]
            carried_acme = carry_tenant(which)
            acme = list(pool.map(lambda _: carried_acme(), range(16)))
        with tenant("globex"):
            carried_globex = carry_tenant(which)
        globex = list(pool.map(lambda _: carried_globex(), range(16)))
        # A carried callable re-applies its tenant on every call, even interleaved.
        mixed = [
            f.result()
            for f in [pool.submit(carried_acme if i % 2 else carried_globex) for i in range(16)]
        ]
    assert plain == [None] * 8  # the executor threads see the global tenant, no User
    assert acme == ["acme"] * 16
    assert globex == ["globex"] * 16
    assert mixed == ["globex", "acme"] * 8
    assert carried_acme.__name__ == "which"


def test_carry_tenant_restores_the_worker_context_after_an_exception() -> None:
    """The carried override is reset after the call, also when it raises."""
    with tenant("acme"):

        @carry_tenant
        def boom() -> None:
            raise RuntimeError("boom")

    reg = ModelRegistry()
    with ThreadPoolExecutor(max_workers=1) as pool:
        with pytest.raises(RuntimeError, match="boom"):
            pool.submit(boom).result()
        assert pool.submit(reg.current_tenant).result() == GLOBAL_TENANT
