"""``%registry``: every subcommand and option, return types, ``%config`` and one-line errors.

Runs on a kernel-free ``InteractiveShell`` (history disabled) with an isolated
``ModelRegistry`` set on the magics instance.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pandas as pd
import pytest
from IPython.core.error import UsageError
from IPython.core.interactiveshell import InteractiveShell
from traitlets import TraitError

from nbregistry import DataSource, ModelBuilder, ModelRegistry
from nbregistry.ipython import RegistryMagics, load_ipython_extension, unload_ipython_extension
from nbregistry.ipython.magics import SUBCOMMANDS, UsageTable

ADDRESS = {"street": "string", "city": "string"}


@pytest.fixture
def ip(shell: InteractiveShell, reg: ModelRegistry) -> Iterator[InteractiveShell]:
    """Yield the shell with the extension loaded and acting on the isolated ``reg``."""
    load_ipython_extension(shell)
    magics(shell).registry = reg
    yield shell
    unload_ipython_extension(shell)
    shell.config.pop("RegistryMagics", None)  # %config persists in the shell's config


def magics(shell: InteractiveShell) -> RegistryMagics:
    """Return the RegistryMagics instance registered on ``shell``."""
    return shell.magics_manager.registry["RegistryMagics"]


def run(shell: InteractiveShell, line: str) -> Any:
    """Return the value of ``%registry <line>``."""
    return shell.run_line_magic("registry", line)


@pytest.fixture
def populated(reg: ModelRegistry) -> dict[str, Any]:
    """Define models in acme (two owners, an anonymous model), globex and global."""
    crm = DataSource("memory", name="crm", tenant="acme", registry=reg)
    user = crm.define("User", {"name": "string", "address": ADDRESS})
    order = crm.define("Order", {"total": "number", "shipping": ADDRESS})
    billing = DataSource("memory", name="billing", tenant="acme", registry=reg)
    invoice = billing.define("Invoice", {"amount": "number"})
    shop = DataSource("memory", name="shop", tenant="globex", registry=reg)
    guser = shop.define("User", {"login": "string"})
    core = DataSource("memory", name="core", tenant="global", registry=reg)
    country = core.define("Country", {"code": "string"})
    return {
        "crm": crm,
        "billing": billing,
        "shop": shop,
        "core": core,
        "User": user,
        "Order": order,
        "Invoice": invoice,
        "GlobexUser": guser,
        "Country": country,
        "Address": user.definition.properties["address"].type,
    }


def one_line_error(shell: InteractiveShell, capsys: pytest.CaptureFixture[str], cell: str) -> str:
    """Run ``cell``; assert it failed with a one-line UsageError and return that line."""
    capsys.readouterr()
    result = shell.run_cell(cell)
    captured = capsys.readouterr()
    text = captured.out + captured.err
    assert isinstance(result.error_in_exec, UsageError), text
    assert "Traceback" not in text
    lines = [line for line in text.splitlines() if line.strip()]
    assert len(lines) == 1, text
    assert lines[0].startswith("UsageError: ")
    return lines[0]


# --- stats / tenants ---


def test_stats_is_a_frame_with_tenant_rows_a_total_and_visible_headline(
    ip: InteractiveShell, populated: dict[str, Any], reg: ModelRegistry
) -> None:
    reg.get_model("User", tenant="acme")
    df = run(ip, "stats")
    assert isinstance(df, pd.DataFrame)
    assert list(df.index) == ["acme", "globex", "global", "total"]
    assert df.loc["acme", "models"] == 4  # User, Order, Invoice, the shared address model
    assert df.loc["total", "models"] == 6
    assert df.loc["total", "owners"] == 4
    stats = reg.stats()
    head = df.attrs["header"]
    assert head["registrations"] == stats.registrations
    assert head["reuse_hits"] == 1 and head["reuse_misses"] == 1
    assert head["hit_rate"] == "50.0%"
    for rendered in (df._repr_html_(), repr(df)):
        for key in ("registrations", "lookups", "reuse_hits", "reuse_misses", "hit_rate"):
            assert key in rendered
    assert "50.0%" in df._repr_html_()


def test_stats_of_an_empty_registry_has_only_the_total_row(ip: InteractiveShell) -> None:
    df = run(ip, "stats")
    assert list(df.index) == ["total"]
    assert df.loc["total", "models"] == 0


def test_tenants_counts_named_and_anonymous_models(
    ip: InteractiveShell, populated: dict[str, Any]
) -> None:
    df = run(ip, "tenants")
    assert isinstance(df, pd.DataFrame)
    assert list(df.index) == ["acme", "globex", "global"]
    assert list(df.columns) == [
        "models",
        "named",
        "anonymous",
        "owners",
        "created_at",
        "last_accessed",
        "idle_seconds",
    ]
    assert df.loc["acme", ["models", "named", "anonymous", "owners"]].tolist() == [4, 3, 1, 2]
    assert df.loc["globex", ["models", "named", "anonymous"]].tolist() == [1, 1, 0]
    assert pd.api.types.is_datetime64_any_dtype(df["created_at"])
    assert (df["idle_seconds"] >= 0).all()


# --- models / owners ---


def test_models_defaults_to_the_current_tenant(
    ip: InteractiveShell, populated: dict[str, Any], reg: ModelRegistry
) -> None:
    df = run(ip, "models")
    assert list(df["model"]) == ["Country"]
    reg.use_tenant("globex")
    df = run(ip, "models")
    assert list(df["model"]) == ["User"] and set(df["tenant"]) == {"globex"}


def test_models_tenant_owner_and_kind_filters(
    ip: InteractiveShell, populated: dict[str, Any]
) -> None:
    anon = populated["Address"].model_name
    df = run(ip, "models -t acme")
    assert list(df["model"]) == [anon, "User", "Order", "Invoice"]
    assert list(df.columns) == [
        "tenant",
        "owner",
        "owner_type",
        "model",
        "anonymous",
        "properties",
        "fingerprint",
        "registered_at",
        "records",  # issue 11: the rows each model holds (<NA>: anonymous, no DataSource)
    ]
    assert df["records"].dtype == "Int64"
    assert df.set_index("model")["records"].isna().to_dict() == {
        anon: True,
        "User": False,
        "Order": False,
        "Invoice": False,
    }
    assert df.attrs["header"] == {"DataSource 'crm'": "memory", "DataSource 'billing'": "memory"}
    assert list(run(ip, "models --tenant acme -o crm")["model"]) == ["User", "Order"]
    assert list(run(ip, "models -t acme --owner billing")["model"]) == ["Invoice"]
    assert list(run(ip, "models -t acme --anonymous")["model"]) == [anon]
    assert list(run(ip, "models -t acme --named")["model"]) == ["User", "Order", "Invoice"]
    assert run(ip, "models -t acme -o billing --anonymous").empty


def test_models_all_tenants(ip: InteractiveShell, populated: dict[str, Any]) -> None:
    df = run(ip, "models --all-tenants")
    assert len(df) == 6
    assert sorted(set(df["tenant"])) == ["acme", "global", "globex"]
    assert list(run(ip, "models --all-tenants --named -o shop")["tenant"]) == ["globex"]


def test_models_of_a_tenant_with_owners_but_no_models_is_empty_not_an_error(
    ip: InteractiveShell, reg: ModelRegistry
) -> None:
    keep = DataSource("memory", name="empty", tenant="fresh", registry=reg)
    df = run(ip, "models -t fresh")
    assert df.empty and "model" in df.columns
    assert keep.tenant == "fresh"


def test_owners(ip: InteractiveShell, populated: dict[str, Any], reg: ModelRegistry) -> None:
    df = run(ip, "owners -t acme")
    assert isinstance(df, pd.DataFrame)
    assert list(df.columns) == [
        "tenant",
        "owner",
        "owner_type",
        "connector",
        "models",
        "model_names",
        "database",  # issue 11: where a DataSource's rows live (never a secret) ...
        "schema",
        "records",  # ... and how many it holds
    ]
    assert df["records"].dtype == "Int64" and list(df["records"]) == [0, 0]
    assert set(df["database"]) == {""} and "header" not in df.attrs
    rows = df.set_index("owner")
    assert rows.loc["crm", "model_names"] == "User, Order"
    assert rows.loc["crm", "models"] == 2 and rows.loc["billing", "models"] == 1
    assert set(df["owner_type"]) == {"dataSource"} and set(df["connector"]) == {"memory"}
    builder = ModelBuilder(tenant="acme", registry=reg, name="bld")
    builder.define("Thing", {"x": "integer"})
    row = run(ip, "owners --tenant acme").set_index("owner").loc["bld"]
    assert row["owner_type"] == "builder" and row["connector"] == ""
    assert pd.isna(row["records"])  # a builder's models have no rows
    assert list(run(ip, "owners")["owner"]) == ["core"]
    assert sorted(run(ip, "owners --all-tenants")["tenant"].unique()) == [
        "acme",
        "global",
        "globex",
    ]


# --- show / find ---


def test_show_returns_properties_with_owner_tenant_and_fingerprint(
    ip: InteractiveShell, populated: dict[str, Any]
) -> None:
    user = populated["User"]
    df = run(ip, "show User -t acme")
    assert isinstance(df, pd.DataFrame)
    assert list(df.index) == ["id", "name", "address"]
    assert df.loc["address", "type"] == populated["Address"].model_name
    assert bool(df.loc["id", "id"]) is True
    head = df.attrs["header"]
    assert head == {
        "model": "User",
        "tenant": "acme",
        "owner": "DataSource 'crm'",
        "fingerprint": user.definition.fingerprint,
        "connector": "memory",
        "records": 0,
    }
    assert user.definition.fingerprint in df._repr_html_()
    assert "DataSource 'crm'" in repr(df)
    # qualified names, global fallback, anonymous models
    assert run(ip, "show shop.User -t globex").attrs["header"]["tenant"] == "globex"
    assert run(ip, "show Country -t acme").attrs["header"]["tenant"] == "global"
    anon = populated["Address"].model_name
    assert run(ip, f"show {anon} -t acme").attrs["header"]["owner"] == "(anonymous)"


def test_show_derived_frames_are_plain_dataframes(
    ip: InteractiveShell, populated: dict[str, Any]
) -> None:
    df = run(ip, "show User -t acme")
    sub = df[["type"]]
    assert type(sub) is pd.DataFrame
    assert "fingerprint" not in repr(sub).splitlines()[0]


def test_frames_with_a_header_pickle_in_a_fresh_process(
    ip: InteractiveShell, populated: dict[str, Any], tmp_path: Any
) -> None:
    df = run(ip, "show User -t acme")
    path = tmp_path / "show.pkl"
    df.to_pickle(path)
    code = (
        "import pandas as pd, sys; df = pd.read_pickle(sys.argv[1]); "
        "print(type(df).__name__, df.attrs['header']['model'], list(df.index))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(path)], capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "RegistryFrame User ['id', 'name', 'address']"


def test_find_by_name_follows_registry_lookup_rules(
    ip: InteractiveShell, populated: dict[str, Any], reg: ModelRegistry
) -> None:
    df = run(ip, "find User -t acme")
    assert df[["tenant", "owner", "model"]].values.tolist() == [["acme", "crm", "User"]]
    assert list(run(ip, "find Country -t globex")["tenant"]) == ["global"]
    assert list(run(ip, "find crm.Order -t acme")["model"]) == ["Order"]
    reg.use_tenant("globex")
    assert list(run(ip, "find User")["owner"]) == ["shop"]


def test_find_all_tenants_and_ambiguous_names(
    ip: InteractiveShell, populated: dict[str, Any], reg: ModelRegistry
) -> None:
    df = run(ip, "find User --all-tenants")
    assert sorted(df["tenant"]) == ["acme", "globex"]
    populated["billing"].define("User", {"iban": "string"})
    both = run(ip, "find User -t acme")
    assert sorted(both["owner"]) == ["billing", "crm"]


def test_find_structure_finds_the_anonymous_model_without_counting_reuse(
    ip: InteractiveShell, populated: dict[str, Any], reg: ModelRegistry
) -> None:
    before = reg.stats()
    df = run(ip, """find --structure '{"city": "string", "street": "string"}' -t acme""")
    assert list(df["model"]) == [populated["Address"].model_name]
    assert bool(df.loc[0, "anonymous"]) is True
    after = reg.stats()
    assert (after.reuse_hits, after.reuse_misses) == (before.reuse_hits, before.reuse_misses)


def test_find_structure_falls_back_to_global_and_respects_strict(
    ip: InteractiveShell, reg: ModelRegistry
) -> None:
    g = DataSource("memory", name="g", tenant="global", registry=reg)
    g.define("Place", {"geo": {"lat": "number"}})
    strict_b = ModelBuilder(tenant="acme", registry=reg, strict_embedded_models=True)
    strict_b.define("Pin", {"geo": {"lng": "number"}})
    assert len(run(ip, """find --structure '{"lat": "number"}' -t acme""")) == 1
    assert len(run(ip, """find --structure '{"lng": "number"}' -t acme --strict""")) == 1
    with pytest.raises(UsageError, match="no strict anonymous model"):
        run(ip, """find --structure '{"lat": "number"}' -t acme --strict""")


def test_find_structure_matches_the_registry_fingerprint(
    ip: InteractiveShell, populated: dict[str, Any], reg: ModelRegistry
) -> None:
    spec = {"street": "string", "city": "string"}
    via_api = reg.find_model_by_structure(spec, tenant="acme")
    via_magic = run(ip, """find --structure '{"street": "string", "city": "string"}' -t acme""")
    assert via_api is not None and via_magic.loc[0, "model"] == via_api.model_name


# --- tenant / cleanup / clear ---


def test_tenant_show_set_and_reset(
    ip: InteractiveShell, reg: ModelRegistry, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(ip, "tenant") == "global"
    assert run(ip, "tenant acme") is None
    assert "session tenant is now 'acme' (was 'global')" in capsys.readouterr().out
    assert reg.session_tenant == "acme" and run(ip, "tenant") == "acme"
    run(ip, "tenant --reset")
    assert reg.session_tenant == "global"
    assert "reset to 'global' (was 'acme')" in capsys.readouterr().out


def test_tenant_sets_only_the_magics_registry(ip: InteractiveShell, reg: ModelRegistry) -> None:
    import nbregistry

    run(ip, "tenant acme")
    assert reg.session_tenant == "acme"
    assert nbregistry.registry.session_tenant == "global"


def test_tenant_set_inside_an_override_says_the_override_wins(
    ip: InteractiveShell, reg: ModelRegistry, capsys: pytest.CaptureFixture[str]
) -> None:
    from nbregistry import tenant

    with tenant("globex"):
        run(ip, "tenant acme")
        assert run(ip, "tenant") == "globex"
    assert "override 'globex' still wins" in capsys.readouterr().out
    assert run(ip, "tenant") == "acme"


def test_cleanup_returns_the_count_and_empties_views(
    ip: InteractiveShell, populated: dict[str, Any], reg: ModelRegistry
) -> None:
    assert run(ip, "cleanup acme") == 4
    assert len(populated["crm"].models) == 0
    assert reg.tenants() == ["globex", "global"]
    assert run(ip, "cleanup acme") == 0  # idempotent, like the API


def test_clear_refuses_without_yes_and_changes_nothing(
    ip: InteractiveShell,
    populated: dict[str, Any],
    reg: ModelRegistry,
    capsys: pytest.CaptureFixture[str],
) -> None:
    line = one_line_error(ip, capsys, "%registry clear")
    assert "refusing to clear 6 models in 3 tenants" in line and "--yes" in line
    assert reg.stats().models == 6
    assert run(ip, "clear --yes") is None
    assert "cleared 6 models in 3 tenants" in capsys.readouterr().out
    assert reg.tenants() == [] and reg.stats().registrations == 0


# --- browse / help ---


def test_browse_returns_the_tenant_browser(
    ip: InteractiveShell, populated: dict[str, Any], reg: ModelRegistry
) -> None:
    widgets = pytest.importorskip("nbregistry.widgets")
    if not hasattr(widgets, "TenantBrowser"):
        pytest.skip("nbregistry.widgets.TenantBrowser is not there yet")
    browser = run(ip, "browse -t acme")
    try:
        assert isinstance(browser, widgets.TenantBrowser)
    finally:
        browser.close()


def test_browse_without_the_widget_module_prints_one_line(
    ip: InteractiveShell, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(sys.modules, "nbregistry.widgets", None)  # import now fails
    assert run(ip, "browse") is None
    out = capsys.readouterr().out
    assert out.count("\n") == 1
    assert "tenant browser is not available" in out and "%registry tenants" in out


def test_help_variants_return_the_usage_table(ip: InteractiveShell) -> None:
    tables = [run(ip, line) for line in ("help", "-h", "--help", "")]
    for table in tables:
        assert isinstance(table, UsageTable)
    text, html = repr(tables[0]), tables[0]._repr_html_()
    for name in SUBCOMMANDS:
        assert f"%registry {name}" in text and f"%registry {name}" in html
    assert "%%tenant CODE" in text
    assert "RegistryMagics.max_rows = 30" in text and "RegistryMagics.all_tenants" in html


def test_subcommand_help_prints_argparse_help(
    ip: InteractiveShell, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(ip, "models -h") is None
    out = capsys.readouterr().out
    assert out.startswith("usage: %registry models")
    assert "--all-tenants" in out and "--anonymous" in out


# --- %config ---


def html_of(shell: InteractiveShell, obj: Any) -> str:
    """Return the HTML the shell displays for ``obj`` (what a notebook shows)."""
    return shell.display_formatter.format(obj)[0]["text/html"]


def test_config_max_rows_truncates_rich_displays(ip: InteractiveShell, reg: ModelRegistry) -> None:
    ds = DataSource("memory", name="big", tenant="acme", registry=reg)
    for i in range(8):
        ds.define(f"M{i}", {"x": "integer"})
    ip.run_line_magic("config", "RegistryMagics.max_rows = 5")
    assert magics(ip).max_rows == 5
    html = html_of(ip, ds.models)
    assert "3 more rows not shown" in html and "M4" in html and "M5" not in html
    assert "3 more rows not shown" in html_of(ip, reg.tenant_registry("acme"))
    ip.run_line_magic("config", "RegistryMagics.max_rows = 7")
    assert "1 more row not shown" in html_of(ip, ds.models)  # singular
    ip.run_line_magic("config", "RegistryMagics.max_rows = 50")
    assert "more rows not shown" not in html_of(ip, ds.models)
    # Called directly (no shell), a display shows the default 30 rows: no module global.
    ip.run_line_magic("config", "RegistryMagics.max_rows = 2")
    assert "more row" not in ds.models._repr_html_()


def test_config_rejects_a_bad_max_rows(ip: InteractiveShell) -> None:
    with pytest.raises(TraitError):
        magics(ip).max_rows = 0
    assert magics(ip).max_rows == 30


def test_config_reads_the_current_value(ip: InteractiveShell) -> None:
    assert ip.run_line_magic("config", "RegistryMagics.max_rows") == 30


def test_config_all_tenants_changes_the_default_scope(
    ip: InteractiveShell, populated: dict[str, Any]
) -> None:
    ip.run_line_magic("config", "RegistryMagics.all_tenants = True")
    try:
        assert len(run(ip, "models")) == 6
        assert len(run(ip, "owners")) == 4
        assert len(run(ip, "find User")) == 2
        assert len(run(ip, "models -t globex")) == 1
    finally:
        ip.run_line_magic("config", "RegistryMagics.all_tenants = False")


def test_config_from_the_shell_config_applies_at_load(
    shell: InteractiveShell, reg: ModelRegistry
) -> None:
    ds = DataSource("memory", name="big", tenant="acme", registry=reg)
    shell.config.RegistryMagics.max_rows = 7
    try:
        load_ipython_extension(shell)
        assert magics(shell).max_rows == 7
        for i in range(9):
            ds.define(f"M{i}", {"x": "integer"})
        assert "2 more rows not shown" in html_of(shell, ds.models)
    finally:
        unload_ipython_extension(shell)
        del shell.config.RegistryMagics["max_rows"]
    html = html_of(shell, ds.models)  # the extension's printers are gone: 30 rows again
    assert "M8" in html and "more rows not shown" not in html


# --- one-line errors ---


BAD_LINES = [
    ("%registry bogus", "invalid choice: 'bogus'"),
    ("%registry models --nope", "unrecognized arguments: --nope"),
    ("%registry models -t", "expected one argument"),
    ("%registry models -t acme --all-tenants", "not allowed with argument"),
    ("%registry models -t acme --anonymous --named", "not allowed with argument"),
    ("%registry models -t 'bad code'", "invalid tenant code 'bad code'"),
    ("%registry models -t nowhere", "no tenant 'nowhere' in the registry"),
    ("%registry models -t acme -o ghost", "no owner named 'ghost' in tenant 'acme'"),
    ("%registry owners -t nowhere", "no tenant 'nowhere'"),
    ("%registry show", "the following arguments are required: MODEL"),
    ("%registry show Usr -t acme", "did you mean 'User'"),
    ("%registry show 'class' -t acme", "no model named 'class'"),
    ('%registry show "User', "cannot split"),
    ("%registry find", "one of the arguments NAME --structure is required"),
    ("%registry find Nope -t acme", "no model named 'Nope'"),
    ("%registry find Nope --all-tenants", "no model named 'Nope' in any tenant"),
    ("%registry find User --strict", "--strict only applies"),
    ("%registry find --structure '{bad' -t acme", "not valid JSON"),
    ("%registry find --structure '[1, 2]' -t acme", "must be a JSON object"),
    ("""%registry find --structure '{"a": "nosuchtype"}' -t acme""", "nosuchtype"),
    ("""%registry find --structure '{"zip": "string"}' -t acme""", "no anonymous model"),
    ("""%registry find --structure '{"a": "string"}' --all-tenants""", "searches one tenant"),
    ("%registry tenant 'x y'", "invalid tenant code 'x y'"),
    ("%registry tenant acme --reset", "not allowed with argument"),
    ("%registry cleanup", "the following arguments are required: TENANT"),
    ("%registry cleanup 'bad!'", "invalid tenant code 'bad!'"),
    ("%registry browse -t nowhere", "no tenant 'nowhere'"),
]


@pytest.mark.parametrize(("cell", "expected"), BAD_LINES, ids=[c for c, _ in BAD_LINES])
def test_user_mistakes_print_one_line_and_change_nothing(
    ip: InteractiveShell,
    populated: dict[str, Any],
    reg: ModelRegistry,
    capsys: pytest.CaptureFixture[str],
    cell: str,
    expected: str,
) -> None:
    before = (reg.to_frame().drop(columns="registered_at"), reg.session_tenant, reg.tenants())
    line = one_line_error(ip, capsys, cell)
    assert expected in line
    after = (reg.to_frame().drop(columns="registered_at"), reg.session_tenant, reg.tenants())
    assert after[0].equals(before[0]) and after[1:] == before[1:]


def test_a_bug_inside_nbregistry_still_shows_its_traceback(
    ip: InteractiveShell,
    reg: ModelRegistry,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    def broken() -> None:
        raise RuntimeError("internal bug")

    monkeypatch.setattr(reg, "stats", broken)
    result = ip.run_cell("%registry stats")
    text = "".join(capsys.readouterr())
    assert isinstance(result.error_in_exec, RuntimeError)
    assert "Traceback" in text and "internal bug" in text


def test_the_line_is_not_variable_expanded(
    ip: InteractiveShell, reg: ModelRegistry, capsys: pytest.CaptureFixture[str]
) -> None:
    DataSource("memory", name="crm", tenant="acme", registry=reg).define("User", {})
    ip.user_ns["name"] = "User"
    assert ip.var_expand("show $name {name}") == "show User User"  # what IPython would do
    line = one_line_error(ip, capsys, "%registry show $name -t acme")
    assert "no model named '$name'" in line
    line = one_line_error(ip, capsys, "%registry show {name} -t acme")
    assert "no model named '{name}'" in line
