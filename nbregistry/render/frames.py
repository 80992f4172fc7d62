"""pandas DataFrames built from plain values (pandas and numpy are imported lazily, here only).

Callers hand over column names, rows (tuples in column order) and a dtype per column;
this module knows no registry and no connector. Three builders:

* :func:`frame` — rows → a DataFrame with the given column dtypes (``"timestamp"``:
  seconds since the epoch, shown to the second);
* :func:`columns_frame` — already typed columns → a DataFrame (the connectors' rows);
* :func:`header_frame` — a DataFrame that shows a header line above its table and
  shortens long identifier columns in its display (the data stay complete).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["COLUMN_DTYPES", "FRAME_DTYPES", "columns_frame", "frame", "header_frame"]

#: The dtypes :func:`frame` accepts per column → what the column becomes.
FRAME_DTYPES: dict[str, str] = {
    "int64": "64-bit integers",
    "Int64": "64-bit integers with None → <NA> (pandas' nullable Int64)",
    "float64": "floats (None → NaN)",
    "bool": "booleans",
    "boolean": "nullable booleans (None → <NA>)",
    "str": "text",
    "object": "values kept as they are",
    "timestamp": "seconds since the epoch → datetime64, whole seconds (no nanoseconds shown)",
}

#: The dtypes :func:`columns_frame` accepts → the dtype of that column when there are no rows.
COLUMN_DTYPES: dict[str, str] = {
    "Int64": "Int64",  # ints with None as a masked IntegerArray (object if beyond 64 bits)
    "float64": "float64",
    "bool": "bool",  # no None among the values
    "boolean": "bool",  # with None: pandas' nullable boolean
    "datetime": "datetime64[ns, UTC]",  # aware UTC datetimes (naive ones taken as UTC)
    "datetime_iso": "datetime64[ns, UTC]",  # ISO-8601 text (naive taken as UTC), parsed here
    "str": "str",
    "object": "object",  # any value, stored as is (lists and dicts stay one cell)
}


def _check_dtype(dtype: str, allowed: Mapping[str, str], column: str) -> None:
    if dtype not in allowed:
        raise ValueError(
            f"unknown dtype {dtype!r} for column {column!r}; use one of {', '.join(allowed)}"
        )


def frame(
    columns: Sequence[str],
    rows: Iterable[Sequence[Any]],
    *,
    dtypes: Mapping[str, str] | None = None,
    index: str | None = None,
) -> pd.DataFrame:
    """Return a DataFrame of ``rows`` with typed columns, ``index`` as its index; ValueError.

    ``dtypes`` maps a column to one of :data:`FRAME_DTYPES`; other columns are left as
    pandas infers them. ValueError for an unknown dtype or column.
    """
    dtypes = dict(dtypes or {})
    for col, dtype in dtypes.items():
        _check_dtype(dtype, FRAME_DTYPES, col)
        if col not in columns:
            raise ValueError(f"dtype given for {col!r}, which is not a column of {list(columns)}")
    import pandas as pd

    df = pd.DataFrame.from_records(list(rows), columns=list(columns))
    for col, dtype in dtypes.items():
        if dtype == "timestamp":
            df[col] = pd.to_datetime(df[col].astype("float64"), unit="s").dt.floor("s")
        else:
            df[col] = df[col].astype(dtype)
    return df.set_index(index) if index is not None else df


def columns_frame(
    columns: Mapping[str, tuple[str, Sequence[Any]]],
    index: Sequence[Any],
    *,
    index_name: str | None,
    empty_index_dtype: str = "object",
) -> pd.DataFrame:
    """Return a DataFrame of typed columns ``{name: (dtype, values)}`` in that order; ValueError.

    ``dtype`` is one of :data:`COLUMN_DTYPES`; every ``values`` has ``len(index)`` items.
    With no rows each column gets the empty dtype of its kind and the index
    ``empty_index_dtype``. ValueError for an unknown dtype.
    """
    import numpy as np
    import pandas as pd

    n = len(index)
    built: dict[str, Any] = {}
    for name, (dtype, col) in columns.items():
        _check_dtype(dtype, COLUMN_DTYPES, name)
        if dtype == "Int64":
            mask = np.fromiter((v is None for v in col), dtype=bool, count=n)
            if mask.any():
                col = [0 if v is None else v for v in col]
            try:
                built[name] = pd.arrays.IntegerArray(np.array(col, dtype=np.int64), mask)
            except (OverflowError, TypeError, ValueError):
                # beyond 64 bits: Python ints in an object column (a plain array, not a
                # Series, which would be aligned to the index and turn into NaN)
                arr = np.empty(n, dtype=object)
                arr[:] = [None if m else v for v, m in zip(col, mask, strict=True)]
                built[name] = arr
        elif dtype == "float64":
            built[name] = np.array(col, dtype=np.float64)
        elif dtype == "bool":
            built[name] = np.array(col, dtype=bool)
        elif dtype == "boolean":
            built[name] = pd.array(col, dtype="boolean")
        elif dtype == "datetime":
            # a date outside the nanosecond range (before 1677, after 2262) stays an object
            try:
                built[name] = pd.to_datetime(col, utc=True).as_unit("ns").array
            except (ValueError, TypeError, OverflowError):
                arr = np.empty(n, dtype=object)
                arr[:] = col
                built[name] = arr
        elif dtype == "datetime_iso":
            built[name] = _iso_column(col, n)
        elif dtype == "str":
            built[name] = col
        else:
            arr = np.empty(n, dtype=object)
            arr[:] = col  # slice assignment: a list value stays one cell
            built[name] = arr
    names = list(columns)
    if n:
        idx = pd.Index(index, name=index_name)
    else:
        idx = pd.Index([], name=index_name, dtype=empty_index_dtype)
    df = pd.DataFrame(built, index=idx, columns=names)
    if not n:
        for name, (dtype, _) in columns.items():
            df[name] = df[name].astype(COLUMN_DTYPES[dtype])  # type: ignore[call-overload]
    return df


def _iso_column(col: Sequence[Any], n: int) -> Any:
    """Return ISO-8601 texts as a datetime64[ns, UTC] array (parsed in one vectorized pass).

    A text outside the nanosecond range (or not ISO) makes the column hold datetime
    objects instead (texts that do not parse stay as they are), as "datetime" does.
    """
    import contextlib
    import datetime as dt

    import numpy as np
    import pandas as pd

    try:
        return pd.to_datetime(col, utc=True, format="ISO8601").as_unit("ns").array
    except (ValueError, TypeError, OverflowError):
        pass
    parsed: list[Any] = []
    for v in col:
        if isinstance(v, str):
            with contextlib.suppress(ValueError):
                v = dt.datetime.fromisoformat(v)
        if isinstance(v, dt.datetime) and v.tzinfo is None:
            v = v.replace(tzinfo=dt.UTC)
        parsed.append(v)
    try:
        return pd.to_datetime(parsed, utc=True).as_unit("ns").array
    except (ValueError, TypeError, OverflowError):
        arr = np.empty(n, dtype=object)
        arr[:] = parsed
        return arr


_FRAME_CLASS: Any = None


def _frame_class() -> Any:
    """Return (creating it once, pandas imported lazily) the DataFrame subclass with a header."""
    global _FRAME_CLASS
    if _FRAME_CLASS is None:
        import pandas as pd

        class RegistryFrame(pd.DataFrame):
            """A DataFrame that shows ``attrs['header']`` (a dict) above its table.

            ``attrs['shorten']`` maps a column to the characters its display shows; longer
            strings are cut with ``…`` on screen only (the frame's values are complete).
            """

            @property
            def _constructor(self) -> Any:
                # Derived frames (slices, copies) are plain DataFrames.
                return pd.DataFrame

            def _header_items(self) -> list[tuple[str, Any]]:
                return list(self.attrs.get("header", {}).items())

            def _shown(self) -> pd.DataFrame:
                shown = pd.DataFrame(self, copy=True)
                for col, width in self.attrs.get("shorten", {}).items():
                    if col in shown.columns:
                        shown[col] = shown[col].map(lambda v, w=width: _shorten(v, w))
                return shown

            def __repr__(self) -> str:
                head = " · ".join(f"{k}: {v}" for k, v in self._header_items())
                body = pd.DataFrame.__repr__(self._shown())
                return f"{head}\n{body}" if head else body

            def _repr_html_(self) -> str | None:
                html = pd.DataFrame._repr_html_(self._shown())
                items = self._header_items()
                if not items or html is None:
                    return html
                from html import escape

                head = " · ".join(f"{escape(str(k))}: <b>{escape(str(v))}</b>" for k, v in items)
                return f"<div style='font-size:12px;margin-bottom:4px'>{head}</div>{html}"

        # Importable (and so picklable) as nbregistry.render.frames.RegistryFrame, via
        # the module's __getattr__, without importing pandas when the module loads.
        RegistryFrame.__module__ = __name__
        RegistryFrame.__qualname__ = "RegistryFrame"
        _FRAME_CLASS = RegistryFrame
    return _FRAME_CLASS


def _shorten(value: Any, width: int) -> Any:
    if isinstance(value, str) and len(value) > width:
        return value[:width] + "…"
    return value


def __getattr__(name: str) -> Any:
    if name == "RegistryFrame":
        return _frame_class()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def header_frame(
    df: pd.DataFrame,
    header: Mapping[str, Any] | None = None,
    *,
    shorten: Mapping[str, int] | None = None,
) -> pd.DataFrame:
    """Return ``df`` as a RegistryFrame showing ``header`` above it, ``shorten`` columns cut.

    ``shorten`` maps a column to how many characters of its strings the display shows.
    """
    out = _frame_class()(df)
    out.attrs = dict(df.attrs)
    if header:
        out.attrs["header"] = dict(header)
    if shorten:
        out.attrs["shorten"] = dict(shorten)
    return out
