"""ipywidgets front ends for the registry (``import nbregistry`` does not import this).

``TenantBrowser`` — tenants → owners → models → properties as an interactive tree with
search, details as DataFrames, live refresh on registry events and ``close()``; an
``ipywidgets.VBox``, so it composes into any layout.

Parts: ``tree`` (the widget-free tree model: importing ``nbregistry.widgets.tree`` does
not import ipywidgets), ``refresh`` (when events are applied, also widget-free),
``details``, ``cleanup``, ``owned``, ``style`` and ``browser`` (the widget shell).
``TenantBrowser`` is imported on first access, so the widget-free parts stay usable
without ipywidgets.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .browser import TenantBrowser

__all__ = ["TenantBrowser"]


def __getattr__(name: str) -> Any:
    if name == "TenantBrowser":
        from .browser import TenantBrowser

        return TenantBrowser
    raise AttributeError(f"module 'nbregistry.widgets' has no attribute {name!r}")
