"""The extension itself: load/unload, ``%%tenant``, rich display of model classes, completion.

Kernel-free ``InteractiveShell`` (history disabled); one test drives a real kernel to check
``%%tenant`` with top-level ``await``, which a kernel runs on its own running loop.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from IPython.core.error import UsageError
from IPython.core.interactiveshell import InteractiveShell

import nbregistry
from nbregistry import DataSource, ModelRegistry
from nbregistry.ipython import RegistryMagics, load_ipython_extension, unload_ipython_extension


@pytest.fixture
def ip(shell: InteractiveShell, reg: ModelRegistry) -> Iterator[InteractiveShell]:
    """Yield the shell with the extension loaded, acting on ``reg``, ``nbregistry`` in scope."""
    load_ipython_extension(shell)
    magics(shell).registry = reg
    shell.user_ns.update(nbregistry=nbregistry, reg=reg, DataSource=DataSource)
    yield shell
    unload_ipython_extension(shell)


def magics(shell: InteractiveShell) -> RegistryMagics:
    """Return the RegistryMagics instance registered on ``shell``."""
    return shell.magics_manager.registry["RegistryMagics"]


# Terminal colour codes in IPython's tracebacks (ESC [ ... m).
ANSI = re.compile(r"\x1b\[[0-9;]*m")


def output(capsys: pytest.CaptureFixture[str]) -> str:
    """Return everything printed since the last call."""
    captured = capsys.readouterr()
    return captured.out + captured.err


def installed(shell: InteractiveShell) -> dict[str, Any]:
    """Describe what the extension has installed on ``shell``."""
    html = shell.display_formatter.formatters["text/html"]
    text = shell.display_formatter.formatters["text/plain"]
    return {
        "line": "registry" in shell.magics_manager.magics["line"],
        "cell": "tenant" in shell.magics_manager.magics["cell"],
        "configurables": sum(isinstance(c, RegistryMagics) for c in shell.configurables),
        "matchers": sum(
            getattr(m, "matcher_identifier", "") == "nbregistry.registry_matcher"
            for m in shell.Completer.custom_matchers
        ),
        "transformers": sum(getattr(t, "nbregistry", False) for t in shell.input_transformers_post),
        "html_printer": getattr(html.type_printers.get(type), "nbregistry", False),
        "text_printer": getattr(text.type_printers.get(type), "nbregistry", False),
    }


NOTHING = {
    "line": False,
    "cell": False,
    "configurables": 0,
    "matchers": 0,
    "transformers": 0,
    "html_printer": False,
    "text_printer": False,
}
EVERYTHING = {
    "line": True,
    "cell": True,
    "configurables": 1,
    "matchers": 1,
    "transformers": 1,
    "html_printer": True,
    "text_printer": True,
}


# --- load / unload ---


def test_load_ext_prints_nothing_and_unload_ext_removes_everything(
    shell: InteractiveShell, capsys: pytest.CaptureFixture[str]
) -> None:
    output(capsys)
    plain_type_printer = shell.display_formatter.formatters["text/plain"].type_printers[type]
    assert installed(shell) == NOTHING
    shell.run_line_magic("load_ext", "nbregistry")
    assert output(capsys) == ""
    assert installed(shell) == EVERYTHING
    shell.run_line_magic("unload_ext", "nbregistry")
    assert installed(shell) == NOTHING
    assert shell.display_formatter.formatters["text/plain"].type_printers[type] is (
        plain_type_printer
    )
    assert type not in shell.display_formatter.formatters["text/html"].type_printers
    result = shell.run_cell("%registry stats")
    assert isinstance(result.error_in_exec, UsageError)
    assert "Line magic function `%registry` not found" in output(capsys)
    shell.run_line_magic("load_ext", "nbregistry")  # and back again
    assert installed(shell) == EVERYTHING
    assert output(capsys) == ""
    shell.run_line_magic("unload_ext", "nbregistry")
    assert installed(shell) == NOTHING


def test_loading_twice_is_harmless(shell: InteractiveShell) -> None:
    load_ipython_extension(shell)
    first = magics(shell)
    load_ipython_extension(shell)
    try:
        assert installed(shell) == EVERYTHING
        assert magics(shell) is first
    finally:
        unload_ipython_extension(shell)
    assert installed(shell) == NOTHING
    unload_ipython_extension(shell)  # unloading twice is harmless too
    assert installed(shell) == NOTHING


def test_reload_ext_gives_a_working_fresh_instance(
    shell: InteractiveShell, capsys: pytest.CaptureFixture[str]
) -> None:
    shell.run_line_magic("load_ext", "nbregistry")
    first = magics(shell)
    shell.run_line_magic("reload_ext", "nbregistry")
    try:
        assert installed(shell) == EVERYTHING and magics(shell) is not first
        assert shell.run_line_magic("registry", "tenant") == nbregistry.current_tenant()
    finally:
        shell.run_line_magic("unload_ext", "nbregistry")
    assert installed(shell) == NOTHING


def test_the_package_entry_points_delegate(shell: InteractiveShell) -> None:
    nbregistry.load_ipython_extension(shell)
    assert installed(shell) == EVERYTHING
    nbregistry.unload_ipython_extension(shell)
    assert installed(shell) == NOTHING


def test_magics_act_on_the_process_wide_registry_by_default(shell: InteractiveShell) -> None:
    load_ipython_extension(shell)
    try:
        assert magics(shell).registry is nbregistry.registry
    finally:
        unload_ipython_extension(shell)


def test_import_nbregistry_does_not_import_ipython_or_pandas() -> None:
    code = (
        "import sys, nbregistry; "
        "bad = [m for m in ('IPython', 'pandas', 'ipywidgets', 'matplotlib') if m in sys.modules]; "
        "print(bad)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


# --- rich display of model classes ---


def test_model_classes_display_as_html_and_text(ip: InteractiveShell, reg: ModelRegistry) -> None:
    ds = DataSource("memory", name="crm", tenant="acme", registry=reg)
    user = ds.define("User", {"name": {"type": "string", "required": True}, "tags": ["string"]})
    data, _ = ip.display_formatter.format(user)
    assert data["text/plain"] == (
        "<model 'User' tenant='acme' owner=DataSource 'crm': "
        "id: integer, name: string*, tags: array<string>>"
    )
    html = data["text/html"]
    assert "<code>User</code>" in html and "DataSource &#x27;crm&#x27;" in html
    assert user.definition.fingerprint[:12] in html and "array&lt;string&gt;" in html


def test_anonymous_model_classes_display_too(ip: InteractiveShell, reg: ModelRegistry) -> None:
    ds = DataSource("memory", name="crm", tenant="acme", registry=reg)
    user = ds.define("User", {"address": {"street": "string"}})
    anon = user.definition.properties["address"].type
    text = ip.display_formatter.format(anon)[0]["text/plain"]
    assert text == f"<model '{anon.model_name}' tenant='acme' owner=anonymous (embedded): " + (
        "street: string>"
    )


def test_other_classes_and_instances_display_as_before(
    ip: InteractiveShell, reg: ModelRegistry
) -> None:
    class WithHtml:
        @classmethod
        def _repr_html_(cls) -> str:
            return "<b>class html</b>"

    data, _ = ip.display_formatter.format(int)
    assert data == {"text/plain": "int"}
    assert ip.display_formatter.format(WithHtml)[0]["text/html"] == "<b>class html</b>"
    assert ip.display_formatter.format(nbregistry.Model)[0]["text/plain"] == ("nbregistry.Model")
    ds = DataSource("memory", name="crm", tenant="acme", registry=reg)
    user = ds.define("User", {"name": "string"})
    assert ip.display_formatter.format(user(name="Ann"))[0]["text/plain"] == (
        "User(id=None, name='Ann')"
    )


def test_after_unload_model_classes_display_as_plain_classes(
    shell: InteractiveShell, reg: ModelRegistry
) -> None:
    user = DataSource("memory", name="crm", tenant="acme", registry=reg).define("User", {})
    load_ipython_extension(shell)
    unload_ipython_extension(shell)
    data, _ = shell.display_formatter.format(user)
    assert data == {"text/plain": "nbregistry.models.acme.crm.User"}


def test_registry_objects_have_compact_rich_displays(
    ip: InteractiveShell, reg: ModelRegistry
) -> None:
    ds = DataSource("memory", name="crm", tenant="acme", registry=reg)
    for i in range(12):
        ds.define(f"M{i}", {"x": "integer"})
    ip.run_line_magic("config", "RegistryMagics.max_rows = 10")
    try:
        for obj in (ds.models, ds, reg.tenant_registry("acme")):
            html = ip.display_formatter.format(obj)[0]["text/html"]
            assert "2 more rows not shown" in html and "M9" in html and "M10" not in html
        assert "ModelRegistry" in ip.display_formatter.format(reg)[0]["text/html"]
        assert "RegistryStats" in ip.display_formatter.format(reg.stats())[0]["text/html"]
    finally:
        ip.run_line_magic("config", "RegistryMagics.max_rows = 30")
        shell_config = ip.config
        shell_config.pop("RegistryMagics", None)


# --- %%tenant ---


def test_tenant_cell_runs_in_the_tenant_and_returns_the_last_value(
    ip: InteractiveShell, reg: ModelRegistry, capsys: pytest.CaptureFixture[str]
) -> None:
    result = ip.run_cell(
        "%%tenant acme\nds = DataSource('memory', name='crm', registry=reg)\n"
        "User = ds.define('User', {'name': 'string'})\nnbregistry.current_tenant()"
    )
    assert result.success and result.result == "acme"
    assert ip.user_ns["ds"].tenant == "acme"
    assert reg.get_model("User", tenant="acme") is ip.user_ns["User"]
    assert nbregistry.current_tenant() == "global"
    assert "Out[" in output(capsys)


def test_tenant_cell_with_trailing_semicolon_shows_nothing(
    ip: InteractiveShell, capsys: pytest.CaptureFixture[str]
) -> None:
    output(capsys)
    result = ip.run_cell("%%tenant acme\nx = 1\nnbregistry.current_tenant();")
    assert result.success and result.result is None
    assert output(capsys) == ""


def test_tenant_cell_sees_magics_and_the_registry_magic_sees_the_tenant(
    ip: InteractiveShell, reg: ModelRegistry
) -> None:
    result = ip.run_cell("%%tenant globex\nt = %registry tenant\nt")
    assert result.result == "globex"


def test_tenant_cell_restores_the_tenant_when_the_cell_fails(
    ip: InteractiveShell, capsys: pytest.CaptureFixture[str]
) -> None:
    nbregistry.use_tenant("base")
    try:
        result = ip.run_cell("%%tenant acme\nseen = nbregistry.current_tenant()\n1 / 0")
        assert isinstance(result.error_in_exec, ZeroDivisionError)
        assert ip.user_ns["seen"] == "acme"
        assert nbregistry.current_tenant() == "base"
        text = output(capsys)
        assert "ZeroDivisionError" in text and "1 / 0" in text  # the user's error, in full
    finally:
        nbregistry.use_tenant(None)


def test_tenant_cell_with_await(ip: InteractiveShell) -> None:
    result = ip.run_cell(
        "%%tenant acme\nimport asyncio\nawait asyncio.sleep(0)\n"
        "async def where():\n    return nbregistry.current_tenant()\n"
        "[nbregistry.current_tenant(), await asyncio.create_task(where())]"
    )
    assert result.success, result.error_in_exec
    assert result.result == ["acme", "acme"]
    assert nbregistry.current_tenant() == "global"


def test_tenant_cell_with_await_restores_on_failure(ip: InteractiveShell) -> None:
    result = ip.run_cell("%%tenant acme\nimport asyncio\nawait asyncio.sleep(0)\n{}['missing']")
    assert isinstance(result.error_in_exec, KeyError)
    assert nbregistry.current_tenant() == "global"


def test_tenant_cell_await_only_in_the_last_expression(ip: InteractiveShell) -> None:
    result = ip.run_cell(
        "%%tenant acme\nimport asyncio\nasync def f():\n    return nbregistry.current_tenant()\n"
        "await f()"
    )
    assert result.result == "acme"


def test_run_cell_magic_called_directly(ip: InteractiveShell) -> None:
    assert ip.run_cell_magic("tenant", "acme", "nbregistry.current_tenant()") == "acme"
    value = ip.run_cell_magic(
        "tenant", "acme", "import asyncio\nawait asyncio.sleep(0)\nnbregistry.current_tenant()"
    )
    assert value == "acme"
    assert nbregistry.current_tenant() == "global"


@pytest.mark.parametrize(
    ("first_line", "expected"),
    [
        ("%%tenant", "exactly one tenant code"),
        ("%%tenant acme globex", "exactly one tenant code"),
        ("%%tenant 'bad code'", "invalid tenant code 'bad code'"),
        ("%%tenant '", "cannot split"),
    ],
)
def test_tenant_cell_usage_errors_are_one_line_and_run_nothing(
    ip: InteractiveShell, capsys: pytest.CaptureFixture[str], first_line: str, expected: str
) -> None:
    output(capsys)
    ip.user_ns.pop("ran", None)
    result = ip.run_cell(f"{first_line}\nran = True")
    text = output(capsys)
    assert isinstance(result.error_in_exec, UsageError)
    assert "Traceback" not in text and len(text.strip().splitlines()) == 1
    assert expected in text
    assert "ran" not in ip.user_ns


# The source of a %%tenant cell body that does not compile -> the problem the user must read.
SYNTAX_ERRORS = {"x = (": "incomplete input", "x = )": "unmatched ')'"}


@pytest.mark.parametrize("body", list(SYNTAX_ERRORS))
def test_tenant_cell_syntax_error_is_reported(
    ip: InteractiveShell, capsys: pytest.CaptureFixture[str], body: str
) -> None:
    result = ip.run_cell(f"%%tenant acme\n{body}")
    assert isinstance(result.error_in_exec, SyntaxError)
    # What the user reads, without colours: the offending line, then one line naming the
    # problem. Not the class name: 3.13 reports an incomplete cell as _IncompleteInputError.
    lines = [line for line in ANSI.sub("", output(capsys)).splitlines() if line.strip()]
    kind, _, problem = lines[-1].partition(": ")
    assert kind.endswith("Error") and " " not in kind and problem == SYNTAX_ERRORS[body], lines
    assert body in [line.strip() for line in lines[-4:-1]], lines
    assert nbregistry.current_tenant() == "global"


def test_without_autoawait_an_await_cell_is_a_syntax_error(ip: InteractiveShell) -> None:
    ip.autoawait = False
    try:
        result = ip.run_cell("%%tenant acme\nimport asyncio\nawait asyncio.sleep(0)")
        assert isinstance(result.error_in_exec, SyntaxError)
    finally:
        ip.autoawait = True


# --- completion ---


def complete(shell: InteractiveShell, line: str) -> list[str]:
    """Return, sorted, what IPython would complete at the end of ``line`` (as kernels do)."""
    from IPython.core.completer import provisionalcompleter

    with provisionalcompleter():
        found = list(shell.Completer.completions(line, len(line)))
    # Each completion replaces line[start:end]; report the resulting last word.
    return sorted((line[: c.start] + c.text).split(" ")[-1] for c in found)


def complete_texts(shell: InteractiveShell, line: str) -> list[str]:
    """Return, in the order offered, the text after ``%registry SUB [opts]`` each completion
    leaves (a completion may insert ``Model -t CODE``)."""
    from IPython.core.completer import provisionalcompleter

    with provisionalcompleter():
        found = list(shell.Completer.completions(line, len(line)))
    assert all(c.end == len(line) for c in found), found
    start = len(line) - len(line.split(" ")[-1])
    assert all(c.start == start for c in found), found
    return [c.text for c in found]


@pytest.fixture
def tenants_and_models(reg: ModelRegistry) -> None:
    """Populate ``reg``: acme (crm: User, Order; billing: Invoice), globex, acme:eu."""
    crm = DataSource("memory", name="crm", tenant="acme", registry=reg)
    crm.define("User", {"name": "string"})
    crm.define("Order", {"total": "number"})
    DataSource("memory", name="billing", tenant="acme", registry=reg).define("Invoice", {})
    DataSource("memory", name="shop", tenant="globex", registry=reg).define("Item", {})
    DataSource("memory", name="eu", tenant="acme:eu", registry=reg).define("Vat", {})


def test_complete_subcommands(ip: InteractiveShell) -> None:
    assert complete(ip, "%registry mo") == ["models"]
    assert complete(ip, "%registry t") == ["tenant", "tenants"]
    everything = complete(ip, "%registry ")
    assert set(everything) == {
        "stats",
        "tenants",
        "models",
        "owners",
        "show",
        "find",
        "tenant",
        "cleanup",
        "clear",
        "connect",
        "disconnect",
        "sync",
        "history",
        "diff",
        "browse",
        "help",
        "-h",
        "--help",
    }


def test_complete_option_names(ip: InteractiveShell) -> None:
    assert set(complete(ip, "%registry models --")) == {
        "--help",
        "--tenant",
        "--all-tenants",
        "--owner",
        "--anonymous",
        "--named",
    }
    assert complete(ip, "%registry models --an") == ["--anonymous"]
    assert complete(ip, "%registry clear --y") == ["--yes"]
    assert "--structure" in complete(ip, "%registry find --s")


@pytest.mark.usefixtures("tenants_and_models")
def test_complete_tenant_codes(ip: InteractiveShell) -> None:
    assert complete(ip, "%registry models -t ") == ["acme", "acme:eu", "global", "globex"]
    assert complete(ip, "%registry models --tenant gl") == ["global", "globex"]
    assert complete(ip, "%registry models -t acme:") == ["acme:eu"]
    assert complete(ip, "%registry cleanup a") == ["acme", "acme:eu"]
    assert complete(ip, "%registry tenant glo") == ["global", "globex"]
    assert complete(ip, "%%tenant ac") == ["acme", "acme:eu"]


@pytest.mark.usefixtures("tenants_and_models")
def test_complete_model_names_in_the_chosen_tenant(
    ip: InteractiveShell, reg: ModelRegistry
) -> None:
    assert complete(ip, "%registry show -t acme ") == [
        "Invoice",
        "Order",
        "User",
        "billing.Invoice",
        "crm.Order",
        "crm.User",
    ]
    assert complete(ip, "%registry show -t acme U") == ["User"]
    assert complete(ip, "%registry find -t globex I") == ["Item"]
    # -t globex: only globex's (and global's) models, never acme's
    assert complete_texts(ip, "%registry show -t globex ") == ["Item", "shop.Item"]
    reg.use_tenant("acme")
    # current tenant acme: its own names first, as typed; other tenants' with their -t
    assert complete_texts(ip, "%registry show I") == ["Invoice", "Item -t globex"]
    assert complete_texts(ip, "%registry show -t bad! Inv") == ["Inv"]  # nothing to add


@pytest.mark.usefixtures("tenants_and_models")
def test_complete_model_names_from_the_global_tenant(ip: InteractiveShell) -> None:
    """Issue 14: in the global tenant, other tenants' models, never keywords or files."""
    assert ip.user_ns["reg"].current_tenant() == "global"
    assert complete_texts(ip, "%registry show ") == [
        "Invoice -t acme",
        "Order -t acme",
        "User -t acme",
        "billing.Invoice -t acme",
        "crm.Order -t acme",
        "crm.User -t acme",
        "Item -t globex",
        "shop.Item -t globex",
        "Vat -t acme:eu",
        "eu.Vat -t acme:eu",
    ]
    assert complete_texts(ip, "%registry show U") == ["User -t acme"]
    assert complete_texts(ip, "%registry find cr") == ["crm.Order -t acme", "crm.User -t acme"]
    # what a completion inserts runs (bare `show User` is a UsageError in global)
    (text,) = complete_texts(ip, "%registry show U")
    with pytest.raises(UsageError):
        ip.run_line_magic("registry", "show User")
    assert "name" in ip.run_line_magic("registry", f"show {text}").index  # acme's User
    # neither keywords (`if`, `in`) nor file names (`Untitled.ipynb`, `tests`) leak in
    assert complete_texts(ip, "%registry show i") == ["i"]
    assert complete_texts(ip, "%registry show t") == ["t"]


@pytest.mark.usefixtures("tenants_and_models")
def test_complete_model_names_across_all_tenants(
    ip: InteractiveShell, reg: ModelRegistry, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "Untitled.ipynb").write_text("{}", encoding="utf-8")
    assert complete_texts(ip, "%registry find --all-tenants U") == ["User"]
    assert complete_texts(ip, "%registry find --all-tenants ") == [
        "Invoice",
        "Item",
        "Order",
        "User",
        "Vat",
        "billing.Invoice",
        "crm.Order",
        "crm.User",
        "eu.Vat",
        "shop.Item",
    ]
    assert complete_texts(ip, "%registry find --all-tenants Unt") == ["Unt"]
    magics(ip).all_tenants = True  # find without -t covers every tenant: bare names
    try:
        assert complete_texts(ip, "%registry find I") == ["Invoice", "Item"]
        assert complete_texts(ip, "%registry find -t globex I") == ["Item"]
    finally:
        magics(ip).all_tenants = False
    reg.use_tenant("globex")
    assert complete_texts(ip, "%registry find --all-tenants V") == ["Vat"]


def test_complete_with_nothing_registered_offers_the_options(ip: InteractiveShell) -> None:
    assert complete_texts(ip, "%registry show ") == ["-h", "--help", "-t", "--tenant"]


def test_complete_subcommands_before_help_options(ip: InteractiveShell) -> None:
    offered = complete_texts(ip, "%registry ")
    assert offered[-2:] == ["-h", "--help"]
    assert offered[:-2] == sorted(offered[:-2]) and "show" in offered


@pytest.mark.usefixtures("tenants_and_models")
def test_complete_owner_names(ip: InteractiveShell) -> None:
    assert complete(ip, "%registry models -t acme -o ") == ["billing", "crm"]
    assert complete(ip, "%registry models -t acme --owner b") == ["billing"]
    assert complete(ip, "%registry models -t globex -o ") == ["shop"]


@pytest.mark.usefixtures("tenants_and_models")
def test_completion_leaves_other_lines_alone(shell: InteractiveShell) -> None:
    load_ipython_extension(shell)
    try:
        assert "print" in complete(shell, "pri")
        assert "%registry" in complete(shell, "%regi")
    finally:
        unload_ipython_extension(shell)
    assert "models" not in complete(shell, "%registry mo")


# --- a real kernel ---


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_tenant_cell_with_await_in_a_real_kernel() -> None:
    """A kernel runs cells on a running loop: an await cell must be awaited, not nested."""
    manager = pytest.importorskip("jupyter_client.manager")
    km, kc = manager.start_new_kernel(kernel_name="python3")

    def run(code: str) -> tuple[str, list[Any]]:
        msg_id = kc.execute(code)
        outputs: list[Any] = []
        while True:
            msg = kc.get_iopub_msg(timeout=60)
            if msg["parent_header"].get("msg_id") != msg_id:
                continue
            kind = msg["msg_type"]
            if kind == "status" and msg["content"]["execution_state"] == "idle":
                break
            if kind == "execute_result":
                outputs.append(msg["content"]["data"]["text/plain"])
            elif kind == "error":
                outputs.append(msg["content"]["ename"])
            elif kind == "stream":
                outputs.append(msg["content"]["text"])
        reply = kc.get_shell_msg(timeout=60)
        while reply["parent_header"].get("msg_id") != msg_id:
            reply = kc.get_shell_msg(timeout=60)
        return reply["content"]["status"], outputs

    try:
        assert run("%load_ext nbregistry\nimport asyncio, nbregistry") == ("ok", [])
        assert run("%%tenant acme\nawait asyncio.sleep(0)\nnbregistry.current_tenant()") == (
            "ok",
            ["'acme'"],
        )
        assert run("%%tenant acme\nnbregistry.current_tenant()") == ("ok", ["'acme'"])
        assert run("%%tenant acme\nawait asyncio.sleep(0)\n1 / 0") == (
            "error",
            ["ZeroDivisionError"],
        )
        assert run("nbregistry.current_tenant()") == ("ok", ["'global'"])
        status, outs = run("%registry nope")
        assert status == "error" and len(outs) == 1 and outs[0].startswith("UsageError:")
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)


@pytest.mark.parametrize("name", ["01-quickstart", "02-tenant-browser"])
def test_notebooks_that_show_model_classes_load_the_extension(name: str) -> None:
    # A model class displays richly only where the extension is loaded (README decision).
    path = Path(__file__).parent.parent / "notebooks" / f"{name}.ipynb"
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    first = "".join(next(c for c in cells if c["cell_type"] == "code")["source"])
    assert first.splitlines()[0] == "%load_ext nbregistry"
