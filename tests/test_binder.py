"""Binder configuration: requirements cover the runtime dependencies; a fresh venv runs a notebook.

The slow test is the closest we get to Binder here: a new virtual environment built only
from ``binder/requirements.txt`` and ``binder/postBuild``, then one notebook executed in it.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tomllib
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BINDER = ROOT / "binder"


def _name(requirement: str) -> str:
    return re.split(r"[\s<>=!~;\[]", requirement.strip(), maxsplit=1)[0].lower().replace("_", "-")


def _requirements() -> dict[str, str]:
    out: dict[str, str] = {}
    for line in (BINDER / "requirements.txt").read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            out[_name(line)] = line.replace(" ", "")
    return out


def test_requirements_cover_every_runtime_dependency() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    deps = project["dependencies"]
    assert deps, "pyproject.toml lists no runtime dependencies"
    reqs = _requirements()
    for dep in deps:
        name = _name(dep)
        assert name in reqs, f"binder/requirements.txt lacks {dep!r} (from pyproject.toml)"
        assert reqs[name] == dep.replace(" ", ""), f"{reqs[name]!r} differs from {dep!r}"


def test_runtime_and_postbuild() -> None:
    assert (BINDER / "runtime.txt").read_text().strip() == "python-3.11"
    post = BINDER / "postBuild"
    assert os.access(post, os.X_OK), "binder/postBuild must be executable"
    text = post.read_text()
    assert text.startswith("#!") and re.search(r"pip install .*(-e \.|\s\.)", text)


def _pypi_reachable() -> bool:
    try:
        with urllib.request.urlopen("https://pypi.org/simple/pip/", timeout=10):
            return True
    except OSError:
        return False


@pytest.mark.slow
@pytest.mark.timeout(1500)
def test_fresh_venv_from_binder_runs_a_notebook(tmp_path: Path) -> None:
    """Build a venv from binder/ only, then execute notebook 03 in it (a few minutes)."""
    if not _pypi_reachable():
        pytest.skip("no network access to https://pypi.org: cannot build the Binder environment")
    repo = tmp_path / "repo"
    shutil.copytree(
        ROOT,
        repo,
        ignore=shutil.ignore_patterns(
            ".venv", ".git", "*.egg-info", "__pycache__", ".ruff_cache", ".hypothesis", "build"
        ),
    )
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    bindir = venv / "bin"
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env.update(
        PATH=f"{bindir}{os.pathsep}{env.get('PATH', '')}",
        VIRTUAL_ENV=str(venv),
        PIP_DISABLE_PIP_VERSION_CHECK="1",
        NBREGISTRY_SCALE="ci",
    )

    def run(*cmd: str, timeout: float = 900) -> None:
        proc = subprocess.run(
            cmd, cwd=repo, env=env, capture_output=True, text=True, timeout=timeout
        )
        assert proc.returncode == 0, (
            f"{' '.join(cmd)} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
        )

    py = str(bindir / "python")
    run(py, "-m", "pip", "install", "-q", "-r", "binder/requirements.txt")
    run("binder/postBuild")
    run(py, "-m", "pip", "install", "-q", "nbconvert")  # the runner, not part of Binder's env
    run(
        py,
        "-m",
        "jupyter",
        "nbconvert",
        "--to",
        "notebook",
        "--execute",
        "--output",
        str(tmp_path / "executed.ipynb"),
        "notebooks/03-memory-before-after.ipynb",
        timeout=600,
    )
    assert (tmp_path / "executed.ipynb").stat().st_size > 0
