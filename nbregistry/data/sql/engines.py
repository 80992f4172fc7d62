"""Engines shared by the process, connection errors and secret scrubbing for SQL DataSources.

One pooled SQLAlchemy engine per database URL serves every DataSource of the process
that names that URL (DESIGN §12.2): many tenants' DataSources on one server share one
pool, so they do not exhaust its connections. The engine is disposed when the last
DataSource using it releases it. An engine is keyed by its full URL (password included,
so two roles never share a pool); the key is never shown.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, quote_plus

from ...core.errors import DataSourceConnectionError

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

__all__ = ["Secret", "acquire", "connection_error", "release", "scrub"]


class Secret:
    """A secret value (a password) whose repr and str never show it."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        """Return the secret itself (only to hand it to the driver)."""
        return self._value

    def __repr__(self) -> str:
        return "Secret('***')"

    __str__ = __repr__

    def __reduce__(self) -> Any:
        raise TypeError("a Secret cannot be pickled")


@dataclass
class _Shared:
    """One shared engine and the ids of the connectors using it."""

    engine: Engine
    users: set[int] = field(default_factory=set)


# full URL (with password) → the shared engine and its users. Guarded by _lock.
_engines: dict[str, _Shared] = {}
_lock = threading.Lock()


def acquire(key: str, user: object, make: Callable[[], Engine]) -> Engine:
    """Return the shared engine for ``key`` (created by ``make`` on first use)."""
    with _lock:
        shared = _engines.get(key)
        if shared is None:
            shared = _engines[key] = _Shared(make())
        shared.users.add(id(user))
        return shared.engine


def release(key: str, user: object) -> None:
    """Stop ``user`` using the engine of ``key``; dispose it when nobody uses it any more."""
    with _lock:
        shared = _engines.get(key)
        if shared is None:
            return
        shared.users.discard(id(user))
        if shared.users:
            return
        del _engines[key]
    shared.engine.dispose()


def shared_engine_count() -> int:
    """Return how many shared engines are alive (for tests and stats)."""
    with _lock:
        return len(_engines)


def spellings(secrets: Iterable[str]) -> list[str]:
    """Return every spelling of the secrets that could appear in a message."""
    out: set[str] = set()
    for s in secrets:
        if not s:
            continue
        out.update({s, quote(s, safe=""), quote(s), quote_plus(s), repr(s)[1:-1]})
        out.add(s.replace("'", "''"))
    return sorted((x for x in out if x), key=len, reverse=True)


def scrub(text: str, secrets: Iterable[str]) -> str:
    """Return ``text`` with every spelling of every secret replaced by ``***``."""
    for spelling in spellings(secrets):
        text = text.replace(spelling, "***")
    return text


def connection_error(
    exc: BaseException, where: str, secrets: Iterable[str]
) -> DataSourceConnectionError:
    """Return a DataSourceConnectionError for a driver error, scrubbed of secrets.

    The caller raises it *outside* its ``except`` block, so the driver's exception is
    neither its cause nor its context (it may spell the URL).
    """
    orig = getattr(exc, "orig", None) or exc
    reason = " ".join(str(orig).split()) or type(orig).__name__
    return DataSourceConnectionError(
        f"cannot reach {where}: {scrub(reason, secrets)}; check that the server runs and "
        "accepts these credentials, then retry"
    )
