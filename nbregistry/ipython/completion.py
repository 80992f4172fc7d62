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
from ..core.tenancy import GLOBAL_TENANT
from .magics import SUBCOMMANDS, option_names, subparsers

if TYPE_CHECKING:
    from IPython.core.completer import CompletionContext

    from ..core.model import Model
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


def _names(models: list[type[Model]], suffix: str = "") -> list[str]:
    """Return the bare names, then the ``owner.Model`` names, of ``models`` (sorted)."""
    bare = sorted({m.model_name for m in models})
    qualified = sorted(
        {f"{owner.name}.{m.model_name}" for m in models if (owner := owner_of(m)) is not None}
    )
    return [n + suffix for n in (*bare, *qualified)]


def _model_names(magics: RegistryMagics, sub: str, done: list[str]) -> list[str]:
    """Return the model completions for ``show``/``find``, in the order they are offered.

    ``-t CODE``: that tenant's models and the global ones (what the lookup resolves).
    ``find --all-tenants`` (or ``RegistryMagics.all_tenants`` without ``-t``): every
    tenant's names. Otherwise the names that resolve as typed (current tenant, then
    global) come first, then every other tenant's models as ``Model -t CODE``, the text
    that runs in that tenant: the magic reads any tenant with ``-t``, so completion
    shows nothing the magic would not.
    """
    reg = magics.registry
    chosen = _chosen_tenant(done)
    try:
        if sub == "find" and ("--all-tenants" in done or (magics.all_tenants and chosen is None)):
            return _names(reg.all_models())
        code = reg.current_tenant() if chosen is None else chosen
        # tenant code -> its models; the current/chosen tenant first, global after it
        # (the lookup falls back to global), then the others in registration order.
        resolvable = dict.fromkeys((code, GLOBAL_TENANT))
        names = _names([m for c in resolvable for m in reg.all_models(tenant=c)])
        if chosen is None:
            for other in reg.tenants():
                if other not in resolvable:
                    names += _names(reg.all_models(tenant=other), f" -t {other}")
        return names
    except Exception:  # an invalid -t value while typing: nothing to offer
        return []


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
    if len(done) == 1:  # the subcommand itself: subcommands first, then the help options
        pool = [*sorted(SUBCOMMANDS), "-h", "--help"]
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
        # nothing registered yet: the options are all that can follow here
        pool = _model_names(magics, sub, done) or option_names(sub_parser)
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
        if not words and fragment:
            # Nothing of ours matches: offer the fragment itself (completing changes
            # nothing), because IPython suppresses the other matchers only for a matcher
            # with completions, and theirs (keywords, file names) never fit this line.
            words = [fragment]
        return {
            "completions": [SimpleCompletion(w, type="nbregistry") for w in words],
            "suppress": True,
            "ordered": True,  # keep our order (subcommands before -h, resolvable first)
            "matched_fragment": fragment,
        }

    return registry_matcher
