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
from ..core.tables import connector_info, count_records, owner_label, records_errors
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


def _first_rows(cls: type[Model], n: int, records: int | str | None) -> pd.DataFrame | None:
    """Return the first ``n`` rows of a model as a DataFrame, or None without data."""
    if not isinstance(records, int) or not records:
        return None
    try:
        return cls.to_frame(limit=n)
    except Exception:
        return None


def _connector_facts(owner: Any) -> list[tuple[str, str]]:
    """Return ``(label, html)`` of an owner's connector, database, schema and host."""
    info = connector_info(owner)
    return [
        (key, f"<code>{escape(info[key])}</code>")
        for key in ("connector", "database", "schema", "host")
        if info.get(key)
    ]


HISTORY_ROWS = 10  # newest revisions shown in a model's history


def _history(cls: type[Model]) -> tuple[pd.DataFrame | None, str]:
    """Return a named model's history frame and its HTML (the newest rows), or ``(None, "")``.

    A store that cannot be read shows its error instead of breaking the pane.
    """
    from ..core.errors import ModelNotFoundError, RegistryError
    from ..core.meta import registry_of

    reg = registry_of(cls)
    if cls.anonymous or reg is None:
        return None, ""
    try:
        history = reg.history(cls.model_name, tenant=cls.tenant)
    except ModelNotFoundError:
        return None, ""
    except RegistryError as exc:
        return None, f"<span class='nbr-error'>history unavailable: {escape(str(exc))}</span>"
    shown = history[["revision", "op", "at", "by", "owner"]].tail(HISTORY_ROWS)
    return history, _frame_html(shown.set_index("revision"))


def _errors_html(errors: dict[str, str]) -> str:
    """Return the "records unavailable" lines of DataSources that could not count."""
    return "".join(
        f"<div class='nbr-error'>records unavailable for {escape(label)}: {escape(text)}</div>"
        for label, text in errors.items()
    )


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
        #: A named model's history (``registry.history``: every process's revisions with a
        #: store connected), newest last; None for anonymous models and other nodes.
        self.history: pd.DataFrame | None = None
        #: ``{DataSource label: error text}`` of the DataSources shown that could not
        #: count their records (an unreachable server); the pane shows these texts.
        self.errors: dict[str, str] = {}

    def clear(self) -> None:
        """Show the hint and forget the frames."""
        self.frame = self.rows = self.history = None
        self.errors = {}
        self.value = HINT

    def show_tenant(self, registry: ModelRegistry, code: str) -> None:
        """Show a tenant's counts, records and times."""
        import pandas as pd

        treg = registry.tenant_registry(code)
        models = [] if treg is None else treg.models()
        ts = registry.tenant_stats(code)
        counts = count_records(models)
        errors = records_errors(counts)
        data = {
            "models": 0 if ts is None else ts.models,
            "named models": 0 if ts is None else ts.named_models,
            "anonymous models": 0 if ts is None else ts.anonymous_models,
            "owners": 0 if ts is None else ts.owners,
            "unique structures": 0 if ts is None else ts.unique_structures,
            "records": sum(n for n in counts.values() if isinstance(n, int)),
            "created at": None if ts is None else _seconds(ts.created_at),
            "last accessed": None if ts is None else _seconds(ts.last_accessed),
            "idle seconds": None if ts is None else round(ts.idle_seconds, 1),
        }
        if errors:
            data["records unavailable"] = "; ".join(f"{k}: {v}" for k, v in errors.items())
        frame = pd.DataFrame({"value": pd.Series(data, dtype=object)})
        frame.index.name = "tenant " + code
        self.frame, self.rows, self.errors, self.history = frame, None, errors, None
        self.value = (
            f"<h4>Tenant <code>{escape(code)}</code></h4>{_frame_html(frame)}{_errors_html(errors)}"
        )

    def show_owner(self, owner: Any, tenant: str) -> None:
        """Show an owner's models; its name, type, connector and database once, in the title."""
        kind = OWNER_KIND.get(owner.owner_type, type(owner).__name__)
        facts = [f"{label} {value}" for label, value in _connector_facts(owner)]
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
        found = count_records(models)
        counts = [found.get(c) for c in models]
        if any(c is not None for c in counts):
            numbers = [c if isinstance(c, int) else None for c in counts]
            frame["records"] = pd.array(numbers, dtype="Int64")
        errors = records_errors(found)
        self.frame, self.rows, self.errors, self.history = frame, None, errors, None
        facts = [*facts, f"tenant <code>{escape(tenant)}</code>", plural(len(models), "model")]
        self.value = (
            f"<h4>{title}</h4><div class='nbr-subtitle'>{' · '.join(facts)}</div>"
            f"{_errors_html(errors)}"
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
        ds = None if cls.anonymous else cls.data_source
        facts += _connector_facts(ds)
        self.errors = {}
        if isinstance(records, int):
            facts.append(("records", str(records)))
        elif isinstance(records, str):
            text = f"<span class='nbr-error'>unavailable: {escape(records)}</span>"
            facts.append(("records", text))
            self.errors = {owner_label(ds): records}
        facts_html = "".join(f"<tr><td><b>{k}</b></td><td>{v}</td></tr>" for k, v in facts)
        html = (
            f"<h4>Model <code>{escape(cls.model_name)}</code></h4>"
            f"<table class='nbr-facts'>{facts_html}</table>"
            f"<h5>Properties</h5>{_frame_html(frame)}"
        )
        history, history_html = _history(cls)
        if history_html:
            count = 0 if history is None else len(history)
            facts_row = f"<tr><td><b>revisions</b></td><td>{count}</td></tr>"
            html = html.replace("</table>", facts_row + "</table>", 1)
            html += f"<h5>History</h5>{history_html}"
        rows = _first_rows(cls, FIRST_ROWS, records)
        if rows is not None:
            html += f"<h5>First rows</h5>{_frame_html(rows)}"
        self.frame, self.rows, self.history = frame, rows, history
        self.value = html
