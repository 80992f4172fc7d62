"""The render layer (DataFrames and HTML from plain values) and core.tables, which feeds it.

render/ is tested with plain rows only — no registry — as its callers use it; the
core.tables tests check what people see of registry objects: timestamps to the second,
no NaN in the stats' total row, "1 more row", shortened fingerprints, one date parser.
"""

from __future__ import annotations

import datetime as dt
import pickle
import subprocess
import sys

import pandas as pd
import pytest

from nbregistry import DataSource, ModelRegistry
from nbregistry.core import tables
from nbregistry.core.typenames import parse_date
from nbregistry.render import frames, html

# pandas display options showing a frame on one line per row, whatever another test set.
WIDE = ("display.width", 10_000, "display.max_columns", None, "display.expand_frame_repr", False)


# --- render.frames -------------------------------------------------------------------------


def test_frame_types_columns_and_sets_the_index() -> None:
    df = frames.frame(
        ("name", "n", "ok", "at"),
        [("a", 1, True, 1_700_000_000.987654), ("b", 2, False, 1_700_000_001.5)],
        dtypes={"n": "int64", "ok": "bool", "at": "timestamp"},
        index="name",
    )
    assert list(df.index) == ["a", "b"] and df.index.name == "name"
    assert df["n"].dtype == "int64" and df["ok"].dtype == bool
    assert pd.api.types.is_datetime64_any_dtype(df["at"])
    # whole seconds: a person sees 22:13:20, not 22:13:20.987654
    assert df.loc["a", "at"] == pd.Timestamp("2023-11-14 22:13:20")
    assert "." not in str(df.loc["b", "at"])


def test_frame_without_rows_keeps_columns_and_dtypes() -> None:
    df = frames.frame(("n", "at"), [], dtypes={"n": "int64", "at": "timestamp"})
    assert df.empty and list(df.columns) == ["n", "at"]
    assert df["n"].dtype == "int64" and pd.api.types.is_datetime64_any_dtype(df["at"])


@pytest.mark.parametrize(
    ("dtypes", "match"),
    [({"n": "integer"}, "unknown dtype 'integer' for column 'n'"), ({"x": "int64"}, "'x'")],
)
def test_frame_rejects_unknown_dtypes_and_columns(dtypes: dict[str, str], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        frames.frame(("n",), [(1,)], dtypes=dtypes)


def test_columns_frame_builds_typed_columns_and_an_empty_frame() -> None:
    big = 2**70
    df = frames.columns_frame(
        {
            "i": ("Int64", [1, None]),
            "huge": ("Int64", [big, None]),
            "f": ("float64", [0.5, None]),
            "b": ("boolean", [True, None]),
            "tags": ("object", [["x", "y"], {"k": 1}]),
        },
        [10, 11],
        index_name="id",
    )
    assert df["i"].dtype == "Int64" and pd.isna(df.loc[11, "i"])
    assert df.loc[10, "huge"] == big and df.loc[11, "huge"] is None  # None kept, not 0
    assert df["b"].dtype == "boolean" and df.loc[10, "tags"] == ["x", "y"]
    empty = frames.columns_frame(
        {"i": ("Int64", []), "at": ("datetime", [])}, [], index_name="id", empty_index_dtype="int64"
    )
    assert empty["i"].dtype == "Int64" and empty.index.dtype == "int64"
    with pytest.raises(ValueError, match="unknown dtype 'int'"):
        frames.columns_frame({"i": ("int", [1])}, [1], index_name=None)


def test_header_frame_shows_a_header_and_shortens_on_screen_only(tmp_path: object) -> None:
    base = pd.DataFrame({"fingerprint": ["0123456789abcdef" * 2], "n": [1]})
    df = frames.header_frame(base, {"model": "User"}, shorten={"fingerprint": 12})
    assert df.loc[0, "fingerprint"] == "0123456789abcdef" * 2  # the data are complete
    for shown in (repr(df), df._repr_html_()):
        assert "0123456789ab…" in shown and "0123456789abc" not in shown
    assert repr(df).splitlines()[0] == "model: User"
    assert "model: <b>User</b>" in df._repr_html_()
    assert type(df[["n"]]) is pd.DataFrame  # derived frames are plain
    again = pickle.loads(pickle.dumps(df))
    assert type(again).__name__ == "RegistryFrame" and again.attrs["header"] == {"model": "User"}


def test_old_pickles_naming_the_magics_module_still_load() -> None:
    from nbregistry.ipython import magics

    assert magics.RegistryFrame is frames.RegistryFrame


def test_importing_render_imports_no_pandas() -> None:
    code = (
        "import sys; import nbregistry.render.frames, nbregistry.render.html; "
        "print('pandas' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


# --- render.html ---------------------------------------------------------------------------


def test_table_html_cuts_after_max_rows_with_a_singular_or_plural_note() -> None:
    rows = [(f"M{i}", i) for i in range(4)]
    three = html.table_html(("model", "n"), rows, max_rows=3)
    assert "M2" in three and "M3" not in three and "… 1 more row not shown" in three
    two = html.table_html(("model", "n"), rows, max_rows=2)
    assert "… 2 more rows not shown" in two
    assert "not shown" not in html.table_html(("model", "n"), rows)
    assert html.more_rows_text(1_234) == "… 1,234 more rows not shown"


@pytest.mark.parametrize("bad", [0, -1, 2.5, True, None])
def test_table_html_rejects_a_bad_max_rows(bad: object) -> None:
    with pytest.raises(ValueError, match="max_rows must be a positive int"):
        html.table_html(("a",), [(1,)], max_rows=bad)  # type: ignore[arg-type]


def test_cells_are_escaped_and_booleans_read_yes_or_blank() -> None:
    out = html.titled_html(
        "Model",
        (("", "<b>"), ("owner", "DataSource 'crm'")),
        counters={"models": 2},
        columns=("name", "required", "default"),
        rows=[("<x>", True, None), ("y", False, 0)],
        code=("name",),
    )
    assert out.startswith("<div><b>Model</b> <code>&lt;b&gt;</code>")
    assert "owner=<code>DataSource &#x27;crm&#x27;</code>" in out
    assert "models: <b>2</b>" in out
    assert "<td style='padding:2px 8px'><code>&lt;x&gt;</code></td>" in out
    assert ">yes<" in out and ">0<" in out and "None" not in out and "False" not in out


# --- core.tables: what people see of registry objects -------------------------------------


@pytest.fixture
def crm(reg: ModelRegistry) -> DataSource:
    """Return a DataSource ``crm`` of tenant acme with User (and its address model)."""
    ds = DataSource("memory", name="crm", tenant="acme", registry=reg)
    ds.define("User", {"name": {"type": "string", "required": True}, "address": {"city": "string"}})
    return ds


def test_registry_frames_show_timestamps_to_the_second(reg: ModelRegistry, crm: DataSource) -> None:
    for df, col in (
        (reg.to_frame(), "registered_at"),
        (reg.stats().per_tenant[0].to_frame(), "created_at"),
        (reg.stats().per_tenant[0].to_frame(), "last_accessed"),
    ):
        assert pd.api.types.is_datetime64_any_dtype(df[col])
        assert (df[col] == df[col].dt.floor("s")).all()
        assert "." not in df[col].astype(str).iloc[0]


def test_stats_total_row_has_the_registrys_idle_seconds_not_nan(
    reg: ModelRegistry, crm: DataSource
) -> None:
    DataSource("memory", name="erp", tenant="globex", registry=reg).define("Item", {"x": "string"})
    reg.tenant_registry("acme").last_accessed -= 60  # type: ignore[union-attr]
    df = reg.stats().to_frame()
    assert not df.isna().any().any()
    assert df.loc["total", "idle_seconds"] == df.loc[["acme", "globex"], "idle_seconds"].min()
    assert df.loc["acme", "idle_seconds"] >= 59
    empty = ModelRegistry().stats().to_frame()
    assert list(empty.index) == ["total"] and empty.loc["total", "idle_seconds"] == 0.0


def test_one_property_renderer_for_text_html_and_frames(crm: DataSource) -> None:
    user = crm.models.User
    anon = user.definition.properties["address"].type.model_name
    assert tables.properties_text(user.definition) == (
        f"id: integer, name: string*, address: {anon}"
    )
    assert tables.property_rows(user.definition)[1] == ("name", "string", True, None, False)
    df = tables.properties_frame(user)
    assert list(df.index) == ["id", "name", "address"] and df["required"].dtype == bool
    assert tables.properties_text(user.definition) in crm._repr_html_()
    assert tables.properties_text(user.definition) in tables.model_text(user)


def test_model_display_and_view_display_come_from_the_same_tables(crm: DataSource) -> None:
    user = crm.models.User
    out = tables.model_table(user).html()
    assert "<b>Model</b> <code>User</code> tenant=<code>acme</code>" in out
    assert f"fingerprint=<code>{user.definition.fingerprint[:12]}</code>" in out
    view = crm.models._repr_html_()
    assert "<b>ModelsView</b> owner=<code>DataSource &#x27;crm&#x27;</code>" in view


def test_magic_model_tables_fit_a_notebook_page(reg: ModelRegistry, crm: DataSource) -> None:
    from nbregistry.ipython.magics import _models_frame

    df = _models_frame(reg.all_models())
    # DESIGN §11's complete data, plus the record count of each model (issue 11)
    assert list(df.columns) == [*tables.MODEL_COLUMNS, "records"]
    assert df["fingerprint"].str.len().min() == 32
    with pd.option_context(*WIDE):
        widest = max(len(line) for line in repr(df).splitlines())
        full = max(len(line) for line in repr(pd.DataFrame(df)).splitlines())
    # Before: full 32-digit fingerprints and nanosecond timestamps, 131 characters wide
    # (139 with the records column).
    assert widest <= 112 and full - widest == 32 - len("0123456789ab…"), (widest, full)


# --- one date parser ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        # DESIGN §12.3: every date is aware UTC; no offset (or a naive value) means UTC
        ("2024-06-15", dt.datetime(2024, 6, 15, tzinfo=dt.UTC)),
        ("2024-06-15T10:30:00Z", dt.datetime(2024, 6, 15, 10, 30, tzinfo=dt.UTC)),
        ("2024-06-15T12:30:00+02:00", dt.datetime(2024, 6, 15, 10, 30, tzinfo=dt.UTC)),
        (dt.date(2024, 6, 15), dt.datetime(2024, 6, 15, tzinfo=dt.UTC)),
        (dt.datetime(2024, 6, 15, 1), dt.datetime(2024, 6, 15, 1, tzinfo=dt.UTC)),
        ("15/06/2024", None),
        (20240615, None),
    ],
)
def test_parse_date(value: object, expected: dt.datetime | None) -> None:
    assert parse_date(value) == expected
