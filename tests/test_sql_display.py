"""The notebook layer on SQL DataSources (issue 11 item 7): the tenant browser and
``%registry`` show the connector, the database/schema and the record counts of SQL
DataSources, never the password; a DataSource that cannot count shows its error instead
of breaking the display. Widget state driven; magics on a kernel-free InteractiveShell.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote, quote_plus

import pandas as pd
import pytest
from IPython.core.interactiveshell import InteractiveShell
from sqlalchemy import event

from nbregistry import DataSource, ModelRegistry
from nbregistry.ipython import load_ipython_extension, unload_ipython_extension
from nbregistry.widgets import TenantBrowser

#: A password with every character that needs quoting (plain, in a URL, URL-encoded).
PASSWORD = "Wr0ng:p@ss/w%rd#?' x"


@pytest.fixture
def ip(shell: InteractiveShell) -> Iterator[InteractiveShell]:
    load_ipython_extension(shell)
    yield shell
    unload_ipython_extension(shell)


def magic(shell: InteractiveShell, reg: ModelRegistry, line: str) -> Any:
    """Return ``%registry <line>`` run against ``reg``."""
    shell.magics_manager.registry["RegistryMagics"].registry = reg
    return shell.run_line_magic("registry", line)


def widget_texts(widget: Any) -> list[str]:
    """Return every text a widget tree shows: values, descriptions, tooltips."""
    out: list[str] = []
    stack = [widget]
    while stack:
        w = stack.pop()
        for attr in ("value", "description", "tooltip", "placeholder"):
            v = getattr(w, attr, None)
            if isinstance(v, str):
                out.append(v)
        stack.extend(getattr(w, "children", ()) or ())
    return out


def frame_texts(df: pd.DataFrame) -> list[str]:
    return [repr(df), df.to_html(), str(df.attrs), df.to_string()]


def spellings(pw: str) -> list[str]:
    return [pw, quote(pw, safe=""), quote_plus(pw), quote(pw)]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# --- a reachable database ---------------------------------------------------------------


def test_browser_and_magics_show_connector_database_schema_and_counts(
    sql_backend: Any, ip: InteractiveShell
) -> None:
    reg = sql_backend.registry
    pg = sql_backend.name == "postgresql"
    ds = sql_backend.ds(name="crm", tenant="acme")
    User = ds.define("User", {"name": "string", "age": "integer"})
    User.create([{"name": "Ann", "age": 31}, {"name": "Bo", "age": 40}, {"name": "Cy"}])
    ds.define("Idle", {"x": "string"})  # defined, never used: its table does not exist
    where = f"nbr_test/{sql_backend.schema}" if pg else "db.sqlite"
    database = "nbr_test" if pg else sql_backend.file

    statements: list[str] = []

    def seen(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(statement)

    event.listen(ds.connector.engine, "before_cursor_execute", seen)
    with TenantBrowser(reg) as b:
        b.expand("acme", "crm")
        rows = b.visible_rows()
        assert f"▾ crm   [DataSource · {sql_backend.name} · {where}] 2 models" in rows
        assert "▸ User   3 properties · 3 records" in rows
        assert "▸ Idle   2 properties · 0 records" in rows
        b.select("acme", "crm")
        df = b.details_frame
        assert df["records"].dtype == "Int64" and df["records"].to_dict() == {"User": 3, "Idle": 0}
        assert f"connector <code>{sql_backend.name}</code>" in b.details.value
        assert f"database <code>{database}</code>" in b.details.value
        assert (f"schema <code>{sql_backend.schema}</code>" in b.details.value) is pg
        assert b.details.errors == {}
        counted = [s for s in statements if '"User"' in s or '"Idle"' in s or "User" in s]
        # one COUNT(*) per model (no row read, however big the table), nothing created
        assert counted and all("count(*)" in s.lower() for s in counted), counted
        assert not [s for s in statements if s.lstrip().upper().startswith(("CREATE", "ALTER"))]
        b.select("acme", "crm", "User")
        assert "<td><b>records</b></td><td>3</td>" in b.details.value
        assert f"<code>{database}</code>" in b.details.value
        assert b.details_rows is not None and list(b.details_rows["name"]) == ["Ann", "Bo", "Cy"]
        b.select("acme")
        assert b.details_frame.loc["records", "value"] == 3
    event.remove(ds.connector.engine, "before_cursor_execute", seen)
    assert "Idle" not in [d["name"] for d in ds.discover_model_definitions()]

    owners = magic(ip, reg, "owners -t acme").set_index("owner")
    row = owners.loc["crm"]
    assert row["connector"] == sql_backend.name and row["database"] == database
    assert row["schema"] == (sql_backend.schema if pg else "") and row["records"] == 3
    models = magic(ip, reg, "models -t acme")
    assert models.set_index("model")["records"].to_dict() == {"User": 3, "Idle": 0}
    assert models.attrs["header"] == {"DataSource 'crm'": f"{sql_backend.name} · {where}"}
    assert f"{sql_backend.name} · {where}" in models._repr_html_()
    shown = magic(ip, reg, "show User -t acme")
    head = shown.attrs["header"]
    assert head["connector"] == sql_backend.name and head["database"] == database
    assert head["records"] == 3 and head.get("schema") == (sql_backend.schema if pg else None)
    assert list(shown.index) == ["id", "name", "age"]


def test_password_is_in_no_display_of_a_reachable_postgresql(
    pg_server: Any, ip: InteractiveShell
) -> None:
    reg = ModelRegistry()
    try:
        a = DataSource("postgresql", name="a", tenant="shown", registry=reg, url=pg_server.url)
        b = DataSource("postgresql", name="b", tenant="shown", registry=reg, **pg_server.settings())
        for ds in (a, b):
            ds.define("T", {"v": "integer"}).create([{"v": 1}, {"v": 2}])
        texts: list[str] = []
        with TenantBrowser(reg) as browser:
            browser.expand("shown", "a")
            browser.expand("shown", "b")
            texts += browser.visible_rows()
            for path in (("shown",), ("shown", "a"), ("shown", "b", "T")):
                browser.select(*path)
                texts += widget_texts(browser)
                texts += frame_texts(browser.details_frame)
            texts.append(repr(browser))
        for line in (
            "owners -t shown",
            "models -t shown",
            "show a.T -t shown",
            "show b.T -t shown",
        ):
            texts += frame_texts(magic(ip, reg, line))
        joined = "\n".join(texts)
        # one database and schema: both DataSources see the same table's rows
        assert "nbr_test/shown" in joined and "4 records" in joined
        for spelling in spellings(pg_server.password):
            assert spelling not in joined, spelling
    finally:
        reg.clear()
        pg_server.superuser_sql("@db DROP SCHEMA IF EXISTS shown CASCADE")


# --- an unreachable server --------------------------------------------------------------


def test_a_data_source_that_cannot_count_shows_its_error_not_its_password(
    ip: InteractiveShell,
) -> None:
    port = _free_port()  # nothing listens there: the connection is refused at once
    reg = ModelRegistry()
    try:
        down = DataSource(
            "postgresql",
            name="down",
            tenant="acme",
            registry=reg,
            host="127.0.0.1",
            port=port,
            user="app",
            password=PASSWORD,
            database="crm",
        )
        down2 = DataSource(
            "postgresql",
            name="down2",
            tenant="acme",
            registry=reg,
            url=f"postgresql://app:{quote(PASSWORD, safe='')}@127.0.0.1:{port}/crm",
        )
        down.define("Customer", {"name": "string"})
        down2.define("Invoice", {"total": "number"})
        mem = DataSource("memory", name="mem", tenant="acme", registry=reg)
        mem.define("Note", {"text": "string"}).create([{"text": "a"}, {"text": "b"}])
        texts: list[str] = []
        with TenantBrowser(reg) as b:
            b.expand("acme", "down")
            b.expand("acme", "mem")
            rows = b.visible_rows()
            assert "▾ down   [DataSource · postgresql · crm/acme] 1 model" in rows
            assert "▸ Customer   2 properties · records unavailable" in rows
            assert "▸ Note   2 properties · 2 records" in rows  # the others still count
            texts += rows
            b.select("acme", "down")
            assert pd.isna(b.details_frame.loc["Customer", "records"])
            error = b.details.errors["DataSource 'down'"]
            assert f"cannot reach PostgreSQL server 127.0.0.1:{port}, database 'crm'" in error
            assert error.startswith("DataSourceConnectionError: ")
            assert "records unavailable for DataSource &#x27;down&#x27;" in b.details.value
            texts += widget_texts(b) + frame_texts(b.details_frame)
            b.select("acme", "down2", "Invoice")
            assert "unavailable: DataSourceConnectionError" in b.details.value
            assert b.details_rows is None
            texts += widget_texts(b) + frame_texts(b.details_frame)
            b.select("acme")
            df = b.details_frame
            assert df.loc["records", "value"] == 2
            assert "cannot reach PostgreSQL" in df.loc["records unavailable", "value"]
            assert set(b.details.errors) == {"DataSource 'down'", "DataSource 'down2'"}
            texts += widget_texts(b) + frame_texts(df)
        owners = magic(ip, reg, "owners -t acme")
        by = owners.set_index("owner")
        assert pd.isna(by.loc["down", "records"]) and by.loc["mem", "records"] == 2
        assert by.loc["down", "database"] == "crm" and by.loc["down", "schema"] == "acme"
        assert "cannot reach PostgreSQL" in owners.attrs["header"]["records unavailable"]
        models = magic(ip, reg, "models -t acme")
        assert models.set_index("model")["records"].isna().to_dict() == {
            "Customer": True,
            "Invoice": True,
            "Note": False,
        }
        assert "DataSource 'down2'" in models.attrs["header"]["records unavailable"]
        shown = magic(ip, reg, "show Customer -t acme")
        assert shown.attrs["header"]["records"].startswith("unavailable: DataSourceConnection")
        for df in (owners, models, shown):
            texts += frame_texts(df)
        joined = "\n".join(texts)
        for spelling in spellings(PASSWORD):
            assert spelling not in joined, spelling
    finally:
        reg.clear()


def test_memory_data_source_with_a_file_shows_it_as_its_database(tmp_path: Any) -> None:
    reg = ModelRegistry()
    ds = DataSource("memory", name="kept", registry=reg, file=str(tmp_path / "kept.json"))
    ds.define("T", {"v": "integer"}).create(v=1)
    assert ds.connector.describe() == {"connector": "memory", "database": ds.connector.path}
    with TenantBrowser(reg) as b:
        b.expand("global", "kept")
        assert "▾ kept   [DataSource · memory · kept.json] 1 model" in b.visible_rows()
        assert "▸ T   2 properties · 1 record" in b.visible_rows()
    reg.clear()
