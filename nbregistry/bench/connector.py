"""Benchmark of the memory connector (``python -m nbregistry bench connector``).

Measures bulk ``create``, ``find`` with an equality and a range filter, ``count``,
``to_frame`` against ``pandas.DataFrame.from_records`` on the same rows (goal: within
1.5x), and shows that an equality ``find`` on the id is O(1) (flat from 1 000 to 100 000
rows). Figures come from this machine; nothing here is asserted.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable
from typing import Any

__all__ = ["run_connector_bench"]

_SCALES = {"full": 100_000, "ci": 10_000, "quick": 2_000}
_SPEC = {
    "name": "string",
    "age": "integer",
    "score": "number",
    "active": "boolean",
    "city": "string",
}
_CITIES = ("Oslo", "Rome", "Lima", "Kyiv", "Pune")


def _rows(n: int) -> list[dict[str, Any]]:
    return [
        {
            "name": f"user{i}",
            "age": i % 90,
            "score": (i % 1000) / 10,
            "active": i % 3 == 0,
            "city": _CITIES[i % 5],
        }
        for i in range(n)
    ]


def _best(fn: Callable[[], Any], repeat: int) -> float:
    """Return the best wall time of ``repeat`` runs (seconds), with GC paused."""
    best = float("inf")
    enabled = gc.isenabled()
    gc.disable()
    try:
        for _ in range(repeat):
            t0 = time.perf_counter()
            fn()
            best = min(best, time.perf_counter() - t0)
    finally:
        if enabled:
            gc.enable()
    return best


def _row(case: str, n: int, seconds: float, note: str = "", **extra: Any) -> dict[str, Any]:
    out = {
        "case": case,
        "rows": n,
        "seconds": seconds,
        "rows_per_s": n / seconds if seconds > 0 else float("inf"),
        "note": note,
    }
    out.update(extra)
    return out


def run_connector_bench(scale: str = "full") -> list[dict[str, Any]]:
    """Run the connector benchmark and return one dict per case.

    ``scale`` is ``"full"`` (100 000 rows), ``"ci"`` (10 000) or ``"quick"`` (2 000);
    anything else raises ValueError. Each dict has ``case``, ``rows``, ``seconds``
    (best of several runs; per call for the id lookups), ``rows_per_s`` (lookups/s for
    the id lookups) and ``note``; the to_frame case adds
    ``ratio`` (to_frame / from_records) and the id-lookup case ``ratio`` (largest /
    smallest table) and ``per_call_us``.
    """
    import pandas as pd

    from ..core.datasource import DataSource
    from ..core.registry import ModelRegistry

    if scale not in _SCALES:
        raise ValueError(f"unknown scale {scale!r}; use one of {', '.join(_SCALES)}")
    n = _SCALES[scale]
    repeat = 3 if n >= 50_000 else 5
    data = _rows(n)
    reg = ModelRegistry()
    out: list[dict[str, Any]] = []

    # create (bulk): a fresh model each run so every run inserts n rows.
    ds = DataSource("memory", registry=reg)
    counter = iter(range(1_000_000))

    def create() -> None:
        cls = ds.define(f"Bulk{next(counter)}", _SPEC)
        cls.create(data)

    out.append(_row("create (bulk)", n, _best(create, repeat), "validate + store + copies"))
    ds.disconnect()

    ds = DataSource("memory", registry=reg)
    User = ds.define("User", _SPEC)
    User.create(data)
    found: list[Any] = []

    def find_eq() -> None:
        found[:] = User.find({"city": "Rome"})

    out.append(_row("find equality", n, _best(find_eq, repeat), f"{len(found) or n // 5} hits"))

    def find_range() -> None:
        found[:] = User.find({"age": {"between": [20, 29]}, "score": {"gte": 50}})

    out.append(_row("find range", n, _best(find_range, repeat), "between + gte"))

    def count_all() -> None:
        User.count({"active": True})

    out.append(_row("count (where)", n, _best(count_all, repeat), "active = True"))

    frame_t = _best(lambda: User.to_frame(), repeat)
    plain = [u.to_dict() for u in User.find()]
    records_t = _best(lambda: pd.DataFrame.from_records(plain), repeat)
    ratio = frame_t / records_t if records_t > 0 else float("inf")
    out.append(
        _row(
            "to_frame",
            n,
            frame_t,
            f"{ratio:.2f}x DataFrame.from_records (goal <= 1.5x)",
            ratio=ratio,
        )
    )
    out.append(_row("DataFrame.from_records", n, records_t, "baseline: list of dicts"))
    ds.disconnect()

    # find by id: per-call time for growing tables (O(1): flat).
    sizes = [s for s in (1_000, 10_000, 100_000) if s <= max(n, 1_000)]
    per_call: dict[int, float] = {}
    calls = 2_000
    for size in sizes:
        dsz = DataSource("memory", registry=reg)
        M = dsz.define("Lookup", _SPEC)
        M.create(data[:size] if size <= n else _rows(size))
        targets = [1 + (i * 7919) % size for i in range(calls)]

        def lookups(M: Any = M, targets: list[int] = targets) -> None:
            for k in targets:
                M.find({"id": k})

        per_call[size] = _best(lookups, repeat) / calls
        dsz.disconnect()
    small, large = sizes[0], sizes[-1]
    id_ratio = per_call[large] / per_call[small]
    for size in sizes:
        out.append(
            _row(
                "find {id: k}",
                size,
                per_call[size],
                f"{per_call[size] * 1e6:.1f} us/call (rows/s = lookups/s)",
                per_call_us=per_call[size] * 1e6,
                ratio=per_call[size] / per_call[small],
            )
        )
        out[-1]["rows_per_s"] = 1 / per_call[size]
    out[-1]["note"] += f"; {large:,} vs {small:,} rows: {id_ratio:.2f}x (O(1) = flat)"
    reg.clear()
    return out
