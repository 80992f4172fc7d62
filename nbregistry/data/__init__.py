"""Data access: the connectors behind a DataSource, their filters, codecs and persistence.

``DataSource("memory")`` gets a :class:`~nbregistry.data.memory.MemoryConnector`: an
embedded store with LoopBack-style filters and optional JSON or SQLite persistence
(``file=``/``path=``). Connectors implement :class:`nbregistry.Connector` and are found
by name through the ``nbregistry.connectors`` entry points.
"""
