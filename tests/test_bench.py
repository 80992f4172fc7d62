"""The before/after workloads return their documented shapes (at tiny sizes) and the CLI runs.

Only shapes and generous ratios are asserted, never absolute times: the machine is shared.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from nbregistry import bench, registry

ROOT = Path(__file__).resolve().parents[1]
TINY = {"tenants": 2, "datasources": 2, "models": 25, "embedded": 3, "shapes": 5}


def test_seed_properties_draw_shapes_round_robin() -> None:
    props = bench.seed_properties(0, 3, 5)
    assert list(props)[-3:] == ["address", "contact", "price"]
    assert list(bench.seed_properties(4, 3, 5))[-3:] == ["size", "address", "contact"]
    assert list(bench.seed_properties(0, 2, 7))[-2:] == ["address", "contact"]
    assert "shape6" in bench.seed_properties(6, 1, 7)
    with pytest.raises(ValueError, match="embedded=4"):
        bench.seed_properties(0, 4, 3)


def test_build_seed_both_designs_and_reuse() -> None:
    before = bench.build_seed("before", TINY)
    after = bench.build_seed("after", TINY)
    named = 2 * 2 * 25
    assert before["registry"].stats()["models"] == named + named * 3 + (named * 3) // 5
    stats = after["registry"].stats()
    assert stats.named_models == named
    assert stats.anonymous_models == 2 * 6  # 5 shapes + the nested geo, per tenant
    assert stats.hit_rate >= 0.95
    assert bench.structure_bytes("before", before) > bench.structure_bytes("after", after) > 0
    with pytest.raises(ValueError, match="design"):
        bench.build_seed("sideways", TINY)
    after["registry"].clear()


def test_build_seed_never_touches_the_global_registry() -> None:
    n = registry.stats().registrations
    bench.build_seed("after", {**TINY, "tenants": 1})
    bench.build_seed("before", {**TINY, "tenants": 1})
    assert registry.stats().registrations == n


def test_memory_child_shapes_in_process() -> None:
    params = {**TINY, "tenants": 1, "models": 5}
    traced = bench.memory_child("after", params, "tracemalloc")
    assert set(traced) >= {"traced_bytes", "classes", "anonymous", "structure_bytes", "hit_rate"}
    assert traced["classes"] == 10 + traced["anonymous"]
    rss = bench.memory_child("before", params, "rss")
    assert isinstance(rss["rss_mib"], float) and rss["classes"] > traced["classes"]
    with pytest.raises(ValueError, match="mode"):
        bench.memory_child("after", params, "psutil")


def test_bench_memory_runs_children_and_summarises() -> None:
    result = bench.bench_memory(
        "ci",
        scenarios={"seed": {"tenants": 1}, "no embedded models": {"tenants": 1, "embedded": 0}},
    )
    rows = result["memory"]
    assert [(r["scenario"], r["design"]) for r in rows] == [
        ("seed", "before"),
        ("seed", "after"),
        ("no embedded models", "before"),
        ("no embedded models", "after"),
    ]
    seed_before, seed_after = rows[0], rows[1]
    assert seed_after["traced_bytes"] < 0.6 * seed_before["traced_bytes"]
    # one class per embedded use (+ the nested geo of every address) vs one per shape
    assert seed_before["anonymous"] == 150 + 30 and seed_after["anonymous"] == 6
    metrics = {(r["scenario"], r["metric"]): r for r in result["memory_summary"]}
    mem = metrics[("seed", "memory after/before (tracemalloc)")]
    assert mem["holds"] is True and 0 < mem["value"] <= 0.6
    assert metrics[("seed", "reuse hit rate (after)")]["value"] >= 0.95


def _memory_row(scenario: str, design: str, traced: int, hit_rate: float | None) -> dict:
    """Return a ``bench_memory`` row with the given figures (the rest plausible)."""
    return {
        "scenario": scenario,
        "design": design,
        "tenants": 20,
        "datasources": 2,
        "models_per_ds": 25,
        "embedded": "3 of 5",
        "named_models": 1_000,
        "classes": 4_600 if design == "before" else 1_120,
        "anonymous": 3_600 if design == "before" else 120,
        "traced_bytes": traced,
        "bytes_per_model": traced // 1_000,
        "structure_bytes": 300_000 if design == "before" else 100_000,
        "rss_mib": 20.5 if design == "before" else 5.25,
        "hit_rate": hit_rate,
    }


MEMORY_ROWS = [
    _memory_row("seed", "before", 15_000_000, None),
    _memory_row("seed", "after", 3_800_000, 0.9603),
    _memory_row("no embedded models", "before", 3_000_000, None),
    _memory_row("no embedded models", "after", 3_000_000, 0.0),
]


# pandas display options showing a frame on one line per row, whatever another test set.
WIDE = ("display.width", 10_000, "display.max_columns", None, "display.expand_frame_repr", False)


def _widest(df: pd.DataFrame) -> int:
    with pd.option_context(*WIDE):
        return max(len(line) for line in repr(df).splitlines())


def test_memory_table_shows_what_matters_first_with_units_in_the_names() -> None:
    df = bench.memory_table(MEMORY_ROWS)
    assert list(df.columns[:4]) == ["scenario", "design", "traced_MiB", "classes"]
    assert {"structure_KiB", "rss_MiB", "B_per_model", "hit_rate"} <= set(df.columns)
    assert df.loc[0, "traced_MiB"] == round(15_000_000 / 2**20, 2)
    assert df["hit_rate"].dtype == "float64" and not df.isna().any().any()
    assert df.loc[0, "hit_rate"] == 0.0  # the before design never reuses
    # The table (15 columns + traced_MiB last) was 1,438 px in a 968 px output.
    assert len(df.columns) <= 9 and _widest(df) <= 110, repr(df)


def test_summary_tables_have_numbers_units_and_a_boolean_holds() -> None:
    compare = [
        {"op": "models_for_owner", "kind": "owner", "N": 10_000, "speedup": 9_000.0},
        {"op": "find_model_by_structure (hit)", "kind": "structure", "N": 10_000,
         "speedup": 140.0},
        {"op": "find_model_by_name", "kind": "name", "N": 10_000, "speedup": 0.8},
        {"op": "ds.models.User", "kind": "view", "N": 10_000, "speedup": 0.9},
    ]  # fmt: skip
    flat = [{"op": "ds.models.User", "N_small": 10, "N": 10_000, "ratio": 1.02}]
    for rows in (bench.memory_summary(MEMORY_ROWS), bench.compare_summary(compare, flat)):
        df = bench.summary_table(rows)
        assert df["value"].dtype == "float64" and df["holds"].dtype == "boolean"
        assert df["unit"].isin(["ratio", "%", "fraction", "x"]).all()
        assert df["metric"].str.len().max() <= 50  # pandas cuts cells beyond 50 characters
        assert _widest(df) <= 120, repr(df)
        checked = df["check"] != ""
        assert df.loc[checked, "holds"].notna().all() and df.loc[~checked, "holds"].isna().all()
    memory = bench.summary_table(bench.memory_summary(MEMORY_ROWS))
    memory = memory.set_index(["scenario", "metric"])
    reduction = memory.loc[("seed", "reduction (tracemalloc)")]
    assert (reduction["value"], reduction["unit"]) == (74.7, "%")
    assert bool(memory.loc[("seed", "memory after/before (tracemalloc)"), "holds"]) is True


def test_run_in_child_reports_the_child_error() -> None:
    with pytest.raises(RuntimeError, match="mode must be"):
        bench.run_in_child("memory_child", "after", TINY, "bogus")


def test_lookup_env_places_the_probe_and_matches_both_designs() -> None:
    for design in ("before", "after"):
        env = bench.lookup_env(design, 35)
        reg, ds = env["reg"], env["ds"]
        assert reg.find_model_by_name("User") is ds.models.User
        assert reg.get_model_for_owner(ds, "User") is ds.models.User
        assert len(ds.models) == 10 and ds.name == "ds2"
        assert reg.find_model_by_structure(env["spec"]) is not None
        assert reg.find_model_by_structure(env["absent"]) is None
    with pytest.raises(ValueError, match="n must be"):
        bench.lookup_env("after", 0)


def test_bench_compare_shapes_and_owner_scan_grows() -> None:
    ops = [op for op in bench.COMPARE_OPS if op[0] in ("models_for_owner", "ds.models.User")]
    result = bench.bench_compare("ci", sizes=(10, 2_000), flat_sizes=(10, 2_000), ops=ops)
    rows = result["compare"]
    assert {(r["op"], r["N"]) for r in rows} == {(op, n) for op, _, _ in ops for n in (10, 2_000)}
    assert set(rows[0]) == {"op", "kind", "N", "before_ns", "after_ns", "speedup"}
    owner = {r["N"]: r["speedup"] for r in rows if r["op"] == "models_for_owner"}
    assert owner[2_000] > 5 * owner[10]  # a scan of 2,000 vs an index read
    flat = result["flatness"]
    assert {f["op"] for f in flat} == {op for op, _, _ in ops}
    assert all(f["N_small"] == 10 and f["N"] == 2_000 and f["ratio"] > 0 for f in flat)
    summary = bench.compare_summary(rows, flat, at=2_000)
    assert any(s["metric"].startswith("slowest owner") for s in summary)
    with pytest.raises(ValueError, match="two sizes"):
        bench.bench_flatness((10,))
    with pytest.raises(ValueError, match="replicas"):
        bench.bench_flatness((10, 20), replicas=0)
    with pytest.raises(ValueError, match="retries"):
        bench.bench_flatness((10, 20), retries=-1)
    with pytest.raises(ValueError, match="scale"):
        bench.bench_compare("huge")


def test_bench_flatness_measures_again_above_the_limit() -> None:
    ops = [op for op in bench.COMPARE_OPS if op[0] == "ds.models.User"]
    # limit 0 is never met: every look is taken, and the row keeps the lowest ratio
    rows = bench.bench_flatness((10, 200), ops=ops, repeat=3, run_ms=0.5, limit=0, retries=2)
    assert [(r["op"], r["N"], r["measurements"]) for r in rows] == [("ds.models.User", 200, 3)]
    # a generous limit is met by the first look
    rows = bench.bench_flatness((10, 200), ops=ops, repeat=3, run_ms=0.5, limit=1e9)
    assert rows[0]["measurements"] == 1 and rows[0]["ratio"] > 0


def test_bench_cleanup_rows() -> None:
    rows = bench.bench_cleanup("ci")
    assert [(r["design"], r["calls"]) for r in rows] == [("after", 1), ("before", 1), ("before", 5)]
    after, leak, full = rows
    assert after["alive_after_gc"] == 0 and after["owner_stores_empty"]
    assert leak["alive_after_gc"] == leak["classes"] and not leak["owner_stores_empty"]
    assert full["alive_after_gc"] == 0 and full["registry_empty"]
    table = bench.cleanup_table(rows)
    assert list(table.columns[:4]) == ["design", "calls", "ms", "alive_after_gc"]
    assert table["stores_empty"].tolist() == [True, False, True]
    assert table["procedure"].str.len().max() <= 50  # pandas cuts cells beyond 50 characters
    assert _widest(table) <= 110, repr(table)


def test_cli_cleanup_json() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "nbregistry", "bench", "cleanup", "--scale", "ci", "--json"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=300,
        check=True,
    )
    data = json.loads(out.stdout)
    assert data["scale"] == "ci" and data["machine"]["cpus"] >= 1
    assert [r["calls"] for r in data["cleanup"]] == [1, 1, 5]
    assert "cleanup:" in out.stderr  # progress goes to stderr


def test_cli_tables_and_bad_section() -> None:
    from nbregistry.__main__ import main

    with pytest.raises(SystemExit):
        main(["bench", "nonsense"])
    out = subprocess.run(
        [sys.executable, "-m", "nbregistry", "bench", "cleanup", "--scale", "ci"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=300,
        check=True,
    )
    assert "## cleanup" in out.stdout and "alive_after_gc" in out.stdout


def test_notebook_progress_tracks_steps_and_grows_past_its_estimate() -> None:
    from nbregistry.bench import NotebookProgress

    progress = NotebookProgress("memory", steps=2)
    try:
        assert (progress.bar.value, progress.bar.max) == (0, 2)
        progress("first")
        progress("second")
        assert progress.bar.value == 1 and progress.label.value == "2/2: second"
        progress("third")  # more steps than estimated: the bar grows instead of overflowing
        assert progress.bar.max == 3 and progress.label.value == "3/3: third"
        progress.done()
        assert progress.bar.value == 3 and progress.bar.bar_style == "success"
        assert progress.label.value == "done (3 steps)"
    finally:
        progress.box.close()
        progress.bar.close()
        progress.label.close()


def test_connector_bench_shapes_at_quick_scale() -> None:
    from nbregistry.bench import connector

    rows = connector.run_connector_bench("quick")
    queries = [r["query"] for r in rows]
    assert queries[:5] == list(connector.QUERIES) and queries[5:10] == list(connector.QUERIES)
    assert queries[10:] == [
        "bulk create",
        "bytes per row (tracemalloc)",
        "indexed equality, 100 matches",
    ]
    by = {(r["rows"], r["query"]): r for r in rows}
    big = by[(20_000, "count(age > 50)")]
    # shapes, generous: an indexed count reads bucket sizes, the scan visits every row
    assert big["memory_index_ms"] * 5 < big["memory_ms"]
    top = by[(20_000, "order score limit 10")]
    assert top["memory_index_ms"] * 5 < top["memory_ms"]
    # indexed equality with the same 100 matches is flat in the table size (10x rows)
    assert rows[-1]["flat_ratio"] < 3
    assert rows[-2]["memory_index_ms"] > rows[-2]["memory_ms"] > 0  # indexes cost bytes
    bulk = by[(20_000, "bulk create")]
    assert bulk["sqlite_index_ms"] > 0 and bulk["index_vs_sqlite_index"] > 0
    assert by[(20_000, "equality, 1 %")]["issue_table_ms"] is None  # the is at 100 000
    # every target once, judged at the largest size up to 100 000, each PASS or FAIL
    summary = connector.targets(rows)
    assert len(summary) == 5 + 5 + 0 + 2 + 1  # no speed-up over the issue below 100 000
    assert {t["rows"] for t in summary} == {20_000}
    assert {t["result"] for t in summary} <= {"PASS", "FAIL"}
    assert summary[0]["target"] == "equality, 1 %: index vs sqlite3+index"
    assert summary[0]["measured"] == by[(20_000, "equality, 1 %")]["index_vs_sqlite_index"]
    assert all("PASS" in r["targets"] or "FAIL" in r["targets"] for r in rows[:10])
    with pytest.raises(ValueError, match="unknown scale"):
        connector.run_connector_bench("huge")


def test_bench_connector_covers_every_connector_and_all_runs_sql_once(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from nbregistry import __main__ as cli
    from nbregistry.bench import connector as bench_connector
    from nbregistry.bench import sql as bench_sql

    calls: list[str] = []

    def memory_rows(scale: str) -> dict[str, list[dict[str, Any]]]:
        calls.append(f"memory:{scale}")
        return {"connector": [{"query": "q", "ratio": 1.0}]}

    def sql_rows(scale: str, *, pg_url: str | None = None) -> list[dict[str, Any]]:
        calls.append(f"sql:{scale}:{pg_url}")
        return [{"backend": "sqlite", "ratio": 1.1}]

    monkeypatch.setattr(bench_connector, "run_sections", memory_rows)
    monkeypatch.setattr(bench_sql, "run_sql_bench", sql_rows)
    assert cli.main(["bench", "connector", "--scale", "ci", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert calls == ["memory:ci", "sql:ci:None"]
    assert set(out) >= {"connector", "sql"}
    sections = cli._sections()
    for name in [s for s in sections if s not in ("connector", "sql")]:
        monkeypatch.setitem(sections, name, lambda scale: {})
    monkeypatch.setattr(cli, "_sections", lambda pg_url=None: sections)
    calls.clear()
    assert cli.main(["bench", "all", "--scale", "ci", "--json"]) == 0
    assert calls == ["memory:ci", "sql:ci:None"]  # sql once, inside connector
