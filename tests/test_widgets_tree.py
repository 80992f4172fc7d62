"""The tenant browser's widget-free tree model (``nbregistry.widgets.tree``), without widgets."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from nbregistry import App, DataSource, ModelBuilder, ModelRegistry, TenantError
from nbregistry.widgets.tree import Node, TreeModel

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def reg() -> ModelRegistry:
    """Return a registry with two tenants, an App, a builder and an anonymous model."""
    r = ModelRegistry()
    crm = DataSource("memory", name="crm", tenant="acme", registry=r)
    crm.define("User", {"name": "string", "address": {"street": "string", "city": "string"}})
    crm.define("Order", {"total": "number"})
    App("shop", tenant="acme", registry=r).model(crm.define("Cart", {"items": ["string"]}))
    DataSource("memory", name="hr", tenant="globex", registry=r).define(
        "Employee", {"name": "string"}
    )
    ModelBuilder(tenant="globex", registry=r).define("Note", {"text": "string"})
    return r


def labels(model: TreeModel) -> list[str]:
    """Return the labels of the node rows ``rows()`` lays out."""
    return [model.label(row.node) for row in model.rows().rows if row.kind == "node"]


def test_roots_children_and_labels(reg: ModelRegistry) -> None:
    m = TreeModel(reg)
    assert labels(m) == ["▸ acme   4 models · 2 owners", "▸ globex   2 models · 2 owners"]
    assert m.roots["acme"].children is None  # nothing below the tenants yet
    m.expand("acme", "crm")
    assert labels(m)[:4] == [
        "▾ acme   4 models · 2 owners",
        "▾ crm   [DataSource · memory] 2 models",
        "▸ User   3 properties · 0 records",
        "▸ Order   2 properties · 0 records",
    ]
    assert m.visible_paths()[-3:] == [("acme", "shop"), ("acme", "anonymous"), ("globex",)]
    m.toggle("acme", "crm", "User")
    kinds = [(row.kind, row.node.name) for row in m.rows().rows][2:4]
    assert kinds == [("node", "User"), ("props", "User")]


def test_stale_arrow_after_clearing_a_search(reg: ModelRegistry) -> None:
    """Issue 10: a node opened by a search showed ▾ after the search was cleared."""
    m = TreeModel(reg)
    assert m.search("ord") == 1
    assert labels(m)[:2] == [
        "▾ acme   4 models · 2 owners",
        "▾ crm   [DataSource · memory] 2 models",
    ]
    assert m.search("") == 0
    m.toggle("acme")
    rows = labels(m)
    assert rows[1] == "▸ crm   [DataSource · memory] 2 models"  # collapsed, closed arrow
    assert [r.split()[1] for r in rows] == ["acme", "crm", "shop", "(anonymous", "globex"]


def test_search_keeps_ancestors_and_counts(reg: ModelRegistry) -> None:
    m = TreeModel(reg)
    assert m.search("ER") == 3  # User, Order, builder-1
    assert m.match_count == 3
    assert [p[-1] for p in m.visible_paths()] == [
        "acme",
        "crm",
        "User",
        "Order",
        "globex",
        "builder-1",
    ]
    m.expand("globex", "builder-1")  # a matched node shows all its children
    assert m.visible_paths()[-1] == ("globex", "builder-1", "Note")
    assert m.search("nothing") == 0 and m.rows().rows == []
    with pytest.raises(TypeError, match="search query must be a str, got 3"):
        m.search(3)  # type: ignore[arg-type]


def test_paging_and_max_rows(reg: ModelRegistry) -> None:
    big = DataSource("memory", name="big", tenant="acme", registry=reg)
    for i in range(25):
        big.define(f"M{i:02d}", {"i": "integer"})
    m = TreeModel(reg, page_size=10, max_rows=12)
    m.expand("acme", "big")
    rows = m.rows()
    # acme, crm, shop, (anonymous), big, M00..M06: cut at 12 rows
    assert rows.truncated and len(rows.rows) == 12
    m.max_rows = 100
    rows = m.rows()
    more = [r for r in rows.rows if r.kind == "more"]
    assert not rows.truncated and [(r.node.name, r.hidden) for r in more] == [("big", 15)]
    m.show_more(m.find("acme", "big"))
    assert [r.hidden for r in m.rows().rows if r.kind == "more"] == [5]
    m.page_size = 3  # paging restarts: big shows 3 of 25, acme 3 of its 4 children
    assert [(r.node.name, r.hidden) for r in m.rows().rows if r.kind == "more"] == [
        ("big", 22),
        ("acme", 1),
    ]
    with pytest.raises(ValueError, match="page_size must be a positive int, got 0"):
        m.page_size = 0
    assert m.page_size == 3


def test_events_sync_only_dirty_tenants_and_keep_nodes(reg: ModelRegistry) -> None:
    discarded: list[tuple[str, ...]] = []
    m = TreeModel(reg, on_discard=lambda node: discarded.append(node.path))
    reg.subscribe(m.note)
    crm_node = m.expand("acme", "crm")
    order = m.find("acme", "crm", "Order")
    crm = next(o for o in reg.tenant_registry("acme").owners() if o.name == "crm")
    crm.define("Invoice", {"n": "integer"})
    crm.delete_model("Order")
    assert m.pending and m.dirty == {"acme"}
    assert m.apply_pending() == {"acme"}
    assert not m.pending
    assert m.find("acme", "crm") is crm_node  # kept, not rebuilt
    assert [p[-1] for p in m.visible_paths()][1:4] == ["crm", "User", "Invoice"]
    assert discarded == [("acme", "crm", "Order")] and not order.alive
    reg.cleanup_tenant("globex")
    m.apply_pending()
    assert list(m.roots) == ["acme"] and discarded[-1] == ("globex",)
    reg.clear()
    assert m.pending_clear
    assert m.apply_pending() is None  # the whole tree was reset
    assert m.roots == {} and m.rows().rows == []
    DataSource("memory", name="crm", tenant="acme", registry=reg).define("User", {})
    m.apply_pending()
    assert labels(m) == ["▸ acme   1 model · 1 owner"]


def test_one_tenant_tree_ignores_other_tenants(reg: ModelRegistry) -> None:
    m = TreeModel(reg, tenant="globex")
    assert [p[-1] for p in m.visible_paths()] == ["globex", "hr", "builder-1"]  # starts open
    assert m.note(_event(reg, "acme")) is False
    assert m.note(_event(reg, "globex")) is True


def _event(reg: ModelRegistry, tenant: str):
    from nbregistry.core.registry import RegistryEvent

    return RegistryEvent("registered", tenant, None, "X")


def test_find_errors_name_the_missing_part(reg: ModelRegistry) -> None:
    m = TreeModel(reg)
    with pytest.raises(KeyError, match=r"no tenant 'nope'.*acme, globex"):
        m.find("nope")
    with pytest.raises(KeyError, match=r"acme/crm has no child 'Nope' \(it has: User, Order\)"):
        m.find("acme", "crm", "Nope")
    with pytest.raises(KeyError, match="empty path"):
        m.find()
    assert isinstance(m.find("acme", "(anonymous models)"), Node)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"registry": "reg"}, TypeError, "needs a ModelRegistry, got 'reg'"),
        ({"tenant": "bad code"}, TenantError, "bad code"),
        ({"max_rows": True}, ValueError, "max_rows must be a positive int, got True"),
    ],
)
def test_bad_arguments(kwargs: dict, error: type, match: str) -> None:
    kwargs.setdefault("registry", ModelRegistry())
    with pytest.raises(error, match=match):
        TreeModel(**kwargs)


def test_tree_model_works_without_ipywidgets(tmp_path: Path) -> None:
    """The tree and the scheduler import and run in a process where ipywidgets cannot load."""
    script = textwrap.dedent(
        """
        import sys
        sys.modules["ipywidgets"] = None  # any import of ipywidgets now raises ImportError
        from nbregistry import DataSource, ModelRegistry
        from nbregistry.widgets.refresh import RefreshScheduler
        from nbregistry.widgets.tree import TreeModel

        reg = ModelRegistry()
        DataSource("memory", name="crm", tenant="acme", registry=reg).define("Order", {})
        m = TreeModel(reg)
        flushes = []
        sched = RefreshScheduler("auto", lambda: flushes.append(m.apply_pending()))
        reg.subscribe(lambda e: m.note(e) and sched.request())
        m.search("ord")
        m.search("")
        m.toggle("acme")
        DataSource("memory", name="ops", tenant="acme", registry=reg).define("Ticket", {})
        print(sched.mode, flushes, [m.label(r.node) for r in m.rows().rows])
        try:
            import nbregistry.widgets as w
            w.TenantBrowser
        except ImportError:
            print("no TenantBrowser")
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
        timeout=120,
        check=False,
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines() == [
        "sync [{'acme'}] ['▾ acme   2 models · 2 owners', "
        "'▸ crm   [DataSource · memory] 1 model', '▸ ops   [DataSource · memory] 1 model']",
        "no TenantBrowser",
    ]
