"""A crash never costs a store: SIGKILL a real writer process at random moments, reopen.

For each backend a child process (``tests/crash_writer.py``) writes in a loop —
``create()`` (one row or a batch), ``save()``, ``update_all()``, ``destroy_all()`` — and logs
every call before it starts and after it returned. The parent kills it with SIGKILL a
random 20-300 ms after it said ``ready``, then reopens the store and requires: it opens;
every row carries a consistent ``check`` digest (no torn or mixed row); and its rows equal
the reference state after every acknowledged call, with the one call in flight either
applied or not — nothing else. The accepted state carries over to the next round, so
later writers start from a store that was recovered after a kill. Created ids must follow
the reference id counter (the counter survives the kills too).

Marker ``fault`` (CI legs other than the main one deselect it with ``-m "not fault"``).
A new file- or database-backed store joins with one row in ``BACKENDS`` below and one
``OPENERS`` entry in ``crash_writer.py``. Set ``NBR_CRASH_SEED`` to replay a run.
"""

from __future__ import annotations

import glob
import importlib.util
import json
import os
import random
import select
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

import nbregistry
from nbregistry import DataSource, ModelRegistry

WRITER = Path(__file__).with_name("crash_writer.py")
#: kills per backend (the issue asks for at least 20)
KILLS = 25
#: a kill lands this long (seconds) after the writer said ``ready``
DELAY = (0.02, 0.3)


def _writer_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("crash_writer", WRITER)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


cw = _writer_module()
State = dict[int, dict[str, Any]]


def _reopen_memory(target: str) -> State:
    """Open a memory store file as a new process would, return its rows, release it."""
    ds = DataSource("memory", name="check", registry=ModelRegistry(), file=target)
    try:
        Item = ds.define("Item", cw.SPEC)
        return {item.id: item.to_dict() for item in Item.find()}
    finally:
        ds.disconnect()


def _reopen_sqlite_connector(target: str) -> State:
    """Open a ``DataSource("sqlite")`` database file anew, return its rows, release it."""
    ds = DataSource("sqlite", name="check", registry=ModelRegistry(), file=target)
    try:
        Item = ds.define("Item", cw.SPEC)
        return {item.id: item.to_dict() for item in Item.find()}
    finally:
        ds.disconnect()


def _debris(*patterns: str) -> Callable[[str], list[str]]:
    """Return a function listing files matching ``patterns`` (``{f}`` = the store file)."""

    def found(target: str) -> list[str]:
        d, f = os.path.split(target)
        return sorted(p for pat in patterns for p in glob.glob(os.path.join(d, pat.format(f=f))))

    return found


def _sqlite_debris(target: str) -> list[str]:
    """List what a reopen must have cleared: a hot journal, WAL files, the writer's lock.

    A journal whose header is still zero (the kill came before SQLite wrote it) is not
    hot: SQLite ignores it and reuses it on the next write, so it is not debris.
    """
    found = _debris("{f}-wal", "{f}-shm", "{f}.lock")(target)
    journal = target + "-journal"
    if os.path.exists(journal):
        with open(journal, "rb") as f:
            if f.read(1) not in (b"", b"\x00"):
                found.append(journal)
    return found


@dataclass(frozen=True)
class Backend:
    """One store under test: how the writer opens it and how the parent checks it."""

    #: key of ``crash_writer.OPENERS``
    name: str
    #: tmp dir → the target the writer and ``reopen`` are given (a file path, a URL, ...)
    target: Callable[[Path], str]
    #: target → rows after a crash (id → row dict); must release the store before returning
    reopen: Callable[[str], State]
    #: target → crash debris that must be gone once the store was reopened
    debris: Callable[[str], list[str]]


#: backend id → Backend; the crash loop below runs once per entry.
BACKENDS = {
    "memory-json": Backend(
        "memory-json",
        lambda d: str(d / "store.json"),
        _reopen_memory,
        _debris(".{f}.*.tmp", "{f}.lock"),
    ),
    "memory-sqlite": Backend(
        "memory-sqlite",
        lambda d: str(d / "store.sqlite"),
        _reopen_memory,
        _sqlite_debris,
    ),
    # The SQLite connector (issue 11): SQLite's own journal; no lock file of ours.
    "sqlite-connector": Backend(
        "sqlite-connector",
        lambda d: str(d / "crm.db"),
        _reopen_sqlite_connector,
        lambda target: [p for p in _sqlite_debris(target) if not p.endswith(".lock")],
    ),
}


def _child_env() -> dict[str, str]:
    """Return the environment of a writer: this checkout's nbregistry first on the path."""
    root = str(Path(nbregistry.__file__).resolve().parent.parent)
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([root, *filter(None, [env.get("PYTHONPATH")])])
    return env


def _wait_ready(proc: subprocess.Popen[bytes], errors: Path) -> None:
    assert proc.stdout is not None
    readable, _, _ = select.select([proc.stdout], [], [], 60)
    line = proc.stdout.readline() if readable else b""
    if line != b"ready\n":
        proc.kill()
        proc.wait()
        pytest.fail(f"writer did not start ({line!r}): {errors.read_text()[-2000:]}")


def _read_log(log: Path) -> list[dict[str, Any]]:
    """Return the complete lines of a writer's log (a torn last line was never written)."""
    text = log.read_text() if log.exists() else ""
    return [json.loads(line) for line in text.split("\n")[:-1]]


def _replay(
    entries: list[dict[str, Any]], state: State, next_id: int
) -> tuple[State, int, dict[str, Any] | None, int]:
    """Apply the acknowledged calls; return state, id counter, the call in flight, acks."""
    inflight: dict[str, Any] | None = None
    acks = 0
    for entry in entries:
        if "begin" in entry:
            assert inflight is None, f"two calls in flight: {inflight} and {entry}"
            inflight = entry
            continue
        assert inflight is not None and entry["ack"] == inflight["begin"], entry
        op = inflight["op"]
        if op["op"] == "create":
            expected = list(range(next_id, next_id + len(op["rows"])))
            assert entry["ids"] == expected, f"created ids {entry['ids']}, expected {expected}"
        state, next_id = cw.apply(state, next_id, op)
        inflight = None
        acks += 1
    return state, next_id, None if inflight is None else inflight["op"], acks


def _describe(got: State, want: State) -> str:
    missing = sorted(set(want) - set(got))
    extra = sorted(set(got) - set(want))
    changed = sorted(k for k in set(got) & set(want) if got[k] != want[k])
    return f"missing ids {missing[:10]}, unexpected ids {extra[:10]}, differing ids {changed[:10]}"


@pytest.mark.fault
@pytest.mark.timeout(900)
@pytest.mark.parametrize("backend", list(BACKENDS.values()), ids=list(BACKENDS))
def test_a_killed_writer_never_costs_an_acknowledged_write(
    backend: Backend, tmp_path: Path
) -> None:
    seed = int(os.environ.get("NBR_CRASH_SEED", random.randrange(2**32)))
    rng = random.Random(seed)
    target = backend.target(tmp_path)
    env = _child_env()
    state: State = {}
    next_id = 1
    kills = with_inflight = inflight_applied = acked = 0
    started = time.monotonic()
    for round_no in range(KILLS):
        log = tmp_path / f"round-{round_no}.log"
        errors = tmp_path / f"round-{round_no}.err"
        args = [backend.name, target, str(log), str(rng.randrange(2**32))]
        with errors.open("wb") as err:
            proc = subprocess.Popen(
                [sys.executable, str(WRITER), *args], stdout=subprocess.PIPE, stderr=err, env=env
            )
        try:
            _wait_ready(proc, errors)
            time.sleep(rng.uniform(*DELAY))
            proc.send_signal(signal.SIGKILL)
        finally:
            proc.wait()
            assert proc.stdout is not None
            proc.stdout.close()
        where = f"{backend.name} round {round_no} (NBR_CRASH_SEED={seed})"
        assert proc.returncode == -signal.SIGKILL, (
            f"{where}: the writer died by itself: {errors.read_text()[-3000:]}"
        )
        kills += 1
        state, next_id, inflight, n = _replay(_read_log(log), state, next_id)
        acked += n

        got = backend.reopen(target)  # must open: a crash never costs the store
        for key, row in got.items():
            assert set(row) == {"id", *cw.SPEC} and row["id"] == key, f"{where}: torn {row}"
            assert row["check"] == cw.check(row["name"], row["payload"]), f"{where}: torn {key}"
        if inflight is not None:
            with_inflight += 1
            applied, applied_next = cw.apply(state, next_id, inflight)
            if got != state and got == applied:
                state, next_id = applied, applied_next
                inflight_applied += 1
        assert got == state, (
            f"{where}: the reopened store is neither the acknowledged state nor that state "
            f"plus the call in flight ({inflight}): {_describe(got, state)}"
        )
        assert backend.debris(target) == [], f"{where}: crash debris left after the reopen"
    elapsed = time.monotonic() - started
    print(
        f"\n{backend.name}: {kills} kills in {elapsed:.1f} s, {acked} acknowledged calls, "
        f"{with_inflight} kills with a call in flight ({inflight_applied} of them applied), "
        f"{len(state)} rows at the end, seed {seed}"
    )
    assert kills == KILLS
    assert acked > 0, "no call ever completed: the writer did not get to write"
