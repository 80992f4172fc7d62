"""Shared fixtures and Hypothesis profiles for the nbregistry test suite.

Hypothesis profiles: ``ci`` (the default: bounded example counts, no deadline — the
machine is shared and noisy) and ``long`` (a nightly-style search with many examples).
Select one with ``HYPOTHESIS_PROFILE=long`` or ``pytest --hypothesis-profile=long``.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest
from hypothesis import HealthCheck, settings
from pg import PostgresServer

from nbregistry import ModelRegistry

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
