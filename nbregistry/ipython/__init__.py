"""The IPython layer: ``%load_ext nbregistry`` / ``%unload_ext nbregistry``.

Loading registers, on one shell: the :class:`RegistryMagics` (``%registry``,
``%%tenant``), rich display of model classes (HTML and text formatters for ``type``
that render ``nbregistry.Model`` subclasses and hand every other class to the printer
that was there before), HTML formatters for views, owners, tenants, registries and
stats that show ``RegistryMagics.max_rows`` rows (read at display time, so ``%config``
applies at once), tab completion, and the input transformer that lets ``%%tenant``
cells use top-level ``await`` under a kernel. Unloading removes all of it. Loading twice
is harmless and loading prints nothing.

Why formatters for ``type``: IPython picks a printer by the *type* of the object, and
the type of a model class is ``type`` (nbregistry uses no metaclass), so
``for_type(Model, ...)`` would only match model *instances*.
"""

from __future__ import annotations

import contextlib
import os
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..core import tables as _tables
from .completion import make_matcher
from .magics import RegistryMagics, tenant_cell_transformer

__all__ = ["RegistryMagics", "load_ipython_extension", "unload_ipython_extension"]


@dataclass
class _Loaded:
    """What one ``load_ipython_extension`` call installed on a shell, to undo it."""

    magics: RegistryMagics
    matcher: Any
    transformer: Any
    # format type ("text/html", "text/plain") → the printer for ``type`` found at load time.
    previous_printers: dict[str, Any] = field(default_factory=dict)
    # registry object type → the HTML printer registered for exactly that type before
    # loading (None: none), restored on unload.
    previous_html: dict[type, Any] = field(default_factory=dict)
    # The pre_run_cell callback that syncs the shared store before every cell.
    pre_cell: Any = None


_loaded: weakref.WeakKeyDictionary[Any, _Loaded] = weakref.WeakKeyDictionary()


def _is_model_class(obj: object) -> bool:
    from ..core.model import Model

    return (
        isinstance(obj, type)
        and issubclass(obj, Model)
        and obj is not Model
        and "definition" in vars(obj)
    )


def _html_printer(previous: Any, magics: RegistryMagics) -> Any:
    from IPython.utils.dir2 import get_real_method

    def model_class_html(obj: Any) -> Any:
        if _is_model_class(obj):
            return _tables.model_table(obj).html(max_rows=magics.max_rows)
        if previous is not None:
            return previous(obj)
        # What HTMLFormatter would have done without a printer for ``type``.
        method = get_real_method(obj, "_repr_html_")
        return None if method is None else method()

    model_class_html.nbregistry = True  # type: ignore[attr-defined]
    return model_class_html


def _text_printer(previous: Any, magics: RegistryMagics) -> Any:
    def model_class_text(obj: Any, p: Any, cycle: bool) -> None:
        if _is_model_class(obj):
            p.text(_tables.model_text(obj))
        elif previous is not None:
            previous(obj, p, cycle)
        else:
            p.text(repr(obj))

    model_class_text.nbregistry = True  # type: ignore[attr-defined]
    return model_class_text


def _registry_printers(magics: RegistryMagics) -> dict[type, Callable[[Any], str]]:
    """Return registry object type → HTML printer showing ``magics.max_rows`` rows."""
    from ..core.owners import Owner
    from ..core.registry import ModelRegistry, RegistryStats, TenantRegistry
    from ..core.views import ModelsView

    # type → the core.tables function giving its Table (subclasses of Owner match too:
    # IPython looks printers up along the MRO).
    table_of: dict[type, Callable[[Any], _tables.Table]] = {
        ModelsView: _tables.view_table,
        Owner: _tables.owner_table,
        TenantRegistry: _tables.tenant_table,
        ModelRegistry: _tables.registry_table,
        RegistryStats: _tables.stats_table,
    }

    def make(table: Callable[[Any], _tables.Table]) -> Callable[[Any], str]:
        def printer(obj: Any) -> str:
            return table(obj).html(max_rows=magics.max_rows)

        printer.nbregistry = True  # type: ignore[attr-defined]
        return printer

    return {t: make(table) for t, table in table_of.items()}


def _printer_for_type(formatter: Any) -> Any:
    try:
        return formatter.lookup_by_type(type)
    except KeyError:
        return None


def load_ipython_extension(ip: Any) -> None:
    """Register the magics, formatters, completer and cell transformer on ``ip``.

    A second call on the same shell does nothing.
    """
    if ip in _loaded:
        return
    magics = RegistryMagics(shell=ip)
    ip.register_magics(magics)
    matcher = make_matcher(magics)
    ip.Completer.custom_matchers.append(matcher)
    transformer = tenant_cell_transformer(ip)
    ip.input_transformers_post.append(transformer)
    state = _Loaded(magics, matcher, transformer)
    formatters = ip.display_formatter.formatters
    for mime, make in (("text/html", _html_printer), ("text/plain", _text_printer)):
        fmt = formatters[mime]
        previous = _printer_for_type(fmt)
        state.previous_printers[mime] = previous
        fmt.for_type(type, make(previous, magics))
    html = formatters["text/html"]
    for typ, printer in _registry_printers(magics).items():
        state.previous_html[typ] = html.type_printers.get(typ)
        html.for_type(typ, printer)
    state.pre_cell = _sync_before_cell(magics)
    ip.events.register("pre_run_cell", state.pre_cell)
    # Revisions a listener announces are applied before the next cell, never mid-cell.
    magics.registry.deferred_sync = True
    _loaded[ip] = state
    url = os.environ.get("NBREGISTRY_STORE")
    if url and magics.registry.store is None:
        try:
            magics.registry.connect_store(url)
        except Exception as exc:  # a bad $NBREGISTRY_STORE must not break %load_ext
            print(f"nbregistry: could not connect to $NBREGISTRY_STORE: {exc}")
        else:
            print(f"nbregistry: connected to the shared store {magics.registry.store!r}")


def _sync_before_cell(magics: RegistryMagics) -> Any:
    """Return the pre_run_cell callback: ``registry.sync()`` when a store is connected."""

    def sync_before_cell(info: Any = None) -> None:
        reg = magics.registry
        if reg.store is None:
            return
        reg.deferred_sync = True  # a listener's revisions wait for this point
        try:
            reg.sync()
        except Exception as exc:  # one line; the cell still runs on what this kernel has
            print(f"nbregistry: sync with the shared store failed: {exc}")

    return sync_before_cell


def unload_ipython_extension(ip: Any) -> None:
    """Remove what ``load_ipython_extension`` registered on ``ip``; a no-op if not loaded."""
    state = _loaded.pop(ip, None)
    if state is None:
        return
    manager = ip.magics_manager
    for kind, name in (("line", "registry"), ("cell", "tenant")):
        func = manager.magics[kind].get(name)
        if getattr(func, "__self__", None) is state.magics:
            del manager.magics[kind][name]
    if manager.registry.get(type(state.magics).__name__) is state.magics:
        del manager.registry[type(state.magics).__name__]
    if state.magics in ip.configurables:
        ip.configurables.remove(state.magics)
    if state.matcher in ip.Completer.custom_matchers:
        ip.Completer.custom_matchers.remove(state.matcher)
    if state.transformer in ip.input_transformers_post:
        ip.input_transformers_post.remove(state.transformer)
    if state.pre_cell is not None:
        with contextlib.suppress(ValueError):
            ip.events.unregister("pre_run_cell", state.pre_cell)
    state.magics.registry.deferred_sync = False
    formatters = ip.display_formatter.formatters
    for mime, previous in state.previous_printers.items():
        fmt = formatters[mime]
        if previous is None:
            fmt.pop(type, None)
        else:
            fmt.for_type(type, previous)
    html = formatters["text/html"]
    for typ, previous in state.previous_html.items():
        if previous is None:
            html.pop(typ, None)
        else:
            html.for_type(typ, previous)
