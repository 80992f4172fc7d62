"""ipywidgets front ends for the registry (imports ipywidgets; ``import nbregistry`` does not).

``TenantBrowser`` — tenants → owners → models → properties as an interactive tree with
search, details as DataFrames, live refresh on registry events and ``close()``.
"""

from __future__ import annotations

from .browser import TenantBrowser

__all__ = ["TenantBrowser"]
