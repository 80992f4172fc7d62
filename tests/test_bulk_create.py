"""Bulk create in one pass (issue 13 step 3): the compiled validator and the bulk id paths.

A row the compiled validator accepts must be exactly what ``Model._validate`` returns (same
values, same key order, no errors); every other row goes through ``_validate``, so errors
still name every failing property of every row and nothing is written.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nbregistry import DataSource, ModelRegistry, ValidationError
from nbregistry.data.memory import _compile_validator

UTC = dt.UTC


class Text(str):
    """A str subclass (accepted by _validate, left to it by the compiled validator)."""


@pytest.fixture
def ds():
    reg = ModelRegistry()
    source = DataSource("memory", registry=reg)
    yield source
    reg.clear()


_reg = ModelRegistry()
_ds = DataSource("memory", registry=_reg)
FLAT = _ds.define(
    "Flat",
    {
        "name": {"type": "string", "required": True},
        "n": "integer",
        "x": "number",
        "ok": {"type": "boolean", "default": False},
        "at": "date",
    },
)
STRICT = _ds.define("StrictFlat", {"name": "string", "n": "integer"}, {"strict": True})

any_value = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-2, 2),
    st.floats(allow_nan=False, width=32),
    st.sampled_from(["a", Text("t"), "2024-01-02", b"x"]),
    st.sampled_from(
        [
            dt.datetime(2024, 1, 2, tzinfo=UTC),
            dt.datetime(2024, 1, 2),
            dt.date(2024, 1, 2),
            dt.datetime(2024, 1, 2, tzinfo=dt.timezone(dt.timedelta(hours=2))),
        ]
    ),
    st.just([1]),
)
keys = st.sampled_from(["id", "name", "n", "x", "ok", "at", "extra"])


@settings(max_examples=300, deadline=None)
@given(rows=st.lists(st.dictionaries(keys, any_value, max_size=7), max_size=8))
def test_compiled_validator_accepts_only_what_validate_returns_unchanged(rows: list) -> None:
    for cls in (FLAT, STRICT):
        validator = _compile_validator(cls)
        assert validator is not None
        for row, got in zip(rows, validator(rows), strict=True):
            if got is None:
                continue
            values, errors = cls._validate(row)
            assert errors == []
            assert list(got.items()) == list(values.items())
            assert got is not row


def test_models_with_nested_or_converting_types_have_no_compiled_validator(ds: DataSource) -> None:
    assert _compile_validator(ds.define("A", {"tags": ["string"]})) is None
    assert _compile_validator(ds.define("B", {"meta": {"k": "string"}})) is None
    assert _compile_validator(ds.define("C", {"any": "any"})) is None
    assert (
        _compile_validator(ds.define("D", {"at": {"type": "date", "default": "2024-01-01"}}))
        is None
    )
    assert _compile_validator(ds.define("E", {"n": {"type": "integer", "default": 3}})) is not None


def test_bulk_errors_name_every_failing_row_and_nothing_is_written(ds: DataSource) -> None:
    P = ds.define("P", {"name": {"type": "string", "required": True}, "n": "integer"})
    good = [{"name": f"u{i}", "n": i} for i in range(50)]
    bad = [*good[:10], {"n": "x"}, *good[10:20], {"name": 3, "n": True}, *good[20:]]
    with pytest.raises(ValidationError) as err:
        P.create(bad)
    text = str(err.value)
    for part in ("[10].name", "[10].n", "[21].name", "[21].n"):
        assert part in text
    assert P.count() == 0


def test_bulk_ids_given_generated_mixed_and_clashing(ds: DataSource) -> None:
    P = ds.define("P", {"name": "string"})
    made = P.create([{"name": "a"}, {"name": "b"}])  # generated: one bulk path
    assert [m.id for m in made] == [1, 2]
    assert list(made[0].__dict__) == ["id", "name"]  # property order, id first
    made = P.create([{"id": 10, "name": "c"}, {"id": 5, "name": "d"}])  # given ints
    assert [m.id for m in made] == [10, 5]
    assert [m.id for m in P.create([{"name": "e"}])] == [11]  # next id past the largest
    made = P.create([{"name": "f"}, {"id": 20, "name": "g"}, {"name": "h"}])  # mixed
    assert [m.id for m in made] == [12, 20, 21]  # as before: an explicit id moves next_id
    for batch in ([{"id": 30}, {"id": 30}], [{"id": 31}, {"id": 5}]):
        with pytest.raises(ValidationError, match="duplicate id"):
            P.create(batch)
    assert P.count() == 8
    assert [m.id for m in P.find(order="id")] == [1, 2, 5, 10, 11, 12, 20, 21]
    assert [m.id for m in P.create([{"name": "i"}])] == [22]


def test_bulk_create_returns_private_copies(ds: DataSource) -> None:
    P = ds.define("P", {"name": "string", "n": "integer"})
    rows: list[dict[str, Any]] = [{"id": 1, "name": "a", "n": 1}]
    made = P.create(rows)
    rows[0]["name"] = "changed"
    made[0].name = "also changed"
    assert P.find_by_id(1).name == "a"
