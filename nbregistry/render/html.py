"""HTML tables for Jupyter's ``_repr_html_``, built from plain values (pure string building).

A rendering is a bold *kind* (``DataSource``, ``Model``...), *facts* shown after it
(``tenant=<code>acme</code>``), optional headline *counters* and one table, of which at
most ``max_rows`` rows are shown. Cell values: ``True`` → ``yes``; ``False`` and ``None``
→ empty; anything else its ``str``. Everything is escaped.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from html import escape
from typing import Any

__all__ = ["DEFAULT_MAX_ROWS", "cell_text", "more_rows_text", "table_html", "titled_html"]

#: Rows shown when the caller does not say (``%config RegistryMagics.max_rows`` passes its own).
DEFAULT_MAX_ROWS = 30

_STYLE = "border-collapse:collapse;font-size:12px"
_CELL = "padding:2px 8px"


def cell_text(value: Any) -> str:
    """Return the text a table cell shows for ``value`` (``yes`` for True, empty for False/None)."""
    if value is True:
        return "yes"
    if value is False or value is None:
        return ""
    return str(value)


def more_rows_text(n: int) -> str:
    """Return the note under a table cut after ``max_rows`` rows: ``… 1 more row not shown``."""
    return f"… {n:,} more {'row' if n == 1 else 'rows'} not shown"


def table_html(
    columns: Sequence[str],
    rows: Sequence[Sequence[Any]],
    *,
    max_rows: int = DEFAULT_MAX_ROWS,
    code: Sequence[str] = (),
) -> str:
    """Return an HTML table of the first ``max_rows`` rows and a note of how many are left.

    Cells of the ``code`` columns are set in ``<code>``. ValueError if ``max_rows`` is not
    a positive int.
    """
    if isinstance(max_rows, bool) or not isinstance(max_rows, int) or max_rows < 1:
        raise ValueError(f"max_rows must be a positive int, got {max_rows!r}")
    head = "".join(f"<th style='text-align:left;{_CELL}'>{escape(c)}</th>" for c in columns)
    in_code = [c in code for c in columns]
    body = []
    for row in rows[:max_rows]:
        cells = "".join(
            f"<td style='{_CELL}'>{_cell_html(c, as_code)}</td>"
            for c, as_code in zip(row, in_code, strict=False)
        )
        body.append(f"<tr>{cells}</tr>")
    if len(rows) > max_rows:
        body.append(
            f"<tr><td colspan='{len(columns)}' style='{_CELL}'>"
            f"<i>{escape(more_rows_text(len(rows) - max_rows))}</i></td></tr>"
        )
    return (
        f"<table style='{_STYLE}'><thead><tr>{head}</tr></thead>"
        f"<tbody>{''.join(body)}</tbody></table>"
    )


def _cell_html(value: Any, as_code: bool) -> str:
    text = escape(cell_text(value))
    return f"<code>{text}</code>" if as_code and text else text


def titled_html(
    kind: str,
    facts: Sequence[tuple[str, Any]] = (),
    *,
    counters: Mapping[str, Any] | None = None,
    columns: Sequence[str] = (),
    rows: Sequence[Sequence[Any]] = (),
    max_rows: int = DEFAULT_MAX_ROWS,
    code: Sequence[str] = (),
) -> str:
    """Return ``<b>kind</b>``, its facts, its counters and its table in one ``<div>``.

    A fact ``("", value)`` shows the value alone, ``(label, value)`` as
    ``label=<code>value</code>``; cells of the ``code`` columns are set in ``<code>``.
    ValueError for a bad ``max_rows``.
    """
    parts = [f"<b>{escape(kind)}</b>"]
    for label, value in facts:
        shown = f"<code>{escape(str(value))}</code>"
        parts.append(f" {escape(label)}={shown}" if label else f" {shown}")
    if counters:
        items = " · ".join(f"{escape(k)}: <b>{escape(str(v))}</b>" for k, v in counters.items())
        parts.append(f"<br>{items}")
    if columns:
        parts.append(table_html(columns, rows, max_rows=max_rows, code=code))
    return f"<div>{''.join(parts)}</div>"
