"""The shared definition store contract (DESIGN §12.5): :class:`Store` and its records.

A store keeps what many processes share — owners with explicit names, their models'
definitions, and an append-only, gapless revision log — in an existing database engine.
Implementations live above the core (``nbregistry/store/``) and are found by URL scheme
through the ``nbregistry.stores`` entry-point group (:func:`open_store`); the core only
knows this contract.

Every write is one :class:`Change`, committed by :meth:`Store.commit` in one transaction
together with its revision, which the store assigns under a lock at commit (never from a
sequence that can skip). Model changes carry ``expect``: the revision of that (tenant,
owner, model) the writer last saw; if the store holds another, :class:`ConflictError`
names it and its author and nothing changes (optimistic concurrency).
"""

from __future__ import annotations

import getpass
import os
import socket
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from . import plugins
from .errors import StoreError

__all__ = [
    "MODEL_OPS",
    "OPS",
    "Change",
    "DefinitionRecord",
    "OwnerRecord",
    "Revision",
    "Store",
    "author",
    "open_store",
    "store_class",
    "store_scheme",
]

#: Every ``op`` a revision may carry. ``compatibility`` records the store's mode.
OPS = frozenset(
    {"owner", "define", "redefine", "attach", "delete", "cleanup_tenant", "clear", "compatibility"}
)
#: The ops about one model, conditional on ``Change.expect``.
MODEL_OPS = frozenset({"define", "redefine", "attach", "delete"})


@dataclass(frozen=True, slots=True)
class Change:
    """One shared write, as a process asks the store to commit it.

    * ``owner``: ``tenant``, ``owner`` and ``payload`` = ``{"owner_type", "connector",
      "settings"}`` (settings without secrets).
    * ``define`` / ``redefine``: ``tenant``, ``owner``, ``model``, ``fingerprint`` and
      ``payload`` = ``{"definition": <canonical definition, JSON-able>}``.
    * ``attach``: as ``define``, plus ``payload["from_owner"]`` (the owner it leaves, or
      None) and ``expect_from`` (the revision last seen for it there).
    * ``delete``: ``tenant``, ``owner``, ``model``.
    * ``cleanup_tenant``: ``tenant``; ``clear``: nothing; ``compatibility``:
      ``payload = {"mode": ...}``.

    ``expect`` (model ops): the revision of (tenant, owner, model) last seen, ``0`` when
    the writer believes it absent, ``None`` for an unconditional write.
    """

    op: str
    tenant: str | None = None
    owner: str | None = None
    model: str | None = None
    fingerprint: str | None = None
    payload: Mapping[str, Any] = field(default_factory=dict)
    expect: int | None = None
    expect_from: int | None = None


@dataclass(frozen=True, slots=True)
class Revision:
    """One entry of the revision log: ``revision`` is gapless and increasing."""

    revision: int
    op: str
    tenant: str | None
    owner: str | None
    model: str | None
    fingerprint: str | None
    payload: Mapping[str, Any]
    at: str  # ISO 8601, UTC
    by: str  # user@host:pid, self-reported


@dataclass(frozen=True, slots=True)
class OwnerRecord:
    """A shared owner as the store holds it (identity: tenant and name)."""

    tenant: str
    name: str
    owner_type: str
    connector: str | None
    settings: Mapping[str, Any]
    revision: int  # the revision that created it


@dataclass(frozen=True, slots=True)
class DefinitionRecord:
    """The current definition of one shared model (identity: tenant, owner, model)."""

    tenant: str
    owner: str
    model: str
    fingerprint: str
    definition: Mapping[str, Any]
    revision: int  # the revision that last changed it


def author() -> str:
    """Return ``user@host:pid`` for this process (self-reported, as the log records it)."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # no passwd entry and no $USER: the uid
        user = str(os.getuid()) if hasattr(os, "getuid") else "unknown"
    return f"{user}@{socket.gethostname()}:{os.getpid()}"


class Store(ABC):
    """The contract of a shared definition store; implementations are found by URL scheme.

    A store object is one connection, safe to use from several threads of its process.
    """

    #: The URL it was opened with, any password shown as ``***`` (safe to print).
    url: str

    @classmethod
    @abstractmethod
    def open(cls, url: str) -> Store:
        """Open (creating the schema on first connect) the store at ``url``; StoreError."""

    @classmethod
    @abstractmethod
    def upgrade(cls, url: str) -> str:
        """Create or upgrade the store's schema to this version; return what was done."""

    @abstractmethod
    def schema_version(self) -> int:
        """Return the schema version the store was written with."""

    @abstractmethod
    def head(self) -> int:
        """Return the newest revision number (0 for an empty log); StoreError."""

    @abstractmethod
    def changed(self) -> bool:
        """Return True if another connection may have committed since the last call.

        A cheap check (SQLite: ``PRAGMA data_version``) for an idle ``sync()``; a False
        is exact, a True may be spurious.
        """

    @abstractmethod
    def revisions(self, after: int = 0, *, limit: int | None = None) -> list[Revision]:
        """Return the revisions newer than ``after``, oldest first; StoreError."""

    @abstractmethod
    def owners(self) -> list[OwnerRecord]:
        """Return every shared owner, in creation order; StoreError."""

    @abstractmethod
    def definitions(self) -> list[DefinitionRecord]:
        """Return every current shared definition, in revision order; StoreError."""

    @abstractmethod
    def model_revisions(self, tenant: str, model: str) -> list[Revision]:
        """Return the history of one model name of a tenant, oldest first; StoreError.

        That is every ``define``/``redefine``/``attach``/``delete`` revision of
        (``tenant``, ``model``) under any owner, plus every ``cleanup_tenant`` of that
        tenant and every ``clear`` (the changes that removed it wholesale). Served by an
        index, not a scan of the log.
        """

    @abstractmethod
    def compatibility(self) -> str:
        """Return the store's compatibility mode: ``"none"`` until a change records one."""

    def listen(self, callback: Callable[[int | None], None]) -> Callable[[], None]:
        """Call ``callback`` from one background thread as other connections commit.

        ``callback(revision)`` for each revision another connection commits (only the
        number: read it with :meth:`revisions`), and ``callback(None)`` after the thread
        reconnected following a lost connection — notifications sent meanwhile are lost,
        so None means "re-read everything newer than what you have". The thread starts
        only when this is called. Returns ``stop()``, which ends the thread and closes its
        connection (idempotent; it joins the thread).

        This base implementation raises StoreError: only a store with notifications
        (PostgreSQL's LISTEN/NOTIFY) can listen.
        """
        raise StoreError(
            f"listen=True needs a store that supports notifications (PostgreSQL); store "
            f"{self.url!r} does not — call registry.sync() instead (in IPython it runs "
            "before every cell)"
        )

    @abstractmethod
    def commit(self, change: Change) -> Revision | None:
        """Commit one change with its new revision, atomically; return the revision.

        Returns None (and appends nothing) for an ``owner`` change the store already
        holds identically. Raises ConflictError (nothing changed) when ``expect`` does
        not match, or an owner of that name exists with another connector or settings;
        ValueError for a malformed change; StoreError when the store cannot be written.
        """

    @abstractmethod
    def close(self) -> None:
        """Close the connection; idempotent."""

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def store_scheme(url: object) -> str:
    """Return the scheme of a store URL (``"sqlite"``); TypeError / ValueError if malformed."""
    if not isinstance(url, str):
        raise TypeError(f"a store URL must be a str, got {url!r:.80}")
    scheme, sep, _ = url.partition("://")
    if not sep or not scheme:
        raise ValueError(
            f"malformed store URL {url!r}: expected <scheme>://..., e.g. "
            "'sqlite:///path/registry.db' or 'postgresql://user@host/db'"
        )
    return scheme.split("+", 1)[0].lower()


def store_class(url: str) -> type[Store]:
    """Return the Store implementation for a URL's scheme; ValueError naming the known ones."""
    scheme = store_scheme(url)
    try:
        cls = plugins.load(plugins.STORES, scheme)
    except ValueError as exc:
        raise ValueError(f"cannot open store {url!r}: {exc}") from None
    if not (isinstance(cls, type) and issubclass(cls, Store)):
        raise StoreError(f"the store registered for scheme {scheme!r} is not a Store: {cls!r}")
    return cls


def open_store(url: str) -> Store:
    """Open the store at ``url`` through the ``nbregistry.stores`` entry points.

    Raises TypeError / ValueError for a malformed URL or an unknown scheme (naming the
    available ones) and StoreError when the store cannot be opened.
    """
    return store_class(url).open(url)
