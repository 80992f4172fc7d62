"""``TenantBrowser``: tenants → owners → models → properties as an ipywidgets tree.

Built from core ipywidgets only (``VBox``, ``HBox``, ``Button``, ``Text``, ``HTML``,
``Label``) plus one ``<style>`` block, so it renders wherever the standard widget manager
does (JupyterLab 4, Notebook 7, VS Code, Voila) without custom JavaScript.

Design decisions (where DESIGN §9 is silent):

* ``TenantBrowser`` is a plain class that *owns* its widgets; ``browser.widget`` is the
  root ``VBox`` and ``_repr_mimebundle_`` delegates to it, so a cell ending in ``browser``
  shows the tree. Not subclassing ``VBox`` keeps the browser's own API (``expand``,
  ``search``, ``close``...) apart from the widget's traits.
* The tree is a *flat* ``VBox`` of rows; each tree node is one ``Button`` (indented with a
  depth CSS class). All node buttons share one ``Layout`` and one ``ButtonStyle``, so a node
  costs one widget. Clicking a node selects it (details pane) and toggles it. Children are
  created only when a node is expanded (or a search needs them), at most ``page_size`` per
  node (a "show more" row adds the next page) and ``max_rows`` rows in the whole tree.
  A model's properties are one ``HTML`` leaf (name, type, required), not one widget each.
* Live refresh coalesces bursts: an event only marks its tenant dirty. With an asyncio
  loop running in the thread that built the browser (a Jupyter kernel), one flush is
  scheduled with ``loop.call_soon`` — every event of a cell (or a widget callback) is
  applied together once it returns; from other threads ``call_soon_threadsafe`` is used.
  Without a loop (plain Python, tests) the flush is synchronous, so the tree is always
  current. ``refresh_mode="manual"`` only marks dirty until ``flush()``/``refresh()``.
  A flush re-syncs only the dirty tenants' nodes, then re-lays out the visible rows.
* When the registry is cleared the browser *closes itself* (``on_clear="close"``, the
  default): it unsubscribes, closes every widget it created (its output area turns
  empty) and ``closed`` becomes True. ``on_clear="reset"`` instead drops every node,
  shows an empty tree and keeps listening.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Iterable
from html import escape
from typing import TYPE_CHECKING, Any

import ipywidgets as w
from ipywidgets.widgets.widget_string import HTMLStyle

from ..core.meta import owner_of
from ..core.registry import ModelRegistry, RegistryEvent, RegistryStats
from ..core.tenancy import validate_tenant

if TYPE_CHECKING:
    import pandas as pd

    from ..core.model import Model

__all__ = ["TenantBrowser"]

PAGE_SIZE = 100  # children shown per node before a "show more" row
MAX_ROWS = 400  # rows laid out in the tree at once (search results included)
FIRST_ROWS = 5  # rows of data shown for a model
REFRESH_MODES = ("auto", "sync", "manual")
ON_CLEAR = ("close", "reset")

_OWNER_KIND = {"dataSource": "DataSource", "app": "App", "builder": "ModelBuilder"}
_GROUPS = {"anonymous": "(anonymous models)", "ownerless": "(no owner)"}

_CSS = """<style>
.nbr-browser .nbr-tree { border: 1px solid var(--jp-border-color2, #ddd); padding: 4px; }
.nbr-browser .nbr-node.jupyter-button, .nbr-browser .nbr-more.jupyter-button {
  text-align: left; background: transparent; box-shadow: none; border: none;
  height: 24px; line-height: 24px; margin: 0; padding-right: 6px;
  font-family: var(--jp-code-font-family, monospace); font-size: 12.5px; }
.nbr-browser .nbr-node.jupyter-button:hover { background: var(--jp-layout-color2, #eee); }
.nbr-browser .nbr-node.nbr-selected { background: var(--jp-brand-color3, #cfe3f7);
  font-weight: bold; }
.nbr-browser .nbr-node-tenant { color: var(--jp-ui-font-color0, #111); }
.nbr-browser .nbr-node-owner { color: var(--jp-brand-color0, #0b5394); }
.nbr-browser .nbr-node-group { color: var(--jp-ui-font-color2, #777); font-style: italic; }
.nbr-browser .nbr-more.jupyter-button { color: var(--jp-ui-font-color2, #777); }
.nbr-browser .nbr-depth-0 { padding-left: 4px; }
.nbr-browser .nbr-depth-1 { padding-left: 26px; }
.nbr-browser .nbr-depth-2 { padding-left: 48px; }
.nbr-browser .nbr-depth-3 { padding-left: 70px; }
.nbr-browser .nbr-props table { font-size: 12px; border-collapse: collapse; margin: 0; }
.nbr-browser .nbr-props td { padding: 0 14px 0 0; line-height: 18px; border: none; }
.nbr-browser .nbr-header { font-size: 13px; padding: 2px 0 4px 0; }
.nbr-browser .nbr-details { padding-left: 12px; overflow: auto; }
.nbr-browser .nbr-details h4 { margin: 4px 0 6px 0; }
.nbr-browser .nbr-details h5 { margin: 10px 0 4px 0; }
.nbr-browser .nbr-details table { font-size: 12px; border-collapse: collapse; margin: 0; }
.nbr-browser .nbr-details th, .nbr-browser .nbr-details td {
  padding: 2px 8px; line-height: 18px; text-align: left;
  border: none; border-bottom: 1px solid var(--jp-border-color2, #e0e0e0); }
.nbr-browser .nbr-details .nbr-facts td { border: none; padding: 1px 12px 1px 0; }
</style>"""


def _record_count(cls: type[Model]) -> int | None:
    """Return the model's row count, or None when it has no DataSource or cannot count."""
    if cls.anonymous or cls.data_source is None:
        return None
    try:
        return cls.count()
    except Exception:  # connector without data access, model no longer registered, ...
        return None


def _first_rows(cls: type[Model], n: int) -> pd.DataFrame | None:
    """Return the first ``n`` rows of a model as a DataFrame, or None without data."""
    if not _record_count(cls):
        return None
    try:
        return cls.to_frame(limit=n)
    except Exception:
        return None


def _frame_html(df: pd.DataFrame) -> str:
    return df.to_html(border=0, index_names=False, max_rows=50, na_rep="", classes="nbr-frame")


class _Node:
    """One tree node (plain Python); its ``button`` exists only once it has been shown."""

    __slots__ = (
        "alive",
        "button",
        "children",
        "depth",
        "expanded",
        "key",
        "kind",
        "limit",
        "more",
        "name",
        "obj",
        "parent",
        "props",
        "tenant",
    )

    def __init__(
        self, kind: str, name: str, obj: Any, parent: _Node | None, tenant: str, limit: int
    ) -> None:
        self.kind = kind  # "tenant" | "owner" | "group" | "model"
        self.name = name
        self.obj = obj  # tenant code, owner, group name or model class
        self.parent = parent
        self.tenant = tenant
        self.depth = 0 if parent is None else parent.depth + 1
        self.key: tuple[tuple[str, str], ...] = (
            ((kind, name),) if parent is None else (*parent.key, (kind, name))
        )
        self.children: dict[tuple[str, str], _Node] | None = None  # None: never built
        self.expanded = False
        self.button: w.Button | None = None
        self.props: w.HTML | None = None
        self.more: w.Button | None = None
        self.limit = limit
        self.alive = True

    @property
    def path(self) -> tuple[str, ...]:
        return tuple(name for _, name in self.key)


class TenantBrowser:
    """An interactive tree of a registry's tenants → owners → models → properties.

    ``TenantBrowser(registry=None, *, tenant=None)``: ``registry=None`` means
    ``nbregistry.registry``; ``tenant=`` restricts the tree to one tenant. Display it by
    ending a cell with it (or ``display(browser)``); ``close()`` releases every widget.
    Raises TypeError for a registry that is not a ModelRegistry, TenantError for a bad
    tenant code and ValueError for a bad option.
    """

    def __init__(
        self,
        registry: ModelRegistry | None = None,
        *,
        tenant: str | None = None,
        page_size: int = PAGE_SIZE,
        max_rows: int = MAX_ROWS,
        refresh_mode: str = "auto",
        on_clear: str = "close",
    ) -> None:
        if registry is None:
            from ..core import registry as registry_module

            registry = registry_module.registry
        if not isinstance(registry, ModelRegistry):
            raise TypeError(
                f"TenantBrowser needs a ModelRegistry (or None for nbregistry.registry), "
                f"got {registry!r:.80}"
            )
        for label, value in (("page_size", page_size), ("max_rows", max_rows)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{label} must be a positive int, got {value!r}")
        if refresh_mode not in REFRESH_MODES:
            raise ValueError(
                f"refresh_mode must be one of {', '.join(REFRESH_MODES)}, got {refresh_mode!r}"
            )
        if on_clear not in ON_CLEAR:
            raise ValueError(f"on_clear must be 'close' or 'reset', got {on_clear!r}")
        self.registry = registry
        self.tenant = None if tenant is None else validate_tenant(tenant)
        self.page_size = page_size
        self.max_rows = max_rows
        self.on_clear = on_clear
        self._loop: asyncio.AbstractEventLoop | None = None
        self._loop_thread = threading.get_ident()
        if refresh_mode == "auto":
            try:
                self._loop = asyncio.get_running_loop()
            except RuntimeError:
                self._loop = None
            refresh_mode = "deferred" if self._loop is not None else "sync"
        #: How events are applied: "deferred" (one flush per loop iteration), "sync" or
        #: "manual" (only on ``flush()``/``refresh()``).
        self.refresh_mode = refresh_mode

        #: Set once ``close()`` ran (also after the registry was cleared).
        self.closed = False
        #: How many times pending events were applied (bursts coalesce into one).
        self.refresh_count = 0
        #: The DataFrame shown in the details pane (None when nothing is selected).
        self.details_frame: pd.DataFrame | None = None
        #: A model's first rows shown in the details pane, when it has data.
        self.details_rows: pd.DataFrame | None = None
        #: How many tenants/owners/models match the search (0 without a query).
        self.match_count = 0
        #: The last stats snapshot shown in the header.
        self.stats: RegistryStats | None = None

        self._roots: dict[str, _Node] = {}
        self._selected: _Node | None = None
        self._query = ""
        self._matches: set[tuple[tuple[str, str], ...]] = set()
        self._on_path: set[tuple[tuple[str, str], ...]] = set()
        self._dirty: set[str | None] = set()
        self._pending_clear = False
        self._flush_scheduled = False
        self._pending_cleanup: str | None = None
        self._chrome: list[w.Widget] = []  # every non-node widget we created

        self._build_chrome()
        self._subscription = registry.subscribe(self._on_event)
        self._sync_roots(None)

    # --- widgets ----------------------------------------------------------------------

    def _make(self, factory: Callable[..., Any], *classes: str, **kwargs: Any) -> Any:
        widget = factory(**kwargs)
        for cls in classes:
            widget.add_class(cls)
        self._chrome.append(widget)
        return widget

    def _build_chrome(self) -> None:
        m = self._make
        # Shared by every node button: a node costs one widget, not three.
        self._node_layout = m(w.Layout, width="auto", min_height="24px")
        self._node_style = m(w.ButtonStyle)
        self._props_layout = m(w.Layout, margin="0 0 4px 0")
        self._props_style = m(HTMLStyle)
        self._style = m(w.HTML, value=_CSS, layout=m(w.Layout, display="none"))
        self.header = m(w.HTML, "nbr-header")
        self.search_box = m(
            w.Text,
            "nbr-search",
            placeholder="search tenants, owners, models",
            continuous_update=True,
            layout=m(w.Layout, width="320px"),
        )
        self.match_label = m(w.Label, "nbr-match-count", value="")
        self.refresh_button = m(
            w.Button,
            "nbr-refresh",
            description="Refresh",
            icon="refresh",
            tooltip="re-read the registry (record counts change without registry events)",
            layout=m(w.Layout, width="auto"),
        )
        toolbar = m(
            w.HBox, "nbr-toolbar", children=(self.search_box, self.match_label, self.refresh_button)
        )
        self.tree = m(
            w.VBox,
            "nbr-tree",
            layout=m(w.Layout, width="46%", max_height="560px", overflow="auto"),
        )
        self._empty = m(w.HTML, "nbr-empty", value="<i>(no models registered)</i>")
        self._truncated = m(w.HTML, "nbr-truncated")
        self.details = m(w.HTML, "nbr-details-content", value=self._hint_html())
        self.cleanup_button = m(
            w.Button,
            "nbr-cleanup",
            description="Clean up tenant",
            icon="trash",
            button_style="warning",
            layout=m(w.Layout, width="auto"),
        )
        self.confirm_label = m(w.HTML, "nbr-confirm-text")
        self.confirm_button = m(
            w.Button,
            "nbr-cleanup-confirm",
            description="Yes, remove",
            button_style="danger",
            layout=m(w.Layout, width="auto"),
        )
        self.cancel_button = m(
            w.Button, "nbr-cleanup-cancel", description="Cancel", layout=m(w.Layout, width="auto")
        )
        self._confirm_box = m(
            w.HBox,
            "nbr-confirm",
            children=(self.confirm_label, self.confirm_button, self.cancel_button),
            layout=m(w.Layout, display="none", align_items="center"),
        )
        self._actions = m(
            w.VBox,
            "nbr-actions",
            children=(self.cleanup_button, self._confirm_box),
            layout=m(w.Layout, display="none"),
        )
        details_box = m(
            w.VBox,
            "nbr-details",
            children=(self.details, self._actions),
            layout=m(w.Layout, width="54%", max_height="560px", overflow="auto"),
        )
        body = m(w.HBox, "nbr-body", children=(self.tree, details_box))
        self.widget = m(w.VBox, "nbr-browser", children=(self._style, self.header, toolbar, body))
        self.search_box.observe(self._on_search, names="value")
        self.refresh_button.on_click(lambda _b: self.refresh())
        self.cleanup_button.on_click(lambda _b: self.request_cleanup())
        self.confirm_button.on_click(lambda _b: self.confirm_cleanup())
        self.cancel_button.on_click(lambda _b: self.cancel_cleanup())

    def _hint_html(self) -> str:
        return "<i>Select a tenant, owner or model to see its details.</i>"

    # --- display ----------------------------------------------------------------------

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        if self.closed:
            return {"text/plain": repr(self)}
        return self.widget._repr_mimebundle_(**kwargs)

    def __repr__(self) -> str:
        state = "closed" if self.closed else f"{len(self._roots)} tenants"
        where = f" tenant={self.tenant!r}" if self.tenant else ""
        return f"<TenantBrowser{where}: {state}>"

    # --- registry → nodes -------------------------------------------------------------

    def _tenant_codes(self) -> list[str]:
        codes = self.registry.tenants()
        if self.tenant is not None:
            return [c for c in codes if c == self.tenant]
        return codes

    def _child_specs(self, node: _Node) -> list[tuple[str, str, Any]]:
        """Return ``(kind, name, obj)`` for the node's children, from the registry."""
        if node.kind == "tenant":
            treg = self.registry.tenant_registry(node.tenant)
            if treg is None:
                return []
            specs: list[tuple[str, str, Any]] = [("owner", o.name, o) for o in treg.owners()]
            if treg.anonymous:
                specs.append(("group", "anonymous", "anonymous"))
            if treg.ownerless:
                specs.append(("group", "ownerless", "ownerless"))
            return specs
        if node.kind == "owner":
            return [("model", n, c) for n, c in list(node.obj.models.items())]
        if node.kind == "group":
            return [("model", c.model_name, c) for c in self._group_models(node)]
        return []

    def _group_models(self, node: _Node) -> list[type[Model]]:
        treg = self.registry.tenant_registry(node.tenant)
        if treg is None:
            return []
        if node.obj == "anonymous":
            return list(treg.anonymous)
        return list(treg.ownerless.values())

    def _build_children(self, node: _Node) -> dict[tuple[str, str], _Node]:
        if node.children is None:
            node.children = {
                (kind, name): _Node(kind, name, obj, node, node.tenant, self.page_size)
                for kind, name, obj in self._child_specs(node)
            }
        return node.children

    def _sync_children(self, node: _Node) -> None:
        """Bring a built subtree in line with the registry; keep unchanged nodes."""
        if node.children is None:
            return
        old = node.children
        new: dict[tuple[str, str], _Node] = {}
        for kind, name, obj in self._child_specs(node):
            child = old.pop((kind, name), None)
            if child is not None and child.obj is not obj:
                if kind == "model":  # redefined: same slot, new class
                    child.obj = obj
                    if child.props is not None:
                        child.props.close()
                        child.props = None
                else:  # another owner now holds that name
                    self._discard(child)
                    child = None
            if child is None:
                child = _Node(kind, name, obj, node, node.tenant, self.page_size)
            new[(kind, name)] = child
            self._relabel(child)
            self._sync_children(child)
        for gone in old.values():
            self._discard(gone)
        node.children = new

    def _discard(self, node: _Node) -> None:
        """Forget a node and close its widgets (recursively)."""
        node.alive = False
        for child in (node.children or {}).values():
            self._discard(child)
        node.children = None
        for attr in ("button", "props", "more"):
            widget = getattr(node, attr)
            if widget is not None:
                widget.close()  # the shared layout/style stay: close() releases them
                setattr(node, attr, None)
        if self._selected is node:
            self._selected = None
        node.obj = None

    def _sync_roots(self, dirty: set[str | None] | None) -> None:
        """Re-sync tenant nodes (all when ``dirty`` is None), header, search and rows."""
        new: dict[str, _Node] = {}
        for code in self._tenant_codes():
            node = self._roots.pop(code, None)
            if node is None:
                node = _Node("tenant", code, code, None, code, self.page_size)
                if self.tenant is not None:
                    node.expanded = True
            elif dirty is None or code in dirty:
                self._relabel(node)
                self._sync_children(node)
            new[code] = node
        for gone in self._roots.values():
            self._discard(gone)
            if self._pending_cleanup == gone.tenant:
                self.cancel_cleanup()
        self._roots = new
        self._update_header()
        if self._query:
            self._compute_matches()
        self._render()
        sel = self._selected
        if sel is None and self.details_frame is not None:
            self._clear_details()
        elif sel is not None and (dirty is None or sel.tenant in dirty):
            self._show_details(sel)

    # --- labels -----------------------------------------------------------------------

    def _label(self, node: _Node) -> str:
        if node.kind == "model":
            arrow = "▾" if node.expanded else "▸"
        elif node.expanded or (self._query and node.key in self._on_path):
            arrow = "▾"
        else:
            arrow = "▸"
        if node.kind == "tenant":
            treg = self.registry.tenant_registry(node.tenant)
            models = 0 if treg is None else treg.model_count()
            owners = 0 if treg is None else len(treg.by_owner)
            return f"{arrow} {node.name}   {_n(models, 'model')} · {_n(owners, 'owner')}"
        if node.kind == "owner":
            owner = node.obj
            kind = _OWNER_KIND.get(owner.owner_type, type(owner).__name__)
            conn = getattr(owner, "connector", None)
            if conn is not None:
                kind += f" · {getattr(conn, 'name', conn)}"
            return f"{arrow} {node.name}   [{kind}] {_n(len(owner.models), 'model')}"
        if node.kind == "group":
            return f"{arrow} {_GROUPS[node.obj]}   {_n(len(self._group_models(node)), 'model')}"
        cls = node.obj
        text = f"{arrow} {node.name}   {_n(len(cls.definition.properties), 'property')}"
        if cls.anonymous:
            text += " · anonymous"
        records = _record_count(cls)
        if records is not None:
            text += f" · {_n(records, 'record')}"
        return text

    def _relabel(self, node: _Node) -> None:
        if node.button is not None:
            node.button.description = self._label(node)
            node.button.tooltip = node.button.description

    def _button(self, node: _Node) -> w.Button:
        if node.button is None:
            b = w.Button(
                description=self._label(node), layout=self._node_layout, style=self._node_style
            )
            b.tooltip = b.description
            for cls in ("nbr-node", f"nbr-node-{node.kind}", f"nbr-depth-{node.depth}"):
                b.add_class(cls)
            if node is self._selected:
                b.add_class("nbr-selected")
            b.on_click(lambda _b, node=node: self._on_node_click(node))
            node.button = b
        return node.button

    def _props_widget(self, node: _Node) -> w.HTML:
        if node.props is None:
            rows = "".join(
                f"<tr><td><code>{escape(p.name)}</code></td><td>{escape(p.describe())}</td>"
                f"<td>{'required' if p.required else ''}</td><td>{'id' if p.id else ''}</td></tr>"
                for p in node.obj.definition.properties.values()
            )
            html = f"<table>{rows}</table>" if rows else "<i>(no properties)</i>"
            props = w.HTML(value=html, layout=self._props_layout, style=self._props_style)
            for cls in ("nbr-props", f"nbr-depth-{node.depth + 1}"):
                props.add_class(cls)
            node.props = props
        return node.props

    # --- layout of the visible rows ---------------------------------------------------

    def _render(self) -> None:
        rows: list[w.Widget] = []
        truncated = False
        for node in self._roots.values():
            if self._emit_rows(node, rows, False):
                truncated = True
                break
        if not rows:
            self._empty.value = (
                f"<i>no match for {escape(self._query)!s}</i>"
                if self._query
                else "<i>(no models registered)</i>"
            )
            rows.append(self._empty)
        if truncated:
            self._truncated.value = (
                f"<i>… only the first {self.max_rows} rows are shown; refine the search</i>"
            )
            rows.append(self._truncated)
        self.tree.children = tuple(rows)

    def _emit_rows(self, node: _Node, rows: list[w.Widget], ancestor_matched: bool) -> bool:
        """Append the node's visible rows; return True once ``max_rows`` is reached."""
        filtering = bool(self._query)
        if filtering and not (
            ancestor_matched or node.key in self._matches or node.key in self._on_path
        ):
            return False
        if len(rows) >= self.max_rows:
            return True
        rows.append(self._button(node))
        if node.kind == "model":
            if node.expanded:
                rows.append(self._props_widget(node))
            return False
        open_ = node.expanded or (filtering and node.key in self._on_path)
        if not open_:
            return False
        children = list(self._build_children(node).values())
        matched = ancestor_matched or (filtering and node.key in self._matches)
        if filtering and not matched:  # only the paths to matches
            children = [c for c in children if c.key in self._matches or c.key in self._on_path]
        for child in children[: node.limit]:
            if self._emit_rows(child, rows, matched):
                return True
        hidden = len(children) - node.limit
        if hidden > 0:
            if len(rows) >= self.max_rows:
                return True
            rows.append(self._more_button(node, hidden))
        return False

    def _more_button(self, node: _Node, hidden: int) -> w.Button:
        if node.more is None:
            b = w.Button(layout=self._node_layout, style=self._node_style)
            for cls in ("nbr-more", f"nbr-depth-{node.depth + 1}"):
                b.add_class(cls)
            b.on_click(lambda _b, node=node: self._show_more(node))
            node.more = b
        node.more.description = f"… {hidden} more (show {min(hidden, self.page_size)})"
        return node.more

    def _show_more(self, node: _Node) -> None:
        node.limit += self.page_size
        self._render()

    # --- navigation API ---------------------------------------------------------------

    def _find(self, path: Iterable[str]) -> _Node:
        """Return the node at ``path`` (tenant, owner or group, model); KeyError if absent."""
        parts = list(path)
        if not parts:
            raise KeyError("empty path; give at least a tenant code, e.g. ('acme',)")
        node = self._roots.get(parts[0])
        if node is None:
            raise KeyError(
                f"no tenant {parts[0]!r} in the browser; tenants: "
                f"{', '.join(self._roots) or 'none'}"
            )
        for part in parts[1:]:
            children = self._build_children(node)
            child = None
            for kind in ("owner", "model", "group"):
                child = children.get((kind, part))
                if child is not None:
                    break
            if child is None:
                for (kind, name), c in children.items():
                    if kind == "group" and _GROUPS[name] == part:
                        child = c
            if child is None:
                names = ", ".join(n for _, n in children) or "none"
                raise KeyError(f"{'/'.join(node.path)} has no child {part!r} (it has: {names})")
            node = child
        return node

    def expand(self, *path: str) -> None:
        """Expand the node at ``path`` (e.g. ``expand("acme", "crm")``); KeyError if absent."""
        node = self._find(path)
        for n in _ancestors(node):
            n.expanded = True
            self._relabel(n)
        self._render()

    def collapse(self, *path: str) -> None:
        """Collapse the node at ``path``; KeyError if absent."""
        node = self._find(path)
        node.expanded = False
        self._relabel(node)
        self._render()

    def collapse_all(self) -> None:
        """Collapse every node (the search filter, if any, still opens paths to matches)."""
        stack = list(self._roots.values())
        while stack:
            node = stack.pop()
            node.expanded = False
            self._relabel(node)
            stack.extend((node.children or {}).values())
        self._render()

    def toggle(self, *path: str) -> None:
        """Expand the node at ``path`` if collapsed, else collapse it; KeyError if absent."""
        self._toggle(self._find(path))

    def _toggle(self, node: _Node) -> None:
        node.expanded = not node.expanded
        self._relabel(node)
        self._render()

    def _on_node_click(self, node: _Node) -> None:
        if not node.alive or self.closed:
            return
        self._toggle(node)
        self._select(node)

    def select(self, *path: str) -> None:
        """Show the details of the node at ``path``; KeyError if absent."""
        self._select(self._find(path))

    def _select(self, node: _Node) -> None:
        old = self._selected
        if old is not None and old.button is not None:
            old.button.remove_class("nbr-selected")
        self._selected = node
        if node.button is not None:
            node.button.add_class("nbr-selected")
        if self._pending_cleanup is not None and node.tenant != self._pending_cleanup:
            self.cancel_cleanup()
        self._show_details(node)

    def unselect(self) -> None:
        """Clear the selection, the details pane and any pending clean-up request."""
        old = self._selected
        if old is not None and old.button is not None:
            old.button.remove_class("nbr-selected")
        self._selected = None
        self.cancel_cleanup()
        self._clear_details()

    @property
    def selected(self) -> tuple[str, ...] | None:
        """Return the path of the selected node, or None."""
        return None if self._selected is None else self._selected.path

    def visible_rows(self) -> list[str]:
        """Return the text of the rows the tree shows now (node labels, property tables)."""
        out = []
        for row in self.tree.children:
            text = row.description if isinstance(row, w.Button) else row.value
            out.append(text)
        return out

    def visible_paths(self) -> list[tuple[str, ...]]:
        """Return the paths of the nodes the tree shows now, in order."""
        buttons = {id(r) for r in self.tree.children}
        out: list[tuple[str, ...]] = []

        def walk(node: _Node) -> None:
            if node.button is not None and id(node.button) in buttons:
                out.append(node.path)
            for child in (node.children or {}).values():
                walk(child)

        for node in self._roots.values():
            walk(node)
        return out

    def node_count(self) -> int:
        """Return how many node widgets exist (created lazily, on expand or search)."""
        count = 0
        stack = list(self._roots.values())
        while stack:
            node = stack.pop()
            count += sum(x is not None for x in (node.button, node.props, node.more))
            stack.extend((node.children or {}).values())
        return count

    # --- search -----------------------------------------------------------------------

    def search(self, query: str) -> int:
        """Filter the tree by a case-insensitive substring; return the match count."""
        if not isinstance(query, str):
            raise TypeError(f"search query must be a str, got {query!r}")
        self.search_box.value = query  # observer applies it
        if self.search_box.value != query or self._query != query.strip().lower():
            self._apply_search(query)
        return self.match_count

    def _on_search(self, change: dict[str, Any]) -> None:
        self._apply_search(change["new"])

    def _apply_search(self, query: str) -> None:
        self._query = query.strip().lower()
        if self._query:
            self._compute_matches()
        else:
            self._matches.clear()
            self._on_path.clear()
            self.match_count = 0
            self.match_label.value = ""
        for node in self._roots.values():
            self._relabel_open(node)
        self._render()

    def _relabel_open(self, node: _Node) -> None:
        self._relabel(node)
        if node.children is not None and (node.expanded or node.key in self._on_path):
            for child in node.children.values():
                if child.kind != "model":
                    self._relabel_open(child)

    def _compute_matches(self) -> None:
        """Scan names (not widgets) for the query; remember matches and their ancestors."""
        q = self._query
        matches: set[tuple[tuple[str, str], ...]] = set()
        on_path: set[tuple[tuple[str, str], ...]] = set()
        for code in self._roots:
            treg = self.registry.tenant_registry(code)
            if treg is None:
                continue
            tkey = (("tenant", code),)
            if q in code.lower():
                matches.add(tkey)
            groups: list[tuple[tuple[str, str], Iterable[str]]] = [
                (("owner", o.name), list(o.models)) for o in treg.owners()
            ]
            if treg.anonymous:
                groups.append((("group", "anonymous"), [c.model_name for c in treg.anonymous]))
            if treg.ownerless:
                groups.append((("group", "ownerless"), list(treg.ownerless)))
            for okey_part, names in groups:
                okey = (*tkey, okey_part)
                if okey_part[0] == "owner" and q in okey_part[1].lower():
                    matches.add(okey)
                    on_path.add(tkey)
                for name in names:
                    if q in name.lower():
                        matches.add((*okey, ("model", name)))
                        on_path.add(okey)
                        on_path.add(tkey)
        self._matches = matches
        self._on_path = on_path
        self.match_count = len(matches)
        self.match_label.value = f"{_n(len(matches), 'match', 'matches')}"

    # --- header and details -----------------------------------------------------------

    def _update_header(self) -> None:
        s = self.stats = self.registry.stats()
        scope = f" · showing tenant <b>{escape(self.tenant)}</b>" if self.tenant else ""
        self.header.value = (
            "<div><b>Model registry</b> · "
            f"<b>{s.models}</b> models · <b>{s.tenants}</b> tenants"
            f"{' (+ global)' if any(t.tenant == 'global' for t in s.per_tenant) else ''} · "
            f"<b>{s.owners}</b> owners · hit rate <b>{s.hit_rate:.1%}</b> "
            f"({s.reuse_hits} reuses / {s.reuse_hits + s.reuse_misses} structure lookups)"
            f"{scope}</div>"
        )

    def _clear_details(self) -> None:
        self.details_frame = None
        self.details_rows = None
        self.details.value = self._hint_html()
        self._actions.layout.display = "none"

    def _show_details(self, node: _Node) -> None:
        if not node.alive:
            self._clear_details()
            return
        self.details_rows = None
        self._actions.layout.display = "flex" if node.kind == "tenant" else "none"
        if node.kind == "tenant":
            html, frame = self._tenant_details(node.tenant)
        elif node.kind in ("owner", "group"):
            html, frame = self._owner_details(node)
        else:
            html, frame = self._model_details(node.obj)
        self.details_frame = frame
        self.details.value = html

    def _tenant_details(self, code: str) -> tuple[str, pd.DataFrame]:
        import pandas as pd

        treg = self.registry.tenant_registry(code)
        models = [] if treg is None else treg.models()
        ts = self.registry.tenant_stats(code)
        data = {
            "models": 0 if ts is None else ts.models,
            "named models": 0 if ts is None else ts.named_models,
            "anonymous models": 0 if ts is None else ts.anonymous_models,
            "owners": 0 if ts is None else ts.owners,
            "unique structures": 0 if ts is None else ts.unique_structures,
            "records": sum(_record_count(c) or 0 for c in models),
            "created at": None if ts is None else pd.Timestamp(ts.created_at, unit="s"),
            "last accessed": None if ts is None else pd.Timestamp(ts.last_accessed, unit="s"),
            "idle seconds": None if ts is None else round(ts.idle_seconds, 1),
        }
        frame = pd.DataFrame({"value": pd.Series(data, dtype=object)})
        frame.index.name = "tenant " + code
        html = f"<h4>Tenant <code>{escape(code)}</code></h4>{_frame_html(frame)}"
        return html, frame

    def _owner_details(self, node: _Node) -> tuple[str, pd.DataFrame]:
        from ..core.tables import models_frame

        if node.kind == "owner":
            owner = node.obj
            models = list(owner.models.values())
            kind = _OWNER_KIND.get(owner.owner_type, type(owner).__name__)
            conn = getattr(owner, "connector", None)
            extra = f" · connector <code>{escape(str(getattr(conn, 'name', conn)))}</code>"
            title = f"{kind} <code>{escape(owner.name)}</code>{extra if conn else ''}"
        else:
            models = self._group_models(node)
            title = escape(_GROUPS[node.obj])
        frame = models_frame(models).drop(columns=["tenant"])
        counts = [_record_count(c) for c in models]
        if any(c is not None for c in counts):
            import pandas as pd

            frame["records"] = pd.array(counts, dtype="Int64")
        frame = frame.set_index("model")
        html = f"<h4>{title} · tenant <code>{escape(node.tenant)}</code></h4>{_frame_html(frame)}"
        return html, frame

    def _model_details(self, cls: type[Model]) -> tuple[str, pd.DataFrame]:
        from ..core.tables import properties_frame

        frame = properties_frame(cls)
        owner = owner_of(cls)
        owner_txt = (
            "— (anonymous: belongs to the tenant)"
            if owner is None
            else f"{escape(owner.name)} ({_OWNER_KIND.get(owner.owner_type, owner.owner_type)})"
        )
        records = _record_count(cls)
        facts = [
            ("tenant", f"<code>{escape(str(cls.tenant))}</code>"),
            ("owner", owner_txt),
            ("fingerprint", f"<code>{escape(cls.definition.fingerprint)}</code>"),
        ]
        if records is not None:
            facts.append(("records", str(records)))
        facts_html = "".join(f"<tr><td><b>{k}</b></td><td>{v}</td></tr>" for k, v in facts)
        html = (
            f"<h4>Model <code>{escape(cls.model_name)}</code></h4>"
            f"<table class='nbr-facts'>{facts_html}</table>"
            f"<h5>Properties</h5>{_frame_html(frame)}"
        )
        rows = _first_rows(cls, FIRST_ROWS)
        if rows is not None:
            self.details_rows = rows
            html += f"<h5>First rows</h5>{_frame_html(rows)}"
        return html, frame

    # --- clean up tenant --------------------------------------------------------------

    def request_cleanup(self, code: str | None = None) -> None:
        """Ask to confirm cleaning up a tenant (default: the selected one); KeyError if absent."""
        if code is None:
            if self._selected is None:
                raise KeyError("no tenant selected; select one or pass the tenant code")
            code = self._selected.tenant
        if code not in self._roots:
            raise KeyError(
                f"no tenant {code!r} in the browser; tenants: {', '.join(self._roots) or 'none'}"
            )
        treg = self.registry.tenant_registry(code)
        n = 0 if treg is None else treg.model_count()
        self._pending_cleanup = code
        self.confirm_label.value = (
            f"Remove all <b>{n}</b> models of tenant <code>{escape(code)}</code> "
            "and release their data?&nbsp;"
        )
        self._actions.layout.display = "flex"
        self._confirm_box.layout.display = "flex"
        self.cleanup_button.disabled = True

    @property
    def pending_cleanup(self) -> str | None:
        """Return the tenant waiting for confirmation, or None."""
        return self._pending_cleanup

    def confirm_cleanup(self) -> int:
        """Clean up the tenant awaiting confirmation; return models removed; RuntimeError."""
        code = self._pending_cleanup
        if code is None:
            raise RuntimeError("no clean-up to confirm; call request_cleanup(code) first")
        self.cancel_cleanup()
        return self.registry.cleanup_tenant(code)

    def cancel_cleanup(self) -> None:
        """Drop a pending clean-up request."""
        self._pending_cleanup = None
        self._confirm_box.layout.display = "none"
        self.cleanup_button.disabled = False

    # --- live refresh -----------------------------------------------------------------

    def _on_event(self, event: RegistryEvent) -> None:
        if self.closed:
            return
        if event.kind == "cleared":
            self._pending_clear = True
        elif self.tenant is None or event.tenant == self.tenant:
            self._dirty.add(event.tenant)
        else:
            return
        self._schedule()

    def _schedule(self) -> None:
        if self.refresh_mode == "manual":
            return
        loop = self._loop
        if loop is not None and not loop.is_closed():
            if self._flush_scheduled:
                return
            self._flush_scheduled = True
            if threading.get_ident() == self._loop_thread:
                loop.call_soon(self.flush)
            else:
                loop.call_soon_threadsafe(self.flush)
            return
        self.flush()

    @property
    def pending(self) -> bool:
        """Return True when registry events wait for ``flush()``."""
        return bool(self._dirty) or self._pending_clear

    def flush(self) -> bool:
        """Apply the pending registry events at once; return True if there were any."""
        self._flush_scheduled = False
        if self.closed or not self.pending:
            return False
        self.refresh_count += 1
        if self._pending_clear:
            self._pending_clear = False
            self._dirty.clear()
            if self.on_clear == "close":
                self.close()
                return True
            for node in self._roots.values():
                self._discard(node)
            self._roots = {}
            self._sync_roots(None)
            return True
        dirty, self._dirty = self._dirty, set()
        self._sync_roots(dirty)
        return True

    def refresh(self) -> None:
        """Re-read the whole registry (counts, records) and apply pending events."""
        if self.closed:
            return
        if self._pending_clear:
            self.flush()
            if self.closed:
                return
        self._dirty.clear()
        self._sync_roots(None)

    # --- teardown ---------------------------------------------------------------------

    def close(self) -> None:
        """Unsubscribe and close every widget the browser created; idempotent."""
        if self.closed:
            return
        self.closed = True
        self._subscription.close()
        for node in self._roots.values():
            self._discard(node)
        self._roots = {}
        self._selected = None
        self.details_frame = self.details_rows = None
        for widget in reversed(self._chrome):
            for sub in ("layout", "style"):
                part = getattr(widget, sub, None)
                if isinstance(part, w.Widget):
                    part.close()
            widget.close()
        self._chrome.clear()

    def __enter__(self) -> TenantBrowser:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _n(count: int, word: str, plural: str | None = None) -> str:
    return f"{count} {word if count == 1 else plural or _plural(word)}"


def _plural(word: str) -> str:
    return word[:-1] + "ies" if word.endswith("y") else word + "s"


def _ancestors(node: _Node) -> list[_Node]:
    out = []
    cur: _Node | None = node
    while cur is not None:
        out.append(cur)
        cur = cur.parent
    return out
