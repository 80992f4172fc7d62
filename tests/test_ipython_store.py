"""The notebook side of the shared store: ``%registry connect/sync/history/diff``, the
pre-cell sync and ``$NBREGISTRY_STORE`` (kernel-free InteractiveShell)."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from IPython.core.error import UsageError
from IPython.core.interactiveshell import InteractiveShell

import nbregistry
from nbregistry import DataSource, ModelRedefinedWarning, ModelRegistry
from nbregistry.ipython import load_ipython_extension, unload_ipython_extension


def magics(shell: InteractiveShell) -> Any:
    return shell.magics_manager.registry["RegistryMagics"]


@pytest.fixture
def url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'registry.db'}"


@pytest.fixture
def ip(shell: InteractiveShell, reg: ModelRegistry) -> Iterator[InteractiveShell]:
    load_ipython_extension(shell)
    magics(shell).registry = reg
    yield shell
    reg.disconnect_store()
    unload_ipython_extension(shell)


@pytest.fixture
def other(url: str) -> Iterator[ModelRegistry]:
    """Another 'kernel': a registry on the same store."""
    o = ModelRegistry()
    o.connect_store(url)
    yield o
    o.disconnect_store()


def run(shell: InteractiveShell, line: str) -> Any:
    return shell.run_line_magic("registry", line)


def test_connect_then_every_cell_starts_synced(
    ip: InteractiveShell,
    reg: ModelRegistry,
    other: ModelRegistry,
    url: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    run(ip, f"connect {url}")
    assert "connected to <SQLiteStore" in capsys.readouterr().out
    assert reg.store is not None and reg.store.url == url
    DataSource("memory", name="crm", tenant="acme", registry=other).define("User", {"n": "string"})
    assert reg.find_model_by_name("User", tenant="acme") is None
    result = ip.run_cell("found = 1")  # pre_run_cell: sync() before the cell
    assert result.success
    assert reg.get_model("User", tenant="acme").definition.fingerprint == (
        other.get_model("User", tenant="acme").definition.fingerprint
    )
    assert reg.deferred_sync is True  # a listener's revisions wait for the next cell
    assert run(ip, "sync") == 0


def test_history_and_diff_magics(ip: InteractiveShell, reg: ModelRegistry, url: str) -> None:
    run(ip, f"connect {url}")
    ds = DataSource("memory", name="crm", tenant="acme", registry=reg)
    ds.define("User", {"name": "string"})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ModelRedefinedWarning)
        ds.define("User", {"name": "string", "age": "integer"})
    h = run(ip, "history User -t acme")
    assert isinstance(h, pd.DataFrame) and list(h["op"]) == ["define", "redefine"]
    a, b = (int(x) for x in h["revision"])
    d = run(ip, f"diff User {a} {b} -t acme")
    assert list(d["property"]) == ["age"] and list(d["change"]) == ["added"]
    with pytest.raises(UsageError, match="has no revision 99"):
        run(ip, f"diff User {a} 99 -t acme")
    with pytest.raises(UsageError, match="no history"):
        run(ip, "history Nope -t acme")


def test_clear_store_reaches_the_other_kernel(
    ip: InteractiveShell,
    reg: ModelRegistry,
    other: ModelRegistry,
    url: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    run(ip, f"connect {url}")
    DataSource("memory", name="crm", tenant="acme", registry=reg).define("User", {"n": "string"})
    other.sync()
    run(ip, "clear --yes")  # local only
    assert other.sync() == 0 and other.find_model_by_name("User", tenant="acme") is not None
    DataSource("memory", name="crm", tenant="acme", registry=reg)  # takes the store's back
    run(ip, "clear --store --yes")
    assert "for every process" in capsys.readouterr().out
    assert other.sync() == 1 and other.tenants() == []
    run(ip, "disconnect")
    assert reg.store is None


def test_bad_urls_are_one_line_errors(
    ip: InteractiveShell, reg: ModelRegistry, tmp_path: Path
) -> None:
    with pytest.raises(UsageError, match="nosuch"):
        run(ip, "connect nosuch:///x.db")
    with pytest.raises(UsageError, match="is a directory"):
        run(ip, f"connect sqlite:///{tmp_path}")
    assert reg.store is None


def test_a_failing_sync_before_a_cell_prints_one_line_and_the_cell_runs(
    ip: InteractiveShell, reg: ModelRegistry, url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    run(ip, f"connect {url}")
    reg.store.close()  # the store goes away underneath
    capsys.readouterr()
    result = ip.run_cell("ran = 41 + 1")
    assert result.success and ip.user_ns["ran"] == 42
    out = capsys.readouterr().out
    assert "nbregistry: sync with the shared store failed" in out and out.count("\n") == 1


def test_load_ext_connects_to_nbregistry_store(
    shell: InteractiveShell,
    url: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("NBREGISTRY_STORE", url)
    unload_ipython_extension(shell)
    load_ipython_extension(shell)
    try:
        assert nbregistry.registry.store is not None
        assert nbregistry.registry.store.url == url
        assert "connected to the shared store" in capsys.readouterr().out
    finally:
        nbregistry.registry.disconnect_store()
        unload_ipython_extension(shell)
    monkeypatch.setenv("NBREGISTRY_STORE", "nosuch:///x")
    load_ipython_extension(shell)
    try:
        assert nbregistry.registry.store is None
        assert "could not connect to $NBREGISTRY_STORE" in capsys.readouterr().out
    finally:
        unload_ipython_extension(shell)
