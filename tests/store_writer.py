"""A writer process for the store tests: ``store_writer.py URL WORKER N GO``.

It opens the store, prints ``ready`` and waits for the file GO to exist (so that all
writers start together), then commits N redefines of the one model ``shared.Counter``
(tenant ``t``), each conditional on the revision it last read, retrying on
ConflictError; prints a JSON line with how many it committed and how many conflicts it
met.
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
    store = open_store(url)
    print("ready", flush=True)
    while not os.path.exists(go):
        time.sleep(0.005)
    store.commit(
        Change("owner", "t", "shared", payload={"owner_type": "dataSource", "connector": "memory"})
    )
    committed = conflicts = 0
    while committed < n:
        seen = {d.model: d.revision for d in store.definitions()}.get("Counter", 0)
        change = Change(
            "redefine" if seen else "define",
            "t",
            "shared",
            "Counter",
            f"{worker}-{committed}",
            {"definition": {"worker": worker, "i": committed}},
            expect=seen,
        )
        time.sleep(0.002)  # the time a real define spends building: others may commit
        try:
            store.commit(change)
        except ConflictError:
            conflicts += 1
            continue
        committed += 1
    store.close()
    print(json.dumps({"committed": committed, "conflicts": conflicts}))


if __name__ == "__main__":
    main()
