"""HTML renderings for Jupyter (``_repr_html_``); pure string building, no storage."""

from __future__ import annotations

from html import escape
from typing import Any

__all__ = [
    "model_html",
    "model_text",
    "owner_html",
    "registry_html",
    "stats_html",
    "tenant_html",
    "view_html",
]

MAX_ROWS = 30

_STYLE = "border-collapse:collapse;font-size:12px"


def _table(headers: list[str], rows: list[list[Any]], max_rows: int | None = None) -> str:
    if max_rows is None:  # read at call time, so ``%config RegistryMagics.max_rows`` applies
        max_rows = MAX_ROWS
    head = "".join(f"<th style='text-align:left;padding:2px 8px'>{escape(h)}</th>" for h in headers)
    body = []
    for row in rows[:max_rows]:
        cells = "".join(f"<td style='padding:2px 8px'>{escape(str(c))}</td>" for c in row)
        body.append(f"<tr>{cells}</tr>")
    more = ""
    if len(rows) > max_rows:
        more = (
            f"<tr><td colspan='{len(headers)}' style='padding:2px 8px'><i>… "
            f"{len(rows) - max_rows} more rows not shown</i></td></tr>"
        )
    return (
        f"<table style='{_STYLE}'><thead><tr>{head}</tr></thead>"
        f"<tbody>{''.join(body)}{more}</tbody></table>"
    )


def _model_rows(models: list[Any]) -> list[list[Any]]:
    rows = []
    for cls in models:
        props = ", ".join(
            f"{p.name}: {p.describe()}{'*' if p.required else ''}"
            for p in cls.definition.properties.values()
        )
        rows.append([cls.model_name, props, cls.definition.fingerprint[:12]])
    return rows


def view_html(view: Any) -> str:
    """Render a ModelsView as a table of its models."""
    title = escape(view._label())
    rows = _model_rows(list(view.values()))
    table = _table(["model", "properties", "fingerprint"], rows)
    return f"<div><b>ModelsView</b> {title}{table}</div>"


def owner_html(owner: Any) -> str:
    """Render an owner with its models."""
    kind = escape(type(owner).__name__)
    extra = ""
    conn = getattr(owner, "connector", None)
    if conn is not None:
        extra = f" connector=<code>{escape(str(getattr(conn, 'name', conn)))}</code>"
    rows = _model_rows(list(owner.models.values()))
    return (
        f"<div><b>{kind}</b> <code>{escape(owner.name)}</code> tenant="
        f"<code>{escape(owner.tenant)}</code>{extra}"
        f"{_table(['model', 'properties', 'fingerprint'], rows)}</div>"
    )


def tenant_html(treg: Any) -> str:
    """Render one tenant's models."""
    rows = []
    for cls in treg.models():
        owner = _meta().owner_of(cls)
        rows.append(
            [
                "" if owner is None else owner.name,
                cls.model_name,
                "yes" if cls.anonymous else "",
                len(cls.definition.properties),
            ]
        )
    return (
        f"<div><b>Tenant</b> <code>{escape(treg.code)}</code>"
        f"{_table(['owner', 'model', 'anonymous', 'properties'], rows)}</div>"
    )


def stats_html(stats: Any) -> str:
    """Render registry stats: headline counters and one row per tenant."""
    from .frames import headline

    head = headline(stats)
    counters = " · ".join(f"{escape(k)}: <b>{escape(str(v))}</b>" for k, v in head.items())
    rows = [[t.tenant, t.models, t.owners, f"{t.idle_seconds:.1f}"] for t in stats.per_tenant]
    return (
        f"<div><b>RegistryStats</b><br>{counters}"
        f"{_table(['tenant', 'models', 'owners', 'idle (s)'], rows)}</div>"
    )


def registry_html(registry: Any) -> str:
    """Render a registry: its headline stats and tenants."""
    return stats_html(registry.stats()).replace("<b>RegistryStats</b>", "<b>ModelRegistry</b>", 1)


def _model_owner_label(cls: Any) -> str:
    owner = _meta().owner_of(cls)
    if owner is None:
        return "anonymous (embedded)" if cls.anonymous else "no owner"
    return f"{type(owner).__name__} {owner.name!r}"


def model_text(cls: Any) -> str:
    """Return a one-line text rendering of a model class (name, tenant, owner, properties)."""
    props = ", ".join(
        f"{p.name}: {p.describe()}{'*' if p.required else ''}"
        for p in cls.definition.properties.values()
    )
    return (
        f"<model {cls.model_name!r} tenant={cls.tenant!r} owner={_model_owner_label(cls)}: "
        f"{props or '(no properties)'}>"
    )


def model_html(cls: Any) -> str:
    """Render a model class: owner, tenant, fingerprint and a table of its properties."""
    rows = [
        [
            p.name,
            p.describe(),
            "yes" if p.required else "",
            "" if p.default is None else p.default,
            "yes" if p.id else "",
        ]
        for p in cls.definition.properties.values()
    ]
    table = _table(["property", "type", "required", "default", "id"], rows)
    return (
        f"<div><b>Model</b> <code>{escape(cls.model_name)}</code> tenant="
        f"<code>{escape(str(cls.tenant))}</code> owner={escape(_model_owner_label(cls))} "
        f"fingerprint=<code>{escape(cls.definition.fingerprint[:12])}</code>{table}</div>"
    )


def _meta() -> Any:
    # TEMPORARY (the render layer is being reworked to take plain values).
    from ..core import meta

    return meta
