"""Benchmark of the memory connector (``python -m nbregistry bench connector``, issue 13).

Side by side in one process on the same rows: nbregistry memory without and with indexes,
pandas boolean masks, and sqlite3 ``:memory:`` without and with the matching index. Sizes:
10 000 and 100 000 rows (``--scale ci``), plus 1 000 000 (``--scale full``). Times are
medians; each row says which target of the issue holds. Nothing here is asserted.
"""

from __future__ import annotations

import gc
import statistics
import time
import tracemalloc
from collections.abc import Callable
from typing import Any

__all__ = ["QUERIES", "SIZES", "run_connector_bench"]

#: rows per scale (``quick`` is for the tests)
SIZES: dict[str, tuple[int, ...]] = {
    "quick": (2_000, 20_000),
    "ci": (10_000, 100_000),
    "full": (10_000, 100_000, 1_000_000),
}
_SPEC = {"name": "string", "bucket": "integer", "g": "integer", "age": "integer", "score": "number"}
_INDEXED = ("bucket", "g", "age", "score")

#: query name → (where, order, limit, sql where, sql tail, pandas mask, issue's ms at 100k)
QUERIES: dict[str, tuple[Any, ...]] = {
    "equality, 1 %": ({"bucket": 7}, None, None, "bucket = 7", "", "bucket == 7", 16.0),
    "inq, 2 %": ({"bucket": {"inq": [3, 4]}}, None, None, "bucket IN (3, 4)", "", "inq", None),
    "between, 3 %": (
        {"score": {"between": [10.0, 12.99]}},
        None,
        None,
        "score BETWEEN 10.0 AND 12.99",
        "",
        "between",
        45.0,
    ),
    "count(age > 50)": ({"age": {"gt": 50}}, "count", None, "age > 50", "", "count", 26.0),
    "order score limit 10": (
        None,
        "score DESC",
        10,
        "1",
        "ORDER BY score DESC LIMIT 10",
        "top",
        130.0,
    ),
}


def _rows(n: int) -> list[dict[str, Any]]:
    return [
        {
            "name": f"user{i}",
            "bucket": i % 100,
            "g": i // 100,  # 100 rows per value at every size (flatness)
            "age": i % 90,
            "score": (i * 7919 % n) * 100 / n,
            "id": i + 1,
        }
        for i in range(n)
    ]


def _median(fn: Callable[[], Any], repeat: int) -> float:
    """Return the median wall time of ``repeat`` runs (seconds), GC paused."""
    times = []
    enabled = gc.isenabled()
    gc.disable()
    try:
        for _ in range(repeat):
            t0 = time.perf_counter()
            fn()
            times.append(time.perf_counter() - t0)
    finally:
        if enabled:
            gc.enable()
    return statistics.median(times)


def _spec(indexed: bool) -> dict[str, Any]:
    if not indexed:
        return dict(_SPEC)
    return {k: ({"type": t, "index": True} if k in _INDEXED else t) for k, t in _SPEC.items()}


def _sqlite(rows: list[dict[str, Any]], indexed: bool) -> Any:
    import sqlite3

    con = sqlite3.connect(":memory:")
    con.execute(
        "CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT, bucket INTEGER, g INTEGER, "
        "age INTEGER, score REAL)"
    )
    con.executemany(
        "INSERT INTO t VALUES (?, ?, ?, ?, ?, ?)",
        [(r["id"], r["name"], r["bucket"], r["g"], r["age"], r["score"]) for r in rows],
    )
    if indexed:
        for col in _INDEXED:
            con.execute(f"CREATE INDEX t_{col} ON t ({col})")
    con.commit()
    return con


def _pandas_query(df: Any, kind: str) -> Any:
    if kind == "bucket == 7":
        return df[df["bucket"].to_numpy() == 7]
    if kind == "inq":
        return df[df["bucket"].isin([3, 4]).to_numpy()]
    if kind == "between":
        s = df["score"].to_numpy()
        return df[(s >= 10.0) & (s <= 12.99)]
    if kind == "count":
        return int((df["age"].to_numpy() > 50).sum())
    return df.nlargest(10, "score")


def run_connector_bench(scale: str = "full") -> list[dict[str, Any]]:
    """Run the benchmark; return one dict per (rows, query) with times (ms) and ratios.

    Raises ValueError for an unknown scale (``quick``, ``ci`` or ``full``).
    """
    import pandas as pd

    from ..core.datasource import DataSource
    from ..core.registry import ModelRegistry

    if scale not in SIZES:
        raise ValueError(f"unknown scale {scale!r}; use one of {', '.join(SIZES)}")
    out: list[dict[str, Any]] = []
    reg = ModelRegistry()
    flat: dict[int, float] = {}
    for n in SIZES[scale]:
        repeat = 5 if n <= 100_000 else 3
        data = _rows(n)
        ds = DataSource("memory", registry=reg)
        Plain = ds.define("Plain", _spec(False))
        Fast = ds.define("Fast", _spec(True))
        Plain.create(data)
        Fast.create(data)
        df = pd.DataFrame.from_records(data).set_index("id")
        lite, lite_ix = _sqlite(data, False), _sqlite(data, True)
        for name, (where, order, limit, sql_where, tail, kind, issue_ms) in QUERIES.items():
            if order == "count":

                def mem(M: Any = Plain, w: Any = where) -> Any:
                    return M.count(w)

                sql = f"SELECT COUNT(*) FROM t WHERE {sql_where}"
            else:

                def mem(M: Any = Plain, w: Any = where, o: Any = order, lim: Any = limit) -> Any:
                    return M.find(w, order=o, limit=lim)

                sql = f"SELECT * FROM t WHERE {sql_where} {tail}"
            t_plain = _median(mem, repeat)
            t_fast = _median(lambda mem=mem, F=Fast: mem(F), repeat)
            t_pd = _median(lambda k=kind, d=df: _pandas_query(d, k), repeat)
            t_sq = _median(lambda s=sql, c=lite: c.execute(s).fetchall(), repeat)
            t_sqi = _median(lambda s=sql, c=lite_ix: c.execute(s).fetchall(), repeat)
            idx_target = 0.5 if order == "count" else 3.0 if limit else 1.5
            r_idx = t_fast / t_sqi
            r_scan = t_plain / t_sq
            holds = [f"index ≤{idx_target}x sqlite+index: {'yes' if r_idx <= idx_target else 'NO'}"]
            holds.append(f"scan ≤4x sqlite: {'yes' if r_scan <= 4 else 'NO'}")
            if issue_ms is not None and n == 100_000:
                speedup = issue_ms / (t_plain * 1e3)
                holds.append(
                    f"scan {speedup:.1f}x faster than issue "
                    f"(≥3x: {'yes' if speedup >= 3 else 'NO'})"
                )
            out.append(
                {
                    "rows": n,
                    "query": name,
                    "memory_ms": round(t_plain * 1e3, 3),
                    "memory_index_ms": round(t_fast * 1e3, 3),
                    "pandas_ms": round(t_pd * 1e3, 3),
                    "sqlite_ms": round(t_sq * 1e3, 3),
                    "sqlite_index_ms": round(t_sqi * 1e3, 3),
                    "index_vs_sqlite_index": round(r_idx, 2),
                    "scan_vs_sqlite": round(r_scan, 2),
                    "targets": "; ".join(holds),
                }
            )
        flat[n] = _median(lambda F=Fast: F.find({"g": 7}), max(repeat, 7))
        lite.close()
        lite_ix.close()
        ds.disconnect()

    # bulk create at 100 000 rows (the largest size ≤ 100 000 in quick)
    n = max(s for s in SIZES[scale] if s <= 100_000)
    data = _rows(n)
    ds = DataSource("memory", registry=reg)
    counter = iter(range(10**6))

    def create(indexed: bool) -> None:
        M = ds.define(f"Bulk{next(counter)}", _spec(indexed))
        M.create(data)
        ds.delete_model(M.model_name)

    t_create = _median(lambda: create(False), 3)
    t_create_ix = _median(lambda: create(True), 3)
    t_many = _median(lambda: _sqlite(data, False).close(), 3)
    ratio = t_create / t_many
    out.append(
        {
            "rows": n,
            "query": "bulk create",
            "memory_ms": round(t_create * 1e3, 1),
            "memory_index_ms": round(t_create_ix * 1e3, 1),
            "pandas_ms": None,
            "sqlite_ms": round(t_many * 1e3, 1),
            "sqlite_index_ms": None,
            "index_vs_sqlite_index": None,
            "scan_vs_sqlite": round(ratio, 2),
            "targets": f"≤2x executemany: {'yes' if ratio <= 2 else 'NO'}",
        }
    )
    # memory per row (tracemalloc, smallest size)
    m = SIZES[scale][0]
    small = _rows(m)
    per_row = {}
    for indexed in (False, True):
        gc.collect()
        tracemalloc.start()
        before = tracemalloc.get_traced_memory()[0]
        M = ds.define(f"Mem{int(indexed)}", _spec(indexed))
        M.create(small)
        after = tracemalloc.get_traced_memory()[0]
        tracemalloc.stop()
        per_row[indexed] = (after - before) / m
        ds.delete_model(M.model_name)
    out.append(
        {
            "rows": m,
            "query": "bytes per row (tracemalloc)",
            "memory_ms": round(per_row[False]),
            "memory_index_ms": round(per_row[True]),
            "pandas_ms": None,
            "sqlite_ms": None,
            "sqlite_index_ms": None,
            "index_vs_sqlite_index": None,
            "scan_vs_sqlite": None,
            "targets": "bytes, not ms: without / with 4 indexes",
        }
    )
    lo, hi = min(flat), max(flat)
    flat_ratio = flat[hi] / flat[lo]
    out.append(
        {
            "rows": hi,
            "query": "indexed equality, 100 matches",
            "memory_ms": None,
            "memory_index_ms": round(flat[hi] * 1e3, 3),
            "pandas_ms": None,
            "sqlite_ms": None,
            "sqlite_index_ms": None,
            "index_vs_sqlite_index": None,
            "scan_vs_sqlite": None,
            "targets": f"{flat_ratio:.2f}x the {lo:,}-row time (flat ≤1.5x: "
            f"{'yes' if flat_ratio <= 1.5 else 'NO'})",
            "flat_ratio": round(flat_ratio, 3),
        }
    )
    ds.disconnect()
    reg.clear()
    return out
