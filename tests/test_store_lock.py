"""One process per memory store file, durable writes, recovery: with real processes.

A store file is locked (``<file>.lock``, flock) by the process that reads it until its
DataSource is released; a second process is refused with PersistenceError naming the file
and the holder's pid, so two processes never overwrite each other's rows. DataSources of
one process share the lock, and a stale one's write is refused.
"""

from __future__ import annotations

import errno
import gc
import json
import os
import signal
import sqlite3
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import nbregistry
from nbregistry import DataSource, ModelRegistry, PersistenceError

SPEC = {"name": "string"}
ROOT = str(Path(nbregistry.__file__).resolve().parent.parent)
#: child environment: this checkout's nbregistry first on the import path
ENV = {
    **os.environ,
    "PYTHONPATH": os.pathsep.join(filter(None, [ROOT, os.environ.get("PYTHONPATH")])),
}

#: A holder process: opens the store, writes one row, then obeys one command per stdin line
#: (``write`` a row, ``release`` the DataSource, ``reuse`` it: define again and count).
HOLDER = """
import sys
import nbregistry as nb
ds = nb.DataSource("memory", name="a", registry=nb.ModelRegistry(), file=sys.argv[1])
User = ds.define("User", {"name": "string"})
User.create(name="a-1")
print("ready", flush=True)
for line in sys.stdin:
    cmd = line.strip()
    if cmd == "write":
        User.create(name="a-2")
        print("written", flush=True)
    elif cmd == "release":
        ds.disconnect()
        print("released", flush=True)
    elif cmd == "reuse":
        User = ds.define("User", {"name": "string"})
        print(",".join(u.name for u in User.find()), flush=True)
"""

#: A second process: open the store, append one row, report the names (or the error).
OTHER = """
import json, sys
import nbregistry as nb
try:
    ds = nb.DataSource("memory", name="b", registry=nb.ModelRegistry(), file=sys.argv[1])
    User = ds.define("User", {"name": "string"})
    User.create(name=sys.argv[2])
    print(json.dumps({"names": [u.name for u in User.find()]}))
except nb.PersistenceError as exc:
    print(json.dumps({"error": str(exc)}))
"""

#: A contender: N times, open the store (retrying while the other holds it), append one
#: row named PREFIX-i, release it. Prints how many opens were refused.
CONTENDER = """
import sys, time
import nbregistry as nb
path, prefix, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
refused = 0
for i in range(n):
    while True:
        try:
            ds = nb.DataSource("memory", registry=nb.ModelRegistry(), file=path)
            break
        except nb.PersistenceError as exc:
            assert "in use by another process" in str(exc), exc
            refused += 1
            time.sleep(0.002)
    ds.define("User", {"name": "string"}).create(name=f"{prefix}-{i}")
    ds.disconnect()
print(refused)
"""


def _python(code: str, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", code, *args],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=ENV,
    )


def _other(path: Path, name: str) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, "-c", OTHER, str(path), name],
        capture_output=True,
        text=True,
        env=ENV,
        timeout=120,
        check=True,
    )
    return json.loads(out.stdout)


class Holder:
    """A real holder process driven line by line."""

    def __init__(self, path: Path) -> None:
        self.proc = _python(HOLDER, str(path))
        assert self.say(None) == "ready", self.proc.stderr.read() if self.proc.stderr else ""

    def say(self, command: str | None) -> str:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        if command is not None:
            self.proc.stdin.write(command + "\n")
            self.proc.stdin.flush()
        return self.proc.stdout.readline().strip()

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.communicate(timeout=60)


@pytest.fixture
def holder_factory() -> Iterator[Any]:
    made: list[Holder] = []

    def make(path: Path) -> Holder:
        made.append(Holder(path))
        return made[-1]

    yield make
    for h in made:
        h.stop()


def _names(path: Path) -> list[str]:
    ds = DataSource("memory", registry=ModelRegistry(), file=path)
    try:
        return [u.name for u in ds.define("User", SPEC).find()]
    finally:
        ds.disconnect()


@pytest.mark.parametrize("name", ["s.json", "s.sqlite"])
def test_a_second_process_is_refused_naming_the_file_and_the_holder(
    tmp_path: Path, holder_factory: Any, name: str
) -> None:
    path = tmp_path / name
    a = holder_factory(path)
    refused = _other(path, "b-1")
    assert "error" in refused, refused
    message = refused["error"]
    assert repr(str(path)) in message and f"pid {a.proc.pid} " in message
    assert "in use by another process" in message and "disconnect()" in message
    assert a.say("write") == "written"  # the refused process disturbed nothing
    assert a.say("release") == "released"
    assert not (tmp_path / f"{name}.lock").exists()
    assert _other(path, "b-1") == {"names": ["a-1", "a-2", "b-1"]}  # free once released
    assert a.say("reuse") == "a-1,a-2,b-1"  # the holder reloads: b's row is not lost
    refused = _other(path, "b-2")  # ... and holds the file again
    assert f"pid {a.proc.pid} " in refused.get("error", ""), refused


@pytest.mark.parametrize("name", ["s.json", "s.sqlite"])
def test_a_killed_holder_frees_the_file(tmp_path: Path, holder_factory: Any, name: str) -> None:
    path = tmp_path / name
    a = holder_factory(path)
    a.proc.send_signal(signal.SIGKILL)
    a.proc.wait()
    assert (tmp_path / f"{name}.lock").exists()  # left behind, but no longer locked
    assert _other(path, "b-1") == {"names": ["a-1", "b-1"]}
    assert not (tmp_path / f"{name}.lock").exists()


@pytest.mark.parametrize("name", ["s.json", "s.sqlite"])
def test_two_processes_contending_for_a_file_lose_no_update(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    n = 15
    procs = [_python(CONTENDER, str(path), prefix, str(n)) for prefix in ("p", "q")]
    outs = [p.communicate(timeout=300) for p in procs]
    for p, (out, err) in zip(procs, outs, strict=True):
        assert p.returncode == 0, err
        int(out)  # how many times it was refused (depends on scheduling)
    names = _names(path)
    assert sorted(names) == sorted(f"{p}-{i}" for p in "pq" for i in range(n))


@pytest.mark.parametrize("name", ["s.json", "s.sqlite"])
def test_a_stale_datasource_of_the_same_process_cannot_overwrite(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    ds1 = DataSource("memory", registry=ModelRegistry(), file=path)
    A = ds1.define("User", SPEC)
    A.create(name="one")
    ds2 = DataSource("memory", registry=ModelRegistry(), file=path)  # shares the lock
    B = ds2.define("User", SPEC)
    B.create(name="two")
    with pytest.raises(PersistenceError, match="changed by another DataSource") as info:
        A.create(name="three")  # would drop "two" (JSON) or reuse its id 2 (SQLite)
    assert repr(str(path)) in str(info.value) and "nothing was written" in str(info.value)
    assert [u.name for u in A.find()] == ["one"]  # rolled back in memory too
    assert [u.name for u in B.find()] == ["one", "two"]
    ds1.disconnect()
    A = ds1.define("User", SPEC)  # reloads: sees "two"
    assert A.create(name="three").id == 3
    ds1.disconnect()
    ds2.disconnect()
    assert _names(path) == ["one", "two", "three"]


def test_the_lock_goes_with_the_last_datasource_or_when_it_is_collected(tmp_path: Path) -> None:
    path = tmp_path / "s.json"
    lock = tmp_path / "s.json.lock"
    ds1 = DataSource("memory", registry=ModelRegistry(), file=path)
    ds2 = DataSource("memory", registry=ModelRegistry(), file=path)
    info = json.loads(lock.read_text())
    assert info["pid"] == os.getpid()
    ds1.disconnect()
    assert lock.exists()  # ds2 still holds it
    ds2.disconnect()
    assert not lock.exists()
    ds3 = DataSource("memory", registry=ModelRegistry(), file=path)
    ds3.define("User", SPEC).create(name="x")
    assert lock.exists()
    del ds3
    gc.collect()
    assert not lock.exists()
    assert _other(path, "y") == {"names": ["x", "y"]}


def test_a_store_in_a_read_only_directory_can_be_read_but_not_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "s.json"
    ds = DataSource("memory", registry=ModelRegistry(), file=path)
    ds.define("User", SPEC).create(name="a")
    ds.disconnect()
    before = path.read_bytes()
    real_open = os.open

    def read_only_dir(p: Any, flags: int, *args: Any) -> int:
        # Fault injection: the directory refuses new files (as a read-only mount would).
        if str(p).endswith(".lock") and flags & os.O_CREAT:
            raise OSError(errno.EROFS, "Read-only file system", str(p))
        if str(p).endswith(".lock"):
            raise FileNotFoundError(errno.ENOENT, "No such file or directory", str(p))
        return real_open(p, flags, *args)

    monkeypatch.setattr(os, "open", read_only_dir)
    ds = DataSource("memory", registry=ModelRegistry(), file=path)
    User = ds.define("User", SPEC)
    assert [u.name for u in User.find()] == ["a"]
    with pytest.raises(PersistenceError, match=r"opened read-only.*s\.json\.lock") as info:
        User.create(name="b")
    assert "nothing was written" in str(info.value)
    assert [u.name for u in User.find()] == ["a"]
    assert path.read_bytes() == before


def _fsynced(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Record what each os.fsync call flushes ("dir" or "file"), then call through."""
    seen: list[str] = []
    real = os.fsync

    def spy(fd: int) -> None:
        seen.append("dir" if stat.S_ISDIR(os.fstat(fd).st_mode) else "file")
        real(fd)

    monkeypatch.setattr(os, "fsync", spy)
    return seen


def test_a_json_write_syncs_the_file_then_its_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    User = DataSource("memory", registry=ModelRegistry(), file=tmp_path / "s.json").define(
        "User", SPEC
    )
    seen = _fsynced(monkeypatch)
    User.create(name="a")
    User.update_all(None, {"name": "b"})
    assert seen == ["file", "dir", "file", "dir"]


def test_a_new_sqlite_store_syncs_its_directory_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    User = DataSource("memory", registry=ModelRegistry(), file=tmp_path / "s.sqlite").define(
        "User", SPEC
    )
    seen = _fsynced(monkeypatch)  # SQLite's own fsyncs (journal, database) are in C
    User.create(name="a")
    User.create(name="b")
    assert seen == ["dir"]


def test_stray_temp_files_of_a_killed_json_writer_are_removed_on_open(tmp_path: Path) -> None:
    path = tmp_path / "s.json"
    DataSource("memory", registry=ModelRegistry(), file=path).define("User", SPEC).create(name="a")
    stray = tmp_path / ".s.json.k3x_9q2z.tmp"
    stray.write_text('{"format": "nbregistry.memory", "vers')  # a torn rewrite
    keep = [tmp_path / ".s.json.keep.tmp", tmp_path / ".other.json.abcdefgh.tmp"]
    for p in keep:
        p.write_text("not ours")
    assert _names(path) == ["a"]
    assert not stray.exists()
    assert all(p.read_text() == "not ours" for p in keep)


SPILL = """
import sqlite3, sys
conn = sqlite3.connect(sys.argv[1], isolation_level=None)
conn.execute("PRAGMA cache_size = 2")  # spill changed pages to the file mid-transaction
conn.execute("BEGIN IMMEDIATE")
conn.execute("DELETE FROM nbregistry_rows")
conn.execute("INSERT INTO nbregistry_rows VALUES ('User', '999', '{\\"torn\\": 1}')")
print("inside", flush=True)
sys.stdin.read()
"""


def test_a_hot_journal_left_by_a_killed_process_is_rolled_back_on_open(tmp_path: Path) -> None:
    path = tmp_path / "s.sqlite"
    names = [f"row-{i}-" + "x" * 500 for i in range(300)]
    ds = DataSource("memory", registry=ModelRegistry(), file=path)
    ds.define("User", SPEC).create([{"name": n} for n in names])
    ds.disconnect()
    proc = _python(SPILL, str(path))
    assert proc.stdout is not None and proc.stdout.readline().strip() == "inside"
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=60)
    journal = tmp_path / "s.sqlite-journal"
    assert journal.read_bytes()[:1] not in (b"", b"\x00")  # hot: it must be rolled back
    assert _names(path) == names  # before this change: "not a readable ... store"
    assert not journal.exists()
    conn = sqlite3.connect(path)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    finally:
        conn.close()
