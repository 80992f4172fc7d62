"""Writer child of the crash test (tests/test_crash_safety.py): write until killed.

``python crash_writer.py BACKEND TARGET LOG SEED`` opens the store named by TARGET through
``OPENERS[BACKEND]``, prints ``ready`` on stdout, then runs random create() / save() /
update_all() / destroy_all() calls forever. Around every call it appends one JSON line to
LOG with a single unbuffered ``os.write`` (so a line written before SIGKILL is in the
kernel and survives the kill; the parent's machine does not lose power, so no fsync):
``{"begin": seq, "op": {...}}`` before the call and ``{"ack": seq, "ids": [...]}`` after it
returned. The parent replays the acknowledged operations through :func:`apply` (the
reference model, imported from this file) and accepts the in-flight one applied or not.

A new file- or database-backed store joins the crash test with one ``OPENERS`` entry here
(and one row in the test's ``BACKENDS`` table).
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import sys
from collections.abc import Callable
from typing import Any

#: The model every writer defines; ``check`` is a digest of ``name`` and ``payload``, so a
#: torn or mixed row (one field from another write) is caught row by row.
SPEC = {"name": "string", "n": "integer", "payload": "string", "check": "string"}

#: Reference state: row id → the row's dict as ``to_dict()`` returns it.
State = dict[int, dict[str, Any]]


def payload(name: str, rep: int) -> str:
    """Return the payload text of a row named ``name`` (``rep`` 64-char blocks)."""
    return hashlib.sha256(name.encode()).hexdigest() * rep


def check(name: str, text: str) -> str:
    """Return the ``check`` field of a row holding ``name`` and ``text``."""
    return hashlib.sha256(f"{name}\x00{text}".encode()).hexdigest()[:16]


def fields(name: str, n: int | None, rep: int) -> dict[str, Any]:
    """Return the property values of a row (``n`` None: keep the row's ``n``)."""
    text = payload(name, rep)
    out: dict[str, Any] = {"name": name, "payload": text, "check": check(name, text)}
    if n is not None:
        out["n"] = n
    return out


def apply(state: State, next_id: int, op: dict[str, Any]) -> tuple[State, int]:
    """Return the state and id counter after ``op`` (the writer's reference model)."""
    new = {k: dict(v) for k, v in state.items()}
    kind = op["op"]
    if kind == "create":
        for spec in op["rows"]:
            new[next_id] = {"id": next_id, **fields(spec["name"], spec["n"], spec["rep"])}
            next_id += 1
    elif kind == "save":
        new[op["id"]] = {"id": op["id"], **fields(op["name"], op["n"], op["rep"])}
    elif kind == "update":
        for row in new.values():
            if row["n"] < op["lt"]:
                row.update(fields(op["name"], None, op["rep"]))
    elif kind == "destroy":
        new = {k: v for k, v in new.items() if v["n"] < op["gte"]}
    else:
        raise ValueError(f"unknown op {kind!r}")
    return new, next_id


def _open_memory(target: str) -> tuple[Any, type[Any]]:
    from nbregistry import DataSource, ModelRegistry

    ds = DataSource("memory", name="crash", registry=ModelRegistry(), file=target)
    return ds, ds.define("Item", SPEC)


def _open_sqlite_connector(target: str) -> tuple[Any, type[Any]]:
    from nbregistry import DataSource, ModelRegistry

    ds = DataSource("sqlite", name="crash", registry=ModelRegistry(), file=target)
    return ds, ds.define("Item", SPEC)


#: backend name → opener(target) returning (owner to keep alive, model class)
OPENERS: dict[str, Callable[[str], tuple[Any, type[Any]]]] = {
    "memory-json": _open_memory,
    "memory-sqlite": _open_memory,
    "sqlite-connector": _open_sqlite_connector,
}


def _random_op(rng: random.Random, ids: list[int], seq: int) -> dict[str, Any]:
    """Return one random operation on a table holding ``ids``."""
    roll = rng.random()
    name = f"r{seq}-{rng.randrange(10**6)}"
    rep = rng.randrange(1, 24)
    if roll < 0.5 or not ids:
        count = 1 if roll < 0.35 else rng.randrange(2, 6)
        rows = [
            {"name": f"{name}.{i}", "n": rng.randrange(1000), "rep": rng.randrange(1, 24)}
            for i in range(count)
        ]
        return {"op": "create", "rows": rows}
    if roll < 0.75:
        n = rng.randrange(1000)
        return {"op": "save", "id": rng.choice(ids), "name": name, "n": n, "rep": rep}
    if roll < 0.9:
        return {"op": "update", "lt": rng.randrange(1000), "name": name, "rep": rep}
    return {"op": "destroy", "gte": rng.randrange(900, 1000)}


def _run(model: type[Any], op: dict[str, Any]) -> list[int]:
    """Perform ``op`` through the model's public API; return the ids a create assigned."""
    kind = op["op"]
    if kind == "create":
        rows = [fields(r["name"], r["n"], r["rep"]) for r in op["rows"]]
        made = model.create(rows[0]) if len(rows) == 1 else model.create(rows)
        return [made.id] if len(rows) == 1 else [m.id for m in made]
    if kind == "save":
        inst = model.find_by_id(op["id"])
        for key, value in fields(op["name"], op["n"], op["rep"]).items():
            setattr(inst, key, value)
        inst.save()
    elif kind == "update":
        model.update_all({"n": {"lt": op["lt"]}}, fields(op["name"], None, op["rep"]))
    else:
        model.destroy_all({"n": {"gte": op["gte"]}})
    return []


def main(argv: list[str]) -> None:
    """Open the store, say ``ready``, then write and log until killed."""
    backend, target, log, seed = argv
    _owner, model = OPENERS[backend](target)
    ids = [item.id for item in model.find(fields=["id"])]
    fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    rng = random.Random(int(seed))
    sys.stdout.write("ready\n")
    sys.stdout.flush()
    seq = 0
    while True:
        op = _random_op(rng, ids, seq)
        os.write(fd, (json.dumps({"begin": seq, "op": op}) + "\n").encode())
        made = _run(model, op)
        os.write(fd, (json.dumps({"ack": seq, "ids": made}) + "\n").encode())
        if op["op"] in ("create", "destroy"):
            ids = [item.id for item in model.find(fields=["id"])]
        seq += 1


if __name__ == "__main__":
    main(sys.argv[1:])
