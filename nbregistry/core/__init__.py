"""The core: tenancy, property specs, fingerprints, models, the registry, owners, views.

It owns the registry's data structures and the contracts the layers above implement
(:class:`~nbregistry.core.connector.Connector`). It imports only ``nbregistry.render``
(lazily, for DataFrames and HTML) and finds connector implementations through entry
points (:mod:`nbregistry.core.plugins`), never by importing a layer above.
"""
