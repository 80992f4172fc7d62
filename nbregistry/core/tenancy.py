"""Tenancy: tenant codes, the scoped override and helpers to carry it across threads.

Resolution order for a registry R (first match wins): the scoped override set with
``with tenant("acme"):`` (a :class:`contextvars.ContextVar`, so each thread and each
asyncio task sees its own), then R's session default (``R.use_tenant("acme")`` — a plain
attribute, because a ContextVar set in one Jupyter cell is not reliably visible in the
next: ipykernel #749, #1457), then :data:`GLOBAL_TENANT`.
"""

from __future__ import annotations

import contextvars
import functools
import re
from collections.abc import Callable
from types import TracebackType
from typing import Any, ParamSpec, TypeVar

from .errors import TenantError

__all__ = ["GLOBAL_TENANT", "carry_tenant", "tenant", "validate_tenant"]

#: The tenant used when none is set; lookups in any tenant fall back to it.
GLOBAL_TENANT = "global"

_CODE_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:\-]{0,127}", re.ASCII)

# The scoped override: one ContextVar that every registry honours. ``None`` = no override.
OVERRIDE: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "nbregistry_tenant", default=None
)

# Codes already validated → themselves. A cache so hot lookups with an explicit
# ``tenant=`` skip the regex; bounded so a stream of unique codes cannot grow it forever.
_valid_codes: dict[str, str] = {GLOBAL_TENANT: GLOBAL_TENANT}
_VALID_CACHE_MAX = 4096

P = ParamSpec("P")
R = TypeVar("R")


def validate_tenant(code: object) -> str:
    """Return ``code`` if it is a valid tenant code; raise TenantError naming it otherwise."""
    if type(code) is str:
        hit = _valid_codes.get(code)
        if hit is not None:
            return hit
    if not isinstance(code, str):
        raise TenantError(
            f"tenant code must be a str, got {code!r} ({type(code).__name__}); "
            "use e.g. 'acme' (letters, digits and _ . : -)"
        )
    if not _CODE_RE.fullmatch(code):
        if not code:
            why = "it is empty"
        elif len(code) > 128:
            why = f"it has {len(code)} characters (at most 128)"
        elif not code[0].isascii() or not code[0].isalnum():
            why = "it must start with an ASCII letter or digit"
        else:
            why = "only ASCII letters, digits and _ . : - are allowed"
        raise TenantError(f"invalid tenant code {code!r}: {why}")
    code = str(code)
    if len(_valid_codes) < _VALID_CACHE_MAX:
        _valid_codes[code] = code
    return code


class tenant:
    """Run a block, or every call of a function, with ``code`` as the current tenant.

    Works as a context manager (``with``/``async with``) and as a decorator of sync and
    async functions. Overrides nest and are restored on exit, also on exceptions.
    Raises TenantError for an invalid code (at construction, before anything runs).
    """

    __slots__ = ("_tokens", "code")

    def __init__(self, code: str) -> None:
        self.code = validate_tenant(code)
        # One token per active ``with`` of this object, so one object can be re-entered.
        self._tokens: list[contextvars.Token[str | None]] = []

    def __enter__(self) -> str:
        self._tokens.append(OVERRIDE.set(self.code))
        return self.code

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        OVERRIDE.reset(self._tokens.pop())

    async def __aenter__(self) -> str:
        return self.__enter__()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.__exit__(exc_type, exc, tb)

    def __call__(self, func: Callable[P, R]) -> Callable[P, R]:
        """Decorate ``func`` so each call runs with this tenant; async functions too."""
        import inspect

        code = self.code
        if inspect.iscoroutinefunction(func):

            @functools.wraps(func)
            async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
                token = OVERRIDE.set(code)
                try:
                    return await func(*args, **kwargs)
                finally:
                    OVERRIDE.reset(token)

            return async_wrapper  # type: ignore[return-value]

        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            token = OVERRIDE.set(code)
            try:
                return func(*args, **kwargs)
            finally:
                OVERRIDE.reset(token)

        return wrapper  # type: ignore[return-value]

    def __repr__(self) -> str:
        return f"tenant({self.code!r})"


def carry_tenant(fn: Callable[P, R]) -> Callable[P, R]:
    """Wrap ``fn`` so it runs under the caller's tenant override, e.g. in an executor thread.

    ``ThreadPoolExecutor`` does not copy contextvars into its threads; a thread starts
    with no override (it sees the session default, else the global tenant). Capture the
    override now and re-apply it around every call of the wrapper.
    """
    code = OVERRIDE.get()

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        token = OVERRIDE.set(code)
        try:
            return fn(*args, **kwargs)
        finally:
            OVERRIDE.reset(token)

    return wrapper  # type: ignore[return-value]
