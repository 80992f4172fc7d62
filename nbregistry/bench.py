"""Benchmarks shared by ``python -m nbregistry bench`` and the benchmark notebooks.

Every figure is measured in this process (or a fresh child process where noted), side by
side with its baseline, as a median of repeats: this machine is shared and noisy, so the
ratios are the result, not the absolute times.
"""

from __future__ import annotations

import gc
import os
import statistics
import subprocess
import sys
import time
import timeit
import tracemalloc
import weakref
from collections.abc import Callable
from typing import Any

__all__ = [
    "SCALES",
    "bench_core",
    "bench_lookups",
    "format_table",
    "measure_ns",
    "scale_from_env",
]

#: Sizes per scale. ``ci`` keeps the whole bench quick; ``full`` is the issue's table.
SCALES: dict[str, dict[str, Any]] = {
    "ci": {"sizes": (10, 1_000, 10_000), "tenants": 100, "cleanup": 2_000, "repeat": 5},
    "full": {"sizes": (10, 1_000, 100_000), "tenants": 1_000, "cleanup": 10_000, "repeat": 7},
}


def scale_from_env(default: str = "full") -> str:
    """Return ``NBREGISTRY_SCALE`` (``ci`` or ``full``); ValueError for anything else."""
    value = os.environ.get("NBREGISTRY_SCALE", default)
    if value not in SCALES:
        raise ValueError(f"NBREGISTRY_SCALE must be one of {sorted(SCALES)}, got {value!r}")
    return value


def measure_ns(stmt: str, env: dict[str, Any], *, repeat: int = 7) -> float:
    """Return the median ns per execution of ``stmt`` (timeit, auto-ranged loops)."""
    timer = timeit.Timer(stmt, globals=env)
    number, _ = timer.autorange()
    number = max(number, 10)
    runs = timer.repeat(repeat=repeat, number=number)
    return statistics.median(runs) / number * 1e9


def _paired(stmt: str, base: str, env: dict[str, Any], repeat: int) -> tuple[float, float]:
    """Measure ``stmt`` and its baseline interleaved; return median ``(ns, baseline ns)``."""
    t_stmt = timeit.Timer(stmt, globals=env)
    t_base = timeit.Timer(base, globals=env)
    n_stmt = max(10, t_stmt.autorange()[0] // 4)  # ~50 ms per run
    n_base = max(10, t_base.autorange()[0] // 4)
    a: list[float] = []
    b: list[float] = []
    for _ in range(repeat):
        b.append(t_base.timeit(n_base) / n_base * 1e9)
        a.append(t_stmt.timeit(n_stmt) / n_stmt * 1e9)
    return statistics.median(a), statistics.median(b)


SPEC10 = {
    "street": "string",
    "city": "string",
    "zip": {"type": "string", "required": True},
    "lat": "number",
    "lng": "number",
    "floor": "integer",
    "verified": "boolean",
    "since": "date",
    "tags": ["string"],
    "note": {"type": "string", "default": ""},
}


def _build(n_models: int, per_owner: int, n_tenants: int) -> dict[str, Any]:
    """Build an isolated registry with ``n_models`` named models; return the handles."""
    from .owners import DataSource
    from .registry import ModelRegistry

    reg = ModelRegistry()
    codes = [f"t{i}" for i in range(n_tenants)]
    target = None
    made = 0
    owner_no = 0
    while made < n_models:
        code = codes[owner_no % n_tenants]
        ds = DataSource("memory", name=f"ds{owner_no}", tenant=code, registry=reg)
        count = min(per_owner, n_models - made)
        for j in range(count):
            is_user = target is None and made + j >= n_models // 2 and j == count // 2
            model_name = "User" if is_user else f"M{owner_no}_{j}"
            ds.define(model_name, {"name": "string", "n": "integer"})
            if is_user:
                target = ds
        made += count
        owner_no += 1
    assert target is not None
    builder_ds = DataSource("memory", name="shapes", tenant=target.tenant, registry=reg)
    builder_ds.model_builder.resolve_type(dict(SPEC10))
    reg.use_tenant(target.tenant)
    index = dict(target.models)
    return {"reg": reg, "ds": target, "d": index, "spec": dict(SPEC10), "keys": list(index)}


# (label, statement, baseline statement, target ratio or None)
_LOOKUP_OPS: list[tuple[str, str, str, float | None]] = [
    ("ds.models.User", "ds.models.User", 'd["User"]', 2.0),
    ('ds.models["User"]', 'ds.models["User"]', 'd["User"]', 4.0),
    ('get_model_for_owner(ds, "User")', 'reg.get_model_for_owner(ds, "User")', 'd["User"]', 6.0),
    ('find_model_by_name("User")', 'reg.find_model_by_name("User")', 'd["User"]', 8.0),
    ("find_model_by_structure(10 props)", "reg.find_model_by_structure(spec)", 'd["User"]', None),
]


def bench_lookups(
    scale: str = "full", *, progress: Callable[[str], None] | None = None
) -> list[dict[str, Any]]:
    """Measure the lookup paths at growing sizes; return one row per (op, layout, N)."""
    cfg = SCALES[scale]
    rows: list[dict[str, Any]] = []
    layouts = [
        ("10/owner, 1 tenant", 10, 1),
        (f"10/owner, {cfg['tenants']} tenants", 10, cfg["tenants"]),
        ("1000/owner, 1 tenant", 1_000, 1),
    ]
    for layout, per_owner, n_tenants in layouts:
        for n in cfg["sizes"]:
            if n < n_tenants * per_owner and n_tenants > 1 and n != cfg["sizes"][-1]:
                continue  # the many-tenant layout only makes sense at the largest N
            if per_owner > n:
                continue
            if progress:
                progress(f"lookups: {layout}, N={n}")
            env = _build(n, per_owner, n_tenants)
            ops = list(_LOOKUP_OPS)
            if per_owner >= 1_000:
                ops.append(("list(ds.models)", "list(ds.models)", "list(d)", 2.0))
            for label, stmt, base, target in ops:
                ns, base_ns = _paired(stmt, base, env, cfg["repeat"])
                rows.append(
                    {
                        "op": label,
                        "layout": layout,
                        "N": n,
                        "ns": round(ns, 1),
                        "dict_ns": round(base_ns, 1),
                        "ratio": round(ns / base_ns, 2),
                        "target": target,
                    }
                )
            env["reg"].clear()
            del env
            gc.collect()
    _add_flatness(rows)
    return rows


def _add_flatness(rows: list[dict[str, Any]]) -> None:
    """Annotate each row with ns / ns at the smallest N of the same op (flat ⇔ ≈ 1)."""
    smallest: dict[str, float] = {}
    for row in rows:
        if row["layout"].startswith("10/owner, 1 tenant"):
            smallest.setdefault(row["op"], row["ns"])
    for row in rows:
        first = smallest.get(row["op"])
        row["vs_N10"] = round(row["ns"] / first, 2) if first else None


def _define_us(repeat: int) -> float:
    from .owners import DataSource
    from .registry import ModelRegistry

    reg = ModelRegistry()
    ds = DataSource("memory", name="bench", registry=reg)
    results = []
    counter = iter(range(10**9))
    for _ in range(repeat):
        t0 = time.perf_counter()
        for _ in range(500):
            ds.define(f"Model{next(counter)}", SPEC10)
        results.append((time.perf_counter() - t0) / 500 * 1e6)
    reg.clear()
    return statistics.median(results)


_BOOKKEEPING_FILES = ("registry.py", "views.py", "owners.py")


def _memory_per_model(n: int = 5_000) -> dict[str, float]:
    """Return tracemalloc bytes per 10-property model: registry bookkeeping vs class."""
    from .owners import DataSource
    from .registry import ModelRegistry

    reg = ModelRegistry()
    owners = [DataSource("memory", name=f"m{i}", registry=reg) for i in range(n // 10)]
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.take_snapshot()
    keep = [owners[i // 10].define(f"M{i}", SPEC10) for i in range(n)]
    gc.collect()
    after = tracemalloc.take_snapshot()
    tracemalloc.stop()
    book = total = 0
    for stat in after.compare_to(before, "filename"):
        filename = stat.traceback[0].filename
        total += stat.size_diff
        if filename.endswith(_BOOKKEEPING_FILES) and "nbregistry" in filename:
            book += stat.size_diff
    del keep
    reg.clear()
    return {"bookkeeping_B": book / n, "model_B": (total - book) / n, "total_B": total / n}


def _cleanup(n: int) -> dict[str, Any]:
    from .owners import DataSource
    from .registry import ModelRegistry

    reg = ModelRegistry()
    refs = []
    for i in range(n // 10):
        ds = DataSource("memory", name=f"c{i}", tenant="doomed", registry=reg)
        for j in range(10):
            refs.append(weakref.ref(ds.define(f"M{j}", {"a": "string", "addr": {"s": "string"}})))
    del ds
    gc.collect()
    t0 = time.perf_counter()
    removed = reg.cleanup_tenant("doomed")
    ms = (time.perf_counter() - t0) * 1e3
    gc.collect()
    alive = sum(r() is not None for r in refs)
    return {"models": removed, "ms": round(ms, 2), "alive_after_gc": alive}


def _import_cost(repeat: int = 5) -> dict[str, Any]:
    code_pkg = (
        "import sys, threading, nbregistry; "
        "heavy = [m for m in ('pandas', 'ipywidgets', 'matplotlib', 'IPython') "
        "if m in sys.modules]; "
        "print(','.join(heavy) + '|' + str(threading.active_count()))"
    )

    def run(code: str) -> tuple[float, str]:
        t0 = time.perf_counter()
        out = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True
        )
        return (time.perf_counter() - t0) * 1e3, out.stdout.strip()

    bare = statistics.median(run("pass")[0] for _ in range(repeat))
    pkg_runs = [run(code_pkg) for _ in range(repeat)]
    pkg = statistics.median(t for t, _ in pkg_runs)
    heavy, threads = pkg_runs[-1][1].split("|")
    return {
        "import_ms": round(pkg - bare, 1),
        "heavy_modules": heavy or "none",
        "threads": int(threads),
    }


def bench_core(scale: str = "full") -> list[dict[str, Any]]:
    """Measure define, memory per model, cleanup and import cost; one row per metric."""
    cfg = SCALES[scale]
    mem = _memory_per_model()
    clean = _cleanup(cfg["cleanup"])
    imp = _import_cost()
    return [
        {
            "metric": "define(10 props) µs",
            "value": round(_define_us(cfg["repeat"]), 1),
            "target": "≤ 30",
        },
        {
            "metric": "registry bookkeeping B/model",
            "value": round(mem["bookkeeping_B"]),
            "target": "≤ 150",
        },
        {
            "metric": "class + definition B/model",
            "value": round(mem["model_B"]),
            "target": "≤ 5000",
        },
        {
            "metric": f"cleanup_tenant({clean['models']} models) ms",
            "value": clean["ms"],
            "target": "≤ 50",
        },
        {
            "metric": "classes alive after cleanup + gc",
            "value": clean["alive_after_gc"],
            "target": "0",
        },
        {
            "metric": "import nbregistry ms (over bare python)",
            "value": imp["import_ms"],
            "target": "≤ 60",
        },
        {"metric": "heavy modules imported", "value": imp["heavy_modules"], "target": "none"},
        {"metric": "threads after import", "value": imp["threads"], "target": "1"},
    ]


def format_table(rows: list[dict[str, Any]], columns: list[str] | None = None) -> str:
    """Return rows as an aligned plain-text table."""
    if not rows:
        return "(no rows)"
    cols = columns or list(rows[0])
    cells = [[("" if r.get(c) is None else str(r.get(c))) for c in cols] for r in rows]
    widths = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(cols)]
    line = "  ".join(c.ljust(w) for c, w in zip(cols, widths, strict=True))
    sep = "  ".join("-" * w for w in widths)
    body = ["  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)) for row in cells]
    return "\n".join([line, sep, *body])
