"""The IPython layer: ``%load_ext nbregistry`` / ``%unload_ext nbregistry``.

Loading registers, on one shell: the :class:`RegistryMagics` (``%registry``,
``%%tenant``), rich display of model classes (HTML and text formatters for ``type``
that render ``nbregistry.Model`` subclasses and hand every other class to the printer
that was there before), tab completion, and the input transformer that lets
``%%tenant`` cells use top-level ``await`` under a kernel. Unloading removes all of it.
Loading twice is harmless and loading prints nothing.

Why formatters for ``type``: IPython picks a printer by the *type* of the object, and
the type of a model class is ``type`` (nbregistry uses no metaclass), so
``for_type(Model, ...)`` would only match model *instances*.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass, field
from typing import Any

from ..render import html as _display
from .completion import make_matcher
from .magics import RegistryMagics, tenant_cell_transformer

__all__ = ["RegistryMagics", "load_ipython_extension", "unload_ipython_extension"]


@dataclass
class _Loaded:
    """What one ``load_ipython_extension`` call installed on a shell, to undo it."""

    magics: RegistryMagics
    matcher: Any
    transformer: Any
    max_rows_before: int
    # format type ("text/html", "text/plain") → the printer for ``type`` found at load time.
    previous_printers: dict[str, Any] = field(default_factory=dict)


_loaded: weakref.WeakKeyDictionary[Any, _Loaded] = weakref.WeakKeyDictionary()


def _is_model_class(obj: object) -> bool:
    from ..core.model import Model

    return (
        isinstance(obj, type)
        and issubclass(obj, Model)
        and obj is not Model
        and "definition" in vars(obj)
    )


def _html_printer(previous: Any) -> Any:
    from IPython.utils.dir2 import get_real_method

    def model_class_html(obj: Any) -> Any:
        if _is_model_class(obj):
            return _display.model_html(obj)
        if previous is not None:
            return previous(obj)
        # What HTMLFormatter would have done without a printer for ``type``.
        method = get_real_method(obj, "_repr_html_")
        return None if method is None else method()

    model_class_html.nbregistry = True  # type: ignore[attr-defined]
    return model_class_html


def _text_printer(previous: Any) -> Any:
    def model_class_text(obj: Any, p: Any, cycle: bool) -> None:
        if _is_model_class(obj):
            p.text(_display.model_text(obj))
        elif previous is not None:
            previous(obj, p, cycle)
        else:
            p.text(repr(obj))

    model_class_text.nbregistry = True  # type: ignore[attr-defined]
    return model_class_text


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
    max_rows_before = _display.MAX_ROWS
    magics = RegistryMagics(shell=ip)
    ip.register_magics(magics)
    matcher = make_matcher(magics)
    ip.Completer.custom_matchers.append(matcher)
    transformer = tenant_cell_transformer(ip)
    ip.input_transformers_post.append(transformer)
    state = _Loaded(magics, matcher, transformer, max_rows_before)
    formatters = ip.display_formatter.formatters
    for mime, make in (("text/html", _html_printer), ("text/plain", _text_printer)):
        fmt = formatters[mime]
        previous = _printer_for_type(fmt)
        state.previous_printers[mime] = previous
        fmt.for_type(type, make(previous))
    _loaded[ip] = state


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
    formatters = ip.display_formatter.formatters
    for mime, previous in state.previous_printers.items():
        fmt = formatters[mime]
        if previous is None:
            fmt.pop(type, None)
        else:
            fmt.for_type(type, previous)
    _display.MAX_ROWS = state.max_rows_before
