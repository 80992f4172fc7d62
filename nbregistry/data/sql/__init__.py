"""The SQL connectors, ``"sqlite"`` and ``"postgresql"`` (DESIGN §12.2).

Importing this package imports SQLAlchemy; nbregistry does so only when a DataSource of
one of these connectors is created (through the ``nbregistry.connectors`` entry points).
"""

from __future__ import annotations

from .connector import PostgreSQLConnector, SQLConnector, SQLiteConnector

__all__ = ["PostgreSQLConnector", "SQLConnector", "SQLiteConnector"]
