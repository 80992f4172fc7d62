"""One registry for many processes (DESIGN §12.5): real processes, SQLite and PostgreSQL.

Workers are ``tests/registry_worker.py`` subprocesses; the store is a SQLite file in a
temp dir, or a fresh schema on the suite's PostgreSQL server (tests/pg.py).
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
import uuid
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from registry_worker import state

from nbregistry import DataSource, ModelRedefinedWarning, ModelRegistry, StoreError
from nbregistry.core.store import open_store

ROOT = Path(__file__).resolve().parents[1]
WORKER = str(Path(__file__).with_name("registry_worker.py"))


class Target:
    """A store URL for one test (SQLite file or PostgreSQL schema), dropped afterwards."""

    def __init__(self, kind: str, tmp_path: Path, pg: Any) -> None:
        self.kind, self.pg = kind, pg
        if kind == "sqlite":
            self.url = f"sqlite:///{tmp_path / 'registry.db'}"
        else:
            self.schema = f"p_{uuid.uuid4().hex[:12]}"
            self.url = f"{pg.url}?schema={self.schema}"

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env["NBREGISTRY_TEST_STORE"] = self.url
        env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")])
        return env

    def run(self, *args: str, timeout: float = 300) -> str:
        out = subprocess.run(
            [sys.executable, WORKER, *args],
            env=self.env(),
            capture_output=True,
            text=True,
            timeout=timeout,
            cwd=ROOT,
        )
        assert out.returncode == 0, out.stderr[-3000:]
        return out.stdout

    def popen(self, *args: str) -> subprocess.Popen[str]:
        return subprocess.Popen(
            [sys.executable, WORKER, *args],
            env=self.env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=ROOT,
        )

    def close(self) -> None:
        if self.kind == "postgresql":
            self.pg.superuser_sql(f'@db DROP SCHEMA IF EXISTS "{self.schema}" CASCADE')


@pytest.fixture(params=["sqlite", "postgresql"])
def target(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Target]:
    pg = request.getfixturevalue("pg_server") if request.param == "postgresql" else None
    t = Target(request.param, tmp_path, pg)
    yield t
    t.close()


def assert_log_whole(url: str) -> int:
    """Assert the revision log is gapless, duplicate-free and every entry whole; return head."""
    store = open_store(url)
    try:
        revs = store.revisions(0)
        numbers = [r.revision for r in revs]
        assert numbers == list(range(1, len(numbers) + 1))
        for r in revs:
            assert r.op and r.at and "@" in r.by
            if r.op in ("define", "redefine", "attach"):
                assert r.fingerprint and "properties" in r.payload["definition"]
        assert store.head() == len(numbers)
        return len(numbers)
    finally:
        store.close()


def test_a_change_in_another_process_is_visible_after_the_next_sync(target: Target) -> None:
    reg = ModelRegistry()
    reg.connect_store(target.url)
    try:
        for i in range(6):  # no timer: every single time, right after the writer returned
            props = {"name": "string", f"p{i}": "integer"}
            fp = target.run("define", "acme", "crm", "User", json.dumps(props)).strip()
            assert reg.sync() >= 1
            assert reg.get_model("User", tenant="acme").definition.fingerprint == fp
    finally:
        reg.disconnect_store()


def test_four_processes_converge_and_the_log_has_no_gap(target: Target, tmp_path: Path) -> None:
    go, done = tmp_path / "go", tmp_path / "done"
    n = 250
    workers = [target.popen("converge", str(w), str(n), str(go), str(done)) for w in range(4)]
    try:
        for w in workers:
            assert w.stdout is not None
            assert w.stdout.readline().strip() == "ready", w.stderr.read() if w.stderr else ""
        go.touch()  # all four race on the same tenants, owners and model names
        for w in workers:
            assert w.stdout is not None
            line = w.stdout.readline().strip()
            assert line == "finished", (line, w.stderr.read() if w.stderr else "")
        done.touch()  # everyone has written everything: now each one syncs
        results = []
        for w in workers:
            out, err = w.communicate(timeout=600)
            assert w.returncode == 0, err[-3000:]
            results.append(json.loads(out.strip().splitlines()[-1]))
    finally:
        for w in workers:
            if w.poll() is None:
                w.kill()
    assert sum(r["conflicts"] for r in results) > 0  # they really raced on the same names
    fresh = json.loads(target.run("state").strip().splitlines()[-1])["state"]
    assert fresh  # something survived the deletes
    for r in results:  # every process, after sync(), holds exactly what a fresh one does
        assert r["state"] == fresh
    store = open_store(target.url)
    try:
        in_store = sorted([d.tenant, d.owner, d.model, d.fingerprint] for d in store.definitions())
    finally:
        store.close()
    assert in_store == fresh
    assert_log_whole(target.url)


def test_every_process_converges_after_sync(target: Target, tmp_path: Path) -> None:
    """Processes that are still alive converge to the fresh process's state after sync()."""
    go = tmp_path / "go"
    workers = [target.popen("converge", str(10 + w), "40", str(go)) for w in range(2)]
    regs: list[ModelRegistry] = []
    try:
        for w in workers:
            assert w.stdout is not None
            line = w.stdout.readline().strip()
            if line != "ready":
                w.kill()
                _, err = w.communicate(timeout=60)
                pytest.fail(f"a worker did not start: {line!r}; its stderr: {err[-3000:]}")
        regs = [ModelRegistry() for _ in range(2)]
        for reg in regs:
            reg.connect_store(target.url)
        go.touch()
        for w in workers:
            _, err = w.communicate(timeout=300)
            assert w.returncode == 0, err[:2000] + " ... " + err[-1500:]
        fresh = json.loads(target.run("state").strip().splitlines()[-1])["state"]
        for reg in regs:
            reg.sync()
            assert state(reg) == fresh
    finally:
        for reg in regs:
            reg.disconnect_store()
        for w in workers:  # never leave a worker (or its pipes) behind
            if w.poll() is None:
                w.kill()
            w.communicate(timeout=60)


@pytest.mark.fault
def test_kill_9_inside_writes_never_damages_the_store(target: Target) -> None:
    rng = random.Random(7)
    reg = ModelRegistry()
    reg.connect_store(target.url)
    ds = DataSource("memory", name="survivor", tenant="acme", registry=reg)
    killed_inside = 0
    try:
        for i in range(12):
            w = target.popen("kill")
            assert w.stdout is not None
            want = rng.randint(1, 4)
            got = 0
            while got < want:
                ch = w.stdout.read(1)
                assert ch == "w", (ch, w.stderr.read() if w.stderr else "")
                got += 1
            time.sleep(rng.random() * 0.004)  # land inside the define's store write
            w.send_signal(signal.SIGKILL)
            w.wait(timeout=30)
            w.stdout.close()
            if w.stderr is not None:
                w.stderr.close()
            killed_inside += w.returncode == -signal.SIGKILL
            head = assert_log_whole(target.url)  # the store opens; every revision is whole
            reg.sync()  # the other process keeps working: it reads...
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ModelRedefinedWarning)
                ds.define("Alive", {"i": "integer", f"k{i}": "string"})  # ...and writes
            assert reg.store is not None and reg.store.head() == head + 1
        assert killed_inside == 12
    finally:
        reg.disconnect_store()


def _wait(pred: Callable[[], bool], timeout: float = 15.0) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return True
        time.sleep(0.01)
    return pred()


def test_listen_applies_announced_revisions_in_the_background(pg_server: Any) -> None:
    t = Target("postgresql", Path("."), pg_server)
    reg = ModelRegistry()
    try:
        reg.connect_store(t.url, listen=True)
        fp = t.run("define", "acme", "crm", "User", json.dumps({"name": "string"})).strip()
        assert _wait(lambda: reg.find_model_by_name("User", tenant="acme") is not None)
        assert reg.get_model("User", tenant="acme").definition.fingerprint == fp
        # Deferred (as in IPython): announced, but applied only at the next sync().
        reg.deferred_sync = True
        fp2 = t.run("define", "acme", "crm", "Order", json.dumps({"t": "number"})).strip()
        time.sleep(0.5)
        assert reg.find_model_by_name("Order", tenant="acme") is None
        assert reg.sync() >= 1
        assert reg.get_model("Order", tenant="acme").definition.fingerprint == fp2
    finally:
        reg.disconnect_store()
        t.close()


def test_a_store_that_goes_away_fails_writes_and_keeps_lookups(pg_server: Any) -> None:
    t = Target("postgresql", Path("."), pg_server)
    reg = ModelRegistry()
    reg.connect_store(t.url)
    ds = DataSource("memory", name="crm", tenant="acme", registry=reg)
    user = ds.define("User", {"name": "string"})
    try:
        pg_server.stop()
        try:
            with pytest.raises(StoreError):
                ds.define("User", {"name": "string", "age": "integer"})
            with pytest.raises(StoreError):
                ds.define("Order", {"total": "number"})
            assert ds.models.User is user and list(ds.models) == ["User"]  # unchanged
            assert reg.get_model("User", tenant="acme") is user  # lookups keep working
        finally:
            pg_server.start()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ModelRedefinedWarning)
            new = ds.define("User", {"name": "string", "age": "integer"})  # works again
        assert new is not user and reg.get_model("User", tenant="acme") is new
    finally:
        reg.disconnect_store()
        t.close()


def test_two_kernels_share_a_store(tmp_path: Path) -> None:
    jupyter_client = pytest.importorskip("jupyter_client")
    url = f"sqlite:///{tmp_path / 'registry.db'}"
    env = dict(os.environ, NBREGISTRY_STORE=url)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")])
    kernels = []
    try:
        for _ in range(2):
            km = jupyter_client.KernelManager(kernel_name="python3")
            km.start_kernel(env=env, cwd=str(tmp_path))
            kc = km.client()
            kc.start_channels()
            kc.wait_for_ready(timeout=120)
            kernels.append((km, kc))

        def run(kc: Any, code: str) -> str:
            out: list[str] = []

            def hook(msg: dict[str, Any]) -> None:
                if msg["msg_type"] == "stream":
                    out.append(msg["content"]["text"])
                elif msg["msg_type"] == "error":
                    out.append("ERROR " + msg["content"]["ename"] + ": " + msg["content"]["evalue"])

            reply = kc.execute_interactive(code, timeout=120, output_hook=hook)
            text = "".join(out)
            assert reply["content"]["status"] == "ok", text
            return text

        (_, k1), (_, k2) = kernels
        assert "connected to the shared store" in run(k1, "%load_ext nbregistry")
        assert "connected to the shared store" in run(k2, "%load_ext nbregistry")
        run(
            k1,
            "from nbregistry import DataSource\n"
            "ds = DataSource('memory', name='crm', tenant='acme')\n"
            "User = ds.define('User', {'name': 'string'})\n",
        )
        # The very next cell of the other kernel sees it (synced before the cell runs).
        text = run(
            k2,
            "from nbregistry import registry\n"
            "print(registry.get_model('User', tenant='acme').definition.fingerprint)",
        )
        fp = run(k1, "print(User.definition.fingerprint)")
        assert text.strip() == fp.strip()
    finally:
        for km, kc in kernels:
            kc.stop_channels()
            km.shutdown_kernel(now=True)
            km.cleanup_resources()


@pytest.mark.parametrize("runner", ["spawn", "ProcessPoolExecutor", "loky"])
def test_a_worker_with_nbregistry_store_resolves_pickled_instances_by_itself(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, runner: str
) -> None:
    # (forkserver: its server process keeps the environment it started with, so a worker
    # sees $NBREGISTRY_STORE only if it was set before the first forkserver pool.)
    import multiprocessing

    sys.path.insert(0, str(Path(__file__).parent))
    import pickle_models

    url = f"sqlite:///{tmp_path / 'registry.db'}"
    reg = ModelRegistry()
    reg.connect_store(url)
    monkeypatch.setenv("NBREGISTRY_STORE", url)
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(ROOT), str(Path(__file__).parent)]))
    import nbregistry

    nbregistry.connect(url)  # the parent's process-wide registry shares the same store
    try:
        ds = DataSource("memory", name="shipping", tenant="storepickle")
        parcel = ds.define("Parcel", {"weight": "number", "to": {"city": "string"}})
        item = parcel(weight=2.5, to={"city": "Oslo"})
        ctx = multiprocessing.get_context("spawn")
        if runner == "spawn":
            with ctx.Pool(1) as pool:
                out = pool.apply(pickle_models.describe_from_store, (item,))
        elif runner == "ProcessPoolExecutor":
            from concurrent.futures import ProcessPoolExecutor

            with ProcessPoolExecutor(max_workers=1, mp_context=ctx) as ex:
                out = ex.submit(pickle_models.describe_from_store, item).result(timeout=120)
        else:
            from joblib.externals.loky import get_reusable_executor

            ex = get_reusable_executor(
                max_workers=1, env={"NBREGISTRY_STORE": url, "PYTHONPATH": os.environ["PYTHONPATH"]}
            )
            try:
                out = ex.submit(pickle_models.describe_from_store, item).result(timeout=120)
            finally:
                ex.shutdown(wait=True)
        assert out["is_registered_class"] is True  # type(x) is the worker's registry class
        assert out["store"] == url  # the worker connected to $NBREGISTRY_STORE by itself
        assert out["data"]["weight"] == 2.5 and out["data"]["to"] == {"city": "Oslo"}
    finally:
        nbregistry.registry.disconnect_store()
        nbregistry.registry.cleanup_tenant("storepickle")
        reg.disconnect_store()


def test_redefining_another_process_definition_warns_naming_revision_and_author(
    target: Target,
) -> None:
    fp = target.run("define", "acme", "crm", "User", json.dumps({"name": "string"})).strip()
    reg = ModelRegistry()
    reg.connect_store(target.url)
    try:
        ds = DataSource("memory", name="crm", tenant="acme", registry=reg)  # adopts it
        assert ds.models.User.definition.fingerprint == fp
        with pytest.warns(ModelRedefinedWarning, match=r"it replaced revision 2 by \S+@\S+:\d+"):
            ds.define("User", {"name": "string", "age": "integer"})
        assert str(os.getpid()) not in reg.history("User", tenant="acme")["by"][0]
    finally:
        reg.disconnect_store()


def test_a_synced_sql_owner_reads_shared_rows_with_credentials_from_the_environment(
    pg_server: Any, tmp_path: Path
) -> None:
    t = Target("sqlite", tmp_path, None)
    reg = ModelRegistry()
    reg.connect_store(t.url)
    schema = f"rows_{uuid.uuid4().hex[:8]}"
    try:
        ds = DataSource(
            "postgresql",
            name="warehouse",
            tenant="acme",
            registry=reg,
            **pg_server.settings(schema=schema),
        )
        item = ds.define("Item", {"sku": "string"})
        item.create([{"sku": f"s{i}"} for i in range(3)])
        # The password is in no row of the store.
        raw = Path(t.url.removeprefix("sqlite:///")).read_bytes()
        assert pg_server.password.encode() not in raw
        store = open_store(t.url)
        try:
            assert all("password" not in json.dumps(dict(o.settings)) for o in store.owners())
        finally:
            store.close()
        env = t.env()
        env["PGPASSWORD"] = pg_server.password  # another process: its own credentials
        out = subprocess.run(
            [sys.executable, WORKER, "count", "acme", "warehouse", "Item"],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            cwd=ROOT,
        )
        assert out.returncode == 0, out.stderr[-2000:]
        assert out.stdout.strip() == "3"  # SQL rows are shared: they live in the database
        env.pop("PGPASSWORD")
        out = subprocess.run(
            [sys.executable, WORKER, "count", "acme", "warehouse", "Item"],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            cwd=ROOT,
        )
        assert out.returncode != 0 and pg_server.password not in out.stderr
        ds.disconnect()  # its engine goes with its last DataSource
    finally:
        reg.disconnect_store()
        pg_server.superuser_sql(f'@db DROP SCHEMA IF EXISTS "{schema}" CASCADE')
