"""Registry objects → plain tables: the one place that turns them into rows for ``render/``.

Models, property definitions, owners, views, tenants and stats become a :class:`Table`
(a title, columns, rows of plain values and the dtypes of the columns); ``render/``
turns a Table into a DataFrame or HTML and knows nothing of the registry. Every
DataFrame and rich display of a registry object comes through here: ``to_frame()`` and
``_repr_html_`` of the registry, tenants, stats, owners and views, the ``%registry``
magics' tables, the rich display of model classes and the browser's detail frames.

``max_rows`` is passed explicitly to :meth:`Table.html` (``%config
RegistryMagics.max_rows`` hands its value to the formatters the extension registers).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..render import frames as _frames
from ..render import html as _html
from .meta import owner_of, registered_at

if TYPE_CHECKING:
    import pandas as pd

    from .model import Model, ModelDefinition
    from .registry import ModelRegistry, RegistryStats, TenantRegistry, TenantStats
    from .views import ModelsView

__all__ = [
    "MODEL_COLUMNS",
    "OWNER_COLUMNS",
    "Table",
    "connector_info",
    "count_records",
    "error_text",
    "headline",
    "headline_text",
    "location_text",
    "magic_models_table",
    "model_owner_label",
    "model_table",
    "model_text",
    "models_frame",
    "models_table",
    "owner_label",
    "owner_table",
    "owners_errors",
    "owners_table",
    "properties_frame",
    "properties_table",
    "properties_text",
    "property_rows",
    "records_errors",
    "registry_table",
    "stats_frame",
    "stats_table",
    "tenant_stats_table",
    "tenant_table",
    "view_table",
]

DEFAULT_MAX_ROWS = _html.DEFAULT_MAX_ROWS

#: The columns of ``registry.to_frame()`` (DESIGN §11), in order.
MODEL_COLUMNS = (
    "tenant",
    "owner",
    "owner_type",
    "model",
    "anonymous",
    "properties",
    "fingerprint",
    "registered_at",
)
# column → render dtype of the columns above that pandas would not infer by itself.
_MODEL_DTYPES = {"anonymous": "bool", "properties": "int64", "registered_at": "timestamp"}

PROPERTY_COLUMNS = ("property", "type", "required", "default", "id")

#: Characters of a fingerprint shown in compact tables (the full digest stays in the data).
SHORT_FINGERPRINT = 12


@dataclass(frozen=True, slots=True)
class Table:
    """A table of plain values: what ``render/`` makes a DataFrame or an HTML table of.

    ``kind`` and ``facts`` title the HTML (``<b>kind</b> label=<code>value</code>``),
    ``counters`` are headline numbers shown above the rows; the DataFrame has the
    ``columns``, ``rows`` and ``dtypes`` (column → a ``render.frames.FRAME_DTYPES`` key),
    with ``index`` (a column) as its index.
    """

    columns: tuple[str, ...]
    rows: list[tuple[Any, ...]]
    dtypes: Mapping[str, str] = field(default_factory=dict)
    index: str | None = None
    kind: str = ""
    facts: tuple[tuple[str, Any], ...] = ()
    # headline name → value, shown above the HTML table (and kept in a frame's attrs).
    counters: Mapping[str, Any] = field(default_factory=dict)

    def frame(self) -> pd.DataFrame:
        """Return the rows as a DataFrame with typed columns."""
        return _frames.frame(self.columns, self.rows, dtypes=self.dtypes, index=self.index)

    def html(self, *, max_rows: int = DEFAULT_MAX_ROWS) -> str:
        """Return the titled HTML table showing at most ``max_rows`` rows; ValueError."""
        return _html.titled_html(
            self.kind,
            self.facts,
            counters=self.counters,
            columns=self.columns,
            rows=self.rows,
            max_rows=max_rows,
        )


# --- labels and property text -------------------------------------------------------------


def owner_label(owner: Any) -> str:
    """Return ``"DataSource 'crm'"`` for an owner, ``""`` for None."""
    if owner is None:
        return ""
    return f"{type(owner).__name__} {owner.name!r}"


def model_owner_label(cls: type[Model]) -> str:
    """Return who owns a model class: an owner label, ``anonymous (embedded)`` or ``no owner``."""
    owner = owner_of(cls)
    if owner is None:
        return "anonymous (embedded)" if cls.anonymous else "no owner"
    return owner_label(owner)


def property_rows(definition: ModelDefinition) -> list[tuple[str, str, bool, Any, bool]]:
    """Return ``(name, type text, required, default, id)`` per property, in definition order."""
    return [
        (p.name, p.describe(), p.required, p.default, p.id) for p in definition.properties.values()
    ]


def properties_text(definition: ModelDefinition) -> str:
    """Return ``"id: integer, name: string*"`` (``*`` marks required properties)."""
    return ", ".join(
        f"{name}: {text}{'*' if required else ''}"
        for name, text, required, _, _ in property_rows(definition)
    )


def model_text(cls: type[Model]) -> str:
    """Return a one-line text of a model class: name, tenant, owner and properties."""
    props = properties_text(cls.definition)
    return (
        f"<model {cls.model_name!r} tenant={cls.tenant!r} owner={model_owner_label(cls)}: "
        f"{props or '(no properties)'}>"
    )


# --- models and properties ----------------------------------------------------------------


def models_table(models: Iterable[type[Model]]) -> Table:
    """Return one row per model with the DESIGN §11 columns of ``to_frame()``."""
    rows = []
    for cls in models:
        owner = owner_of(cls)
        rows.append(
            (
                cls.tenant,
                "" if owner is None else owner.name,
                "" if owner is None else owner.owner_type,
                cls.model_name,
                bool(cls.anonymous),
                len(cls.definition.properties),
                cls.definition.fingerprint,
                registered_at(cls),
            )
        )
    return Table(MODEL_COLUMNS, rows, _MODEL_DTYPES)


def models_frame(models: Iterable[type[Model]]) -> pd.DataFrame:
    """Return one row per model with the DESIGN §11 columns (timestamps to the second)."""
    return models_table(models).frame()


def properties_table(cls: type[Model]) -> Table:
    """Return one row per property of ``cls`` (property, type, required, default, id)."""
    return Table(
        PROPERTY_COLUMNS,
        list(property_rows(cls.definition)),
        {"required": "bool", "id": "bool"},
        index="property",
    )


def properties_frame(cls: type[Model]) -> pd.DataFrame:
    """Return one row per property, indexed by property name."""
    return properties_table(cls).frame()


def model_table(cls: type[Model]) -> Table:
    """Return a model class's rich display: its properties titled by name, tenant, owner."""
    table = properties_table(cls)
    facts = (
        ("", cls.model_name),
        ("tenant", cls.tenant),
        ("owner", model_owner_label(cls)),
        ("fingerprint", cls.definition.fingerprint[:SHORT_FINGERPRINT]),
    )
    return Table(table.columns, table.rows, table.dtypes, table.index, "Model", facts)


def _model_summary(models: Iterable[type[Model]]) -> tuple[tuple[str, ...], list[tuple]]:
    rows = [
        (
            cls.model_name,
            properties_text(cls.definition),
            cls.definition.fingerprint[:SHORT_FINGERPRINT],
        )
        for cls in models
    ]
    return ("model", "properties", "fingerprint"), rows


# --- connectors and record counts ----------------------------------------------------------


def connector_info(owner: Any) -> dict[str, str]:
    """Return what displays show of an owner's connector (its ``describe()``), never a secret.

    ``{}`` for an owner without a connector (an App, a ModelBuilder, None); else at least
    ``{"connector": name}``, plus ``database``/``schema``/``host``/``user`` for SQL ones.
    """
    conn = getattr(owner, "connector", None)
    if conn is None:
        return {}
    name = str(getattr(conn, "name", conn))
    describe = getattr(conn, "describe", None)
    if describe is None:
        return {"connector": name}
    try:
        info = {str(k): str(v) for k, v in describe().items()}
    except Exception as exc:  # a third-party describe() that fails must not break a display
        return {"connector": name, "error": error_text(conn, exc)}
    info.setdefault("connector", name)
    return info


def location_text(info: Mapping[str, str]) -> str:
    """Return where the rows live, briefly: ``nbr_test/acme`` (database/schema), ``crm.db``.

    A file shows its base name (the full path is in ``info["database"]``); ``""`` when the
    connector names no database (the memory connector without a file).
    """
    import os

    db = info.get("database", "")
    schema = info.get("schema", "")
    if schema:
        return f"{db}/{schema}" if db else schema
    if db and db != ":memory:" and ("/" in db or os.sep in db):
        return os.path.basename(db)
    return db


def error_text(connector: Any, exc: BaseException) -> str:
    """Return ``"ErrorType: message"`` on one line, passed through ``connector.redact``."""
    text = " ".join(f"{type(exc).__name__}: {exc}".split())
    redact = getattr(connector, "redact", None)
    return redact(text) if redact is not None else text


def count_records(models: Iterable[type[Model]]) -> dict[type[Model], int | str]:
    """Return each model's row count, or the error text when its DataSource cannot count.

    One ``connector.record_counts(...)`` call per DataSource (SQL: one SELECT of
    COUNT(*)s; no row is read and no table created). A failure (an unreachable server)
    gives every model of that DataSource the error text, secrets removed, instead of
    raising. Anonymous models and models without a DataSource are left out.
    """
    groups: dict[int, tuple[Any, list[type[Model]]]] = {}
    for cls in models:
        ds = None if cls.anonymous else getattr(cls, "data_source", None)
        if ds is None or getattr(ds, "connector", None) is None:
            continue
        groups.setdefault(id(ds), (ds, []))[1].append(cls)
    out: dict[type[Model], int | str] = {}
    for ds, group in groups.values():
        conn = ds.connector
        try:
            counts = conn.record_counts(group)
        except Exception as exc:  # shown instead of crashing the display
            text = error_text(conn, exc)
            for cls in group:
                out[cls] = text
            continue
        for cls in group:
            n = counts.get(cls.model_name)
            if n is not None:
                out[cls] = int(n)
    return out


def records_errors(counts: Mapping[type[Model], int | str]) -> dict[str, str]:
    """Return ``{owner label: error text}`` of the DataSources that could not count."""
    out: dict[str, str] = {}
    for cls, value in counts.items():
        if isinstance(value, str):
            out.setdefault(owner_label(cls.data_source), value)
    return out


def _records_value(counts: Mapping[type[Model], int | str], cls: type[Model]) -> int | None:
    value = counts.get(cls)
    return value if isinstance(value, int) else None


def magic_models_table(models: Iterable[type[Model]]) -> tuple[Table, dict[str, str]]:
    """Return ``%registry models``' table and header: §11's columns plus ``records``.

    The header names the connector and database/schema of each DataSource of the rows
    (``{"DataSource 'pg'": "postgresql · nbr_test/acme"}``) and, under ``records
    unavailable``, the errors of DataSources that could not count (their rows: <NA>).
    """
    models = list(models)
    base = models_table(models)
    counts = count_records(models)
    rows = [(*row, _records_value(counts, cls)) for row, cls in zip(base.rows, models, strict=True)]
    header: dict[str, str] = {}
    for cls in models:
        ds = None if cls.anonymous else getattr(cls, "data_source", None)
        label = owner_label(ds)
        if ds is None or label in header:
            continue
        info = connector_info(ds)
        where = location_text(info)
        header[label] = info.get("connector", "") + (f" · {where}" if where else "")
    errors = records_errors(counts)
    if errors:
        header["records unavailable"] = "; ".join(f"{k}: {v}" for k, v in errors.items())
    table = Table((*base.columns, "records"), rows, {**base.dtypes, "records": "Int64"}, base.index)
    return table, header


# --- owners, views, tenants ---------------------------------------------------------------


def _owner_facts(owner: Any) -> tuple[tuple[str, Any], ...]:
    facts: list[tuple[str, Any]] = [("", owner.name), ("tenant", owner.tenant)]
    info = connector_info(owner)
    for key in ("connector", "database", "schema", "host"):
        if info.get(key):
            facts.append((key, info[key]))
    return tuple(facts)


def owner_table(owner: Any) -> Table:
    """Return an owner's rich display: one row per model (name, properties, fingerprint)."""
    columns, rows = _model_summary(owner.models.values())
    return Table(columns, rows, kind=type(owner).__name__, facts=_owner_facts(owner))


def view_table(view: ModelsView) -> Table:
    """Return a ModelsView's rich display: its owner and one row per model."""
    try:
        owner = view.owner
    except ReferenceError:
        facts: tuple[tuple[str, Any], ...] = (("", "(an owner that no longer exists)"),)
    else:
        facts = (("owner", owner_label(owner)), ("tenant", owner.tenant))
    columns, rows = _model_summary(view.values())
    return Table(columns, rows, kind="ModelsView", facts=facts)


def tenant_table(treg: TenantRegistry) -> Table:
    """Return one tenant's rich display: one row per model (owner, model, anonymous, count)."""
    rows = []
    for cls in treg.models():
        owner = owner_of(cls)
        rows.append(
            (
                "" if owner is None else owner.name,
                cls.model_name,
                bool(cls.anonymous),
                len(cls.definition.properties),
            )
        )
    return Table(
        ("owner", "model", "anonymous", "properties"),
        rows,
        {"anonymous": "bool", "properties": "int64"},
        kind="Tenant",
        facts=(("", treg.code),),
    )


#: The columns of ``%registry owners``, in order.
OWNER_COLUMNS = (
    "tenant",
    "owner",
    "owner_type",
    "connector",
    "models",
    "model_names",
    "database",
    "schema",
    "records",
)


def owners_table(registry: ModelRegistry, codes: Sequence[str]) -> Table:
    """Return one row per owner of the tenants ``codes``: type, connector, models, records.

    ``database``/``schema`` come from the connector's ``describe()`` (never a secret);
    ``records`` sums the owner's counted models (<NA> when none can be counted or its
    DataSource cannot count: :func:`owners_errors` gives the error texts).
    """
    return _owners(registry, codes)[0]


def owners_errors(registry: ModelRegistry, codes: Sequence[str]) -> tuple[Table, dict[str, str]]:
    """Return :func:`owners_table` and ``{owner label: error}`` of owners that cannot count."""
    return _owners(registry, codes)


def _owners(registry: ModelRegistry, codes: Sequence[str]) -> tuple[Table, dict[str, str]]:
    owners = [(code, owner) for code in codes for owner in registry.owners(tenant=code)]
    counts = count_records(cls for _, owner in owners for cls in owner.models.values())
    rows = []
    for code, owner in owners:
        info = connector_info(owner)
        models = list(owner.models.values())
        numbers = [counts[c] for c in models if c in counts]
        records = (
            sum(numbers)  # type: ignore[arg-type]
            if numbers and all(isinstance(n, int) for n in numbers)
            else None
        )
        rows.append(
            (
                code,
                owner.name,
                owner.owner_type,
                info.get("connector", ""),
                len(models),
                ", ".join(owner.models),
                info.get("database", ""),
                info.get("schema", ""),
                records,
            )
        )
    table = Table(OWNER_COLUMNS, rows, {"models": "int64", "records": "Int64"})
    return table, records_errors(counts)


# --- stats --------------------------------------------------------------------------------

_TENANT_STATS_COLUMNS = (
    "tenant",
    "models",
    "named",
    "anonymous",
    "owners",
    "created_at",
    "last_accessed",
    "idle_seconds",
)
# column → render dtype: counts are ints, times are epoch seconds shown to the second.
_TENANT_STATS_DTYPES = {
    "models": "int64",
    "named": "int64",
    "anonymous": "int64",
    "owners": "int64",
    "created_at": "timestamp",
    "last_accessed": "timestamp",
    "idle_seconds": "float64",
}


def tenant_stats_table(per: Iterable[TenantStats]) -> Table:
    """Return one row per tenant: counts, creation, last access and idle seconds (to the ms)."""
    rows = [
        (
            t.tenant,
            t.models,
            t.named_models,
            t.anonymous_models,
            t.owners,
            t.created_at,
            t.last_accessed,
            round(t.idle_seconds, 3),
        )
        for t in per
    ]
    return Table(_TENANT_STATS_COLUMNS, rows, _TENANT_STATS_DTYPES, index="tenant")


def headline(stats: RegistryStats) -> dict[str, Any]:
    """Return the headline counters of a stats snapshot (``hit_rate`` a fraction, 4 digits)."""
    return {
        "models": stats.models,
        "named": stats.named_models,
        "anonymous": stats.anonymous_models,
        "tenants": stats.tenants,
        "owners": stats.owners,
        "unique_structures": stats.unique_structures,
        "registrations": stats.registrations,
        "lookups": stats.lookups,
        "reuse_hits": stats.reuse_hits,
        "reuse_misses": stats.reuse_misses,
        "hit_rate": round(stats.hit_rate, 4),
    }


def headline_text(stats: RegistryStats) -> dict[str, Any]:
    """Return the headline counters as shown to people (``hit_rate`` as ``"50.0%"``)."""
    head = headline(stats)
    head["hit_rate"] = f"{stats.hit_rate:.1%}"
    return head


def stats_table(stats: RegistryStats, *, kind: str = "RegistryStats") -> Table:
    """Return one row per tenant plus a ``total`` row (models, owners, idle seconds).

    The total row's ``idle_seconds`` is the registry's: that of its least idle tenant
    (0.0 for an empty registry), so the column holds no NaN.
    """
    rows = [(t.tenant, t.models, t.owners, round(t.idle_seconds, 3)) for t in stats.per_tenant]
    idle = min((t.idle_seconds for t in stats.per_tenant), default=0.0)
    rows.append(("total", stats.models, stats.owners, round(idle, 3)))
    return Table(
        ("tenant", "models", "owners", "idle_seconds"),
        rows,
        {"models": "int64", "owners": "int64", "idle_seconds": "float64"},
        index="tenant",
        kind=kind,
        counters=headline_text(stats),
    )


def stats_frame(stats: RegistryStats) -> pd.DataFrame:
    """Return the stats table as a DataFrame; the numeric headline is in ``attrs["headline"]``."""
    df = stats_table(stats).frame()
    df.attrs["headline"] = headline(stats)
    return df


def registry_table(registry: ModelRegistry) -> Table:
    """Return a registry's rich display: its headline counters and one row per tenant."""
    return stats_table(registry.stats(), kind="ModelRegistry")
