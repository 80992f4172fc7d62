"""The package's house plan (DESIGN §12.1): layers, no import cycles, entry points.

``lint-imports`` checks the contracts in ``pyproject.toml``; these tests run it, show that
it really fails on a violation, and check what it cannot: that no two package modules
import each other, directly or through others, lazy imports counted (only imports under
``if TYPE_CHECKING:`` are left out, since they never run).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import grimp
import pytest

import nbregistry
from nbregistry.core import plugins

ROOT = Path(__file__).resolve().parent.parent
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def _lint(cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache"],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        env={"PYTHONPATH": str(cwd), "PATH": "/usr/bin:/bin"},
    )


def test_lint_imports_keeps_every_contract() -> None:
    result = _lint(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "BROKEN" not in result.stdout
    kept = len(
        tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]["contracts"]
    )
    assert f"Contracts: {kept} kept, 0 broken." in result.stdout


@pytest.mark.parametrize(
    ("module", "line", "contract"),
    [
        ("core/registry.py", "import pandas", "The core imports no pandas"),
        ("core/model.py", "from ..widgets import browser", "Layers"),
        ("render/html.py", "from ..core import errors", "The render layer imports nothing"),
        ("data/memory.py", "from .. import bench", "Only the command line imports"),
    ],
)
def test_lint_imports_fails_on_a_violation(
    tmp_path: Path, module: str, line: str, contract: str
) -> None:
    """A deliberate upward or forbidden import breaks the matching contract."""
    shutil.copytree(ROOT / "nbregistry", tmp_path / "nbregistry")
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    target = tmp_path / "nbregistry" / module
    source = target.read_text()
    # A lazy import inside a function counts as much as a top-level one.
    target.write_text(source + f"\n\ndef _violation() -> None:\n    {line}  # noqa\n")
    result = _lint(tmp_path)
    assert result.returncode == 1, result.stdout
    broken = [ln for ln in result.stdout.splitlines() if ln.endswith("BROKEN")]
    assert any(ln.startswith(contract) for ln in broken), result.stdout


def _cycles(graph: grimp.ImportGraph, modules: set[str]) -> list[list[str]]:
    """Return the strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []
    counter = 0

    def visit(v: str) -> None:
        nonlocal counter
        index[v] = low[v] = counter
        counter += 1
        stack.append(v)
        on_stack.add(v)
        for w in graph.find_modules_directly_imported_by(v) & modules:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                out.append(sorted(component))

    for m in sorted(modules):
        if m not in index:
            visit(m)
    return out


def test_no_import_cycles_among_package_modules() -> None:
    graph = grimp.build_graph("nbregistry", exclude_type_checking_imports=True)
    modules = {m for m in graph.modules if m.startswith("nbregistry")}
    assert len(modules) > 25  # the whole package was seen
    assert _cycles(graph, modules) == []


def test_cycle_finder_finds_a_cycle() -> None:
    """The checker above is not vacuous: a two-module cycle is reported."""
    graph = grimp.ImportGraph()
    for m in ("pkg", "pkg.a", "pkg.b", "pkg.c"):
        graph.add_module(m)
    graph.add_import(importer="pkg.a", imported="pkg.b")
    graph.add_import(importer="pkg.b", imported="pkg.a")
    graph.add_import(importer="pkg.c", imported="pkg.a")
    assert _cycles(graph, {"pkg.a", "pkg.b", "pkg.c"}) == [["pkg.a", "pkg.b"]]


def test_connectors_resolve_through_the_entry_point_group() -> None:
    from importlib.metadata import entry_points

    declared = {ep.name: ep.value for ep in entry_points(group=plugins.CONNECTORS)}
    assert declared["memory"] == "nbregistry.data.memory:MemoryConnector"
    assert plugins.BUILTIN[plugins.CONNECTORS]["memory"] == declared["memory"]
    cls = plugins.load(plugins.CONNECTORS, "memory")
    assert issubclass(cls, nbregistry.Connector) and cls.name == "memory"
    assert "memory" in plugins.available(plugins.CONNECTORS)


def test_unknown_connector_names_the_available_ones() -> None:
    with pytest.raises(ValueError, match=r"unknown connector 'nosuch'; available: .*memory"):
        nbregistry.DataSource("nosuch", registry=nbregistry.ModelRegistry())


def test_connector_contract_is_abstract() -> None:
    """A connector that leaves out a data method cannot be instantiated."""

    class Partial(nbregistry.Connector):
        name = "partial"

        def release(self) -> None:
            pass

    with pytest.raises(TypeError, match="abstract"):
        Partial({})  # type: ignore[abstract]
    abstract = nbregistry.Connector.__abstractmethods__
    assert abstract == {
        "create",
        "find",
        "find_by_id",
        "count",
        "update_all",
        "destroy_all",
        "save",
        "delete",
        "to_frame",
        "release",
        "on_model_removed",
    }


def test_no_module_is_shadowed_by_a_public_name() -> None:
    """``nbregistry.registry`` is the instance; there is no module of that name to shadow."""
    import importlib.util

    for name in nbregistry.__all__:
        assert importlib.util.find_spec(f"nbregistry.{name}") is None, name
    assert isinstance(nbregistry.registry, nbregistry.ModelRegistry)
    assert nbregistry.Model.__module__ == "nbregistry"


def test_legacy_is_the_bench_module() -> None:
    import nbregistry.bench.legacy
    import nbregistry.legacy

    assert nbregistry.legacy is nbregistry.bench.legacy
