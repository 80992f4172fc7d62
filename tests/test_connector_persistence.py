"""The memory connector's optional JSON file: round trip, atomic writes, bad files."""

from __future__ import annotations

import datetime as dt
import json
import os
from pathlib import Path

import pytest

from nbregistry import DataSource, ModelRegistry, PersistenceError, ValidationError

SPEC = {
    "name": "string",
    "born": "date",
    "avatar": "buffer",
    "address": {"city": "string"},
    "tags": ["string"],
    "meta": "object",
}


@pytest.fixture
def reg() -> ModelRegistry:
    return ModelRegistry()


def test_round_trip_restores_rows_types_and_id_counter(tmp_path: Path, reg: ModelRegistry) -> None:
    path = tmp_path / "crm.json"
    ds = DataSource("memory", name="crm", registry=reg, file=str(path))
    User = ds.define("User", SPEC)
    User.create(
        [
            {
                "name": "Ann",
                "born": "1990-05-01T10:30:00",
                "avatar": b"\x00\xff",
                "address": {"city": "Oslo"},
                "tags": ["a", "b"],
                "meta": {"$date": "not a tag", "n": [1, 2]},
            },
            {"name": "Bob"},
        ]
    )
    User.find_by_id(2).delete()
    expected = [u.to_dict() for u in User.find()]
    assert json.loads(path.read_text())["format"] == "nbregistry.memory"

    reg2 = ModelRegistry()
    ds2 = DataSource("memory", name="crm", registry=reg2, path=path)  # path= works too
    User2 = ds2.define("User", SPEC)
    got = [u.to_dict() for u in User2.find()]
    assert got == expected
    assert got[0]["born"] == dt.datetime(1990, 5, 1, 10, 30, tzinfo=dt.UTC)
    assert got[0]["avatar"] == b"\x00\xff"
    assert got[0]["meta"] == {"$date": "not a tag", "n": [1, 2]}
    assert User2.create(name="Cy").id == 3  # id counter survives (2 was deleted)


def test_every_write_is_saved(tmp_path: Path, reg: ModelRegistry) -> None:
    path = tmp_path / "s.json"
    ds = DataSource("memory", registry=reg, file=path)
    User = ds.define("User", {"name": "string"})

    def on_disk() -> list[dict]:
        return json.loads(path.read_text())["models"]["User"]["rows"]

    u = User.create(name="a")
    assert on_disk() == [{"id": 1, "name": "a"}]
    u.name = "b"
    u.save()
    assert on_disk() == [{"id": 1, "name": "b"}]
    User.update_all(None, {"name": "c"})
    assert on_disk() == [{"id": 1, "name": "c"}]
    User.destroy_all()
    assert on_disk() == []
    assert not [p for p in os.listdir(tmp_path) if p.endswith(".tmp")]


def test_missing_and_empty_files_start_empty(tmp_path: Path, reg: ModelRegistry) -> None:
    path = tmp_path / "new.json"
    ds = DataSource("memory", registry=reg, file=path)
    assert not path.exists()  # created on the first write
    ds.define("User", {"name": "string"}).create(name="a")
    assert path.exists()
    empty = tmp_path / "empty.json"
    empty.write_text("")
    ds2 = DataSource("memory", registry=reg, file=empty)
    assert ds2.define("User", {"name": "string"}).count() == 0


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"{not json", r"is not a JSON nbregistry memory store"),
        (b"\xff\xfe\x00binary", r"is not a JSON nbregistry memory store"),
        (b'{"hello": "world"}', r"is not an nbregistry memory store"),
        (b"[1, 2, 3]", r"is not an nbregistry memory store"),
        (b'{"format": "nbregistry.memory", "version": 99, "models": {}}', r"store version 99"),
        (
            b'{"format": "nbregistry.memory", "version": 1, "models": {"User": {"rows": 5}}}',
            r"entry of model 'User' is malformed",
        ),
    ],
)
def test_corrupt_or_foreign_file_is_refused_and_left_untouched(
    tmp_path: Path, reg: ModelRegistry, content: bytes, message: str
) -> None:
    path = tmp_path / "data.json"
    path.write_bytes(content)
    with pytest.raises(PersistenceError, match=message) as info:
        DataSource("memory", name="crm", registry=reg, file=path)
    assert str(path) in str(info.value) and "left untouched" in str(info.value)
    assert path.read_bytes() == content
    assert reg.owners() == []  # no DataSource was created
    assert isinstance(info.value, ValueError)


def test_rows_that_no_longer_fit_are_reported_with_the_file(
    tmp_path: Path, reg: ModelRegistry
) -> None:
    path = tmp_path / "s.json"
    DataSource("memory", registry=reg, file=path).define("User", {"name": "string"}).create(
        name="a"
    )
    before = path.read_bytes()
    reg2 = ModelRegistry()
    User = DataSource("memory", registry=reg2, file=path).define("User", {"name": "integer"})
    with pytest.raises(PersistenceError, match=r"s\.json.*\[1\]\.name: expected an int"):
        User.find()
    assert path.read_bytes() == before


def test_a_failed_save_rolls_back_and_keeps_the_file(
    tmp_path: Path, reg: ModelRegistry, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "s.json"
    ds = DataSource("memory", registry=reg, file=path)
    User = ds.define("User", {"name": "string"})
    User.create(name="a")
    before = path.read_bytes()

    def crash(src: str, dst: str) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(PersistenceError, match=r"cannot write memory store file .*disk full"):
        User.create(name="b")
    with pytest.raises(PersistenceError):
        User.destroy_all()
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert [u.name for u in User.find()] == ["a"]
    assert User.create(name="b").id == 2  # the failed create consumed no id
    assert not [p for p in os.listdir(tmp_path) if p.endswith(".tmp")]


def test_values_json_cannot_hold_are_refused_before_writing(
    tmp_path: Path, reg: ModelRegistry
) -> None:
    path = tmp_path / "s.json"
    User = DataSource("memory", registry=reg, file=path).define("User", {"blob": "any"})
    User.create(blob=[1])
    with pytest.raises(PersistenceError, match=r"cannot store row 2 .*s\.json.*\{1, 2\}"):
        User.create(blob={1, 2})
    with pytest.raises(PersistenceError, match="str dict keys"):
        User.create([{"blob": 1}, {"blob": {3: "x"}}])
    assert User.count() == 1
    assert json.loads(path.read_text())["models"]["User"]["rows"] == [{"id": 1, "blob": [1]}]


def test_disconnect_keeps_the_file_and_rows_come_back(tmp_path: Path, reg: ModelRegistry) -> None:
    path = tmp_path / "s.json"
    ds = DataSource("memory", registry=reg, file=path)
    User = ds.define("User", {"name": "string"})
    Other = ds.define("Other", {"v": "integer"})
    User.create(name="a")
    Other.create(v=1)
    ds.disconnect()
    assert ds.connector.row_count() == 0
    assert len(json.loads(path.read_text())["models"]["User"]["rows"]) == 1
    User2 = ds.define("User", {"name": "string"})
    assert [u.name for u in User2.find()] == ["a"]
    User2.create(name="b")  # saving keeps the unloaded model's rows too
    assert json.loads(path.read_text())["models"]["Other"]["rows"] == [{"id": 1, "v": 1}]


def test_file_settings_are_checked(tmp_path: Path, reg: ModelRegistry) -> None:
    with pytest.raises(PersistenceError, match="file= or path=, not both"):
        DataSource("memory", registry=reg, file=tmp_path / "a.json", path=tmp_path / "b.json")
    with pytest.raises(TypeError, match=r"file=/path= must be a file path.*got 42"):
        DataSource("memory", registry=reg, file=42)
    assert reg.owners() == []


def test_validation_errors_on_a_file_store_write_nothing(
    tmp_path: Path, reg: ModelRegistry
) -> None:
    path = tmp_path / "s.json"
    User = DataSource("memory", registry=reg, file=path).define("User", {"n": "integer"})
    with pytest.raises(ValidationError):
        User.create([{"n": 1}, {"n": "x"}])
    assert not path.exists()
