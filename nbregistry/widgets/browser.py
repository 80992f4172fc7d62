"""``TenantBrowser``: tenants → owners → models → properties, an ``ipywidgets.VBox``.

Built from core ipywidgets only (``VBox``, ``HBox``, ``Button``, ``Text``, ``HTML``,
``Label``) plus one ``<style>`` block, so it renders wherever the standard widget manager
does (JupyterLab 4, Notebook 7, VS Code, Voila) without custom JavaScript.

The browser is a thin shell over widget-free and small parts:

* ``tree.TreeModel`` holds the nodes, expand/collapse, paging, search and the sync from
  registry events; the shell maps the rows it lays out onto widgets. Each tree node is one
  ``Button`` (created when its row is first shown; all share one ``Layout`` and one
  ``ButtonStyle``, so a node costs one widget); a model's properties are one ``HTML`` leaf.
  Every shown row gets its label from the model at layout time, so no label goes stale.
* ``details.DetailsPane`` (an ``HTML``) shows the selected node; ``cleanup.CleanupConfirm``
  (a ``VBox``) asks before a tenant is cleaned up; ``refresh.RefreshScheduler`` decides when
  registry events are applied (coalesced per loop turn in a kernel, at once without a loop,
  or on ``flush()``).
* Widget state is in traits (``query``, ``selected``, ``match_count``, ``page_size``, ...),
  observable like any widget's: ``browser.observe(callback, "selected")``.

Because it *is* a ``VBox`` it composes into ``HBox``/``VBox``/``Tab``/``AppLayout`` and
displays by itself. When its registry is cleared it resets to an empty tree and keeps
listening (``on_clear="reset"``, the default; DESIGN §12.1), so a browser inside a user's
layout never turns into a closed widget; ``on_clear="close"`` closes it instead.
``close()`` unsubscribes and closes every widget it created.
"""

from __future__ import annotations

from html import escape
from typing import TYPE_CHECKING, Any

import ipywidgets as w
import traitlets
from ipywidgets.widgets.widget_string import HTMLStyle
from traitlets import Bool, Instance, Int, Tuple, Unicode, observe, validate

from ..core.registry import ModelRegistry, RegistryEvent, RegistryStats
from ..core.tenancy import validate_tenant
from .cleanup import CleanupConfirm
from .details import DetailsPane
from .owned import Owned
from .refresh import RefreshScheduler, check_refresh_mode
from .style import CSS
from .tree import (
    GROUPS,
    MAX_ROWS,
    PAGE_SIZE,
    Node,
    TreeModel,
    check_positive,
    plural,
    property_table_html,
)

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["TenantBrowser"]

ON_CLEAR = ("reset", "close")  # what a registry clear() does to the browser


def _check_on_clear(value: object) -> str:
    if value not in ON_CLEAR:
        raise ValueError(f"on_clear must be 'close' or 'reset', got {value!r}")
    return str(value)


class _Views:
    """The widgets showing one node; each is None until its row was first shown."""

    __slots__ = ("button", "more", "props", "props_of")

    def __init__(self) -> None:
        self.button: w.Button | None = None
        self.props: w.HTML | None = None
        self.props_of: Any = None  # the model class ``props`` describes (redefinition check)
        self.more: w.Button | None = None

    def widgets(self) -> list[w.Widget]:
        return [x for x in (self.button, self.props, self.more) if x is not None]


class TenantBrowser(w.VBox):
    """An interactive tree of a registry's tenants → owners → models → properties.

    ``TenantBrowser(registry=None, *, tenant=None, page_size=100, max_rows=400,
    refresh_mode="auto", on_clear="reset", **vbox_kwargs)``: ``registry=None`` means
    ``nbregistry.registry``; ``tenant=`` restricts the tree to one tenant; other keyword
    arguments go to ``ipywidgets.VBox`` (e.g. ``layout=``). Display it by ending a cell
    with it or put it in any layout; ``close()`` releases every widget. Raises TypeError
    for a registry that is not a ModelRegistry, TenantError for a bad tenant code and
    ValueError for a bad option.
    """

    #: The registry shown.
    registry = Instance(ModelRegistry, read_only=True)
    #: The one tenant shown, or None for all.
    tenant = Unicode(None, allow_none=True, read_only=True)
    #: Children shown per node before a "show more" row (paging restarts when set).
    page_size = Int(PAGE_SIZE)
    #: Rows laid out in the tree at once (search results included).
    max_rows = Int(MAX_ROWS)
    #: What a registry ``clear()`` does: "reset" (empty tree, keep listening) or "close".
    on_clear = Unicode("reset")
    #: How events are applied: "deferred" (one flush per loop turn), "sync" or "manual".
    refresh_mode = Unicode("sync", read_only=True)
    #: The search text (linked to the search box); "" shows the whole tree.
    query = Unicode("")
    #: The path of the selected node, or None.
    selected = Tuple(default_value=None, allow_none=True, read_only=True)
    #: How many tenants/owners/models match the search (0 without one).
    match_count = Int(0, read_only=True)
    #: How many times pending registry events were applied (bursts coalesce into one).
    refresh_count = Int(0, read_only=True)
    #: True once ``close()`` ran.
    closed = Bool(False, read_only=True)
    #: The last stats snapshot shown in the header.
    stats = Instance(RegistryStats, allow_none=True, read_only=True)

    _ready = False  # observers do nothing until __init__ has built every part

    def __init__(
        self,
        registry: ModelRegistry | None = None,
        *,
        tenant: str | None = None,
        page_size: int = PAGE_SIZE,
        max_rows: int = MAX_ROWS,
        refresh_mode: str = "auto",
        on_clear: str = "reset",
        **kwargs: Any,
    ) -> None:
        # Check everything before the first widget exists: bad input creates nothing.
        if registry is None:
            from ..core import registry as registry_module

            registry = registry_module.registry
        if not isinstance(registry, ModelRegistry):
            raise TypeError(
                f"TenantBrowser needs a ModelRegistry (or None for nbregistry.registry), "
                f"got {registry!r:.80}"
            )
        code = None if tenant is None else validate_tenant(tenant)
        check_positive("page_size", page_size)
        check_positive("max_rows", max_rows)
        check_refresh_mode(refresh_mode)
        _check_on_clear(on_clear)

        super().__init__(**kwargs)
        self.add_class("nbr-browser")
        self.set_trait("registry", registry)
        self.set_trait("tenant", code)
        self.page_size = page_size
        self.max_rows = max_rows
        self.on_clear = on_clear
        # node → the widgets showing it; an entry is closed when the model discards it.
        self._views: dict[Node, _Views] = {}
        self._selected_node: Node | None = None
        self._shown: list[Node] = []  # the nodes of the rows shown now, in order
        self._parts = Owned()  # every other widget the browser created
        self.tree_model = TreeModel(
            registry,
            tenant=code,
            page_size=page_size,
            max_rows=max_rows,
            on_discard=self._on_discard,
        )
        self._scheduler = RefreshScheduler(refresh_mode, self.flush)
        self.set_trait("refresh_mode", self._scheduler.mode)
        self._build()
        self._ready = True
        self._subscription = registry.subscribe(self._on_event)
        self._after_sync(None)

    # --- widgets ----------------------------------------------------------------------

    def _build(self) -> None:
        m = self._parts.make
        # Shared by every node button and property leaf: a node costs one widget.
        self._node_layout = m(w.Layout, width="auto", min_height="24px")
        self._node_style = m(w.ButtonStyle)
        self._props_layout = m(w.Layout, margin="0 0 4px 0")
        self._props_style = m(HTMLStyle)
        style = m(w.HTML, value=CSS, layout=m(w.Layout, display="none"))
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
        self.details = m(DetailsPane, "nbr-details-content")
        self.cleanup = m(CleanupConfirm, registry=self.registry)
        # The parts of the clean-up row, also reachable from the browser itself.
        self.cleanup_button = self.cleanup.button
        self.confirm_label = self.cleanup.question
        self.confirm_button = self.cleanup.confirm_button
        self.cancel_button = self.cleanup.cancel_button
        side = m(
            w.VBox,
            "nbr-details",
            children=(self.details, self.cleanup),
            layout=m(w.Layout, width="54%", max_height="560px", overflow="auto"),
        )
        body = m(w.HBox, "nbr-body", children=(self.tree, side))
        self.children = (style, self.header, toolbar, body)
        self._query_link = traitlets.link((self.search_box, "value"), (self, "query"))
        self.refresh_button.on_click(lambda _b: self.refresh())

    def _button(self, node: Node) -> w.Button:
        views = self._views.setdefault(node, _Views())
        if views.button is None:
            b = w.Button(layout=self._node_layout, style=self._node_style)
            for cls in ("nbr-node", f"nbr-node-{node.kind}", f"nbr-depth-{node.depth}"):
                b.add_class(cls)
            if node is self._selected_node:
                b.add_class("nbr-selected")
            b.on_click(lambda _b, node=node: self._on_node_click(node))
            views.button = b
        label = self.tree_model.label(node)  # the arrow from the node's state now
        views.button.description = label
        views.button.tooltip = label
        return views.button

    def _props(self, node: Node) -> w.HTML:
        views = self._views.setdefault(node, _Views())
        if views.props is not None and views.props_of is not node.obj:  # redefined
            views.props.close()
            views.props = None
        if views.props is None:
            props = w.HTML(
                value=property_table_html(node.obj),
                layout=self._props_layout,
                style=self._props_style,
            )
            for cls in ("nbr-props", f"nbr-depth-{node.depth + 1}"):
                props.add_class(cls)
            views.props, views.props_of = props, node.obj
        return views.props

    def _more(self, node: Node, hidden: int) -> w.Button:
        views = self._views.setdefault(node, _Views())
        if views.more is None:
            b = w.Button(layout=self._node_layout, style=self._node_style)
            for cls in ("nbr-more", f"nbr-depth-{node.depth + 1}"):
                b.add_class(cls)
            b.on_click(lambda _b, node=node: self._show_more(node))
            views.more = b
        views.more.description = f"… {hidden} more (show {min(hidden, self.page_size)})"
        return views.more

    def _on_discard(self, node: Node) -> None:
        views = self._views.pop(node, None)
        if views is not None:
            for widget in views.widgets():
                widget.close()  # the shared layout/style stay: close() releases them
        if node is self._selected_node:
            self._selected_node = None
            self.set_trait("selected", None)
        if node.kind == "tenant" and self.cleanup.pending == node.tenant:
            self.cleanup.cancel()

    # --- layout of the visible rows ---------------------------------------------------

    def _render(self) -> None:
        laid = self.tree_model.rows()
        rows: list[w.Widget] = []
        shown: list[Node] = []
        for row in laid.rows:
            if row.kind == "node":
                rows.append(self._button(row.node))
                shown.append(row.node)
            elif row.kind == "props":
                rows.append(self._props(row.node))
            else:
                rows.append(self._more(row.node, row.hidden))
        if not rows:
            q = self.tree_model.query
            self._empty.value = (
                f"<i>no match for {escape(q)}</i>" if q else "<i>(no models registered)</i>"
            )
            rows.append(self._empty)
        if laid.truncated:
            self._truncated.value = (
                f"<i>… only the first {self.max_rows} rows are shown; refine the search</i>"
            )
            rows.append(self._truncated)
        self._shown = shown
        self.tree.children = tuple(rows)

    def _after_sync(self, dirty: set[str | None] | None) -> None:
        """Bring header, match count, rows and details in line after the tree re-synced."""
        self._update_header()
        self._update_match_count()
        self._render()
        sel = self._selected_node
        if sel is None:
            if self.details.frame is not None:
                self._clear_details()
        elif dirty is None or sel.tenant in dirty:
            self._show_details(sel)

    def _update_match_count(self) -> None:
        n = self.tree_model.match_count
        self.set_trait("match_count", n)
        self.match_label.value = plural(n, "match", "matches") if self.tree_model.query else ""

    def _update_header(self) -> None:
        s = self.registry.stats()
        self.set_trait("stats", s)
        scope = f" · showing tenant <b>{escape(self.tenant)}</b>" if self.tenant else ""
        self.header.value = (
            "<div><b>Model registry</b> · "
            f"<b>{s.models}</b> models · <b>{s.tenants}</b> tenants"
            f"{' (+ global)' if any(t.tenant == 'global' for t in s.per_tenant) else ''} · "
            f"<b>{s.owners}</b> owners · hit rate <b>{s.hit_rate:.1%}</b> "
            f"({s.reuse_hits} reuses / {s.reuse_hits + s.reuse_misses} structure lookups)"
            f"{scope}</div>"
        )

    # --- trait reactions --------------------------------------------------------------

    @validate("page_size", "max_rows")
    def _check_size(self, proposal: Any) -> int:
        return check_positive(proposal["trait"].name, proposal["value"])

    @validate("on_clear")
    def _check_on_clear(self, proposal: Any) -> str:
        return _check_on_clear(proposal["value"])

    @observe("page_size", "max_rows")
    def _on_size(self, change: Any) -> None:
        if not self._ready or self.closed:
            return
        setattr(self.tree_model, change["name"], change["new"])
        self._render()

    @observe("query")
    def _on_query(self, change: Any) -> None:
        if not self._ready or self.closed:
            return
        self.tree_model.search(change["new"])
        self._update_match_count()
        self._render()

    # --- display ----------------------------------------------------------------------

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        if self.closed:
            return {"text/plain": repr(self)}
        return super()._repr_mimebundle_(**kwargs)

    def __repr__(self) -> str:
        model = getattr(self, "tree_model", None)
        if self.closed or model is None:
            state = "closed" if self.closed else "not built"
        else:
            state = plural(len(model.roots), "tenant")
        where = f" tenant={self.tenant!r}" if self.tenant else ""
        return f"<TenantBrowser{where}: {state}>"

    @property
    def widget(self) -> TenantBrowser:
        """Return the browser itself (it is the root ``VBox``; kept for older code)."""
        return self

    # --- navigation API ---------------------------------------------------------------

    def expand(self, *path: str) -> None:
        """Expand the node at ``path`` (e.g. ``expand("acme", "crm")``); KeyError if absent."""
        self.tree_model.expand(*path)
        self._render()

    def collapse(self, *path: str) -> None:
        """Collapse the node at ``path``; KeyError if absent."""
        self.tree_model.collapse(*path)
        self._render()

    def collapse_all(self) -> None:
        """Collapse every node (the search filter, if any, still opens paths to matches)."""
        self.tree_model.collapse_all()
        self._render()

    def toggle(self, *path: str) -> None:
        """Expand the node at ``path`` if collapsed, else collapse it; KeyError if absent."""
        self.tree_model.toggle(*path)
        self._render()

    def _show_more(self, node: Node) -> None:
        if node.alive and not self.closed:
            self.tree_model.show_more(node)
            self._render()

    def _on_node_click(self, node: Node) -> None:
        if not node.alive or self.closed:
            return
        self.tree_model.toggle_node(node)
        self._render()
        self._select(node)

    def select(self, *path: str) -> None:
        """Show the details of the node at ``path``; KeyError if absent."""
        self._select(self.tree_model.find(*path))

    def _select(self, node: Node) -> None:
        self._mark_selected(node)
        pending = self.cleanup.pending
        if pending is not None and node.tenant != pending:
            self.cleanup.cancel()
        self._show_details(node)

    def _mark_selected(self, node: Node | None) -> None:
        old = self._selected_node
        if old is not None and old in self._views and self._views[old].button is not None:
            self._views[old].button.remove_class("nbr-selected")  # type: ignore[union-attr]
        self._selected_node = node
        if node is not None:
            button = self._views.get(node, _Views()).button
            if button is not None:
                button.add_class("nbr-selected")
        self.set_trait("selected", None if node is None else node.path)

    def unselect(self) -> None:
        """Clear the selection, the details pane and any pending clean-up request."""
        self._mark_selected(None)
        self.cancel_cleanup()
        self._clear_details()

    def node_widget(self, *path: str) -> w.Button | None:
        """Return the button showing the node at ``path`` (None before it was shown)."""
        views = self._views.get(self.tree_model.find(*path))
        return None if views is None else views.button

    def visible_rows(self) -> list[str]:
        """Return the text of the rows the tree shows now (node labels, property tables)."""
        return [
            row.description if isinstance(row, w.Button) else row.value
            for row in self.tree.children
        ]

    def visible_paths(self) -> list[tuple[str, ...]]:
        """Return the paths of the nodes the tree shows now, in order."""
        return [node.path for node in self._shown]

    def node_count(self) -> int:
        """Return how many node widgets exist (created lazily, on expand or search)."""
        return sum(len(v.widgets()) for v in self._views.values())

    # --- search -----------------------------------------------------------------------

    def search(self, query: str) -> int:
        """Filter the tree by a case-insensitive substring; return the match count."""
        if not isinstance(query, str):
            raise TypeError(f"search query must be a str, got {query!r}")
        self.query = query  # the search box follows (linked); _on_query applies it
        return self.match_count

    # --- details ----------------------------------------------------------------------

    @property
    def details_frame(self) -> pd.DataFrame | None:
        """Return the DataFrame shown in the details pane (None when nothing is selected)."""
        return self.details.frame

    @property
    def details_rows(self) -> pd.DataFrame | None:
        """Return the selected model's first rows, when it has data (else None)."""
        return self.details.rows

    @property
    def details_history(self) -> pd.DataFrame | None:
        """Return the selected named model's history (``registry.history``), else None."""
        return self.details.history

    def _clear_details(self) -> None:
        self.details.clear()
        self.cleanup.tenant = None

    def _show_details(self, node: Node) -> None:
        if not node.alive:
            self._clear_details()
            return
        self.cleanup.tenant = node.tenant if node.kind == "tenant" else None
        if node.kind == "tenant":
            self.details.show_tenant(self.registry, node.tenant)
        elif node.kind == "owner":
            self.details.show_owner(node.obj, node.tenant)
        elif node.kind == "group":
            models = self.tree_model.group_models(node)
            self.details.show_group(GROUPS[node.obj], models, node.tenant)
        else:
            self.details.show_model(node.obj)

    # --- clean up tenant --------------------------------------------------------------

    def request_cleanup(self, code: str | None = None) -> None:
        """Ask to confirm cleaning up a tenant (default: the selected one); KeyError if absent."""
        if code is None:
            if self._selected_node is None:
                raise KeyError("no tenant selected; select one or pass the tenant code")
            code = self._selected_node.tenant
        if code not in self.tree_model.roots:
            raise KeyError(
                f"no tenant {code!r} in the browser; tenants: "
                f"{', '.join(self.tree_model.roots) or 'none'}"
            )
        self.cleanup.request(code)

    @property
    def pending_cleanup(self) -> str | None:
        """Return the tenant waiting for confirmation, or None."""
        return self.cleanup.pending

    def confirm_cleanup(self) -> int:
        """Clean up the tenant awaiting confirmation; return models removed; RuntimeError."""
        return self.cleanup.confirm()

    def cancel_cleanup(self) -> None:
        """Drop a pending clean-up request."""
        self.cleanup.cancel()

    # --- live refresh -----------------------------------------------------------------

    def _on_event(self, event: RegistryEvent) -> None:
        if not self.closed and self.tree_model.note(event):
            self._scheduler.request()

    @property
    def pending(self) -> bool:
        """Return True when registry events wait for ``flush()``."""
        return self.tree_model.pending

    def flush(self) -> bool:
        """Apply the pending registry events at once; return True if there were any."""
        if self.closed or not self.tree_model.pending:
            return False
        self.set_trait("refresh_count", self.refresh_count + 1)
        if self.tree_model.pending_clear and self.on_clear == "close":
            self.close()
            return True
        self._after_sync(self.tree_model.apply_pending())
        return True

    def refresh(self) -> None:
        """Re-read the whole registry (counts, records) and apply pending events."""
        if self.closed:
            return
        if self.tree_model.pending_clear:
            self.flush()
            if self.closed:
                return
        self.tree_model.refresh()
        self._after_sync(None)

    # --- teardown ---------------------------------------------------------------------

    def close(self) -> None:
        """Unsubscribe and close every widget the browser created; idempotent."""
        if not self._ready or self.closed:  # half-built (bad arguments) or closed already
            super().close()
            return
        self.set_trait("closed", True)
        self._subscription.close()
        self._query_link.unlink()
        self.tree_model.clear()  # discards every node: _on_discard closes its widgets
        self._mark_selected(None)
        self.details.frame = self.details.rows = None
        self._parts.close()
        self.layout.close()
        super().close()
        # ipywidgets shadows _repr_mimebundle_ with None on close; keep ours (plain text).
        self.__dict__.pop("_repr_mimebundle_", None)

    def __del__(self) -> None:
        # ipywidgets' table of open widgets holds every open browser, so this runs only at
        # interpreter exit (or after close()): close the comm alone, without running
        # observers or touching the registry (which may be half torn down by then).
        w.VBox.close(self)

    def __enter__(self) -> TenantBrowser:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
