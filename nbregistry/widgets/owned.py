"""``Owned``: the widgets one part of the browser created, so ``close()`` releases them all.

ipywidgets keeps every open widget alive in a process-wide table until it is closed, and
closing a widget does not close its ``layout``/``style`` widgets; ``Owned.close()`` closes
each created widget together with those.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import ipywidgets as w

__all__ = ["Owned", "close_widget"]

W = TypeVar("W", bound=w.Widget)


def close_widget(widget: w.Widget) -> None:
    """Close a widget and its ``layout``/``style`` widgets; idempotent."""
    for part in ("layout", "style"):
        sub = getattr(widget, part, None)
        if isinstance(sub, w.Widget):
            sub.close()
    widget.close()


class Owned:
    """A list of created widgets: ``make(...)`` creates and records one, ``close()`` all."""

    def __init__(self) -> None:
        self.widgets: list[w.Widget] = []  # creation order; closed in reverse

    def make(self, factory: Callable[..., W], *classes: str, **kwargs: Any) -> W:
        """Create ``factory(**kwargs)``, add the CSS ``classes`` and record it."""
        widget = factory(**kwargs)
        for cls in classes:
            widget.add_class(cls)
        self.widgets.append(widget)
        return widget

    def close(self) -> None:
        """Close every recorded widget (with its layout and style); idempotent."""
        while self.widgets:
            close_widget(self.widgets.pop())
