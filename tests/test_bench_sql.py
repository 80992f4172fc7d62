"""``python -m nbregistry bench sql``: the SQL connectors vs SQLAlchemy Core, at ci scale.

Runs the real command on SQLite and the test suite's PostgreSQL server and checks the
table's shape and generous ratio bounds (never the issue's targets, never absolute
times: the machine is shared). The password of the URL given must not be printed.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any
from urllib.parse import quote, quote_plus

import pytest

from nbregistry.bench import sql as bench_sql

ROOT = Path(__file__).resolve().parents[1]
OPERATIONS = list(bench_sql.TARGETS)


def _run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "nbregistry", "bench", "sql", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT), **(env or {})},
        timeout=600,
    )


@pytest.mark.timeout(900)
def test_cli_bench_sql_on_sqlite_and_postgresql(pg_server: Any) -> None:
    proc = _run("--scale", "ci", "--json", "--pg-url", pg_server.url)
    assert proc.returncode == 0, proc.stderr[-3000:]
    for spelling in (pg_server.password, quote(pg_server.password, safe="")):
        assert spelling not in proc.stdout and spelling not in proc.stderr
        assert quote_plus(pg_server.password) not in proc.stdout
    rows = json.loads(proc.stdout)["sql"]
    assert [(r["backend"].split()[0], r["operation"]) for r in rows] == [
        (backend, op) for backend in ("sqlite", "postgresql") for op in OPERATIONS
    ]
    assert rows[-1]["backend"] == f"postgresql (127.0.0.1:{pg_server.port}/nbr_test)"
    for r in rows:
        assert r["rows"] == bench_sql.SIZES["ci"]
        assert r["nbregistry_ms"] > 0 and r["baseline_ms"] > 0
        assert r["target"] == f"≤{bench_sql.TARGETS[r['operation']]}x"
        assert r["result"] in ("PASS", "FAIL")
        assert (r["result"] == "PASS") == (r["ratio"] <= bench_sql.TARGETS[r["operation"]])
        # generous: the connector does the baseline's work plus validation and typing
        assert 0.05 < r["ratio"] < 8, r
    # the bench leaves no schema behind on the server
    left = pg_server.superuser_sql(
        "@db SELECT schema_name FROM information_schema.schemata "
        "WHERE schema_name LIKE 'nbr_bench_%'"
    )[0]
    assert left == []


def test_cli_bench_sql_table_without_a_server(tmp_path: Path) -> None:
    proc = _run("--scale", "ci", env={"NBREGISTRY_PG_URL": ""})
    assert proc.returncode == 0, proc.stderr[-3000:]
    lines = proc.stdout.splitlines()
    head = next(i for i, line in enumerate(lines) if line.startswith("backend"))
    assert lines[head].split() == [
        "backend",
        "rows",
        "operation",
        "nbregistry_ms",
        "baseline",
        "baseline_ms",
        "ratio",
        "target",
        "result",
    ]
    body = [line for line in lines[head + 2 :] if line.strip()]
    assert len(body) == len(OPERATIONS)  # SQLite only
    assert all(line.startswith("sqlite") for line in body)
    assert all(line.rstrip().endswith(("PASS", "FAIL")) for line in body)
    assert "## sql" in proc.stdout


def test_run_sql_bench_rejects_an_unknown_scale() -> None:
    with pytest.raises(ValueError, match="unknown scale 'huge'; use one of quick, ci, full"):
        bench_sql.run_sql_bench("huge")
