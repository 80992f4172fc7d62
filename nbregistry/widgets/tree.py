"""The tenant browser's tree as plain Python: nodes, expand/collapse, paging, search, sync.

``TreeModel`` knows a registry and nothing of ipywidgets (this module imports none; an
import-linter contract holds it), so the tree's behaviour is testable on its own and the
widget shell (``browser.py``) only maps the rows it lays out onto widgets.

* The tree is tenants → owners (and the "(anonymous models)" / "(no owner)" groups) →
  models. A node's children are built only when it is opened (or a search or a path
  lookup needs them), from the registry, never from widgets.
* ``rows()`` lays out what is visible now: at most ``page_size`` children per node (then
  a "more" row; ``show_more`` adds a page) and ``max_rows`` rows in all. The arrow of a
  row is derived from the node's state at layout time, never cached: a collapsed node
  cannot keep an open arrow (the stale-arrow bug of issue 10).
* ``search(query)`` keeps the matches (case-insensitive substring of tenant, owner and
  model names) with their ancestors, which open while the query is set; expanding a
  matched node shows all of its children.
* Registry events only mark their tenant dirty (``note``); ``apply_pending`` re-syncs the
  dirty tenants, keeping every unchanged node (and so its widgets), or resets the tree
  after a ``clear()``. ``on_discard(node)`` tells the shell a node is gone.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from html import escape
from typing import TYPE_CHECKING, Any

from ..core.registry import ModelRegistry, RegistryEvent
from ..core.tables import connector_info, count_records, location_text
from ..core.tenancy import validate_tenant

if TYPE_CHECKING:
    from ..core.model import Model

__all__ = [
    "MAX_ROWS",
    "PAGE_SIZE",
    "Node",
    "Row",
    "Rows",
    "TreeModel",
    "check_positive",
    "property_table_html",
    "record_count",
    "records_text",
]

PAGE_SIZE = 100  # children shown per node before a "more" row
MAX_ROWS = 400  # rows laid out in the tree at once (search results included)

# owner.owner_type → the class name shown to users ("[DataSource · memory]").
OWNER_KIND = {"dataSource": "DataSource", "app": "App", "builder": "ModelBuilder"}
# group node name → its label; groups hold a tenant's models that have no owner node.
GROUPS = {"anonymous": "(anonymous models)", "ownerless": "(no owner)"}

# A node's identity in the tree: ((kind, name), ...) from its tenant down to it. Stable
# across re-syncs (unlike the node objects of a discarded subtree), so matches are sets
# of keys.
Key = tuple[tuple[str, str], ...]


def check_positive(label: str, value: object) -> int:
    """Return ``value`` if it is a positive int; raise ValueError naming it otherwise."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{label} must be a positive int, got {value!r}")
    return value


def record_count(cls: type[Model]) -> int | str | None:
    """Return the model's row count, the error text (no secret) when its DataSource cannot
    count (an unreachable server), or None when it has no DataSource (anonymous models).

    Counting reads no row and creates no table (``Connector.record_counts``).
    """
    return count_records([cls]).get(cls)


def records_text(records: int | str | None) -> str:
    """Return a model row's record part: ``" · 3 records"``, ``" · records unavailable"``."""
    if isinstance(records, int):
        return f" · {plural(records, 'record')}"
    if isinstance(records, str):
        return " · records unavailable"
    return ""


def property_table_html(cls: type[Model]) -> str:
    """Return a model's properties (name, type, required, id) as a small HTML table."""
    rows = "".join(
        f"<tr><td><code>{escape(p.name)}</code></td><td>{escape(p.describe())}</td>"
        f"<td>{'required' if p.required else ''}</td><td>{'id' if p.id else ''}</td></tr>"
        for p in cls.definition.properties.values()
    )
    return f"<table>{rows}</table>" if rows else "<i>(no properties)</i>"


def plural(count: int, word: str, many: str | None = None) -> str:
    """Return ``"1 model"`` / ``"2 models"`` (``many`` overrides the plural)."""
    if count == 1:
        return f"{count} {word}"
    return f"{count} {many or (word[:-1] + 'ies' if word.endswith('y') else word + 's')}"


class Node:
    """One tree node: a tenant, an owner, a group of owner-less models, or a model."""

    __slots__ = (
        "alive",
        "children",
        "depth",
        "expanded",
        "key",
        "kind",
        "limit",
        "name",
        "obj",
        "parent",
        "tenant",
        "text",
    )

    def __init__(
        self, kind: str, name: str, obj: Any, parent: Node | None, tenant: str, limit: int
    ) -> None:
        self.kind = kind  # "tenant" | "owner" | "group" | "model"
        self.name = name
        self.obj = obj  # tenant code, owner, group name ("anonymous"/"ownerless") or class
        self.parent = parent
        self.tenant = tenant
        self.depth = 0 if parent is None else parent.depth + 1
        self.key: Key = ((kind, name),) if parent is None else (*parent.key, (kind, name))
        # (kind, name) → child node, in registry order; None until first built.
        self.children: dict[tuple[str, str], Node] | None = None
        self.expanded = False
        self.limit = limit  # children shown before the "more" row
        self.alive = True  # False once discarded (a click on a stale widget is ignored)
        self.text: str | None = None  # cached label without the arrow; None: recompute

    @property
    def path(self) -> tuple[str, ...]:
        """Return the names from the tenant down to this node."""
        return tuple(name for _, name in self.key)

    def __repr__(self) -> str:
        return f"<Node {self.kind} {'/'.join(self.path)}{'' if self.alive else ' (gone)'}>"


@dataclass(frozen=True, slots=True)
class Row:
    """One laid-out row: a node (``"node"``), a model's properties (``"props"``) or a
    ``"more"`` row for ``hidden`` further children of ``node``."""

    kind: str
    node: Node
    hidden: int = 0


@dataclass(frozen=True, slots=True)
class Rows:
    """The rows visible now; ``truncated`` once ``max_rows`` cut the layout short."""

    rows: list[Row]
    truncated: bool


class TreeModel:
    """Tenants → owners → models of a registry as plain nodes (no widgets).

    ``TreeModel(registry, *, tenant=None, page_size=100, max_rows=400, on_discard=None)``;
    ``tenant=`` restricts the tree to one tenant (its node starts open). ``on_discard`` is
    called with every node that leaves the tree. Raises TypeError for a registry that is
    not a ModelRegistry, TenantError for a bad tenant code, ValueError for a bad size.
    """

    def __init__(
        self,
        registry: ModelRegistry,
        *,
        tenant: str | None = None,
        page_size: int = PAGE_SIZE,
        max_rows: int = MAX_ROWS,
        on_discard: Callable[[Node], object] | None = None,
    ) -> None:
        if not isinstance(registry, ModelRegistry):
            raise TypeError(f"TreeModel needs a ModelRegistry, got {registry!r:.80}")
        self.registry = registry
        self.tenant = None if tenant is None else validate_tenant(tenant)
        self._page_size = check_positive("page_size", page_size)
        self._max_rows = check_positive("max_rows", max_rows)
        self._on_discard = on_discard
        # tenant code → its root node, in the registry's tenant order.
        self.roots: dict[str, Node] = {}
        self.query = ""  # the normalized (stripped, lower-case) search; "" = no filter
        self.matches: set[Key] = set()  # keys of the nodes whose name contains the query
        self.on_path: set[Key] = set()  # keys of the ancestors of matches (opened)
        # tenant codes with registry events not yet applied (None: a global event).
        self.dirty: set[str | None] = set()
        self.pending_clear = False  # the registry was cleared since the last apply
        # parent node key → (record counts of its first page of models, the classes asked
        # about): one count per DataSource per page, not per row; dropped on re-sync.
        self._counts: dict[Key, tuple[dict[Any, int | str], set[int]]] = {}
        self.sync(None)

    # --- settings ---------------------------------------------------------------------

    @property
    def page_size(self) -> int:
        """Return how many children a node shows per page."""
        return self._page_size

    @page_size.setter
    def page_size(self, value: int) -> None:
        self._page_size = check_positive("page_size", value)
        stack = list(self.roots.values())
        while stack:  # paging restarts with the new page size
            node = stack.pop()
            node.limit = self._page_size
            stack.extend((node.children or {}).values())

    @property
    def max_rows(self) -> int:
        """Return how many rows ``rows()`` lays out at most."""
        return self._max_rows

    @max_rows.setter
    def max_rows(self, value: int) -> None:
        self._max_rows = check_positive("max_rows", value)

    # --- registry → nodes -------------------------------------------------------------

    def tenant_codes(self) -> list[str]:
        """Return the tenant codes the tree shows, in registry order."""
        codes = self.registry.tenants()
        if self.tenant is not None:
            return [c for c in codes if c == self.tenant]
        return codes

    def group_models(self, node: Node) -> list[type[Model]]:
        """Return the models of a group node (anonymous or owner-less) from the registry."""
        treg = self.registry.tenant_registry(node.tenant)
        if treg is None:
            return []
        if node.obj == "anonymous":
            return list(treg.anonymous)
        return list(treg.ownerless.values())

    def _child_specs(self, node: Node) -> list[tuple[str, str, Any]]:
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
            return [("model", c.model_name, c) for c in self.group_models(node)]
        return []

    def children(self, node: Node) -> dict[tuple[str, str], Node]:
        """Return the node's children, building them from the registry on first use."""
        if node.children is None:
            node.children = {
                (kind, name): Node(kind, name, obj, node, node.tenant, self._page_size)
                for kind, name, obj in self._child_specs(node)
            }
        return node.children

    def _sync_children(self, node: Node) -> None:
        """Bring a built subtree in line with the registry; keep unchanged nodes."""
        node.text = None
        self._counts.pop(node.key, None)
        if node.children is None:
            return
        old = node.children
        new: dict[tuple[str, str], Node] = {}
        for kind, name, obj in self._child_specs(node):
            child = old.pop((kind, name), None)
            if child is not None and child.obj is not obj:
                if kind == "model":  # redefined: same slot, new class
                    child.obj = obj
                else:  # another owner now holds that name
                    self.discard(child)
                    child = None
            if child is None:
                child = Node(kind, name, obj, node, node.tenant, self._page_size)
            new[(kind, name)] = child
            self._sync_children(child)
        for gone in old.values():
            self.discard(gone)
        node.children = new

    def discard(self, node: Node) -> None:
        """Forget a node and its subtree, telling ``on_discard`` about each (leaves first)."""
        for child in (node.children or {}).values():
            self.discard(child)
        node.children = None
        node.alive = False
        if self._on_discard is not None:
            self._on_discard(node)
        node.obj = None

    def sync(self, dirty: Iterable[str | None] | None) -> None:
        """Re-sync the tenant nodes (all when ``dirty`` is None) and the search matches."""
        todo = None if dirty is None else set(dirty)
        if todo is None:
            self._counts.clear()
        new: dict[str, Node] = {}
        for code in self.tenant_codes():
            node = self.roots.pop(code, None)
            if node is None:
                node = Node("tenant", code, code, None, code, self._page_size)
                node.expanded = self.tenant is not None
            elif todo is None or code in todo:
                self._sync_children(node)
            new[code] = node
        gone, self.roots = self.roots, new
        for node in gone.values():
            self.discard(node)
        if self.query:
            self._compute_matches()

    def reset(self) -> None:
        """Drop every node (all are discarded) and rebuild the tenant rows."""
        self._counts.clear()
        roots, self.roots = self.roots, {}
        for node in roots.values():
            self.discard(node)
        self.sync(None)

    def clear(self) -> None:
        """Drop every node without rebuilding (the owner is closing)."""
        self._counts.clear()
        roots, self.roots = self.roots, {}
        for node in roots.values():
            self.discard(node)
        self.dirty.clear()
        self.pending_clear = False

    # --- events -----------------------------------------------------------------------

    def note(self, event: RegistryEvent) -> bool:
        """Mark what ``event`` changes as pending; return False if the tree ignores it."""
        if event.kind == "cleared":
            self.pending_clear = True
        elif self.tenant is None or event.tenant == self.tenant:
            self.dirty.add(event.tenant)
        else:
            return False
        return True

    @property
    def pending(self) -> bool:
        """Return True when noted events wait for ``apply_pending()``."""
        return bool(self.dirty) or self.pending_clear

    def apply_pending(self) -> set[str | None] | None:
        """Apply the noted events; return the re-synced tenants (None: the whole tree)."""
        if self.pending_clear:
            self.pending_clear = False
            self.dirty.clear()
            self.reset()
            return None
        dirty, self.dirty = self.dirty, set()
        self.sync(dirty)
        return dirty

    def refresh(self) -> None:
        """Re-read the whole registry (labels and counts too), applying noted events."""
        if self.pending_clear:
            self.apply_pending()
            return
        self.dirty.clear()
        self.sync(None)

    # --- navigation -------------------------------------------------------------------

    def find(self, *path: str) -> Node:
        """Return the node at ``path`` (tenant, owner or group, model); KeyError if absent."""
        if not path:
            raise KeyError("empty path; give at least a tenant code, e.g. ('acme',)")
        node = self.roots.get(path[0])
        if node is None:
            raise KeyError(
                f"no tenant {path[0]!r} in the browser; tenants: {', '.join(self.roots) or 'none'}"
            )
        for part in path[1:]:
            children = self.children(node)
            child = None
            for kind in ("owner", "model", "group"):
                child = children.get((kind, part))
                if child is not None:
                    break
            if child is None:
                for (kind, name), c in children.items():
                    if kind == "group" and GROUPS[name] == part:
                        child = c
            if child is None:
                names = ", ".join(n for _, n in children) or "none"
                raise KeyError(f"{'/'.join(node.path)} has no child {part!r} (it has: {names})")
            node = child
        return node

    def expand(self, *path: str) -> Node:
        """Expand the node at ``path`` and its ancestors; return it; KeyError if absent."""
        node = self.find(*path)
        cur: Node | None = node
        while cur is not None:
            cur.expanded = True
            cur = cur.parent
        return node

    def collapse(self, *path: str) -> Node:
        """Collapse the node at ``path``; return it; KeyError if absent."""
        node = self.find(*path)
        node.expanded = False
        return node

    def toggle(self, *path: str) -> Node:
        """Expand the node at ``path`` if collapsed, else collapse it; KeyError if absent."""
        return self.toggle_node(self.find(*path))

    def toggle_node(self, node: Node) -> Node:
        """Flip a node between expanded and collapsed; return it."""
        node.expanded = not node.expanded
        return node

    def collapse_all(self) -> None:
        """Collapse every node (a search still opens the paths to its matches)."""
        stack = list(self.roots.values())
        while stack:
            node = stack.pop()
            node.expanded = False
            stack.extend((node.children or {}).values())

    def show_more(self, node: Node) -> None:
        """Show the next ``page_size`` children of a node."""
        node.limit += self._page_size

    # --- search -----------------------------------------------------------------------

    def search(self, query: str) -> int:
        """Filter by a case-insensitive substring ("" clears); return the match count."""
        if not isinstance(query, str):
            raise TypeError(f"search query must be a str, got {query!r}")
        self.query = query.strip().lower()
        if self.query:
            self._compute_matches()
        else:
            self.matches = set()
            self.on_path = set()
        return len(self.matches)

    @property
    def match_count(self) -> int:
        """Return how many tenants, owners and models match the search (0 without one)."""
        return len(self.matches)

    def _compute_matches(self) -> None:
        """Scan names (not nodes) for the query; remember matches and their ancestors."""
        q = self.query
        matches: set[Key] = set()
        on_path: set[Key] = set()
        for code in self.roots:
            treg = self.registry.tenant_registry(code)
            if treg is None:
                continue
            tkey: Key = (("tenant", code),)
            if q in code.lower():
                matches.add(tkey)
            # (the owner or group's key part, the names of its models)
            groups: list[tuple[tuple[str, str], list[str]]] = [
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
        self.matches = matches
        self.on_path = on_path

    # --- labels and layout ------------------------------------------------------------

    def is_open(self, node: Node) -> bool:
        """Return True when the node shows its children (expanded, or on a search path)."""
        if node.expanded:
            return True
        return node.kind != "model" and bool(self.query) and node.key in self.on_path

    def label(self, node: Node) -> str:
        """Return the row text of a node: its arrow (from its state now) and its summary."""
        if node.text is None:
            node.text = self._summary(node)
        return f"{'▾' if self.is_open(node) else '▸'} {node.text}"

    def _summary(self, node: Node) -> str:
        if node.kind == "tenant":
            treg = self.registry.tenant_registry(node.tenant)
            models = 0 if treg is None else treg.model_count()
            owners = 0 if treg is None else len(treg.by_owner)
            return f"{node.name}   {plural(models, 'model')} · {plural(owners, 'owner')}"
        if node.kind == "owner":
            owner = node.obj
            kind = OWNER_KIND.get(owner.owner_type, type(owner).__name__)
            info = connector_info(owner)
            if info:
                where = location_text(info)
                kind += f" · {info['connector']}" + (f" · {where}" if where else "")
            return f"{node.name}   [{kind}] {plural(len(owner.models), 'model')}"
        if node.kind == "group":
            return f"{GROUPS[node.obj]}   {plural(len(self.group_models(node)), 'model')}"
        cls = node.obj
        text = f"{node.name}   {plural(len(cls.definition.properties), 'property')}"
        if cls.anonymous:
            text += " · anonymous"
        return text + records_text(self.record_count(node))

    def record_count(self, node: Node) -> int | str | None:
        """Return a model node's record count (or error text), counted with its page."""
        parent = node.parent
        cls = node.obj
        if parent is None or parent.children is None:
            return record_count(cls)
        cached = self._counts.get(parent.key)
        if cached is None or id(cls) not in cached[1]:
            page = [c.obj for c in list(parent.children.values())[: parent.limit]]
            page = [c for c in page if c is not None]
            if cls not in page:
                page.append(cls)
            cached = self._counts[parent.key] = (count_records(page), {id(c) for c in page})
        return cached[0].get(cls)

    def rows(self) -> Rows:
        """Lay out the visible rows (paging per node, at most ``max_rows`` in all)."""
        out: list[Row] = []
        for node in self.roots.values():
            if self._emit(node, out, False):
                return Rows(out, True)
        return Rows(out, False)

    def _emit(self, node: Node, out: list[Row], ancestor_matched: bool) -> bool:
        """Append the node's visible rows; return True once ``max_rows`` is reached."""
        filtering = bool(self.query)
        if filtering and not (
            ancestor_matched or node.key in self.matches or node.key in self.on_path
        ):
            return False
        if len(out) >= self._max_rows:
            return True
        out.append(Row("node", node))
        if node.kind == "model":
            if node.expanded:
                out.append(Row("props", node))
            return False
        if not self.is_open(node):
            return False
        children = list(self.children(node).values())
        matched = ancestor_matched or (filtering and node.key in self.matches)
        if filtering and not matched:  # only the paths to matches
            children = [c for c in children if c.key in self.matches or c.key in self.on_path]
        for child in children[: node.limit]:
            if self._emit(child, out, matched):
                return True
        hidden = len(children) - node.limit
        if hidden > 0:
            if len(out) >= self._max_rows:
                return True
            out.append(Row("more", node, hidden))
        return False

    def visible_paths(self) -> list[tuple[str, ...]]:
        """Return the paths of the nodes ``rows()`` lays out, in order."""
        return [row.node.path for row in self.rows().rows if row.kind == "node"]
