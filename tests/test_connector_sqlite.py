"""The memory connector's optional SQLite file: format by extension, round trip, atomicity."""

from __future__ import annotations

import datetime as dt
import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import nbregistry.data.persistence as persistence
from nbregistry import DataSource, ModelRegistry, PersistenceError, ValidationError

SPEC = {
    "name": "string",
    "born": "date",
    "avatar": "buffer",
    "address": {"city": "string"},
    "tags": ["string"],
    "meta": "object",
}
ANN = {
    "name": "Ann",
    "born": "1990-05-01T10:30:00",
    "avatar": b"\x00\xff",
    "address": {"city": "Oslo"},
    "tags": ["a", "b"],
    "meta": {"$date": "not a tag", "n": [1, 2], "d": dt.date(2024, 2, 29)},
}


@pytest.fixture
def reg() -> ModelRegistry:
    return ModelRegistry()


def query(path: Path, sql: str) -> list[tuple[Any, ...]]:
    conn = sqlite3.connect(path)
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


def disk_rows(path: Path, model: str = "User") -> list[dict[str, Any]]:
    rows = query(path, f"SELECT data FROM nbregistry_rows WHERE model = '{model}' ORDER BY rowid")
    return [json.loads(r[0]) for r in rows]


def leftovers(directory: Path) -> list[str]:
    return [p for p in os.listdir(directory) if p.endswith(("-journal", "-wal", ".tmp"))]


@pytest.mark.parametrize("name", ["crm.sqlite", "crm.sqlite3", "crm.db", "CRM.SQLite"])
def test_round_trip_restores_rows_types_order_and_id_counter(
    tmp_path: Path, reg: ModelRegistry, name: str
) -> None:
    path = tmp_path / name
    ds = DataSource("memory", name="crm", registry=reg, file=str(path))
    User = ds.define("User", SPEC)
    User.create([ANN, {"name": "Bob"}, {"name": "Cy"}])
    User.find_by_id(2).delete()
    ann = User.find_by_id(1)
    ann.name = "Anna"
    ann.save()  # an update keeps the row's place
    expected = [u.to_dict() for u in User.find()]
    with open(path, "rb") as f:
        assert f.read(16) == b"SQLite format 3\x00"
    assert dict(query(path, "SELECT key, value FROM nbregistry_meta")) == {
        "format": "nbregistry.memory",
        "version": "1",
    }

    reg2 = ModelRegistry()
    ds2 = DataSource("memory", name="crm", registry=reg2, path=path)  # path= works too
    User2 = ds2.define("User", SPEC)
    got = [u.to_dict() for u in User2.find()]
    assert got == expected
    assert [u["name"] for u in got] == ["Anna", "Cy"]
    assert got[0]["born"] == dt.datetime(1990, 5, 1, 10, 30, tzinfo=dt.UTC)
    assert got[0]["avatar"] == b"\x00\xff"
    assert got[0]["address"] == {"city": "Oslo"}
    assert got[0]["meta"] == {"$date": "not a tag", "n": [1, 2], "d": dt.date(2024, 2, 29)}
    assert User2.create(name="Di").id == 4  # id counter survives (3 was the last)


def test_rows_use_the_same_encoding_as_the_json_file(tmp_path: Path, reg: ModelRegistry) -> None:
    for ext in ("json", "sqlite"):
        ds = DataSource("memory", registry=reg, file=tmp_path / f"s.{ext}")
        ds.define("User", SPEC).create([ANN, {"name": "Bob"}])
    from_json = json.loads((tmp_path / "s.json").read_text())["models"]["User"]
    assert disk_rows(tmp_path / "s.sqlite") == from_json["rows"]
    assert query(tmp_path / "s.sqlite", "SELECT model, next_id FROM nbregistry_models") == [
        ("User", from_json["next_id"])
    ]


def test_every_write_is_saved_in_place(tmp_path: Path, reg: ModelRegistry) -> None:
    path = tmp_path / "s.sqlite"
    ds = DataSource("memory", registry=reg, file=path)
    User = ds.define("User", {"name": "string"})
    assert not path.exists()  # created on the first write
    u = User.create(name="a")
    assert disk_rows(path) == [{"id": 1, "name": "a"}]
    User.create(name="x")
    u.name = "b"
    u.save()
    assert disk_rows(path) == [{"id": 1, "name": "b"}, {"id": 2, "name": "x"}]
    User.update_all({"name": "x"}, {"name": "c"})
    assert disk_rows(path) == [{"id": 1, "name": "b"}, {"id": 2, "name": "c"}]
    assert User.find_by_id(1).delete() is True
    assert disk_rows(path) == [{"id": 2, "name": "c"}]
    assert User.destroy_all() == 1
    assert disk_rows(path) == []
    assert query(path, "SELECT next_id FROM nbregistry_models") == [(3,)]
    assert leftovers(tmp_path) == []


def test_string_ids_and_id_less_models_write_the_right_rows_after_a_reopen(
    tmp_path: Path, reg: ModelRegistry
) -> None:
    path = tmp_path / "s.db"
    spec = {"code": {"type": "string", "id": True}, "v": "integer"}
    ds = DataSource("memory", registry=reg, file=path)
    Item = ds.define("Item", spec)
    Log = ds.define("Log", {"msg": "string"}, {"id_injection": False})
    Item.create([{"code": "1", "v": 1}, {"code": "b", "v": 2}])
    Log.create([{"msg": "one"}, {"msg": "two"}])

    reg2 = ModelRegistry()
    ds2 = DataSource("memory", registry=reg2, file=path)
    Item2 = ds2.define("Item", spec)
    Log2 = ds2.define("Log", {"msg": "string"}, {"id_injection": False})
    Item2.update_all({"code": "1"}, {"v": 10})  # first write after the reopen: full rewrite
    Item2.find_by_id("b").delete()  # later writes touch single rows
    Log2.destroy_all({"msg": "one"})
    Log2.create(msg="three")
    assert disk_rows(path, "Item") == [{"code": "1", "v": 10}]
    assert disk_rows(path, "Log") == [{"msg": "two"}, {"msg": "three"}]

    ds3 = DataSource("memory", registry=ModelRegistry(), file=path)
    assert [i.to_dict() for i in ds3.define("Item", spec).find()] == [{"code": "1", "v": 10}]
    Log3 = ds3.define("Log", {"msg": "string"}, {"id_injection": False})
    assert [x.msg for x in Log3.find()] == ["two", "three"]


def _fail_on_boom(path: Path) -> None:
    """Install a trigger that aborts any insert of a row containing "boom"."""
    conn = sqlite3.connect(path)
    conn.execute(
        "CREATE TRIGGER nbr_test_boom BEFORE INSERT ON nbregistry_rows "
        "WHEN NEW.data LIKE '%boom%' BEGIN SELECT RAISE(ABORT, 'boom refused'); END"
    )
    conn.commit()
    conn.close()


def test_a_write_failing_mid_transaction_rolls_back_file_and_memory(
    tmp_path: Path, reg: ModelRegistry
) -> None:
    path = tmp_path / "s.sqlite"
    User = DataSource("memory", registry=reg, file=path).define("User", {"name": "string"})
    User.create(name="a")
    _fail_on_boom(path)
    before = path.read_bytes()
    # The first row of the batch is inserted, the second aborts the transaction.
    with pytest.raises(PersistenceError, match=r"cannot write .*s\.sqlite.*boom refused") as info:
        User.create([{"name": "ok"}, {"name": "boom"}])
    assert "nothing was written" in str(info.value)
    assert path.read_bytes() == before
    assert [u.name for u in User.find()] == ["a"]
    assert User.create(name="b").id == 2  # the failed create consumed no id
    assert disk_rows(path) == [{"id": 1, "name": "a"}, {"id": 2, "name": "b"}]
    assert leftovers(tmp_path) == []


def test_a_failure_after_the_full_rewrite_began_keeps_every_row(
    tmp_path: Path, reg: ModelRegistry, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "s.sqlite"
    DataSource("memory", registry=reg, file=path).define("User", {"name": "string"}).create(
        [{"name": "a"}, {"name": "b"}, {"name": "c"}]
    )
    before = path.read_bytes()
    User = DataSource("memory", registry=ModelRegistry(), file=path).define(
        "User", {"name": "string"}
    )
    real = persistence._dumps
    calls = []

    def dumps_then_fail(v: Any) -> str:
        # Runs after the model's rows were deleted inside the transaction.
        calls.append(v)
        if len(calls) >= 2:
            raise sqlite3.OperationalError("simulated I/O error")
        return real(v)

    monkeypatch.setattr(persistence, "_dumps", dumps_then_fail)
    with pytest.raises(PersistenceError, match="simulated I/O error"):
        User.update_all(None, {"name": "z"})
    with pytest.raises(PersistenceError, match="simulated I/O error"):
        User.create(name="d")
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert [u.name for u in User.find()] == ["a", "b", "c"]
    assert User.create(name="d").id == 4
    assert User.update_all(None, {"name": "z"}) == 4
    assert [r["name"] for r in disk_rows(path)] == ["z", "z", "z", "z"]


def test_a_failed_destroy_all_of_an_unloaded_model_keeps_its_rows(
    tmp_path: Path, reg: ModelRegistry, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "s.sqlite"
    DataSource("memory", registry=reg, file=path).define("User", {"name": "string"}).create(
        [{"name": "a"}, {"name": "b"}]
    )
    User = DataSource("memory", registry=ModelRegistry(), file=path).define(
        "User", {"name": "string"}
    )

    def refuse(self: Any, change: Any) -> None:
        raise PersistenceError("disk gone")

    monkeypatch.setattr(persistence.SqliteStoreFile, "write", refuse)
    with pytest.raises(PersistenceError, match="disk gone"):
        User.destroy_all()  # drops rows without loading them: must not lose them on failure
    monkeypatch.undo()
    assert [u.name for u in User.find()] == ["a", "b"]
    assert User.create(name="c").id == 3


def test_a_failed_first_write_leaves_no_file(tmp_path: Path, reg: ModelRegistry) -> None:
    path = tmp_path / "new.sqlite"
    User = DataSource("memory", registry=reg, file=path).define("User", {"blob": "any"})
    with pytest.raises(PersistenceError, match=r"cannot store row 1 .*new\.sqlite.*\{1, 2\}"):
        User.create(blob={1, 2})
    assert not path.exists()
    assert User.count() == 0


def test_missing_and_empty_files_start_empty(tmp_path: Path, reg: ModelRegistry) -> None:
    empty = tmp_path / "empty.sqlite"
    empty.write_bytes(b"")
    User = DataSource("memory", registry=reg, file=empty).define("User", {"name": "string"})
    assert User.count() == 0
    User.create(name="a")
    assert disk_rows(empty) == [{"id": 1, "name": "a"}]


def _foreign_db(path: Path, *statements: str) -> None:
    conn = sqlite3.connect(path)
    for stmt in statements:
        conn.execute(stmt)
    conn.commit()
    conn.close()


OUR_TABLES = (
    "CREATE TABLE nbregistry_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    "CREATE TABLE nbregistry_models (model TEXT PRIMARY KEY, next_id INTEGER NOT NULL)",
    "CREATE TABLE nbregistry_rows (model TEXT, id TEXT, data TEXT, PRIMARY KEY (model, id))",
)


@pytest.mark.parametrize(
    ("statements", "message"),
    [
        (
            ("CREATE TABLE users (id INTEGER, name TEXT)", "INSERT INTO users VALUES (1, 'x')"),
            r"is a SQLite database but not an nbregistry memory store",
        ),
        (("PRAGMA user_version = 7",), r"not an nbregistry memory store"),
        (OUR_TABLES, r"not an nbregistry memory store.*format='nbregistry\.memory'"),
        (
            (
                *OUR_TABLES,
                "INSERT INTO nbregistry_meta VALUES ('format', 'nbregistry.memory')",
                "INSERT INTO nbregistry_meta VALUES ('version', '99')",
            ),
            r"store version '99'",
        ),
        (
            (
                *OUR_TABLES,
                "INSERT INTO nbregistry_meta VALUES ('format', 'nbregistry.memory')",
                "INSERT INTO nbregistry_meta VALUES ('version', '1')",
                "INSERT INTO nbregistry_models VALUES ('User', 2)",
                "INSERT INTO nbregistry_rows VALUES ('User', '1', '{not json')",
            ),
            r"entry of model 'User' is malformed",
        ),
        (
            (
                *OUR_TABLES,
                "INSERT INTO nbregistry_meta VALUES ('format', 'nbregistry.memory')",
                "INSERT INTO nbregistry_meta VALUES ('version', '1')",
                "INSERT INTO nbregistry_rows VALUES ('Ghost', '1', '{}')",
            ),
            r"entry of model 'Ghost' is malformed",
        ),
    ],
)
def test_a_foreign_sqlite_database_is_refused_and_left_untouched(
    tmp_path: Path, reg: ModelRegistry, statements: tuple[str, ...], message: str
) -> None:
    path = tmp_path / "data.sqlite"
    _foreign_db(path, *statements)
    before = path.read_bytes()
    with pytest.raises(PersistenceError, match=message) as info:
        DataSource("memory", name="crm", registry=reg, file=path)
    assert str(path) in str(info.value) and "left untouched" in str(info.value)
    assert path.read_bytes() == before
    assert reg.owners() == []
    assert leftovers(tmp_path) == []


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"hello, this is a text file\n", r"is not a SQLite database"),
        (b'{"format": "nbregistry.memory", "version": 1, "models": {}}', r"not a SQLite"),
        (b"SQLite format 3\x00" + b"\x07" * 200, r"is not a readable nbregistry memory store"),
    ],
)
def test_a_corrupt_file_is_refused_and_left_untouched(
    tmp_path: Path, reg: ModelRegistry, content: bytes, message: str
) -> None:
    path = tmp_path / "data.db"
    path.write_bytes(content)
    with pytest.raises(PersistenceError, match=message) as info:
        DataSource("memory", registry=reg, file=path)
    assert str(path) in str(info.value) and "left untouched" in str(info.value)
    assert isinstance(info.value, ValueError)
    assert path.read_bytes() == content
    assert reg.owners() == []


def test_our_tables_may_share_a_database_with_other_tables(
    tmp_path: Path, reg: ModelRegistry
) -> None:
    path = tmp_path / "app.db"
    DataSource("memory", registry=reg, file=path).define("User", {"name": "string"}).create(
        name="a"
    )
    _foreign_db(path, "CREATE TABLE notes (t TEXT)", "INSERT INTO notes VALUES ('keep me')")
    User = DataSource("memory", registry=ModelRegistry(), file=path).define(
        "User", {"name": "string"}
    )
    User.create(name="b")
    assert [u.name for u in User.find()] == ["a", "b"]
    assert query(path, "SELECT t FROM notes") == [("keep me",)]


@pytest.mark.parametrize("name", ["crm.txt", "crm", "crm.sqlite.bak", "crm.jsonl"])
def test_an_unknown_extension_is_refused_before_anything_is_written(
    tmp_path: Path, reg: ModelRegistry, name: str
) -> None:
    path = tmp_path / name
    supported = r"\.json \(JSON\) or \.sqlite, \.sqlite3, \.db \(SQLite\)"
    with pytest.raises(PersistenceError, match=supported) as info:
        DataSource("memory", registry=reg, file=path)
    assert repr(str(path)) in str(info.value)
    assert isinstance(info.value, ValueError)
    assert os.listdir(tmp_path) == []
    assert reg.owners() == []


def test_stored_rows_that_no_longer_fit_are_reported_with_the_file(
    tmp_path: Path, reg: ModelRegistry
) -> None:
    path = tmp_path / "s.sqlite"
    DataSource("memory", registry=reg, file=path).define("User", {"name": "string"}).create(
        name="a"
    )
    before = path.read_bytes()
    User = DataSource("memory", registry=ModelRegistry(), file=path).define(
        "User", {"name": "integer"}
    )
    with pytest.raises(PersistenceError, match=r"s\.sqlite.*\[1\]\.name: expected an int"):
        User.find()
    assert path.read_bytes() == before


def test_validation_errors_write_nothing(tmp_path: Path, reg: ModelRegistry) -> None:
    path = tmp_path / "s.sqlite"
    User = DataSource("memory", registry=reg, file=path).define("User", {"n": "integer"})
    with pytest.raises(ValidationError):
        User.create([{"n": 1}, {"n": "x"}])
    assert not path.exists()


def test_two_tenants_with_two_files_stay_isolated(tmp_path: Path, reg: ModelRegistry) -> None:
    a, b = tmp_path / "acme.sqlite", tmp_path / "globex.sqlite"
    UserA = DataSource("memory", name="crm", tenant="acme", registry=reg, file=a).define(
        "User", {"name": "string"}
    )
    UserB = DataSource("memory", name="crm", tenant="globex", registry=reg, file=b).define(
        "User", {"name": "string"}
    )
    UserA.create([{"name": "a1"}, {"name": "a2"}])
    UserB.create(name="b1")
    assert [u.name for u in UserA.find()] == ["a1", "a2"]
    assert [u.name for u in UserB.find()] == ["b1"]
    assert [r["name"] for r in disk_rows(a)] == ["a1", "a2"]
    assert [r["name"] for r in disk_rows(b)] == ["b1"]

    assert reg.cleanup_tenant("acme") == 1
    assert [u.name for u in UserB.find()] == ["b1"]
    reg2 = ModelRegistry()
    ReA = DataSource("memory", tenant="acme", registry=reg2, file=a).define(
        "User", {"name": "string"}
    )
    ReB = DataSource("memory", tenant="globex", registry=reg2, file=b).define(
        "User", {"name": "string"}
    )
    assert [u.name for u in ReA.find()] == ["a1", "a2"]
    assert [u.name for u in ReB.find()] == ["b1"]


def test_disconnect_releases_rows_but_keeps_them_on_disk(
    tmp_path: Path, reg: ModelRegistry
) -> None:
    path = tmp_path / "s.sqlite"
    ds = DataSource("memory", registry=reg, file=path)
    User = ds.define("User", {"name": "string"})
    Other = ds.define("Other", {"v": "integer"})
    User.create(name="a")
    Other.create(v=1)
    assert ds.disconnect() == 2
    assert ds.connector.row_count() == 0
    assert disk_rows(path) == [{"id": 1, "name": "a"}]
    User2 = ds.define("User", {"name": "string"})
    assert [u.name for u in User2.find()] == ["a"]
    User2.create(name="b")  # writing one model leaves the unloaded model's rows alone
    assert disk_rows(path, "Other") == [{"id": 1, "v": 1}]
    ds.delete_model("User")
    assert ds.connector.row_count() == 0
    assert [r["name"] for r in disk_rows(path)] == ["a", "b"]


def test_sqlite3_is_imported_only_when_a_sqlite_file_is_used(tmp_path: Path) -> None:
    code = (
        "import sys, nbregistry as nb; r = nb.ModelRegistry(); "
        f"ds = nb.DataSource('memory', registry=r, file={str(tmp_path / 'a.json')!r}); "
        "ds.define('U', {'a': 'string'}).create(a='x'); "
        "print('sqlite3' in sys.modules); "
        f"ds2 = nb.DataSource('memory', registry=r, file={str(tmp_path / 'a.sqlite')!r}); "
        "ds2.define('U', {'a': 'string'}).create(a='x'); "
        "print('sqlite3' in sys.modules)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.split()
    assert out == ["False", "True"]
