"""The notebooks as JupyterLab's Run All sees them: deliberate errors are tagged, not hidden.

JupyterLab's *Run All* stops at the first cell whose execution fails unless that cell has
the standard ``raises-exception`` tag; nbval honours the same tag. nbval also reads
comment markers (``# NBVAL_RAISES_EXCEPTION``, ``# NBVAL_SKIP``) that JupyterLab ignores,
so a notebook marked only for nbval passes the test suite and still breaks Run All for a
person (issue 14). These tests execute every notebook with nbclient, which applies
JupyterLab's rule (stop at an untagged failing cell, continue past a tagged one), and
check the tags both ways.
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path
from typing import Any

import pytest

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
PATHS = sorted(NOTEBOOKS.glob("*.ipynb"))
TAG = "raises-exception"

# Markers only nbval understands: for a cell that fails on purpose, or that must not run.
NBVAL_ONLY_COMMENTS = ("# NBVAL_RAISES_EXCEPTION", "# NBVAL_SKIP")
NBVAL_ONLY_TAGS = ("nbval-raises-exception", "nbval-skip")
CELL_TIMEOUT_S = 300


def _source(cell: dict[str, Any]) -> str:
    src = cell["source"]
    return src if isinstance(src, str) else "".join(src)


def _tags(cell: dict[str, Any]) -> list[str]:
    return list(cell.get("metadata", {}).get("tags", []))


def test_there_are_notebooks() -> None:
    assert len(PATHS) >= 4, PATHS


@pytest.mark.parametrize("path", PATHS, ids=[p.name for p in PATHS])
def test_no_nbval_only_markers(path: Path) -> None:
    """A cell failing on purpose says so with the standard tag, which JupyterLab honours."""
    nb = json.loads(path.read_text(encoding="utf-8"))
    bad = []
    for i, cell in enumerate(nb["cells"]):
        lines = [line.strip() for line in _source(cell).splitlines()]
        marks = [m for m in NBVAL_ONLY_COMMENTS if m in lines]
        marks += [t for t in _tags(cell) if t in NBVAL_ONLY_TAGS]
        if marks:
            bad.append((i, marks))
    assert not bad, f"{path.name}: nbval-only markers (use the {TAG!r} tag): {bad}"


def _kernel_metadata() -> dict[str, Any]:
    """Return the notebook metadata JupyterLab 4 writes once an ipykernel kernel is up."""
    from ipykernel.ipkernel import IPythonKernel
    from ipykernel.kernelspec import KERNEL_NAME, get_kernel_dict

    spec = get_kernel_dict()
    return {
        "kernelspec": {
            "display_name": spec["display_name"],
            "language": spec["language"],
            "name": KERNEL_NAME,
        },
        # what the kernel's kernel_info reply carries (JupyterLab stores it verbatim)
        "language_info": dict(IPythonKernel.language_info),
    }


@pytest.mark.parametrize("path", PATHS, ids=[p.name for p in PATHS])
def test_stored_metadata_is_what_jupyterlab_writes(path: Path) -> None:
    """Opening a notebook does not mark it modified (issue 14).

    JupyterLab 4 sets ``kernelspec`` from the kernel's spec and ``language_info`` from its
    kernel_info reply when the kernel starts; any difference (``"Python 3"`` for
    ``"Python 3 (ipykernel)"``, a shorter ``language_info``, another Python version) marks
    the notebook dirty at once. Seen in JupyterLab 4.6 and pinned end to end by
    tests/browser/test_jupyterlab.py; it writes nbformat 4.5 with sorted keys, indent 1.
    """
    import nbformat

    text = path.read_text(encoding="utf-8")
    nb = json.loads(text)
    expected = _kernel_metadata()
    got = {key: nb["metadata"].get(key) for key in expected}
    # The notebooks are stored for the project's primary interpreter (the 3.11 leg, Binder's
    # runtime.txt); on 3.12/3.13 the kernel reports its own version, which JupyterLab would
    # store, so compare everything but that one field there.
    stored = (got.get("language_info") or {}).get("version", "")
    if not stored.startswith(f"{sys.version_info[0]}.{sys.version_info[1]}."):
        assert stored.startswith("3.11."), stored
        expected["language_info"].pop("version", None)
        got["language_info"] = {k: v for k, v in got["language_info"].items() if k != "version"}
    assert got == expected, (
        f"{path.name}: notebook metadata differs from what JupyterLab writes with this "
        f"kernel (the notebook would open as modified); store\n{json.dumps(expected)}"
    )
    assert (
        (nb["nbformat"], nb["nbformat_minor"])
        == (4, 5)
        == (
            nbformat.current_nbformat,
            nbformat.current_nbformat_minor,
        )
    )
    assert text == json.dumps(nb, indent=1, ensure_ascii=False, sort_keys=True) + "\n", (
        f"{path.name} is not laid out as Jupyter saves it (indent 1, sorted keys)"
    )


@pytest.mark.slow
@pytest.mark.timeout(600)
@pytest.mark.parametrize("path", PATHS, ids=[p.name for p in PATHS])
def test_run_all_fails_only_in_tagged_cells(
    path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Run All reaches the last cell; a cell fails exactly when it carries the tag."""
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    monkeypatch.setenv("NBREGISTRY_SCALE", "ci")
    monkeypatch.setenv("JUPYTER_PLATFORM_DIRS", "1")
    monkeypatch.setenv("MPLCONFIGDIR", str(tmp_path / "mpl"))
    work = tmp_path / "notebooks"
    shutil.copytree(NOTEBOOKS, work, ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
    nb = nbformat.read(work / path.name, as_version=4)
    # cell index -> status of its execute_reply ("ok" / "error"), as Run All sees it
    replies: dict[int, str] = {}

    def _executed(cell: Any, cell_index: int, execute_reply: dict[str, Any]) -> None:
        replies[cell_index] = execute_reply["content"]["status"]

    client = NotebookClient(
        nb,
        timeout=CELL_TIMEOUT_S,
        kernel_name="python3",
        resources={"metadata": {"path": str(work)}},
        on_cell_executed=_executed,
    )
    try:
        client.execute()
    except CellExecutionError as exc:
        index = max(replies)
        pytest.fail(
            f"{path.name}: Run All stops at cell {index} (not tagged {TAG!r}):\n"
            f"{_source(nb.cells[index])}\n---\n{exc}",
            pytrace=False,
        )
    code = [i for i, c in enumerate(nb.cells) if c.cell_type == "code"]
    assert sorted(replies) == code, f"cells not executed: {sorted(set(code) - set(replies))}"
    failed = {
        i
        for i in code
        if replies[i] == "error" or any(o.output_type == "error" for o in nb.cells[i].outputs)
    }
    tagged = {i for i in code if TAG in _tags(nb.cells[i])}
    assert failed == tagged, (
        f"{path.name}: cells that failed {sorted(failed)} != cells tagged {TAG!r} "
        f"{sorted(tagged)} (a tagged cell must still fail, or the tag hides nothing)"
    )


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_sql_tenants_notebook_on_postgresql(
    pg_server: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """05-sql-tenants runs on SQLite everywhere (above); here on the real PostgreSQL too.

    One schema per tenant on the test server; the password of NBREGISTRY_PG_URL appears
    in no output, and the notebook drops the schemas it made.
    """
    from urllib.parse import quote

    import nbformat
    from nbclient import NotebookClient

    monkeypatch.setenv("NBREGISTRY_SCALE", "ci")
    monkeypatch.setenv("NBREGISTRY_PG_URL", pg_server.url)
    monkeypatch.setenv("JUPYTER_PLATFORM_DIRS", "1")
    monkeypatch.setenv("MPLCONFIGDIR", str(tmp_path / "mpl"))
    nb = nbformat.read(NOTEBOOKS / "05-sql-tenants.ipynb", as_version=4)
    client = NotebookClient(
        nb,
        timeout=CELL_TIMEOUT_S,
        kernel_name="python3",
        resources={"metadata": {"path": str(tmp_path)}},
    )
    client.execute()
    code = [c for c in nb.cells if c.cell_type == "code"]
    failed = [i for i, c in enumerate(code) if any(o.output_type == "error" for o in c.outputs)]
    tagged = [i for i, c in enumerate(code) if TAG in _tags(c)]
    assert failed == tagged
    text = json.dumps([c.outputs for c in code], default=str)
    assert "backend: postgresql" in text and "127.0.0.1" in text
    for spelling in (pg_server.password, quote(pg_server.password, safe="")):
        assert spelling not in text
    schemas = pg_server.superuser_sql(
        "@db SELECT schema_name FROM information_schema.schemata "
        "WHERE schema_name IN ('acme', 'globex', 'initech')"
    )[0]
    assert schemas == []
