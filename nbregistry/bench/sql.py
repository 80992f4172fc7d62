"""Benchmark of the SQL connectors (``python -m nbregistry bench sql``, issue 11).

Side by side in one process, on the same table, the same engine and the same rows: the
``sqlite`` (a file in a temporary directory) and ``postgresql`` connectors (when a URL is
given: ``--pg-url`` or ``NBREGISTRY_PG_URL``) against SQLAlchemy Core doing the same work
by hand — the same SELECT, the same decoding of JSON and UTC timestamps (SQLite: ISO text
parsed to aware datetimes; PostgreSQL: datetimes taken to UTC), the same rows built:

* ``find`` of 1 000 rows by an indexed equality vs Core's SELECT + decoding (≤ 1.5x);
* ``count(where)`` (an indexed equality, and a range that scans) vs Core's
  ``SELECT count(*)`` (≤ 1.5x);
* ``to_frame()`` of the whole table vs ``pandas.read_sql`` of the same SELECT plus the
  same dtype conversion (≤ 1.5x);
* bulk ``create`` vs ``executemany`` through Core returning the ids, with the rows
  encoded by hand (dates to UTC, JSON to text on SQLite) (≤ 2x).

Rows: 100 000 (``--scale full``), 10 000 (``--scale ci``). Times are medians of
interleaved repeats (nbregistry, Core, nbregistry, ...). Each row of the table says
``PASS`` or ``FAIL`` for its target; nothing here is asserted. The password of a
PostgreSQL URL is never printed (the table names host and database only).
"""

from __future__ import annotations

import datetime as dt
import gc
import json
import os
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable
from typing import Any

__all__ = ["SIZES", "TARGETS", "run_sql_bench"]

#: rows per scale (``quick`` is for a fast smoke run)
SIZES: dict[str, int] = {"quick": 2_000, "ci": 10_000, "full": 100_000}
#: operation → the issue's target: nbregistry's time at most this many times the baseline's
TARGETS: dict[str, float] = {
    "find 1 000 rows, indexed equality": 1.5,
    "count(where), indexed equality": 1.5,
    "count(where), range scan": 1.5,
    "to_frame(), every row": 1.5,
    "bulk create": 2.0,
}
#: operation → repeats (each a pair of runs: nbregistry, then the baseline)
_REPEATS = {
    "find 1 000 rows, indexed equality": 9,
    "count(where), indexed equality": 31,
    "count(where), range scan": 15,
    "to_frame(), every row": 5,
    "bulk create": 3,
}
_SPEC: dict[str, Any] = {
    "name": "string",
    "bucket": {"type": "integer", "index": True},
    "score": "number",
    "active": "boolean",
    "at": "date",
    "tags": ["string"],
    "meta": "object",
}
UTC = dt.UTC


def _rows(n: int) -> list[dict[str, Any]]:
    """Return ``n`` rows: 1 000 per ``bucket`` value, dates with an offset, JSON values."""
    buckets = max(1, n // 1000)
    base = dt.datetime(2024, 1, 1, tzinfo=dt.timezone(dt.timedelta(hours=2)))
    return [
        {
            "name": f"user{i}",
            "bucket": i % buckets,
            "score": (i * 7919 % n) * 100 / n,
            "active": i % 3 == 0,
            "at": base + dt.timedelta(minutes=i),
            "tags": ["a", f"t{i % 7}"],
            "meta": {"k": i % 11, "s": "x"},
        }
        for i in range(n)
    ]


def _paired(ours: Callable[[], Any], theirs: Callable[[], Any], repeat: int) -> tuple[float, float]:
    """Return the median seconds of ``ours`` and ``theirs``, run alternately, GC paused."""
    a: list[float] = []
    b: list[float] = []
    enabled = gc.isenabled()
    gc.collect()
    gc.disable()
    try:
        for _ in range(repeat):
            for fn, out in ((ours, a), (theirs, b)):
                t0 = time.perf_counter()
                fn()
                out.append(time.perf_counter() - t0)
    finally:
        if enabled:
            gc.enable()
    return statistics.median(a), statistics.median(b)


class _Core:
    """SQLAlchemy Core by hand on the table nbregistry made: the baseline of every row."""

    def __init__(self, engine: Any, table: Any, pg: bool) -> None:
        import sqlalchemy as sa

        self.sa = sa
        self.engine = engine
        self.pg = pg
        # the table as Core sees it without nbregistry: reflected. JSON columns reflect as
        # JSON (Core's type encodes and decodes them); SQLite's dates are TEXT, decoded by
        # hand below, like every value Core leaves alone.
        self.t = sa.Table(table.name, sa.MetaData(), schema=table.schema, autoload_with=engine)
        c = self.t.c
        self.cols = [c.id, c.name, c.bucket, c.score, c.active, c.at, c.tags, c.meta]
        self.raw_json = not isinstance(c.tags.type, sa.JSON)

    def _decode(self, rows: list[Any]) -> list[dict[str, Any]]:
        """Return rows as dicts: JSON decoded, dates as aware UTC datetimes (as nbregistry)."""
        out = []
        if self.pg:  # psycopg decodes JSONB; datetimes come back aware (TimeZone=UTC)
            for r in rows:
                at = r[5]
                out.append(
                    {
                        "id": r[0],
                        "name": r[1],
                        "bucket": r[2],
                        "score": r[3],
                        "active": r[4],
                        "at": None if at is None else at.astimezone(UTC),
                        "tags": r[6],
                        "meta": r[7],
                    }
                )
            return out
        loads = json.loads if self.raw_json else (lambda v: v)
        fromiso = dt.datetime.fromisoformat
        for r in rows:
            at, tags, meta = r[5], r[6], r[7]
            out.append(
                {
                    "id": r[0],
                    "name": r[1],
                    "bucket": r[2],
                    "score": r[3],
                    "active": None if r[4] is None else bool(r[4]),
                    "at": None if at is None else fromiso(at),
                    "tags": None if tags is None else loads(tags),
                    "meta": None if meta is None else loads(meta),
                }
            )
        return out

    def select_bucket(self, value: int) -> Any:
        sa = self.sa
        return sa.select(*self.cols).where(self.t.c.bucket == value).order_by(self.t.c.id)

    def find(self, value: int) -> list[dict[str, Any]]:
        with self.engine.begin() as conn:
            rows = conn.execute(self.select_bucket(value)).all()
        return self._decode(rows)

    def count(self, where: Any) -> int:
        sa = self.sa
        stmt = sa.select(sa.func.count()).select_from(self.t).where(where(self.t.c))
        with self.engine.begin() as conn:
            return int(conn.execute(stmt).scalar_one())

    def frame(self) -> Any:
        """Return pandas.read_sql of the whole table plus nbregistry's dtype conversion."""
        import pandas as pd

        stmt = self.sa.select(*self.cols).order_by(self.t.c.id)
        with self.engine.begin() as conn:
            df = pd.read_sql(stmt, conn)
        df = df.set_index("id")
        df["bucket"] = df["bucket"].astype("Int64")
        df["score"] = df["score"].astype("float64")
        df["active"] = df["active"].astype("bool")
        df["at"] = pd.to_datetime(df["at"], utc=True, format="ISO8601" if not self.pg else None)
        if self.raw_json:
            loads = json.loads
            df["tags"] = [loads(v) for v in df["tags"]]
            df["meta"] = [loads(v) for v in df["meta"]]
        return df

    def encode(self, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Return rows encoded for the driver as nbregistry stores them (dates in UTC)."""
        if self.pg:
            return [{**r, "at": r["at"].astimezone(UTC)} for r in rows]
        dumps = json.dumps if self.raw_json else (lambda v: v)
        return [
            {
                **r,
                "at": r["at"].astimezone(UTC).isoformat(timespec="microseconds"),
                "tags": dumps(r["tags"]),
                "meta": dumps(r["meta"]),
            }
            for r in rows
        ]

    def insert(self, rows: list[dict[str, Any]]) -> list[Any]:
        """Insert with executemany, returning the generated ids in order."""
        stmt = self.t.insert().returning(self.t.c.id, sort_by_parameter_order=True)
        with self.engine.begin() as conn:
            return list(conn.execute(stmt, self.encode(rows)).scalars())

    def analyze(self) -> None:
        """Refresh the planner's statistics of the table (ANALYZE)."""
        prep = self.engine.dialect.identifier_preparer
        with self.engine.begin() as conn:
            conn.exec_driver_sql(f"ANALYZE {prep.format_table(self.t)}")

    def truncate(self) -> None:
        with self.engine.begin() as conn:
            conn.execute(self.t.delete())


def _row(backend: str, n: int, op: str, ours: float, theirs: float, baseline: str) -> dict:
    ratio = ours / theirs if theirs else float("inf")
    target = TARGETS[op]
    return {
        "backend": backend,
        "rows": n,
        "operation": op,
        "nbregistry_ms": round(ours * 1e3, 2),
        "baseline": baseline,
        "baseline_ms": round(theirs * 1e3, 2),
        "ratio": round(ratio, 2),
        "target": f"≤{target}x",
        "result": "PASS" if ratio <= target else "FAIL",
    }


def _bench_backend(backend: str, ds: Any, n: int, data: list[dict[str, Any]]) -> list[dict]:
    """Run every operation on one DataSource; return the table rows."""
    label = backend
    info = ds.connector.describe()
    if "host" in info:
        label = f"{backend} ({info['host']}/{info['database']})"
    M = ds.define("BenchRow", _SPEC, {"strict": True})
    ds.automigrate(["BenchRow"])
    ids = [m.id for m in M.create(data)]
    assert len(ids) == n
    core = _Core(ds.connector.engine, ds.connector.table(M), ds.connector.name == "postgresql")
    core.analyze()  # fresh statistics after the load, so both sides get the same plans
    out = []
    probe = 7 % max(1, n // 1000)

    ours, theirs = _paired(
        lambda: M.find({"bucket": probe}),
        lambda: core.find(probe),
        _REPEATS["find 1 000 rows, indexed equality"],
    )
    got = M.find({"bucket": probe})
    want = core.find(probe)
    assert len(got) == len(want) == 1000 or n < 1000
    assert [g.to_dict() for g in got[:3]] == want[:3], (got[:1], want[:1])
    op = "find 1 000 rows, indexed equality"
    out.append(_row(label, n, op, ours, theirs, "Core SELECT + decode"))

    for op, where, core_where in (
        ("count(where), indexed equality", {"bucket": probe}, lambda c: c.bucket == probe),
        ("count(where), range scan", {"score": {"gt": 50.0}}, lambda c: c.score > 50.0),
    ):
        assert M.count(where) == core.count(core_where)
        ours, theirs = _paired(
            lambda w=where: M.count(w),
            lambda cw=core_where: core.count(cw),
            _REPEATS[op],
        )
        out.append(_row(label, n, op, ours, theirs, "Core SELECT count(*)"))

    import pandas as pd

    op = "to_frame(), every row"
    pd.testing.assert_frame_equal(
        M.to_frame(), core.frame(), check_dtype=False, check_index_type=False
    )
    ours, theirs = _paired(M.to_frame, core.frame, _REPEATS[op])
    out.append(_row(label, n, op, ours, theirs, "pandas.read_sql + dtypes"))

    op = "bulk create"
    times_ours: list[float] = []
    times_core: list[float] = []
    gc.collect()
    for _ in range(_REPEATS[op]):
        M.destroy_all()
        t0 = time.perf_counter()
        made = M.create(data)
        times_ours.append(time.perf_counter() - t0)
        assert len(made) == n
        core.truncate()
        t0 = time.perf_counter()
        got_ids = core.insert(data)
        times_core.append(time.perf_counter() - t0)
        assert len(got_ids) == n
    ours, theirs = statistics.median(times_ours), statistics.median(times_core)
    out.append(_row(label, n, op, ours, theirs, "Core executemany RETURNING id"))
    ds.automigrate(["BenchRow"])  # leave an empty table behind
    return out


def run_sql_bench(scale: str = "full", *, pg_url: str | None = None) -> list[dict[str, Any]]:
    """Run the benchmark on SQLite (and PostgreSQL given ``pg_url``); return the table rows.

    ``pg_url`` defaults to ``NBREGISTRY_PG_URL`` (unset: SQLite only). The PostgreSQL
    tables go to a fresh schema ``nbr_bench_<hex>``, dropped at the end. Raises
    ValueError for an unknown scale, DataSourceConnectionError for an unreachable server.
    """
    from ..core.datasource import DataSource
    from ..core.registry import ModelRegistry

    if scale not in SIZES:
        raise ValueError(f"unknown scale {scale!r}; use one of {', '.join(SIZES)}")
    if pg_url is None:
        pg_url = os.environ.get("NBREGISTRY_PG_URL") or None
    n = SIZES[scale]
    data = _rows(n)
    out: list[dict[str, Any]] = []
    reg = ModelRegistry()
    try:
        with tempfile.TemporaryDirectory(prefix="nbr-bench-sql-") as tmp:
            lite = DataSource("sqlite", registry=reg, name="bench_sqlite", file=f"{tmp}/b.db")
            out += _bench_backend("sqlite", lite, n, data)
            lite.disconnect()
        if pg_url:
            schema = f"nbr_bench_{uuid.uuid4().hex[:8]}"
            pg = DataSource("postgresql", registry=reg, name="bench_pg", url=pg_url, schema=schema)
            try:
                out += _bench_backend("postgresql", pg, n, data)
            finally:
                import sqlalchemy as sa

                with pg.connector.engine.begin() as conn:
                    conn.execute(sa.text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
                pg.disconnect()
    finally:
        reg.clear()
    return out
