"""Driver errors never reach the user (issue 11, DESIGN §8, §12.2): every database refusal
is a SchemaError, ValidationError, FilterError or DataSourceConnectionError whose message
names the table, column or filter part and the fix, never the SQL, its parameters or the
password. Also: column types compared with the model, values someone else wrote that the
model cannot read, dates outside the range once taken to UTC, all-or-nothing discovery.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from typing import Any

import pytest

from nbregistry import (
    DataSource,
    DataSourceConnectionError,
    DefinitionError,
    FilterError,
    ModelRegistry,
    RegistryError,
    SchemaError,
    ValidationError,
)


def _raw(sql_backend: Any, *statements: str) -> None:
    """Run SQL as someone else: sqlite3 on the file, or the PostgreSQL superuser."""
    if sql_backend.name == "sqlite":
        con = sqlite3.connect(sql_backend.file)
        with con:
            for s in statements:
                con.execute(s.replace('"{schema}".', ""))
        con.close()
    else:
        sql_backend.pg.superuser_sql(
            f'@db CREATE SCHEMA IF NOT EXISTS "{sql_backend.schema}" AUTHORIZATION nbr_user',
            *(f"@db {s}".replace("{schema}", sql_backend.schema) for s in statements),
        )


def _own(sql_backend: Any, *tables: str) -> list[str]:
    if sql_backend.name != "postgresql":
        return []
    return [f'ALTER TABLE "{{schema}}".{t} OWNER TO nbr_user' for t in tables]


def _no_sql(exc: BaseException) -> None:
    """Assert that an error shows no SQL text and no driver exception in its traceback."""
    text = str(exc)
    for word in ("SELECT ", "CREATE TABLE", "INSERT ", "[SQL", "sqlalche.me", "LINE "):
        assert word not in text, text
    assert exc.__cause__ is None
    assert exc.__suppress_context__ or exc.__context__ is None
    assert isinstance(exc, RegistryError)


# --- A: raw driver errors ---------------------------------------------------------------------


def test_a_file_that_is_not_sqlite_fails_ping_and_access(tmp_path: Any) -> None:
    path = tmp_path / "notes.db"
    path.write_text("this is not sqlite" * 100)
    ds = DataSource("sqlite", registry=ModelRegistry(), file=str(path))
    with pytest.raises(DataSourceConnectionError, match="is not a usable SQLite database") as e:
        ds.ping()
    assert str(path) in str(e.value) and "cannot reach" not in str(e.value)
    _no_sql(e.value)
    G = ds.define("G", {"a": "string"})
    with pytest.raises(DataSourceConnectionError, match="not a usable SQLite") as e2:
        G.find()
    _no_sql(e2.value)
    assert path.read_text().startswith("this is not sqlite")  # nothing written


def test_a_sqlite_file_in_a_missing_directory(tmp_path: Any) -> None:
    ds = DataSource("sqlite", registry=ModelRegistry(), file=str(tmp_path / "no" / "x.db"))
    with pytest.raises(DataSourceConnectionError, match="directory exists") as e:
        ds.define("D", {"a": "string"}).find()
    assert "server" not in str(e.value)


def test_a_schema_the_role_may_not_use(pg_server: Any) -> None:
    pg_server.superuser_sql("@db CREATE SCHEMA IF NOT EXISTS locked_x AUTHORIZATION postgres")
    try:
        ds = DataSource(
            "postgresql", registry=ModelRegistry(), **pg_server.settings(schema="locked_x")
        )
        X = ds.define("X", {"a": "string"})
        with pytest.raises(SchemaError, match="permission denied") as e:
            X.find()
        msg = str(e.value)
        assert "'locked_x.X'" in msg and "grant" in msg and "'nbr_user'" in msg
        assert pg_server.password not in msg and "cannot reach" not in msg
        _no_sql(e.value)
        with pytest.raises(SchemaError, match="permission denied"):
            X.create({"a": "x"})
        ds.disconnect()
    finally:
        pg_server.superuser_sql("@db DROP SCHEMA IF EXISTS locked_x CASCADE")


def test_automigrate_refused_by_a_foreign_key(sql_backend: Any) -> None:
    ds = sql_backend.ds()
    P = ds.define("Parent", {"name": "string"})
    P.create({"name": "a"})
    _raw(
        sql_backend,
        'CREATE TABLE "{schema}".child (id INTEGER PRIMARY KEY, '
        'pid INTEGER REFERENCES "{schema}"."Parent"(id))',
        'INSERT INTO "{schema}".child VALUES (1, 1)',
        *_own(sql_backend, "child"),
    )
    with pytest.raises(SchemaError, match="automigrate") as e:
        ds.automigrate()
    assert "Parent" in str(e.value) and "foreign key" in str(e.value)
    _no_sql(e.value)
    assert P.count() == 1  # nothing dropped
    with pytest.raises(ValidationError, match=r"(?i)foreign key"):
        P.destroy_all()


# --- B: only real connection failures say "cannot reach" --------------------------------------


def test_filters_too_big_for_the_database_are_filter_errors(sql_backend: Any) -> None:
    ds = sql_backend.ds()
    M = ds.define("M", {"name": "string", "n": "integer"})
    M.create([{"name": "a", "n": 1}])
    # Big filters the compiler keeps within SQLite's limits (IN ... OR IS NULL, balanced
    # and/or trees, runs of % collapsed) are evaluated by every backend.
    for where in (
        {"n": {"inq": [*range(1100), None]}},
        {"or": [{"n": i} for i in range(3000)]},
        {"name": {"like": "a" + "%" * 60000}},
    ):
        assert [r.id for r in M.find(where)] == [1] and M.count(where) == 1
    # What a database cannot evaluate is a FilterError naming the part, never "cannot reach".
    huge = {"name": {"like": "a" + "_" * 60000}}
    if sql_backend.name == "sqlite":
        for call in (lambda: M.find(huge), lambda: M.count(huge)):
            with pytest.raises(FilterError, match=r"where\.name\.like: .*50000 bytes") as info:
                call()
            assert "cannot reach" not in str(info.value)
            _no_sql(info.value)
        with pytest.raises(FilterError, match=r"where\.name\.like"):
            M.update_all(huge, {"name": "b"})
        assert M.find_one().name == "a"
    else:
        assert M.find(huge) == []


# --- C: dates beyond the range once taken to UTC -----------------------------------------------


@pytest.mark.parametrize(
    "value",
    [
        "0001-01-01T00:00:00+02:00",
        dt.datetime(1, 1, 1, tzinfo=dt.timezone(dt.timedelta(hours=2))),
        dt.datetime(9999, 12, 31, 23, tzinfo=dt.timezone(dt.timedelta(hours=-2))),
    ],
)
def test_dates_outside_the_range_in_utc(backend: Any, value: Any) -> None:
    M = backend.ds().define("Q", {"born": "date"})
    with pytest.raises(ValidationError, match=r"born: .*years 1-9999 once taken to UTC") as e:
        M.create({"born": value})
    assert repr(value)[:20] in str(e.value) or str(value)[:10] in str(e.value)
    with pytest.raises(ValidationError, match="born"):
        M(born=value)
    with pytest.raises(FilterError, match=r"where\.born\.gt: .*years 1-9999"):
        M.find({"born": {"gt": value}})
    assert M.count() == 0
    if backend.sql and not isinstance(value, str):  # an undeclared property: no OverflowError
        with pytest.raises(FilterError, match="outside the datetime range"):
            M.find({"x": {"gt": value}})


# --- E: column types compared with the model --------------------------------------------------


def test_a_column_type_that_differs_from_the_model(sql_backend: Any) -> None:
    pg = sql_backend.name == "postgresql"
    _raw(
        sql_backend,
        'CREATE TABLE "{schema}"."Bad" (id BIGINT PRIMARY KEY, a INTEGER, b TEXT)',
        'INSERT INTO "{schema}"."Bad" VALUES (1, 5, \'5\')',
        *_own(sql_backend, '"Bad"'),
    )
    ds = sql_backend.ds()
    B = ds.define("Bad", {"a": "string", "b": "integer"}, {"strict": True})
    assert ds.is_actual() is False
    for op in (lambda: B.find(), lambda: B.create({"a": "x"}), lambda: B.find({"a": "x"})):
        with pytest.raises(SchemaError) as e:
            op()
        msg = str(e.value)
        assert "table " in msg and "'Bad'" in msg
        assert "column 'a' is INTEGER but property 'a' is string" in msg
        assert "column 'b' is TEXT but property 'b' is integer" in msg
        assert "automigrate" in msg and "autoupdate() cannot change" in msg
        _no_sql(e.value)
    with pytest.raises(SchemaError, match="column 'a' is INTEGER"):
        ds.autoupdate()
    assert ds.is_actual() is False
    # the discovered spec fits: same table, no error, the rows as they are
    Fit = ds.define("Fit", ds.discover_schema("Bad"), {"table": "Bad", "strict": True})
    assert ds.is_actual(["Fit"]) is True
    assert [(r.id, r.a, r.b) for r in Fit.find()] == [(1, 5, "5")]
    if not pg:  # SQLite affinity: dates and JSON live in TEXT, numbers in INTEGER
        ds.define("Lenient", {"b": "date", "a": "number"}, {"table": "Bad", "strict": True})
        assert ds.is_actual(["Lenient"]) is True


def test_number_column_of_integers_is_refused_on_postgresql(pg_server: Any) -> None:
    """A BIGINT column would round a number property's 2.5 to 2: a SchemaError first."""
    reg = ModelRegistry()
    ds = DataSource("postgresql", registry=reg, **pg_server.settings(schema="t_numint"))
    try:
        ds.define("N", {"x": "integer"}).create({"x": 1})
        N2 = ds.define("N2", {"x": "number"}, {"table": "N"})
        with pytest.raises(SchemaError, match="column 'x' is BIGINT but property 'x' is number"):
            N2.create({"x": 2.5})
    finally:
        reg.clear()
        pg_server.superuser_sql("@db DROP SCHEMA IF EXISTS t_numint CASCADE")


def test_values_someone_else_wrote_that_the_model_cannot_read(tmp_path: Any) -> None:
    """SQLite keeps what it is given: text in a REAL column, no JSON in a JSON column."""
    path = str(tmp_path / "e.db")
    con = sqlite3.connect(path)
    con.executescript(
        "CREATE TABLE people (id INTEGER PRIMARY KEY, score REAL, info JSON, n INTEGER);"
        "INSERT INTO people VALUES (1, 1.5, '{\"k\": 1}', 2);"
        "INSERT INTO people VALUES (7, 'x', '{bad json', 'abc');"
    )
    con.close()
    ds = DataSource("sqlite", registry=ModelRegistry(), file=path)
    P = ds.discover_and_define(["people"])["People"]
    assert [r.score for r in P.find({"id": 1})] == [1.5]
    with pytest.raises(SchemaError) as e:
        P.find(fields=["score"])
    assert "'people'" in str(e.value) and "column 'score', row id=7 holds 'x'" in str(e.value)
    _no_sql(e.value)
    with pytest.raises(SchemaError, match="column 'score', row id=7 holds 'x'"):
        P.to_frame(fields=["score"])
    assert [r.n for r in P.find({"id": 1}, fields=["n"])] == [2]
    for op in (lambda: P.find(fields=["n"]), lambda: P.to_frame(fields=["n"])):
        with pytest.raises(SchemaError, match="column 'n', row id=7 holds 'abc', which is no int"):
            op()
    for op in (lambda: P.find(fields=["info"]), lambda: P.find_by_id(7), lambda: P.to_frame()):
        with pytest.raises(
            SchemaError, match=r"column 'info', row id=7 holds '\{bad json', not JSON"
        ):
            op()


# --- D: discovery is all or nothing -----------------------------------------------------------


def test_discovery_defines_all_or_nothing(sql_backend: Any) -> None:
    _raw(
        sql_backend,
        'CREATE TABLE "{schema}".a_ok (id INTEGER PRIMARY KEY, v TEXT)',
        'CREATE TABLE "{schema}"."order items" (id INTEGER PRIMARY KEY, "my col" TEXT)',
        'CREATE TABLE "{schema}".order_items (id INTEGER PRIMARY KEY)',
        'CREATE TABLE "{schema}".z_extra (id INTEGER PRIMARY KEY, _extra TEXT)',
        'CREATE TABLE "{schema}".none (id INTEGER PRIMARY KEY)',
        *_own(sql_backend, "a_ok", '"order items"', "order_items", "z_extra", "none"),
    )
    ds = sql_backend.ds()
    with pytest.raises(DefinitionError) as e:
        ds.discover_and_define()
    msg = str(e.value)
    assert "'order items'" in msg and "'order_items'" in msg and "'OrderItems'" in msg
    assert "discover_and_define({" in msg and "nothing was defined" in msg
    assert list(ds.models) == []
    with pytest.raises(DefinitionError, match="table 'none' cannot become model 'None'"):
        ds.discover_and_define(["a_ok", "none"])  # a keyword: checked before a_ok is defined
    assert list(ds.models) == []
    models = ds.discover_and_define(
        {
            "a_ok": "AOk",
            "order items": "OrderItemsSpaced",
            "order_items": "OrderItems",
            "z_extra": "ZExtra",
            "none": "NoneTable",
        }
    )
    assert sorted(models) == ["AOk", "NoneTable", "OrderItems", "OrderItemsSpaced", "ZExtra"]
    assert models["OrderItemsSpaced"].definition.settings["table"] == "order items"
    Z = models["ZExtra"]  # a strict model: its '_extra' column is a plain property
    assert Z.create({"_extra": "q"}).to_dict() == {"id": 1, "_extra": "q"}
    assert [r._extra for r in Z.find({"_extra": "q"})] == ["q"]
    with pytest.raises(DefinitionError, match=r"strict.: True"):  # non-strict: reserved
        ds.define("W", ds.discover_schema("z_extra"))
    with pytest.raises(TypeError, match="str model names"):
        ds.discover_and_define({"a_ok": 5})


def test_a_filter_into_a_json_column_holding_no_json(tmp_path: Any) -> None:
    path = str(tmp_path / "j.db")
    con = sqlite3.connect(path)
    con.executescript(
        "CREATE TABLE people (id INTEGER PRIMARY KEY, info TEXT);"
        "INSERT INTO people VALUES (1, '{\"k\": 1}'), (7, '{bad');"
    )
    con.close()
    ds = DataSource("sqlite", registry=ModelRegistry(), file=path)
    P = ds.define("P", {"info": "object"}, {"table": "people", "strict": True})
    for op in (lambda: P.find({"info.k": 1}, fields=["id"]), lambda: P.count({"info.k": 1})):
        with pytest.raises(SchemaError, match=r"'people'.*holds text that is no JSON") as e:
            op()
        assert "not a usable SQLite database" not in str(e.value)
        _no_sql(e.value)


def test_a_column_retyped_by_someone_else_after_first_access(pg_server: Any) -> None:
    """The type check runs at first access; a later change is still a SchemaError (SQLSTATE)."""
    reg = ModelRegistry()
    ds = DataSource("postgresql", registry=reg, **pg_server.settings(schema="t_retype"))
    try:
        R = ds.define("R", {"a": "string"})
        R.create({"a": "x"})
        pg_server.superuser_sql(
            '@db ALTER TABLE t_retype."R" ALTER COLUMN a TYPE integer USING length(a)'
        )
        with pytest.raises(SchemaError, match=r"find\(\): table 't_retype.R' of model 'R'") as e:
            R.find({"a": "x"})
        assert "ds.is_actual()" in str(e.value) and "cannot reach" not in str(e.value)
        _no_sql(e.value)
        assert ds.is_actual() is False
    finally:
        reg.clear()
        pg_server.superuser_sql("@db DROP SCHEMA IF EXISTS t_retype CASCADE")


@pytest.mark.parametrize(
    ("sqlstate", "kind"),
    [
        ("08006", "connection"),  # connection_failure
        ("28P01", "connection"),  # invalid_password
        ("3D000", "connection"),  # invalid_catalog_name: no such database
        ("57P01", "connection"),  # admin_shutdown
        ("53300", "connection"),  # too_many_connections
        ("53100", "other"),  # disk_full: no "cannot reach"
        ("42501", "privilege"),  # insufficient_privilege
        ("42804", "schema"),  # datatype_mismatch
        ("42883", "schema"),  # undefined_function (integer = text)
        ("54001", "limit"),  # statement_too_complex
        ("23505", "integrity"),  # unique_violation
        ("2BP01", "integrity"),  # dependent_objects_still_exist (DROP TABLE)
        ("22P02", "data"),  # invalid_text_representation
        ("40P01", "busy"),  # deadlock_detected
    ],
)
def test_postgresql_errors_are_classified_by_sqlstate(sqlstate: str, kind: str) -> None:
    """The classification table, on psycopg's own exception classes (what the driver raises)."""
    import psycopg
    import sqlalchemy as sa

    from nbregistry.data.sql import dberrors

    orig = psycopg.errors.lookup(sqlstate)("a reason")
    exc = sa.exc.DBAPIError.instance("SELECT 1", {}, orig, psycopg.Error)
    assert dberrors.classify(exc, pg=True) == kind


@pytest.mark.parametrize(
    ("cls", "message", "kind"),
    [
        ("OperationalError", "database is locked", "busy"),
        ("OperationalError", "unable to open database file", "connection"),
        ("DatabaseError", "file is not a database", "notdb"),
        ("DatabaseError", "database disk image is malformed", "notdb"),
        ("OperationalError", "malformed JSON", "schema"),
        ("OperationalError", "attempt to write a readonly database", "privilege"),
        ("OperationalError", "Expression tree is too large (maximum depth 1000)", "limit"),
        ("OperationalError", "LIKE or GLOB pattern too complex", "limit"),
        ("OperationalError", "no such column: a", "schema"),
        ("OperationalError", "user-defined function raised exception", "function"),
        ("IntegrityError", "FOREIGN KEY constraint failed", "integrity"),
        ("DataError", "string or blob too big", "data"),
    ],
)
def test_sqlite_errors_are_classified_by_class_and_message(
    cls: str, message: str, kind: str
) -> None:
    import sqlalchemy as sa

    from nbregistry.data.sql import dberrors

    orig = getattr(sqlite3, cls)(message)
    exc = sa.exc.DBAPIError.instance("SELECT 1", {}, orig, sqlite3.Error)
    assert dberrors.classify(exc, pg=False) == kind


def test_a_filter_value_sqlites_functions_cannot_use(tmp_path: Any) -> None:
    import re

    ds = DataSource("sqlite", registry=ModelRegistry(), file=str(tmp_path / "f.db"))
    M = ds.define("M", {"name": "string"})
    M.create({"name": "a"})
    # refused before SQLite sees it (a bytes pattern), as on every backend
    with pytest.raises(FilterError, match=r"where\.name: expects a str pattern, got bytes") as e:
        M.find({"name": re.compile(b"a")})
    assert "cannot reach" not in str(e.value)
    _no_sql(e.value)
