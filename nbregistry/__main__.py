"""Command line: ``python -m nbregistry bench [SECTION] [--scale ci|full] [--json]``.

Sections: ``lookups`` (the after design against a plain dict, plus core figures),
``memory`` (the seed scenario before vs after, each in a fresh process), ``compare``
(every lookup before vs after at growing N, and the after design's flatness in N),
``cleanup`` (one call vs the before design's multi-store cleanup), ``connector`` (every
connector: the memory connector's own costs, then the ``sql`` section), ``sql`` (the
sqlite and postgresql connectors vs SQLAlchemy Core and pandas; PostgreSQL with
``--pg-url URL`` or ``NBREGISTRY_PG_URL``),
``store`` (the shared store: idle sync, define and lookups with vs without, a fresh
process's sync; PostgreSQL with ``$NBREGISTRY_BENCH_PG``) and ``all``. Progress goes to stderr.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
from collections.abc import Callable
from typing import Any


def _sections(
    pg_url: str | None = None,
) -> dict[str, Callable[[str], dict[str, list[dict[str, Any]]]]]:
    from . import bench
    from .bench import connector as bench_connector
    from .bench import sql as bench_sql

    def lookups(scale: str) -> dict[str, list[dict[str, Any]]]:
        return {
            "lookups": bench.bench_lookups(scale, progress=_progress),
            "core": bench.bench_core(scale),
        }

    def memory(scale: str) -> dict[str, list[dict[str, Any]]]:
        return bench.bench_memory(scale, progress=_progress)

    def compare(scale: str) -> dict[str, list[dict[str, Any]]]:
        return bench.bench_compare(scale, progress=_progress)

    def cleanup(scale: str) -> dict[str, list[dict[str, Any]]]:
        return {"cleanup": bench.bench_cleanup(scale, progress=_progress)}

    def connector(scale: str) -> dict[str, list[dict[str, Any]]]:
        # Every connector, as the connector issues name it: the memory connector vs
        # pandas and sqlite3, then the sqlite/postgresql connectors vs SQLAlchemy Core.
        return {**bench_connector.run_sections(scale), **sql(scale)}

    def store(scale: str) -> dict[str, list[dict[str, Any]]]:
        from .bench import store as bench_store

        return {"store": bench_store.run_store_bench(scale)}

    def sql(scale: str) -> dict[str, list[dict[str, Any]]]:
        return {"sql": bench_sql.run_sql_bench(scale, pg_url=pg_url)}

    # section name (the CLI's choice) → the function measuring it at a scale.
    return {
        "lookups": lookups,
        "memory": memory,
        "compare": compare,
        "cleanup": cleanup,
        "connector": connector,
        "store": store,
        "sql": sql,
    }


def _processor() -> str:
    """Return the CPU model name (from /proc/cpuinfo on Linux), else platform.processor()."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _progress(message: str) -> None:
    print(f"… {message}", file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> int:
    """Run the command line; return the exit status."""
    parser = argparse.ArgumentParser(prog="python -m nbregistry")
    sub = parser.add_subparsers(dest="command", required=True)
    sections = _sections()
    p_bench = sub.add_parser("bench", help="measure the registry (ratios side by side)")
    p_bench.add_argument(
        "section",
        nargs="?",
        default="all",
        choices=[*sections, "all"],
        help="lookups: registry lookup costs vs a dict; memory / compare / cleanup: before "
        "(nbregistry.legacy) vs after; connector: every connector (the memory one vs pandas "
        "and sqlite3, then sql); sql: the sqlite and postgresql connectors vs SQLAlchemy "
        "Core; all (default): every one",
    )
    p_bench.add_argument(
        "--scale",
        choices=["ci", "full"],
        default="full",
        help="ci: small and quick (what CI runs); full: the issue-sized workloads (default)",
    )
    p_bench.add_argument("--json", action="store_true", help="print JSON instead of tables")
    p_bench.add_argument(
        "--pg-url",
        default=None,
        help="sql: also measure this PostgreSQL server (default: $NBREGISTRY_PG_URL; "
        "unset: SQLite only); its password is never printed",
    )
    p_store = sub.add_parser("store", help="manage a shared definition store")
    store_sub = p_store.add_subparsers(dest="store_command", required=True)
    p_upgrade = store_sub.add_parser(
        "upgrade", help="create a store's schema, or upgrade an older one to this version"
    )
    p_upgrade.add_argument("url", help="the store URL, e.g. sqlite:///registry.db")
    args = parser.parse_args(argv)
    if args.command == "store":
        return _store_command(args)

    from .bench import format_table

    if args.pg_url:
        sections = _sections(args.pg_url)
    # "all": every section once (connector already includes sql)
    chosen = [s for s in sections if s != "sql"] if args.section == "all" else [args.section]
    results: dict[str, Any] = {
        "machine": {
            "python": platform.python_version(),
            "implementation": platform.python_implementation(),
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
            "processor": _processor(),
        },
        "scale": args.scale,
    }
    for name in chosen:
        results.update(sections[name](args.scale))
    if args.json:
        print(json.dumps(results, indent=2, default=str))
        return 0
    m = results["machine"]
    print(
        f"nbregistry bench — {m['implementation']} {m['python']} on {m['platform']}, "
        f"{m['cpus']} CPUs ({m['processor']}), scale={args.scale}"
    )
    for key, rows in results.items():
        if key in ("machine", "scale"):
            continue
        print(f"\n## {key}\n")
        print(format_table(rows))
    return 0


def _store_command(args: argparse.Namespace) -> int:
    """Run ``store upgrade URL``: print what was done, or the error (exit status 2)."""
    from .core.errors import RegistryError
    from .core.store import store_class

    try:
        print(store_class(args.url).upgrade(args.url))
    except (RegistryError, ValueError, TypeError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
