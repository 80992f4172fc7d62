"""Magic fuzzing: random ``%registry`` / ``%%tenant`` lines give a result or a one-line error.

Never a traceback (any exception other than IPython's ``UsageError``), never a multi-line
error, and never evaluation of the input (``{expr}``/``$name`` expansion, JSON through
``eval``): a sentinel function in the user namespace must never be called.
"""

from __future__ import annotations

import contextlib
import io
from collections.abc import Iterator
from typing import Any

import pytest

pytest.importorskip("IPython")
ipython_ext = pytest.importorskip("nbregistry.ipython")
if not hasattr(ipython_ext, "load_ipython_extension"):  # pragma: no cover
    pytest.skip("the IPython layer is not available yet", allow_module_level=True)

from hypothesis import given  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from IPython.core.error import UsageError  # noqa: E402
from IPython.core.interactiveshell import InteractiveShell  # noqa: E402
from IPython.utils.process import arg_split  # noqa: E402

from nbregistry import DataSource, ModelBuilder, ModelRegistry  # noqa: E402
from nbregistry.core import tenancy  # noqa: E402

CALLS: list[str] = []

TOKENS = [
    # subcommands and options
    "stats",
    "tenants",
    "models",
    "owners",
    "show",
    "find",
    "tenant",
    "cleanup",
    "clear",
    "help",
    "-h",
    "--help",
    "-t",
    "--tenant",
    "--all-tenants",
    "-o",
    "--owner",
    "--anonymous",
    "--named",
    "--structure",
    "--strict",
    "--reset",
    "--yes",
    "--bogus",
    "-x",
    # values, good and bad
    "acme",
    "globex",
    "global",
    "User",
    "crm.User",
    "Nope",
    "AnonymousModel_1",
    "''",
    '""',
    '\'{"street": "string"}\'',
    '\'{"street": "numbr"}\'',
    "'[1, 2]'",
    "'{'",
    "'null'",
    "acme\\n",
    "-acme",
    "x" * 130,
    "ä",
    "0",
    "None",
    "True",
    # things that must never be evaluated
    "{sentinel()}",
    "$sentinel",
    "$(sentinel())",
    "`sentinel()`",
    "'{sentinel()}'",
    "__import__('builtins').sentinel()",
    "sentinel()",
    "{{sentinel()}}",
    "!sentinel",
    # shell-splitting edge cases
    "'",
    '"',
    "\\",
    "'unterminated",
    "a'b",
    "#",
    ";",
    "|",
    "&&",
    "%registry",
    "\t",
]


@pytest.fixture(scope="module")
def shell(shell: InteractiveShell) -> Iterator[InteractiveShell]:
    """Yield the conftest shell with the extension loaded and a sentinel in its namespace."""
    ipython_ext.load_ipython_extension(shell)
    shell.user_ns["sentinel"] = lambda *a, **k: CALLS.append("called") or "EVALUATED"
    shell.user_ns["current"] = tenancy.OVERRIDE.get
    yield shell
    ipython_ext.unload_ipython_extension(shell)


def _fresh_registry(sh: InteractiveShell) -> ModelRegistry:
    reg = ModelRegistry()
    ds = DataSource("memory", name="crm", tenant="acme", registry=reg)
    ds.define("User", {"name": "string", "address": {"street": "string"}})
    DataSource("memory", name="crm", tenant="globex", registry=reg).define("User")
    ModelBuilder(registry=reg, name="b").define("Shared", {"x": "string"})
    sh.magics_manager.registry["RegistryMagics"].registry = reg
    return reg


def _check_one_line(exc: UsageError) -> None:
    text = str(exc)
    assert text.strip(), "empty error message"
    assert "\n" not in text.strip(), f"multi-line error: {text!r}"
    assert "Traceback" not in text


def _run_line(sh: InteractiveShell, line: str) -> Any:
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
        try:
            return sh.run_line_magic("registry", line)
        except UsageError as exc:
            _check_one_line(exc)
            return exc


@given(st.lists(st.sampled_from(TOKENS), max_size=6).map(" ".join))
def test_registry_magic_token_lines(shell: InteractiveShell, line: str) -> None:
    """Token soup of real options and hostile values: a result or a one-line UsageError."""
    reg = _fresh_registry(shell)
    CALLS.clear()
    _run_line(shell, line)
    assert CALLS == [], f"input was evaluated: {line!r}"
    reg.use_tenant(None)


@given(st.text(max_size=40))
def test_registry_magic_random_text(shell: InteractiveShell, line: str) -> None:
    """Arbitrary unicode text after ``%registry``: a result or a one-line UsageError."""
    reg = _fresh_registry(shell)
    CALLS.clear()
    _run_line(shell, line)
    assert CALLS == []
    reg.use_tenant(None)


@given(st.one_of(st.text(max_size=20), st.lists(st.sampled_from(TOKENS), max_size=3).map(" ".join)))
def test_tenant_cell_magic_lines(shell: InteractiveShell, line: str) -> None:
    """``%%tenant <random>``: runs the cell in that tenant or raises a one-line UsageError."""
    reg = _fresh_registry(shell)
    CALLS.clear()
    shell.user_ns.pop("seen_tenant", None)
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
        try:
            shell.run_cell_magic("tenant", line, "seen_tenant = current()")
        except UsageError as exc:
            _check_one_line(exc)
            assert "seen_tenant" not in shell.user_ns
        else:
            seen = shell.user_ns["seen_tenant"]
            assert tenancy.validate_tenant(seen) == seen
            assert arg_split(line, posix=True, strict=True) == [seen]  # shell-style split
    assert CALLS == []
    assert reg.current_tenant() == reg.session_tenant  # the override ended with the cell


def test_tenant_cell_magic_does_not_expand_its_line(shell: InteractiveShell) -> None:
    """Regression: ``%%tenant {expr}`` used to evaluate ``expr`` (IPython's var expansion)."""
    _fresh_registry(shell)
    CALLS.clear()
    with pytest.raises(UsageError, match="sentinel"):
        shell.run_cell_magic("tenant", "{sentinel()}", "x = 1")
    assert CALLS == []
