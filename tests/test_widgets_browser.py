"""State-level tests of ``nbregistry.widgets.TenantBrowser`` (no browser, no kernel)."""

from __future__ import annotations

import asyncio
import pathlib
import threading
import time
import warnings
from collections.abc import Iterator

import ipywidgets
import pytest
import traitlets
from ipywidgets.widgets.widget import _instances

import nbregistry
from nbregistry import (
    App,
    DataSource,
    ModelBuilder,
    ModelRedefinedWarning,
    ModelRegistry,
    TenantError,
)
from nbregistry.widgets import TenantBrowser


@pytest.fixture
def reg() -> ModelRegistry:
    """Return a registry with two tenants, an App, a builder and an anonymous model."""
    r = ModelRegistry()
    crm = DataSource("memory", name="crm", tenant="acme", registry=r)
    crm.define(
        "User",
        {
            "name": "string",
            "age": {"type": "number", "required": True},
            "address": {"street": "string", "city": "string"},
        },
    )
    crm.define("Order", {"total": "number"})
    shop = App("shop", tenant="acme", registry=r)
    shop.model(crm.define("Cart", {"items": ["string"]}))
    DataSource("memory", name="hr", tenant="globex", registry=r).define(
        "Employee", {"name": "string"}
    )
    ModelBuilder(tenant="globex", registry=r).define("Note", {"text": "string"})
    return r


@pytest.fixture
def browser(reg: ModelRegistry) -> Iterator[TenantBrowser]:
    b = TenantBrowser(reg)
    yield b
    b.close()


def names(b: TenantBrowser) -> list[str]:
    """Return the first word after the arrow of each visible node row."""
    return [row.split()[1] for row in b.visible_rows() if row.startswith(("▸", "▾"))]


def owner_of(reg: ModelRegistry, tenant: str, name: str):
    treg = reg.tenant_registry(tenant)
    assert treg is not None
    return next(o for o in treg.owners() if o.name == name)


# --- tree ---------------------------------------------------------------------------


def test_tree_starts_with_one_collapsed_row_per_tenant(browser: TenantBrowser) -> None:
    assert browser.refresh_mode == "sync"  # no event loop in this thread
    assert browser.visible_rows() == [
        "▸ acme   4 models · 2 owners",
        "▸ globex   2 models · 2 owners",
    ]
    assert browser.visible_paths() == [("acme",), ("globex",)]


def test_expand_shows_owners_with_type_and_connector_then_models(
    browser: TenantBrowser,
) -> None:
    browser.expand("acme")
    assert browser.visible_rows()[1:4] == [
        "▸ crm   [DataSource · memory] 2 models",
        "▸ shop   [App] 1 model",
        "▸ (anonymous models)   1 model",
    ]
    browser.expand("acme", "crm")
    assert names(browser) == ["acme", "crm", "User", "Order", "shop", "(anonymous", "globex"]
    browser.expand("globex")
    rows = browser.visible_rows()
    assert "▸ builder-1   [ModelBuilder] 1 model" in rows
    browser.collapse("acme")
    assert names(browser) == ["acme", "globex", "hr", "builder-1"]


def test_model_expands_to_its_properties(browser: TenantBrowser) -> None:
    browser.expand("acme", "crm", "User")
    rows = browser.visible_rows()
    user = rows.index("▾ User   4 properties · 0 records")
    props = rows[user + 1]
    assert "<code>age</code></td><td>number</td><td>required" in props
    assert "<code>name</code></td><td>string</td><td></td>" in props
    assert "AnonymousModel_1" in props  # the embedded address model
    browser.expand("acme", "(anonymous models)", "AnonymousModel_1")
    assert "▾ AnonymousModel_1   2 properties · anonymous" in browser.visible_rows()


def test_children_are_built_lazily(browser: TenantBrowser) -> None:
    root = browser.tree_model.roots["acme"]
    assert root.children is None
    assert browser.node_count() == 2  # one button per tenant, nothing else
    browser.expand("acme")
    assert root.children is not None and len(root.children) == 3
    assert browser.node_count() == 2 + 3
    assert root.children[("owner", "crm")].children is None


def test_clicking_a_node_toggles_and_selects_it(browser: TenantBrowser) -> None:
    button = browser.node_widget("globex")
    assert button is not None
    button.click()
    assert browser.selected == ("globex",)
    assert names(browser) == ["acme", "globex", "hr", "builder-1"]
    assert "nbr-selected" in button._dom_classes
    assert browser.details_frame is not None
    assert browser.details_frame.loc["models", "value"] == 2
    button.click()
    assert names(browser) == ["acme", "globex"]
    browser.node_widget("acme").click()
    assert "nbr-selected" not in button._dom_classes


def test_collapse_all_and_unselect(browser: TenantBrowser) -> None:
    browser.expand("acme", "crm", "User")
    browser.expand("globex")
    browser.select("acme", "crm")
    browser.collapse_all()
    assert names(browser) == ["acme", "globex"]
    browser.expand("acme")  # children were collapsed too
    assert "User" not in names(browser)
    assert browser.selected == ("acme", "crm")
    button = browser.node_widget("acme", "crm")
    browser.unselect()
    assert browser.selected is None and browser.details_frame is None
    assert "nbr-selected" not in button._dom_classes
    assert "Select a tenant" in browser.details.value


def test_find_errors_name_the_missing_part(browser: TenantBrowser) -> None:
    with pytest.raises(KeyError, match=r"no tenant 'nope'.*acme, globex"):
        browser.expand("nope")
    with pytest.raises(KeyError, match=r"acme/crm has no child 'Nope' \(it has: User, Order\)"):
        browser.select("acme", "crm", "Nope")
    with pytest.raises(KeyError, match="empty path"):
        browser.expand()


# --- search -------------------------------------------------------------------------


def test_search_keeps_matches_with_their_ancestors(browser: TenantBrowser) -> None:
    assert browser.search("EMP") == 1
    assert browser.match_label.value == "1 match"
    assert names(browser) == ["globex", "hr", "Employee"]
    assert browser.visible_rows()[0].startswith("▾ globex")  # auto-opened ancestor


def test_search_matches_tenant_owner_and_model_names(browser: TenantBrowser) -> None:
    assert browser.search("ER") == 3  # User, Order, builder-1
    assert browser.match_label.value == "3 matches"
    assert names(browser) == ["acme", "crm", "User", "Order", "globex", "builder-1"]
    # a matched node stays collapsed until expanded; then all its children show
    browser.expand("globex", "builder-1")
    assert names(browser)[-3:] == ["globex", "builder-1", "Note"]
    assert browser.search("GLOBEX") == 1
    browser.collapse("globex")  # expanding builder-1 opened its ancestors too
    assert names(browser) == ["globex"]
    browser.expand("globex")
    assert names(browser) == ["globex", "hr", "builder-1", "Note"]


def test_search_without_match_and_clearing(browser: TenantBrowser) -> None:
    assert browser.search("zzz") == 0
    assert browser.visible_rows() == ["<i>no match for zzz</i>"]
    assert browser.search_box.value == "zzz"
    assert browser.search("") == 0
    assert browser.match_label.value == ""
    assert names(browser) == ["acme", "globex"]


def test_typing_in_the_search_box_filters(browser: TenantBrowser) -> None:
    browser.search_box.value = "cart"
    assert browser.match_count == 1
    assert names(browser) == ["acme", "shop", "Cart"]


def test_clearing_a_search_leaves_no_open_arrow_on_collapsed_nodes(
    browser: TenantBrowser,
) -> None:
    """Issue 10: after search("ord") and search(""), expanding acme showed "▾ crm" empty."""
    browser.search("ord")
    assert browser.visible_rows()[1].startswith("▾ crm")  # opened by the search
    browser.search("")
    browser.toggle("acme")
    rows = browser.visible_rows()
    assert rows[0].startswith("▾ acme")
    assert rows[1] == "▸ crm   [DataSource · memory] 2 models"  # collapsed: closed arrow
    assert names(browser) == ["acme", "crm", "shop", "(anonymous", "globex"]
    browser.toggle("acme", "crm")
    assert names(browser)[:4] == ["acme", "crm", "User", "Order"]


def test_query_trait_and_search_box_stay_linked(browser: TenantBrowser) -> None:
    seen: list[int] = []
    browser.observe(lambda change: seen.append(change["new"]), names="match_count")
    browser.query = "emp"
    assert browser.search_box.value == "emp" and browser.match_count == 1
    browser.search_box.value = ""
    assert browser.query == "" and browser.match_count == 0
    assert seen == [1, 0]


def test_search_rejects_non_str(browser: TenantBrowser) -> None:
    with pytest.raises(TypeError, match="search query must be a str, got 5"):
        browser.search(5)  # type: ignore[arg-type]


# --- details ------------------------------------------------------------------------


def test_details_of_tenant_owner_and_model(browser: TenantBrowser, reg: ModelRegistry) -> None:
    browser.select("acme")
    df = browser.details_frame
    assert df is not None
    assert df.loc["models", "value"] == 4
    assert df.loc["anonymous models", "value"] == 1
    assert df.loc["owners", "value"] == 2
    assert "Tenant <code>acme</code>" in browser.details.value
    assert browser.cleanup.layout.display == "flex"  # the clean-up action

    browser.select("acme", "crm")
    df = browser.details_frame
    assert list(df.index) == ["User", "Order"]
    # owner and owner type are said once, in the title, not on every row (issue 14)
    assert list(df.columns) == ["properties", "fingerprint", "registered_at", "records"]
    assert "<h4>DataSource <code>crm</code></h4>" in browser.details.value
    assert "connector <code>memory</code> · tenant <code>acme</code>" in browser.details.value
    assert browser.details.value.count("dataSource") == 0
    fp = reg.get_model("User", tenant="acme").definition.fingerprint
    assert df.loc["User", "fingerprint"] == fp  # whole in the frame, short in the pane
    assert f"<td>{fp[:12]}…</td>" in browser.details.value and fp not in browser.details.value
    assert (df["registered_at"] == df["registered_at"].dt.floor("s")).all()
    assert browser.cleanup.layout.display == "none"

    browser.select("acme", "crm", "User")
    user = reg.get_model("User", tenant="acme")
    df = browser.details_frame
    assert list(df.index) == ["id", "name", "age", "address"]
    assert bool(df.loc["age", "required"]) is True
    assert user.definition.fingerprint in browser.details.value
    assert "<b>owner</b></td><td>crm (DataSource)" in browser.details.value
    assert browser.details_rows is None  # no data

    browser.select("acme", "(anonymous models)")
    assert list(browser.details_frame.index) == ["AnonymousModel_1"]


def test_record_counts_and_first_rows_when_the_connector_counts(
    browser: TenantBrowser, reg: ModelRegistry
) -> None:
    user = reg.get_model("User", tenant="acme")
    user.create([{"name": f"u{i}", "age": 20 + i} for i in range(8)])
    browser.refresh()  # labels are cached until a refresh (or a registry event)
    browser.expand("acme", "crm")
    rows = browser.visible_rows()
    assert "▸ User   4 properties · 8 records" in rows
    assert "▸ Order   2 properties · 0 records" in rows
    browser.select("acme", "crm", "User")
    assert browser.details_rows is not None and len(browser.details_rows) == 5
    assert list(browser.details_rows["name"]) == ["u0", "u1", "u2", "u3", "u4"]
    assert "First rows" in browser.details.value
    browser.select("acme", "crm", "Order")
    assert browser.details_rows is None and "First rows" not in browser.details.value
    browser.select("acme", "crm")
    records = browser.details_frame["records"]
    assert records.dtype == "Int64" and records.to_dict() == {"User": 8, "Order": 0}
    browser.select("acme")
    assert browser.details_frame.loc["records", "value"] == 8
    # a DataSource that cannot count: tests/test_sql_display.py (an unreachable server)


@pytest.mark.skipif(
    not hasattr(nbregistry.Model, "create"), reason="memory connector data access not merged"
)
def test_real_memory_connector_rows_show(browser: TenantBrowser, reg: ModelRegistry) -> None:
    user = reg.get_model("User", tenant="acme")
    user.create([{"name": "Ann", "age": 3}, {"name": "Bob", "age": 4}])
    browser.refresh()  # rows are not registry events: refresh re-reads counts
    browser.expand("acme", "crm")
    assert "▸ User   4 properties · 2 records" in browser.visible_rows()
    browser.select("acme", "crm", "User")
    assert list(browser.details_rows["name"]) == ["Ann", "Bob"]


# --- header and live refresh --------------------------------------------------------


def test_header_shows_headline_stats_and_stays_current(
    browser: TenantBrowser, reg: ModelRegistry
) -> None:
    assert "<b>6</b> models · <b>2</b> tenants" in browser.header.value
    assert "<b>4</b> owners" in browser.header.value
    assert "hit rate <b>0.0%</b>" in browser.header.value
    ds = DataSource("memory", name="other", tenant="acme", registry=reg)
    ds.define("Person", {"home": {"street": "string", "city": "string"}})  # reuses address
    assert "<b>7</b> models" in browser.header.value
    assert "hit rate <b>50.0%</b>" in browser.header.value
    assert browser.stats is not None and browser.stats.reuse_hits == 1


def test_define_in_another_cell_appears_and_only_that_tenant_changes(
    browser: TenantBrowser, reg: ModelRegistry
) -> None:
    browser.expand("acme", "crm")
    browser.expand("globex", "hr")
    before = {p: browser.node_widget(*p) for p in browser.visible_paths()}
    owner_of(reg, "acme", "crm").define("Invoice", {"n": "integer"})
    assert browser.refresh_count == 1
    assert "▸ Invoice   2 properties · 0 records" in browser.visible_rows()
    assert browser.visible_rows()[0] == "▾ acme   5 models · 2 owners"
    after = {p: browser.node_widget(*p) for p in browser.visible_paths()}
    # every node that existed keeps its widget: nothing was rebuilt
    assert all(after[p] is button for p, button in before.items())
    DataSource("memory", name="ops", tenant="initech", registry=reg).define("Ticket", {})
    assert names(browser)[-1] == "initech"


def test_delete_disconnect_redefine(browser: TenantBrowser, reg: ModelRegistry) -> None:
    browser.expand("acme", "crm")
    crm = owner_of(reg, "acme", "crm")
    crm.delete_model("Order")
    assert "Order" not in names(browser)
    browser.select("acme", "crm", "User")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ModelRedefinedWarning)
        crm.define("User", {"name": "string"})
    assert "▸ User   2 properties · 0 records" in browser.visible_rows()
    assert list(browser.details_frame.index) == ["id", "name"]  # details follow the class
    crm.disconnect()
    assert "crm" not in names(browser)
    assert browser.selected is None and browser.details_frame is None


def test_cleaned_tenant_disappears(browser: TenantBrowser, reg: ModelRegistry) -> None:
    browser.expand("acme", "crm")
    browser.select("acme", "crm")
    buttons = [browser.node_widget(*p) for p in browser.visible_paths()[:4]]
    reg.cleanup_tenant("acme")
    assert names(browser) == ["globex"]
    assert browser.selected is None and browser.details_frame is None
    assert all(b is not None and b.comm is None for b in buttons)  # closed


def test_events_of_another_registry_or_tenant_are_ignored(reg: ModelRegistry) -> None:
    with TenantBrowser(reg, tenant="globex") as b:
        assert names(b) == ["globex", "hr", "builder-1"]  # the one tenant starts open
        owner_of(reg, "acme", "crm").define("Invoice", {})
        assert b.refresh_count == 0
        owner_of(reg, "globex", "hr").define("Payslip", {})
        assert b.refresh_count == 1 and "Payslip" not in names(b)  # hr is collapsed
        b.expand("globex", "hr")
        assert "Payslip" in names(b)
        assert "showing tenant <b>globex</b>" in b.header.value


def test_manual_mode_coalesces_until_flush(reg: ModelRegistry) -> None:
    with TenantBrowser(reg, refresh_mode="manual") as b:
        crm = owner_of(reg, "acme", "crm")
        for i in range(20):
            crm.define(f"M{i}", {"i": "integer"})
        reg.cleanup_tenant("globex")
        assert b.pending and b.refresh_count == 0
        assert names(b) == ["acme", "globex"]
        assert b.flush() is True
        assert b.refresh_count == 1 and not b.pending
        assert b.visible_rows() == ["▸ acme   24 models · 2 owners"]
        assert b.flush() is False


def test_event_loop_coalesces_a_burst_into_one_flush(reg: ModelRegistry) -> None:
    async def scenario() -> None:
        b = TenantBrowser(reg)
        try:
            assert b.refresh_mode == "deferred"
            crm = owner_of(reg, "acme", "crm")
            for i in range(30):
                crm.define(f"M{i}", {"i": "integer"})
            crm.delete_model("M0")
            assert b.pending and b.refresh_count == 0  # nothing applied mid-burst
            await asyncio.sleep(0)
            assert b.refresh_count == 1 and not b.pending
            assert b.visible_rows()[0] == "▸ acme   33 models · 2 owners"
            # an event from another thread is handed to the loop, not applied there
            t = threading.Thread(target=lambda: crm.define("FromThread", {}))
            t.start()
            t.join()
            assert b.refresh_count == 1
            for _ in range(100):
                await asyncio.sleep(0.005)
                if b.refresh_count == 2:
                    break
            assert b.refresh_count == 2
            assert b.visible_rows()[0] == "▸ acme   34 models · 2 owners"
        finally:
            b.close()

    asyncio.run(scenario())


# --- clean up -----------------------------------------------------------------------


def test_cleanup_needs_confirmation(browser: TenantBrowser, reg: ModelRegistry) -> None:
    browser.select("acme")
    browser.cleanup_button.click()
    assert browser.pending_cleanup == "acme"
    assert browser.cleanup.confirm_box.layout.display == "flex"
    assert "Remove all <b>4</b> models of tenant <code>acme</code>" in browser.confirm_label.value
    assert reg.tenant_registry("acme") is not None  # nothing removed yet
    browser.cancel_button.click()
    assert browser.pending_cleanup is None and reg.tenant_registry("acme") is not None
    browser.cleanup_button.click()
    browser.confirm_button.click()
    assert reg.tenant_registry("acme") is None
    assert names(browser) == ["globex"]
    assert browser.pending_cleanup is None
    assert browser.cleanup.confirm_box.layout.display == "none"


def test_cleanup_api_errors(browser: TenantBrowser, reg: ModelRegistry) -> None:
    with pytest.raises(RuntimeError, match="no clean-up to confirm"):
        browser.confirm_cleanup()
    with pytest.raises(KeyError, match="no tenant selected"):
        browser.request_cleanup()
    with pytest.raises(KeyError, match="no tenant 'nope'"):
        browser.request_cleanup("nope")
    browser.request_cleanup("globex")
    browser.select("acme")  # selecting another tenant drops the pending request
    assert browser.pending_cleanup is None
    browser.request_cleanup("globex")
    assert browser.confirm_cleanup() == 2
    assert reg.tenants() == ["acme"]


# --- close and clear ----------------------------------------------------------------


def test_close_leaves_no_widget_behind(reg: ModelRegistry) -> None:
    before = len(_instances)
    b = TenantBrowser(reg, page_size=1)
    b.expand("acme", "crm", "User")
    b.select("acme", "crm", "User")
    b.search("e")
    b.request_cleanup("acme")
    assert len(_instances) > before
    b.close()
    assert len(_instances) == before
    assert b.closed and not b._subscription.active
    owner_of(reg, "acme", "crm").define("After", {})  # no delivery, no error
    assert len(_instances) == before
    b.close()  # idempotent
    assert b._repr_mimebundle_() == {"text/plain": "<TenantBrowser: closed>"}


def test_on_clear_close_closes_the_browser_with_the_registry(reg: ModelRegistry) -> None:
    before = len(_instances)
    b = TenantBrowser(reg, on_clear="close")
    b.expand("acme", "crm")
    reg.clear()
    assert b.closed and len(_instances) == before
    assert not b._subscription.active


def test_clearing_the_registry_resets_the_browser_by_default(reg: ModelRegistry) -> None:
    with TenantBrowser(reg) as b:
        assert b.on_clear == "reset"
        b.expand("acme", "crm")
        b.select("acme")
        buttons = [b.node_widget(*p) for p in b.visible_paths()]
        reg.clear()
        assert not b.closed and b._subscription.active
        assert b.visible_rows() == ["<i>(no models registered)</i>"]
        assert b.details_frame is None and b.selected is None
        assert all(x is not None and x.comm is None for x in buttons)  # node widgets closed
        assert b.node_count() == 0 and b.comm is not None  # the browser itself stays open
        assert "<b>0</b> models" in b.header.value
        DataSource("memory", name="crm", tenant="acme", registry=reg).define("User", {})
        assert b.visible_rows() == ["▸ acme   1 model · 1 owner"]


# --- a widget among widgets --------------------------------------------------------


def test_composes_into_hbox_vbox_and_tab(reg: ModelRegistry) -> None:
    before = len(_instances)
    b = TenantBrowser(registry=reg)
    out = ipywidgets.Output()
    row = ipywidgets.HBox([b, out])
    assert row.children == (b, out)
    tabs = ipywidgets.Tab(children=[ipywidgets.VBox([b])])
    assert isinstance(b, ipywidgets.VBox) and tabs.children[0].children == (b,)
    # the browser stays live inside the layout
    owner_of(reg, "acme", "crm").define("Invoice", {})
    assert b.visible_rows()[0] == "▸ acme   5 models · 2 owners"
    state = row.get_state()
    assert state["children"][0] == f"IPY_MODEL_{b.model_id}"
    b.close()
    for widget in (tabs.children[0], tabs, row, out):
        widget.layout.close()
        widget.close()
    assert len(_instances) == before


def test_selection_is_an_observable_trait(browser: TenantBrowser) -> None:
    seen: list[object] = []
    browser.observe(lambda change: seen.append(change["new"]), names="selected")
    browser.node_widget("acme").click()
    browser.select("acme", "crm", "User")
    browser.unselect()
    assert seen == [("acme",), ("acme", "crm", "User"), None]
    with pytest.raises(traitlets.TraitError):
        browser.selected = ("globex",)  # read-only: select() sets it


def test_page_size_and_max_rows_are_traits(reg: ModelRegistry) -> None:
    big = DataSource("memory", name="big", tenant="acme", registry=reg)
    for i in range(12):
        big.define(f"M{i:02d}", {"i": "integer"})
    with TenantBrowser(reg) as b:
        b.expand("acme", "big")
        assert "M11" in names(b)
        b.page_size = 5
        assert "M04" in names(b) and "M05" not in names(b)
        b.max_rows = 3
        assert len(b.tree.children) == 4 and "refine the search" in b.visible_rows()[-1]
        with pytest.raises(ValueError, match="max_rows must be a positive int, got -1"):
            b.max_rows = -1
        with pytest.raises(ValueError, match="on_clear must be 'close' or 'reset'"):
            b.on_clear = "ignore"
        assert b.max_rows == 3 and b.on_clear == "reset"


# --- display and arguments ----------------------------------------------------------


def test_repr_mimebundle_is_the_root_widget(browser: TenantBrowser) -> None:
    bundle = browser._repr_mimebundle_()
    view = bundle["application/vnd.jupyter.widget-view+json"]
    assert view["model_id"] == browser.widget.model_id
    assert "nbr-browser" in browser.widget._dom_classes
    assert repr(browser) == "<TenantBrowser: 2 tenants>"


def test_default_registry_is_the_process_wide_one() -> None:
    b = TenantBrowser()
    try:
        assert b.registry is nbregistry.registry
    finally:
        b.close()


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"registry": "reg"}, TypeError, "needs a ModelRegistry.*'reg'"),
        ({"tenant": "bad code"}, TenantError, "bad code"),
        ({"refresh_mode": "later"}, ValueError, "refresh_mode must be one of.*'later'"),
        ({"on_clear": "explode"}, ValueError, "on_clear must be 'close' or 'reset'"),
        ({"page_size": 0}, ValueError, "page_size must be a positive int, got 0"),
    ],
)
def test_bad_arguments(kwargs: dict, error: type, match: str) -> None:
    r = ModelRegistry()
    before = len(_instances)
    kwargs.setdefault("registry", r)
    with pytest.raises(error, match=match):
        TenantBrowser(**kwargs)
    assert len(_instances) == before and not r._subscribers


# --- scale --------------------------------------------------------------------------


def test_large_owner_is_paged(reg: ModelRegistry) -> None:
    big = DataSource("memory", name="big", tenant="acme", registry=reg)
    for i in range(25):
        big.define(f"M{i:02d}", {"i": "integer"})
    with TenantBrowser(reg, page_size=10) as b:
        b.expand("acme", "big")
        assert names(b).count("M00") == 1 and "M10" not in names(b)
        more = b._views[b.tree_model.find("acme", "big")].more
        assert more is not None and more.description == "… 15 more (show 10)"
        more.click()
        assert "M19" in names(b) and "M20" not in names(b)
        assert more.description == "… 5 more (show 5)"


def _big_registry(tenants: int, per_tenant: int) -> tuple[ModelRegistry, float]:
    r = ModelRegistry()
    start = time.perf_counter()
    for t in range(tenants):
        ds = DataSource("memory", name="crm", tenant=f"t{t:03d}", registry=r)
        for m in range(per_tenant):
            ds.define(f"M{m}", {"a": "string"})
    return r, time.perf_counter() - start


@pytest.mark.timeout(120)
def test_ten_thousand_models_build_lazily() -> None:
    small, _ = _big_registry(100, 2)
    r, build_registry = _big_registry(100, 100)
    before = len(_instances)
    b_small = TenantBrowser(small)
    widgets_small = len(_instances) - before
    b_small.close()

    start = time.perf_counter()
    b = TenantBrowser(r)
    build_browser = time.perf_counter() - start
    try:
        widgets = len(_instances) - before
        # Only tenant rows exist: the widget count does not grow with the model count.
        assert widgets == widgets_small
        assert widgets < 300
        assert b.node_count() == 100
        # Building the browser costs a small fraction of defining the 10 000 models.
        assert build_browser < build_registry / 3, (build_browser, build_registry)
        # A search that matches thousands of models lays out at most max_rows rows.
        assert b.search("m1") == 1100
        assert len(b.tree.children) == b.max_rows + 1  # plus the "refine" note
        assert len(_instances) - before < b.max_rows + widgets + 10
    finally:
        b.close()
    assert len(_instances) == before


def test_details_show_a_models_revision_count_and_history(
    browser: TenantBrowser, reg: ModelRegistry, tmp_path: pathlib.Path
) -> None:
    import warnings

    from nbregistry import ModelRedefinedWarning

    crm = owner_of(reg, "acme", "crm")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ModelRedefinedWarning)
        crm.define("Order", {"total": "number", "note": "string"})
    browser.select("acme", "crm", "Order")
    h = browser.details_history
    assert h is not None and list(h["op"]) == ["define", "redefine"]
    assert "<b>revisions</b></td><td>2</td>" in browser.details.value
    assert "<h5>History</h5>" in browser.details.value and "redefine" in browser.details.value
    browser.select("acme", "(anonymous models)")
    assert browser.details_history is None
    # With a store connected the pane shows the store's revisions (every process's).
    reg.connect_store(f"sqlite:///{tmp_path / 'registry.db'}")
    try:
        crm2 = DataSource("memory", name="sales", tenant="acme", registry=reg)
        crm2.define("Lead", {"name": "string"})
        browser.refresh()
        browser.select("acme", "sales", "Lead")
        h = browser.details_history
        assert h is not None and list(h["op"]) == ["define"] and int(h["revision"][0]) >= 2
        assert "@" in h["by"][0]
        reg.store.close()  # a store that cannot be read: an error line, not a broken pane
        browser.select("acme", "sales")
        browser.select("acme", "sales", "Lead")
        assert "history unavailable" in browser.details.value
        assert browser.details_history is None
    finally:
        reg.disconnect_store()
