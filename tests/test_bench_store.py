"""``python -m nbregistry bench store``: the table's shape and generous bounds (not targets)."""

from __future__ import annotations

from typing import Any

from nbregistry.bench.store import run_store_bench


def test_store_bench_rows_on_sqlite_and_postgresql(pg_server: Any) -> None:
    rows = run_store_bench("quick", pg_url=pg_server.url)
    by = {r["metric"]: r for r in rows}
    for r in rows:
        assert set(r) == {"metric", "value", "unit", "target", "meets"}
        assert r["meets"] in ("yes", "NO", "n/a")
    print(
        "\n" + "\n".join(f"{r['metric']}: {r['value']} {r['unit']} ({r['target']})" for r in rows)
    )
    # Shapes, generous: an idle sync is a cheap check, not a read of the log...
    assert by["sync(), nothing new (SQLite)"]["value"] < 500
    # ...a store costs each define a commit, not an order of magnitude more...
    assert 1 < by["define with SQLite store / without"]["value"] < 60
    # ...and lookups never touch it.
    assert by["get_model with store / without"]["value"] < 2
    assert by["ds.models.X with store / without"]["value"] < 2
    assert by["fresh process syncs 300 definitions"]["value"] < 30
    assert 0 < by["  of which per definition"]["value"] < 5_000
    # Every announced define reached the listening registry.
    arrived = by["announced defines that arrived"]
    assert arrived["value"] == float(arrived["target"])
    assert by["define → listen=True registry, median (PostgreSQL)"]["value"] < 5_000
