"""The shared definition stores (DESIGN §12.5): SQLite (``sqlite:///path``), PostgreSQL.

Each is a :class:`nbregistry.core.store.Store`, found by URL scheme through the
``nbregistry.stores`` entry-point group; open one with ``open_store(url)``.
"""

from __future__ import annotations

from ..core.store import open_store

__all__ = ["open_store"]
