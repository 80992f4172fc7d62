"""When the tenant browser applies registry events: coalesced per loop turn, at once, or on demand.

``RefreshScheduler(mode, flush)`` holds no widgets (this module imports no ipywidgets):

* ``"auto"`` resolves to ``"deferred"`` when an asyncio loop runs in the constructing
  thread (a Jupyter kernel), else to ``"sync"``.
* ``"deferred"``: the first ``request()`` schedules one ``flush`` with ``loop.call_soon``
  (``call_soon_threadsafe`` from other threads); later requests before it runs are
  absorbed, so every event of a cell (or widget callback) is applied together once it
  returns.
* ``"sync"``: ``request()`` calls ``flush`` at once (plain Python, tests).
* ``"manual"``: ``request()`` does nothing; the owner calls its flush itself.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable

__all__ = ["REFRESH_MODES", "RefreshScheduler"]

REFRESH_MODES = ("auto", "sync", "manual")  # what callers may ask for


def check_refresh_mode(mode: object) -> str:
    """Return ``mode`` if it is a refresh mode; raise ValueError naming it otherwise."""
    if mode not in REFRESH_MODES:
        raise ValueError(f"refresh_mode must be one of {', '.join(REFRESH_MODES)}, got {mode!r}")
    return str(mode)


class RefreshScheduler:
    """Run ``flush`` once per burst of ``request()`` calls, as ``mode`` says; ValueError."""

    def __init__(self, mode: str, flush: Callable[[], object]) -> None:
        check_refresh_mode(mode)
        self._flush = flush
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread = threading.get_ident()
        self._scheduled = False  # a deferred flush is queued on the loop
        if mode == "auto":
            try:
                self._loop = asyncio.get_running_loop()
            except RuntimeError:
                self._loop = None
            mode = "deferred" if self._loop is not None else "sync"
        #: The resolved mode: "deferred", "sync" or "manual".
        self.mode = mode

    def request(self) -> None:
        """Ask for a flush: queue one on the loop, run it now, or (manual) do nothing."""
        if self.mode == "manual":
            return
        loop = self._loop
        if loop is not None and not loop.is_closed():
            if self._scheduled:
                return
            self._scheduled = True
            if threading.get_ident() == self._thread:
                loop.call_soon(self._run)
            else:
                loop.call_soon_threadsafe(self._run)
            return
        self._flush()

    def _run(self) -> None:
        self._scheduled = False
        self._flush()
