"""A registry process for the shared-store tests: ``registry_worker.py MODE ...``.

The store URL comes from ``$NBREGISTRY_TEST_STORE`` (it may carry a password).

* ``converge WORKER N GO [DONE]``: connect, print ``ready``, wait for the file GO, then
  make N random defines / redefines / deletes on the same few tenants, owners and model
  names as every other worker, retrying each after ``sync()`` on ConflictError; with
  DONE, print ``finished`` and wait for that file (every worker is done); then sync and
  print one JSON line: ``{"conflicts": k, "state": [[tenant, owner, model, fp], ...]}``.
* ``state``: connect (a fresh process that only syncs) and print the same JSON line.
* ``define TENANT OWNER MODEL PROPS_JSON``: connect, define one model, print its
  fingerprint, exit.
* ``count TENANT OWNER MODEL``: connect (sync) and print the model's record count, read
  through the synced owner's own connector (credentials from the environment).
* ``kill``: connect, then define forever, writing ``w`` to stdout (flushed) just before
  each define starts, so the parent can kill it in the middle of a write.
"""

from __future__ import annotations

import json
import os
import random
import sys
import time
import warnings
from typing import Any

from nbregistry import ConflictError, DataSource, ModelRedefinedWarning, ModelRegistry
from nbregistry.core.meta import owner_of

TENANTS = ("acme", "globex")
OWNERS = ("crm", "billing")
MODELS = ("User", "Order", "Item")
SHAPES = (
    {"name": "string"},
    {"name": "string", "age": "integer"},
    {"name": "string", "address": {"street": "string", "city": "string"}},
    {"total": "number", "tags": ["string"]},
)


def state(reg: ModelRegistry) -> list[list[str]]:
    """Return the sorted (tenant, owner, model, fingerprint) rows of the named models."""
    rows = set()
    for code in reg.tenants():
        for cls in reg.all_models(tenant=code):
            owner = owner_of(cls)
            if owner is not None and cls.tenant == code:
                rows.add((code, owner.name, cls.model_name, cls.definition.fingerprint))
    return [list(r) for r in sorted(rows)]


def converge(reg: ModelRegistry, worker: int, n: int, go: str, done: str | None) -> None:
    owners = {
        (t, o): DataSource("memory", name=o, tenant=t, registry=reg)
        for t in TENANTS
        for o in OWNERS
    }
    print("ready", flush=True)
    while not os.path.exists(go):
        time.sleep(0.002)
    rng = random.Random(worker)
    conflicts = 0
    for _ in range(n):
        ds = owners[(rng.choice(TENANTS), rng.choice(OWNERS))]
        model = rng.choice(MODELS)
        delete = rng.random() < 0.25
        shape = rng.choice(SHAPES)
        last: Exception | None = None
        for _attempt in range(200):
            try:
                if delete:
                    if model in ds.models:
                        ds.delete_model(model)
                else:
                    ds.define(model, shape)
                break
            except ConflictError as exc:
                conflicts += 1
                last = exc
                reg.sync()
        else:
            raise RuntimeError(f"200 conflicts in a row, the last: {last}")
    if done is not None:
        print("finished", flush=True)
        while not os.path.exists(done):
            time.sleep(0.002)
    reg.sync()
    print(json.dumps({"conflicts": conflicts, "state": state(reg)}), flush=True)


def kill_loop(reg: ModelRegistry) -> None:
    ds = DataSource("memory", name="crm", tenant="acme", registry=reg)
    i = 0
    while True:
        sys.stdout.write("w")
        sys.stdout.flush()
        ds.define(f"M{i % 7}", {"name": "string", f"p{i}": "integer"})
        i += 1


def main(argv: list[str]) -> None:
    warnings.simplefilter("ignore", ModelRedefinedWarning)
    url = os.environ["NBREGISTRY_TEST_STORE"]
    reg = ModelRegistry()
    reg.connect_store(url)
    mode = argv[0]
    if mode == "converge":
        converge(reg, int(argv[1]), int(argv[2]), argv[3], argv[4] if len(argv) > 4 else None)
    elif mode == "state":
        print(json.dumps({"conflicts": 0, "state": state(reg)}), flush=True)
    elif mode == "define":
        tenant, owner, model, props = argv[1:5]
        ds = DataSource("memory", name=owner, tenant=tenant, registry=reg)
        cls: Any = ds.define(model, json.loads(props))
        print(cls.definition.fingerprint, flush=True)
    elif mode == "count":
        tenant, owner, model = argv[1:4]
        ds = reg.owner_by_name(owner, tenant=tenant)
        print(getattr(ds.models, model).count(), flush=True)
    elif mode == "kill":
        kill_loop(reg)
    else:
        raise SystemExit(f"unknown mode {mode!r}")
    reg.disconnect_store()


if __name__ == "__main__":
    main(sys.argv[1:])
