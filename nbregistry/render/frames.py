"""pandas DataFrames built from registry snapshots (pandas is imported lazily, here only)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

    from .model import Model
    from .registry import RegistryStats, TenantStats

__all__ = ["models_frame", "properties_frame", "stats_frame", "tenant_stats_frame"]

MODEL_COLUMNS = [
    "tenant",
    "owner",
    "owner_type",
    "model",
    "anonymous",
    "properties",
    "fingerprint",
    "registered_at",
]


def _owner_of(cls: type[Model]) -> Any:
    return _meta().owner_of(cls)


def models_frame(models: Iterable[type[Model]]) -> pd.DataFrame:
    """Return one row per model with the DESIGN §11 columns."""
    import pandas as pd

    rows = []
    for cls in models:
        owner = _meta().owner_of(cls)
        rows.append(
            (
                cls.tenant,
                "" if owner is None else owner.name,
                "" if owner is None else owner.owner_type,
                cls.model_name,
                bool(cls.anonymous),
                len(cls.definition.properties),
                cls.definition.fingerprint,
                _meta().registered_at(cls),
            )
        )
    df = pd.DataFrame.from_records(rows, columns=MODEL_COLUMNS)
    df["registered_at"] = pd.to_datetime(df["registered_at"], unit="s")
    df["properties"] = df["properties"].astype("int64")
    df["anonymous"] = df["anonymous"].astype(bool)
    return df


def properties_frame(cls: type[Model]) -> pd.DataFrame:
    """Return one row per property: name, type, required, default, id."""
    import pandas as pd

    rows = [
        (p.name, p.describe(), p.required, p.default, p.id)
        for p in cls.definition.properties.values()
    ]
    df = pd.DataFrame.from_records(rows, columns=["property", "type", "required", "default", "id"])
    return df.set_index("property")


def tenant_stats_frame(per: Iterable[TenantStats]) -> pd.DataFrame:
    """Return one row per tenant: counts, creation, last access and idle time."""
    import pandas as pd

    rows = [
        (
            t.tenant,
            t.models,
            t.named_models,
            t.anonymous_models,
            t.owners,
            t.created_at,
            t.last_accessed,
            t.idle_seconds,
        )
        for t in per
    ]
    df = pd.DataFrame.from_records(
        rows,
        columns=[
            "tenant",
            "models",
            "named",
            "anonymous",
            "owners",
            "created_at",
            "last_accessed",
            "idle_seconds",
        ],
    )
    for col in ("models", "named", "anonymous", "owners"):
        df[col] = df[col].astype("int64")
    df["idle_seconds"] = df["idle_seconds"].astype("float64")
    for col in ("created_at", "last_accessed"):
        df[col] = pd.to_datetime(df[col], unit="s")
    return df.set_index("tenant")


def stats_frame(stats: RegistryStats) -> pd.DataFrame:
    """Return one row per tenant plus a ``total`` row; headline counters in ``attrs``."""
    df = tenant_stats_frame(stats.per_tenant)[["models", "owners", "idle_seconds"]]
    total = {"models": stats.models, "owners": stats.owners, "idle_seconds": float("nan")}
    import pandas as pd

    df = pd.concat([df, pd.DataFrame([total], index=pd.Index(["total"], name="tenant"))])
    df["models"] = df["models"].astype("int64")
    df["owners"] = df["owners"].astype("int64")
    df.attrs["headline"] = headline(stats)
    return df


def headline(stats: RegistryStats) -> dict[str, Any]:
    """Return the headline counters of a stats snapshot as a dict."""
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


def _meta() -> Any:
    # TEMPORARY (the render layer is being reworked to take plain values).
    from ..core import meta

    return meta
