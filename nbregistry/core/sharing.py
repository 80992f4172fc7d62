"""What a registry knows about its shared store (DESIGN §12.5), kept apart from the registry.

:class:`StoreLink` is the registry's connection to a :class:`~nbregistry.core.store.Store`
and the bookkeeping that makes optimistic concurrency and ``sync()`` exact: the last
revision applied, the revision each shared model was last seen at, the revisions this
process committed itself, and the shared owner objects. :class:`HistoryEntry` is one
entry of a registry's local log (``registry.history()`` without a store). The functions
here are pure: the registry calls them with its lock held.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from .store import Revision, Store

__all__ = [
    "HISTORY_LIMIT",
    "HistoryEntry",
    "StoreLink",
    "owner_payload",
    "prune",
    "same_payload",
]

#: Entries kept per model in a registry's local log (the oldest are dropped beyond it).
HISTORY_LIMIT = 200

# (tenant, owner name, model name): the identity of a shared model in the store.
ModelKey = tuple[str, str, str]
# (tenant, owner name): the identity of a shared owner in the store.
OwnerKey = tuple[str, str]


@dataclass(slots=True)
class HistoryEntry:
    """One change of one model as a registry's local log records it.

    ``source`` is the class itself while it is registered (no copy: the log costs one
    small record per change), replaced by its definition's JSON form when the class
    leaves the registry (redefined, deleted), so old revisions stay diff-able.
    """

    revision: int  # the store's revision when shared, else this registry's local number
    op: str  # define, redefine, attach, delete
    at: float  # time.time() of the change (UTC epoch seconds)
    by: str | None  # user@host:pid of the author (this process for local changes)
    tenant: str
    owner: str | None
    model: str
    fingerprint: str | None
    source: Any  # the registered class, or its definition's JSON form, or None (delete)

    @property
    def definition(self) -> Mapping[str, Any] | None:
        """Return the definition's JSON form (None for a delete)."""
        src = self.source
        if src is None or isinstance(src, Mapping):
            return src
        from .definitions import definition_json

        try:
            return definition_json(src)
        except ValueError:  # a default that is no JSON value: shown without properties
            return None


@dataclass(eq=False)
class StoreLink:
    """A registry's connection to its shared store and what it has applied from it."""

    store: Store
    # The newest revision this registry has applied (or committed, when nothing between).
    head: int = 0
    # (tenant, owner, model) → the revision that last changed that shared model as this
    # process knows it; absent means "not in the store" (expect 0). The ``expect`` of
    # this process's next write of that model (optimistic concurrency).
    seen: dict[ModelKey, int] = field(default_factory=dict)
    # (tenant, owner, model) → the newest revision of any op this process committed or
    # applied for it. A revision of another process older than that is already
    # superseded here (this process wrote after it) and is skipped by sync().
    latest: dict[ModelKey, int] = field(default_factory=dict)
    # (tenant, owner, model) → who made the ``seen`` revision (for the redefine warning).
    authors: dict[ModelKey, str] = field(default_factory=dict)
    # Revisions this process committed that sync() has not passed yet: already applied
    # here, so sync() skips them instead of applying them twice.
    own: set[int] = field(default_factory=set)
    # (tenant, owner name) → the owner object holding that shared identity here. Strong:
    # an owner created by sync() has no other reference, and must live while shared.
    owners: dict[OwnerKey, Any] = field(default_factory=dict)
    # (tenant, owner name) → its stored payload {owner_type, connector, settings}.
    payloads: dict[OwnerKey, dict[str, Any]] = field(default_factory=dict)
    # The compatibility mode the store holds (its latest ``compatibility`` revision).
    mode: str = "none"
    # Set by the listener thread when a notification arrived (``listen=True``).
    pending: threading.Event = field(default_factory=threading.Event)
    # Stops the listener thread (None: not listening).
    stop_listening: Callable[[], None] | None = None
    # (tenant, owner name) of shared owners this process cannot hold, because a local
    # owner holds that name automatically (automatic names stay local): their revisions
    # are skipped here after one warning, instead of one warning per revision.
    unavailable: set[OwnerKey] = field(default_factory=set)

    def committed(self, rev: Revision | None, key: ModelKey | None = None) -> None:
        """Record a revision this process committed (and, for a model, that it saw it)."""
        if rev is None:
            return
        if rev.revision == self.head + 1:
            self.head = rev.revision
        else:
            self.own.add(rev.revision)
        if key is not None:
            self.latest[key] = max(self.latest.get(key, 0), rev.revision)
            if rev.op == "delete":
                self.seen.pop(key, None)
                self.authors.pop(key, None)
            else:
                self.seen[key] = rev.revision
                self.authors[key] = rev.by

    def forget_tenant(self, code: str | None) -> None:
        """Drop what this link holds for one tenant (None: every tenant)."""
        for d in (self.seen, self.authors, self.latest):
            for k in [k for k in d if code is None or k[0] == code]:
                del d[k]
        self.unavailable = {k for k in self.unavailable if code is not None and k[0] != code}
        for o in (self.owners, self.payloads):
            for k in [k for k in o if code is None or k[0] == code]:
                del o[k]


def _jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value, sort_keys=True, default=str))


def owner_payload(owner: Any) -> dict[str, Any]:
    """Return what the store keeps of an owner: type, connector and non-secret settings."""
    kind = owner.owner_type
    if kind == "dataSource":
        connector = owner.connector.name
        settings = dict(owner.settings)
    elif kind == "builder":
        connector = None
        settings = {"strict_embedded_models": bool(owner.strict_embedded_models)}
    else:
        connector = None
        settings = {}
    return {"owner_type": kind, "connector": connector, "settings": _jsonable(settings)}


def same_payload(a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
    """Return True when two owner payloads describe the same owner."""
    return (
        a.get("owner_type") == b.get("owner_type")
        and a.get("connector") == b.get("connector")
        and _jsonable(dict(a.get("settings") or {})) == _jsonable(dict(b.get("settings") or {}))
    )


def describe_payload(p: Mapping[str, Any]) -> str:
    """Return ``dataSource connector='memory' settings={...}`` for an error message."""
    return (
        f"{p.get('owner_type')} connector={p.get('connector')!r} "
        f"settings={json.dumps(dict(p.get('settings') or {}), sort_keys=True)}"
    )


def prune(revisions: list[Revision]) -> list[Revision]:
    """Drop define/redefine revisions that a later revision of the batch supersedes.

    A definition replaced, deleted, or cleared later in the same batch would be built
    only to be thrown away; the result of applying the pruned list is the same.
    """
    out: list[Revision] = []
    later_keys: set[tuple[Any, Any, Any]] = set()
    later_tenants: set[Any] = set()
    cleared = False
    for rev in reversed(revisions):
        key = (rev.tenant, rev.owner, rev.model)
        if rev.op in ("define", "redefine") and (
            cleared or rev.tenant in later_tenants or key in later_keys
        ):
            continue
        out.append(rev)
        if rev.op in ("define", "redefine", "delete"):
            later_keys.add(key)
        elif rev.op == "cleanup_tenant":
            later_tenants.add(rev.tenant)
        elif rev.op == "clear":
            cleared = True
    out.reverse()
    return out
