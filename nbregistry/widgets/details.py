"""The tenant browser's details pane: a tenant's stats, an owner's models, a model's properties.

``DetailsPane`` is an ``ipywidgets.HTML`` (CSS class ``nbr-details-content``); each
``show_*`` method renders one kind of node and keeps the DataFrame it shows in ``frame``
(and a model's first rows in ``rows``), so code can read what the user sees.
"""

from __future__ import annotations

from html import escape
from typing import TYPE_CHECKING, Any

import ipywidgets as w

from ..core.meta import owner_of
from ..core.registry import ModelRegistry
from .tree import OWNER_KIND, plural, record_count

if TYPE_CHECKING:
    import pandas as pd

    from ..core.model import Model

__all__ = ["FIRST_ROWS", "HINT", "DetailsPane"]

FIRST_ROWS = 5  # rows of data shown for a model
FINGERPRINT_CHARS = 12  # fingerprint characters shown per row of an owner's model table
HINT = "<i>Select a tenant, owner or model to see its details.</i>"
# The columns of an owner's (or group's) model table: tenant, owner and owner type are
# the same on every row, so the pane's title says them once instead.
OWNER_COLUMNS = ["properties", "fingerprint", "registered_at"]


def _frame_html(df: pd.DataFrame, formatters: dict[str, Any] | None = None) -> str:
    return df.to_html(
        border=0,
        index_names=False,
        max_rows=50,
        na_rep="",
        classes="nbr-frame",
        formatters=formatters,
    )


def _short_fingerprint(fp: object) -> str:
    """Return the first 12 characters of a fingerprint (the model pane shows it whole)."""
    text = str(fp)
    return text if len(text) <= FINGERPRINT_CHARS else text[:FINGERPRINT_CHARS] + "…"


def _first_rows(cls: type[Model], n: int) -> pd.DataFrame | None:
    """Return the first ``n`` rows of a model as a DataFrame, or None without data."""
    if not record_count(cls):
        return None
    try:
        return cls.to_frame(limit=n)
    except Exception:
        return None


def _seconds(ts: float) -> pd.Timestamp:
    import pandas as pd

    return pd.Timestamp(ts, unit="s").floor("s")


class DetailsPane(w.HTML):
    """The details of the selected node as HTML; ``frame``/``rows`` hold what it shows."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(value=HINT, **kwargs)
        #: The DataFrame shown (None when nothing is selected).
        self.frame: pd.DataFrame | None = None
        #: A model's first rows, when it has data (else None).
        self.rows: pd.DataFrame | None = None

    def clear(self) -> None:
        """Show the hint and forget the frames."""
        self.frame = self.rows = None
        self.value = HINT

    def show_tenant(self, registry: ModelRegistry, code: str) -> None:
        """Show a tenant's counts, records and times."""
        import pandas as pd

        treg = registry.tenant_registry(code)
        models = [] if treg is None else treg.models()
        ts = registry.tenant_stats(code)
        data = {
            "models": 0 if ts is None else ts.models,
            "named models": 0 if ts is None else ts.named_models,
            "anonymous models": 0 if ts is None else ts.anonymous_models,
            "owners": 0 if ts is None else ts.owners,
            "unique structures": 0 if ts is None else ts.unique_structures,
            "records": sum(record_count(c) or 0 for c in models),
            "created at": None if ts is None else _seconds(ts.created_at),
            "last accessed": None if ts is None else _seconds(ts.last_accessed),
            "idle seconds": None if ts is None else round(ts.idle_seconds, 1),
        }
        frame = pd.DataFrame({"value": pd.Series(data, dtype=object)})
        frame.index.name = "tenant " + code
        self.frame, self.rows = frame, None
        self.value = f"<h4>Tenant <code>{escape(code)}</code></h4>{_frame_html(frame)}"

    def show_owner(self, owner: Any, tenant: str) -> None:
        """Show an owner's models; its name, type and connector once, in the title."""
        kind = OWNER_KIND.get(owner.owner_type, type(owner).__name__)
        conn = getattr(owner, "connector", None)
        name = escape(str(getattr(conn, "name", conn)))
        facts = [] if conn is None else [f"connector <code>{name}</code>"]
        self._show_models(
            f"{kind} <code>{escape(owner.name)}</code>", facts, list(owner.models.values()), tenant
        )

    def show_group(self, label: str, models: list[type[Model]], tenant: str) -> None:
        """Show a group of owner-less models (anonymous, or registered without an owner)."""
        self._show_models(escape(label), [], models, tenant)

    def _show_models(
        self, title: str, facts: list[str], models: list[type[Model]], tenant: str
    ) -> None:
        import pandas as pd

        from ..core.tables import models_frame

        frame = models_frame(models)
        frame = frame.set_index("model")[OWNER_COLUMNS]
        if pd.api.types.is_datetime64_any_dtype(frame["registered_at"]):
            frame["registered_at"] = frame["registered_at"].dt.floor("s")
        counts = [record_count(c) for c in models]
        if any(c is not None for c in counts):
            frame["records"] = pd.array(counts, dtype="Int64")
        self.frame, self.rows = frame, None
        facts = [*facts, f"tenant <code>{escape(tenant)}</code>", plural(len(models), "model")]
        self.value = (
            f"<h4>{title}</h4><div class='nbr-subtitle'>{' · '.join(facts)}</div>"
            f"{_frame_html(frame, {'fingerprint': _short_fingerprint})}"
        )

    def show_model(self, cls: type[Model]) -> None:
        """Show a model's tenant, owner, fingerprint, records, properties and first rows."""
        from ..core.tables import properties_frame

        frame = properties_frame(cls)
        owner = owner_of(cls)
        owner_txt = (
            "— (anonymous: belongs to the tenant)"
            if owner is None
            else f"{escape(owner.name)} ({OWNER_KIND.get(owner.owner_type, owner.owner_type)})"
        )
        records = record_count(cls)
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
            html += f"<h5>First rows</h5>{_frame_html(rows)}"
        self.frame, self.rows = frame, rows
        self.value = html
