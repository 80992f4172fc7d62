"""``python -m nbregistry bench store``: the table's shape and generous ratios (not targets).

A shared 2-core machine running three CI legs at once: no absolute time is asserted, only
ratios of two sides measured interleaved in one process. Each is well above what this
machine measures (idle sync ~1.2x a bare PRAGMA, define ~3-5x, lookups ~1.0x,
propagation ~1x the writer's define), and well below what a regression would give (a
sync that reads the log, a define that rewrites the store, a lookup that touches it, a
listener that polls). The bench measures a ratio that misses its issue target again, up
to ``RUNS`` runs, keeping the lowest.
"""

from __future__ import annotations

from typing import Any

from nbregistry.bench.store import RUNS, best_of, run_store_bench


def test_store_bench_rows_on_sqlite_and_postgresql(pg_server: Any) -> None:
    rows = run_store_bench("quick", pg_url=pg_server.url)
    by = {r["metric"]: r for r in rows}
    for r in rows:
        assert set(r) == {"metric", "value", "unit", "target", "meets"}
        assert r["meets"] in ("yes", "NO", "n/a")
        assert r["unit"] in ("µs", "ms", "s", "x", "of")
    print(
        "\n" + "\n".join(f"{r['metric']}: {r['value']} {r['unit']} ({r['target']})" for r in rows)
    )
    assert RUNS == 3
    # An idle sync is one cheap check (its floor: a bare PRAGMA data_version), not a read
    # of the log (issue: ≤ 20 µs, ~6x that PRAGMA here)...
    idle = by["sync(), nothing new / bare PRAGMA data_version (SQLite)"]
    assert idle["target"] == "≤ 3x" and idle["value"] < 5
    assert by["sync(), nothing new (SQLite)"]["target"] == "≤ 20 µs"
    # ...a SQLite store costs each define one commit, not an order of magnitude more
    # (issue: ≤ 10x)...
    define = by["define with SQLite store / without"]
    assert define["target"] == "≤ 10x" and 1 < define["value"] < 20
    # ...and lookups never touch it (issue: ≤ 1.15x).
    for lookup in ("get_model", "ds.models.X"):
        row = by[f"{lookup} with store / without"]
        assert row["target"] == "≤ 1.15x" and row["value"] < 1.5
    assert by["fresh process syncs 300 definitions"]["unit"] == "s"
    assert 0 < by["  of which per definition"]["value"] < 5_000
    # PostgreSQL: a store costs each define a round trip or two...
    assert by["define with PostgreSQL store / without"]["value"] > 1
    # ...every announced define reached the listening registry, a few of the writer's
    # defines later (a poll every 100 ms would be ~50x).
    arrived = by["announced defines that arrived"]
    assert arrived["value"] == float(arrived["target"]) == 40
    assert by["  median / the writer's define (PostgreSQL)"]["value"] < 20
    assert by["define → listen=True registry, median (PostgreSQL)"]["target"] == "≤ 50 ms"


def test_a_ratio_that_misses_its_target_is_measured_again_keeping_the_lowest() -> None:
    def runs(*ratios: float) -> tuple[list[int], Any]:
        calls: list[int] = []
        it = iter(ratios)

        def measure() -> tuple[float, int]:
            calls.append(1)
            return next(it), len(calls)

        return calls, measure

    calls, measure = runs(1.0)
    assert best_of(measure, 1.15) == (1.0, 1) and len(calls) == 1  # met: one run
    calls, measure = runs(1.4, 1.1, 9.0)
    assert best_of(measure, 1.15) == (1.1, 2) and len(calls) == 2  # met on the second
    calls, measure = runs(1.6, 2.0, 1.3, 0.1)
    assert best_of(measure, 1.15) == (1.3, 3) and len(calls) == RUNS  # never: lowest of 3
