"""Tab completion for ``%registry`` and ``%%tenant`` (IPython's matcher API v2).

Completes subcommands, option names, tenant codes, model names and owner names, read
live from the registry the magics act on. Registered in ``IPCompleter.custom_matchers``
by ``load_ipython_extension`` and removed by ``unload_ipython_extension``.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from IPython.core.completer import SimpleCompletion, context_matcher

from ..core.meta import owner_of
from .magics import SUBCOMMANDS, option_names, subparsers

if TYPE_CHECKING:
    from IPython.core.completer import CompletionContext

    from .magics import RegistryMagics

__all__ = ["candidates", "make_matcher"]

_TENANT_OPTS = ("-t", "--tenant")
_OWNER_OPTS = ("-o", "--owner")
_NO_RESULT: dict[str, Any] = {"completions": [], "suppress": False}


def _tenants(magics: RegistryMagics) -> list[str]:
    reg = magics.registry
    codes = reg.tenants()
    current = reg.current_tenant()
    if current not in codes:
        codes.append(current)
    return codes


def _chosen_tenant(words: list[str]) -> str | None:
    """Return the tenant named by ``-t CODE`` among ``words``, else None (= current)."""
    for opt, value in itertools.pairwise(words):
        if opt in _TENANT_OPTS:
            return value
    return None


def _model_names(magics: RegistryMagics, code: str | None) -> list[str]:
    reg = magics.registry
    try:
        code = reg.current_tenant() if code is None else code
        models = reg.all_models(tenant=code)
        if code != "global":
            models += reg.all_models(tenant="global")
    except Exception:  # an invalid -t value while typing: nothing to offer
        return []
    names = dict.fromkeys(m.model_name for m in models)
    for m in models:
        owner = owner_of(m)
        if owner is not None:
            names.setdefault(f"{owner.name}.{m.model_name}")
    return list(names)


def _owner_names(magics: RegistryMagics, code: str | None) -> list[str]:
    reg = magics.registry
    try:
        return [o.name for o in reg.owners(tenant=code)]
    except Exception:  # an invalid -t value while typing
        return []


def candidates(magics: RegistryMagics, text_until_cursor: str) -> tuple[list[str], str] | None:
    """Return ``(completions, fragment being completed)`` for a line, or None if not ours."""
    stripped = text_until_cursor.lstrip()
    if stripped.startswith("%%tenant"):
        words = stripped.split()
        current = "" if stripped.endswith((" ", "\t")) else words[-1]
        if len(words) - (0 if current == "" else 1) != 1 or stripped == "%%tenant":
            return None
        return [c for c in _tenants(magics) if c.startswith(current)], current
    if not stripped.startswith(("%registry ", "registry ")):
        return None
    words = stripped.split()
    current = "" if stripped.endswith((" ", "\t")) else words[-1]
    done = words if current == "" else words[:-1]
    parser = magics._parser
    if len(done) == 1:  # the subcommand itself
        pool = [*SUBCOMMANDS, "-h", "--help"]
        return [c for c in pool if c.startswith(current)], current
    sub = done[1]
    sub_parser = subparsers(parser).get(sub)
    if sub_parser is None:
        return [], current
    prev = done[-1]
    chosen = _chosen_tenant(done)
    if prev in _TENANT_OPTS:
        pool = _tenants(magics)
    elif prev in _OWNER_OPTS:
        pool = _owner_names(magics, chosen)
    elif prev == "--structure":
        pool = []
    elif current.startswith("-"):
        pool = option_names(sub_parser)
    elif sub in ("show", "find"):
        pool = _model_names(magics, chosen)
    elif sub in ("cleanup", "tenant"):
        pool = _tenants(magics)
    else:
        pool = option_names(sub_parser)
    return [c for c in pool if c.startswith(current)], current


def make_matcher(magics: RegistryMagics) -> Callable[[CompletionContext], dict[str, Any]]:
    """Return a matcher (API v2) completing ``%registry`` and ``%%tenant`` lines."""

    @context_matcher(identifier="nbregistry.registry_matcher", priority=50)
    def registry_matcher(context: CompletionContext) -> dict[str, Any]:
        if context.cursor_line != 0 and context.line_with_cursor.lstrip().startswith("%%"):
            return _NO_RESULT
        found = candidates(magics, context.text_until_cursor)
        if found is None:
            return _NO_RESULT
        words, fragment = found
        return {
            "completions": [SimpleCompletion(w, type="nbregistry") for w in words],
            "suppress": True,
            "matched_fragment": fragment,
        }

    return registry_matcher
