"""A writer process for the store tests: ``store_writer.py URL WORKER N GO [--signal]``.

It imports nbregistry, prints ``ready`` and waits for the file GO to exist (so that all
writers start together), then opens the store (so that first connects race: the store
may not exist yet) and commits N redefines of the one model ``shared.Counter`` (tenant
``t``), each conditional on the revision it last read, retrying on ConflictError; prints
a JSON line with how many it committed and how many conflicts it met.

With ``--signal`` (the kill loop) it prints ``begin I`` just before each commit and
``ack I REVISION`` after it returned, flushed, so that the parent can time a SIGKILL to
land inside a write and knows which writes were acknowledged. N = 0: write until killed.
Each definition carries its own fingerprint, so a torn revision is detectable.
"""

from __future__ import annotations

import json
import os
import sys
import time

from nbregistry import ConflictError
from nbregistry.core.store import Change, open_store


def main() -> None:
    """Run the writer loop (see module docstring)."""
    url, worker, n, go = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
    signal = "--signal" in sys.argv[5:]
    print("ready", flush=True)
    while not os.path.exists(go):
        time.sleep(0.005)
    store = open_store(url)
    store.commit(
        Change("owner", "t", "shared", payload={"owner_type": "dataSource", "connector": "memory"})
    )
    committed = conflicts = 0
    while n == 0 or committed < n:
        seen = {d.model: d.revision for d in store.definitions()}.get("Counter", 0)
        fp = f"{worker}-{committed}"
        change = Change(
            "redefine" if seen else "define",
            "t",
            "shared",
            "Counter",
            fp,
            {"definition": {"fingerprint": fp, "pad": fp * 50}},
            expect=seen,
        )
        if signal:
            print(f"begin {committed}", flush=True)
        else:
            time.sleep(0.002)  # the time a real define spends building: others may commit
        try:
            rev = store.commit(change)
        except ConflictError:
            conflicts += 1
            continue
        if signal:
            assert rev is not None
            print(f"ack {committed} {rev.revision}", flush=True)
        committed += 1
    store.close()
    print(json.dumps({"committed": committed, "conflicts": conflicts}))


if __name__ == "__main__":
    main()
