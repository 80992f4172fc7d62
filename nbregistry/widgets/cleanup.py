"""The tenant browser's "Clean up tenant" action with its confirmation row.

``CleanupConfirm`` is an ``ipywidgets.VBox``: a "Clean up tenant" button (shown while
``tenant`` names the selected tenant) and, once pressed (or ``request(code)``), the
question on its own line above "Yes, remove" / "Cancel". The buttons keep their natural
width (``flex: 0 0 auto``), so a narrow pane wraps the question instead of squeezing them.
Nothing is removed until ``confirm()``.
"""

from __future__ import annotations

from html import escape
from typing import Any

import ipywidgets as w
from traitlets import Unicode, observe

from ..core.registry import ModelRegistry
from .owned import Owned

__all__ = ["CleanupConfirm"]


class CleanupConfirm(w.VBox):
    """Ask before ``registry.cleanup_tenant(code)``; ``pending`` is the tenant asked about."""

    #: The tenant the button offers to clean up (the selected tenant); None hides it.
    tenant = Unicode(None, allow_none=True)
    #: The tenant waiting for "Yes, remove" (None: no question shown).
    pending = Unicode(None, allow_none=True, read_only=True)

    def __init__(self, registry: ModelRegistry, **kwargs: Any) -> None:
        self._parts = Owned()
        m = self._parts.make
        self.registry = registry
        self.button = m(
            w.Button,
            "nbr-cleanup",
            description="Clean up tenant",
            icon="trash",
            button_style="warning",
            layout=m(w.Layout, width="auto", flex="0 0 auto"),
        )
        self.question = m(w.HTML, "nbr-confirm-text", layout=m(w.Layout, width="auto"))
        self.confirm_button = m(
            w.Button,
            "nbr-cleanup-confirm",
            description="Yes, remove",
            button_style="danger",
            layout=m(w.Layout, width="auto", flex="0 0 auto"),
        )
        self.cancel_button = m(
            w.Button,
            "nbr-cleanup-cancel",
            description="Cancel",
            layout=m(w.Layout, width="auto", flex="0 0 auto"),
        )
        buttons = m(
            w.HBox,
            "nbr-confirm-buttons",
            children=(self.confirm_button, self.cancel_button),
            layout=m(w.Layout, flex_flow="row wrap", align_items="center"),
        )
        self.confirm_box = m(
            w.VBox,
            "nbr-confirm",
            children=(self.question, buttons),
            layout=m(w.Layout, display="none", width="100%"),
        )
        super().__init__(
            children=(self.button, self.confirm_box),
            layout=m(w.Layout, display="none", align_items="flex-start"),
            **kwargs,
        )
        self.add_class("nbr-actions")
        self.button.on_click(lambda _b: self.tenant is not None and self.request(self.tenant))
        self.confirm_button.on_click(lambda _b: self.confirm())
        self.cancel_button.on_click(lambda _b: self.cancel())

    def request(self, code: str) -> None:
        """Show the question for tenant ``code`` (how many models it would remove)."""
        treg = self.registry.tenant_registry(code)
        n = 0 if treg is None else treg.model_count()
        self.question.value = (
            f"Remove all <b>{n}</b> models of tenant <code>{escape(code)}</code> "
            "and release their data?"
        )
        self.set_trait("pending", code)

    def confirm(self) -> int:
        """Clean up the pending tenant; return models removed; RuntimeError if none pends."""
        code = self.pending
        if code is None:
            raise RuntimeError("no clean-up to confirm; call request_cleanup(code) first")
        self.cancel()
        return self.registry.cleanup_tenant(code)

    def cancel(self) -> None:
        """Drop the pending question."""
        self.set_trait("pending", None)

    @observe("tenant", "pending")
    def _update(self, _change: Any) -> None:
        asking = self.pending is not None
        self.layout.display = "flex" if asking or self.tenant is not None else "none"
        self.confirm_box.layout.display = "flex" if asking else "none"
        self.button.disabled = asking

    def close(self) -> None:
        """Close this box and every widget it created; idempotent."""
        parts = getattr(self, "_parts", None)
        if parts is not None:
            parts.close()  # the buttons, the question, the boxes and their layouts
        super().close()
