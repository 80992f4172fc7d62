"""Shared fixtures and Hypothesis profiles for the nbregistry test suite.

Hypothesis profiles: ``ci`` (the default: bounded example counts, no deadline — the
machine is shared and noisy) and ``long`` (a nightly-style search with many examples).
Select one with ``HYPOTHESIS_PROFILE=long`` or ``pytest --hypothesis-profile=long``.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pytest
from hypothesis import HealthCheck, settings
from pg import PostgresServer

from nbregistry import DataSource, ModelRegistry

if TYPE_CHECKING:
    from IPython.core.interactiveshell import InteractiveShell

settings.register_profile(
    "ci",
    max_examples=60,
    stateful_step_count=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    print_blob=True,
)
settings.register_profile(
    "long",
    max_examples=3000,
    stateful_step_count=100,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    print_blob=True,
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PostgresServer]:
    """Yield a throw-away PostgreSQL server (tests/pg.py), stopped at the session's end.

    Outside CI a machine without PostgreSQL skips the tests that need it, with the
    reason; in CI (``CI=true``) they fail instead, so a broken set-up never passes.
    """
    server = PostgresServer()
    try:
        server.setup()
    except Exception as exc:  # PostgresUnavailable, OSError, a timeout, a driver error
        server.destroy()
        reason = f"no PostgreSQL server for the tests: {exc}"
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(reason, pytrace=False)
        pytest.skip(reason)
    yield server
    server.destroy()


class Backend:
    """Makes DataSources of one connector (memory, sqlite, postgresql) for one test.

    Each test gets fresh storage: a new SQLite file in its temp dir, or a new
    PostgreSQL schema (dropped at the end), so tests never see each other's rows.
    """

    def __init__(self, name: str, tmp_path: Any, pg: PostgresServer | None) -> None:
        self.name = name
        self.tmp_path = tmp_path
        self.pg = pg
        self.registry = ModelRegistry()
        self.schema = f"t_{uuid.uuid4().hex[:12]}"
        self.file = str(tmp_path / "db.sqlite")

    @property
    def sql(self) -> bool:
        return self.name != "memory"

    def settings(self, **extra: Any) -> dict[str, Any]:
        """Return the settings of a DataSource on this test's storage."""
        if self.name == "sqlite":
            return {"file": self.file, **extra}
        if self.name == "postgresql":
            assert self.pg is not None
            return self.pg.settings(schema=self.schema, **extra)
        return dict(extra)

    def ds(self, **kw: Any) -> DataSource:
        """Return a new DataSource on this test's storage (same storage every call)."""
        extra = {k: kw.pop(k) for k in list(kw) if k not in ("name", "tenant", "registry")}
        kw.setdefault("registry", self.registry)
        return DataSource(self.name, **kw, **self.settings(**extra))

    def close(self) -> None:
        self.registry.clear()
        if self.name == "postgresql" and self.pg is not None:
            self.pg.superuser_sql(f'@db DROP SCHEMA IF EXISTS "{self.schema}" CASCADE')


@pytest.fixture(params=["memory", "sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest, tmp_path: Any) -> Iterator[Backend]:
    """Yield a Backend for each connector: one connector suite, three backends."""
    pg = request.getfixturevalue("pg_server") if request.param == "postgresql" else None
    b = Backend(request.param, tmp_path, pg)
    yield b
    b.close()


@pytest.fixture(params=["sqlite", "postgresql"])
def sql_backend(request: pytest.FixtureRequest, tmp_path: Any) -> Iterator[Backend]:
    """Yield a Backend for each SQL connector."""
    pg = request.getfixturevalue("pg_server") if request.param == "postgresql" else None
    b = Backend(request.param, tmp_path, pg)
    yield b
    b.close()


@pytest.fixture
def reg() -> Iterator[ModelRegistry]:
    """Yield a fresh, isolated ``ModelRegistry``."""
    registry = ModelRegistry()
    yield registry
    registry.clear()


@pytest.fixture(scope="module")
def shell() -> Iterator[InteractiveShell]:
    """Yield a kernel-free InteractiveShell with history disabled; unload and drop it after."""
    from IPython.core.interactiveshell import InteractiveShell
    from traitlets.config import Config

    from nbregistry.ipython import unload_ipython_extension

    cfg = Config()
    cfg.HistoryManager.enabled = False
    InteractiveShell.clear_instance()
    sh = InteractiveShell.instance(config=cfg)
    yield sh
    unload_ipython_extension(sh)
    InteractiveShell.clear_instance()
