"""``import nbregistry`` stays light: no heavy modules, no threads, no timers."""

from __future__ import annotations

import json
import subprocess
import sys

HEAVY = ("pandas", "ipywidgets", "matplotlib", "IPython", "numpy")


def _run(code: str) -> str:
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.strip()


def test_import_does_not_load_heavy_modules_or_start_threads() -> None:
    out = _run(
        "import sys, threading, json, nbregistry; "
        f"print(json.dumps([[m for m in {HEAVY!r} if m in sys.modules], "
        "threading.active_count()]))"
    )
    heavy, threads = json.loads(out)
    assert heavy == []
    assert threads == 1


def test_core_use_stays_light_until_a_frame_is_asked_for() -> None:
    out = _run(
        "import sys, nbregistry as nb; r = nb.ModelRegistry(); "
        "ds = nb.DataSource('memory', registry=r); U = ds.define('U', {'a': 'string'}); "
        "U(a='x'); r.stats(); repr(ds.models); "
        "print('pandas' in sys.modules); r.to_frame(); print('pandas' in sys.modules)"
    )
    assert out.splitlines() == ["False", "True"]


def test_import_cost_is_bounded_relative_to_a_stdlib_module() -> None:
    # Shape, not absolute time: nbregistry must import in the same order of magnitude as
    # one mid-size stdlib module, far below pandas.
    code = (
        "import time, importlib; t0 = time.perf_counter(); import nbregistry; "
        "t1 = time.perf_counter(); import pandas; t2 = time.perf_counter(); "
        "print((t1 - t0) / (t2 - t1))"
    )
    ratios = sorted(float(_run(code)) for _ in range(3))
    assert ratios[1] < 0.5
