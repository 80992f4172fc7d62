"""Property test: the SQL connectors return exactly what the memory connector returns.

Hypothesis generates rows and a sequence of operations (bulk creates, finds with where,
order, limit and skip, counts, update_all, destroy_all) and runs each against memory,
sqlite and postgresql, comparing ids and their order, counts, affected rows, which
operations fail, and finally every stored row. The data has missing values and explicit
None, ties, explicit and out-of-order ids (some colliding: both must refuse), deletes
between queries, non-ASCII text, dates with and without offsets, nested objects, arrays
and a non-strict extra property.

Known, deliberate limits of the generated data (documented in the SQL connectors):
``ilike`` text avoids characters whose full case folding differs from PostgreSQL's
``lower()`` (e.g. ``ß``), and untyped extras are strings only (memory refuses to order
a mix of types, which SQL cannot detect without fetching).
"""

from __future__ import annotations

import datetime as dt
import itertools
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nbregistry import DataSource, FilterError, ModelRegistry, ValidationError

SPEC = {
    "name": "string",
    "age": "integer",
    "score": "number",
    "active": "boolean",
    "born": "date",
    "tags": ["string"],
    "address": {"city": "string", "zip": "integer"},
}
ALPHABET = "aAbBzéÉüÜ\u03b1\u0391日 _%-'\"\n\\"
# where PostgreSQL's locale classes and case folding differ from Python's re: long s,
# the three sigmas, an Arabic-Indic digit, a no-break space, the Kelvin sign
ALPHABET += "s\u017f\u03c2\u03c3\u03a3\u0663\u00a0\u212a"
UTC = dt.UTC
PLUS2 = dt.timezone(dt.timedelta(hours=2))
DATES: list[Any] = [
    "2024-06-15",
    "2024-06-15T01:00:00+02:00",
    "2024-06-14T23:00:00Z",
    dt.datetime(2024, 6, 15, 0, 30),
    dt.datetime(2024, 6, 15, 2, 30, tzinfo=PLUS2),
    dt.datetime(2023, 1, 1, tzinfo=UTC),
    dt.date(2024, 6, 14),
    dt.datetime(1999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
]

# a small pool (so equality and ranges hit rows) plus arbitrary short text
WORDS = [
    "",
    "a",
    "A",
    "ab",
    "aé",
    "é",
    "É",
    "Éa",
    "ü",
    "Ü",
    "\u03b1",
    "\u0391",
    "日本",
    "a b",
    "a_b",
]
WORDS += ["a%", "b\n", "ba", "z'\"", "\\", "bab", "aab"]
WORDS += ["s", "S", "\u017f", "\u03c2", "\u03a3", "\u0663", "a\u00a0b", "b\na", "k", "\u212a"]
texts = st.one_of(st.sampled_from(WORDS), st.sampled_from(WORDS), st.text(ALPHABET, max_size=3))
ints = st.one_of(st.integers(-3, 3), st.sampled_from([2**40, -(2**40)]))
numbers = st.one_of(ints, st.sampled_from([-1.5, 0.0, 2.0, 3.25, 1e10, -0.5]))
dates = st.sampled_from(DATES)


def _maybe(values: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """A property value: absent (the marker), explicit None, or a value."""
    return st.one_of(st.just(_ABSENT), st.none(), values, values)


_ABSENT = object()


def _strip_absent(d: Any) -> Any:
    if isinstance(d, dict):
        return {k: _strip_absent(v) for k, v in d.items() if v is not _ABSENT}
    return d


row_strategy = st.fixed_dictionaries(
    {
        "id": st.one_of(*[st.just(_ABSENT)] * 3, st.integers(1, 60)),
        "name": _maybe(texts),
        "age": _maybe(ints),
        "score": _maybe(numbers),
        "active": _maybe(st.booleans()),
        "born": _maybe(dates),
        "tags": _maybe(st.lists(texts, max_size=3)),
        "address": _maybe(
            st.fixed_dictionaries({"city": _maybe(texts), "zip": _maybe(st.integers(0, 3))})
        ),
        "nick": _maybe(texts),
    }
).map(lambda d: _strip_absent(d))


patterns = st.text(ALPHABET + "%_", max_size=4)
REGEXPS = ["/^a/", "/é/i", "/a.b/s", "/b$/", "/z|日/", "/[aé]{2}/", "/^$/"]
REGEXPS += ["/\\d/", "/a\\sb/", "/^\\w+$/", "/\\bb/", "/s/i", "/\u03c3/i", "/k/i", "/[a-z]/i"]
REGEXPS += ["/b$/m", "/^a/m", "/a$/im", "/b.$/ms", "/^.$/s", "/a.b/m"]
regexps = st.sampled_from(REGEXPS)
# bounds no column holds: still an exact comparison on every backend
far = st.sampled_from([2**64, -(2**64), 2**53 + 1, 10**400])

# path → (value strategy, operators that apply)
LEAVES: dict[str, tuple[st.SearchStrategy[Any], list[str]]] = {
    "name": (texts, ["eq", "neq", "gt", "gte", "lt", "lte", "inq", "nin"]),
    "age": (st.one_of(ints, far), ["eq", "neq", "gt", "gte", "lt", "lte", "inq", "nin", "between"]),
    "score": (st.one_of(numbers, far), ["eq", "neq", "gt", "lt", "between", "inq"]),
    "active": (st.booleans(), ["eq", "neq"]),
    "born": (dates, ["eq", "neq", "gt", "gte", "lt", "lte", "between"]),
    "tags": (texts, ["eq", "neq"]),
    "address.city": (texts, ["eq", "neq", "gt", "lt", "inq"]),
    "address.zip": (st.integers(0, 3), ["eq", "neq", "gt", "lte"]),
    "nick": (texts, ["eq", "neq", "gt", "lt"]),
    "id": (st.integers(0, 30), ["eq", "neq", "gt", "lt", "inq", "nin"]),
}
STRING_PATHS = ["name", "address.city", "nick"]


@st.composite
def leaf(draw: Any) -> dict[str, Any]:
    path = draw(st.sampled_from(sorted(LEAVES)))
    values, ops = LEAVES[path]
    if path in STRING_PATHS and draw(st.booleans()):
        op = draw(st.sampled_from(["like", "nlike", "ilike", "nilike", "regexp"]))
        value = draw(regexps if op == "regexp" else patterns)
        return {path: {op: value}}
    op = draw(st.sampled_from([*ops, "plain", "none"]))
    if op == "none":
        return {path: None}
    if op == "plain":
        return {path: draw(values)}
    if op in ("inq", "nin"):
        return {path: {op: draw(st.lists(st.one_of(values, st.none()), max_size=3))}}
    if op == "between":
        return {path: {op: [draw(values), draw(values)]}}
    if op in ("eq", "neq"):
        return {path: {op: draw(st.one_of(values, st.none()))}}
    return {path: {op: draw(values)}}


wheres = st.recursive(
    st.one_of(st.none(), leaf()),
    lambda sub: st.one_of(
        st.builds(lambda xs: {"and": xs}, st.lists(sub.filter(bool), min_size=1, max_size=3)),
        st.builds(lambda xs: {"or": xs}, st.lists(sub.filter(bool), min_size=1, max_size=3)),
        st.builds(lambda a, b: {**a, **b}, leaf(), leaf()),
    ),
    max_leaves=5,
)
ORDER_PATHS = ["name", "age", "score", "active", "born", "address.city", "address.zip", "nick"]


@st.composite
def orders(draw: Any) -> Any:
    terms = draw(
        st.lists(
            st.tuples(st.sampled_from(ORDER_PATHS), st.sampled_from(["", " ASC", " DESC"])),
            max_size=3,
            unique_by=lambda t: t[0],
        )
    )
    if not terms:
        return None
    parts = [p + d for p, d in terms]
    return draw(st.sampled_from([", ".join(parts), parts]))


updates = st.one_of(
    st.fixed_dictionaries({"age": st.one_of(ints, st.none())}),
    st.fixed_dictionaries({"name": texts, "active": st.booleans()}),
    st.fixed_dictionaries({"nick": st.one_of(texts, st.none())}),
    st.fixed_dictionaries({"born": dates, "tags": st.lists(texts, max_size=2)}),
)

operations = st.lists(
    st.one_of(
        st.tuples(st.just("create"), st.lists(row_strategy, min_size=1, max_size=6)),
        st.tuples(
            st.just("find"),
            wheres,
            orders(),
            st.one_of(st.none(), st.integers(0, 4)),
            st.one_of(st.none(), st.integers(0, 3)),
        ),
        st.tuples(st.just("find"), wheres, st.none(), st.none(), st.none()),
        st.tuples(st.just("count"), wheres),
        st.tuples(st.just("update"), wheres, updates),
        st.tuples(st.just("destroy"), wheres),
    ),
    min_size=2,
    max_size=8,
)


class _Backends:
    """The memory, sqlite and postgresql DataSources every example runs against."""

    def __init__(self, tmp: Any, pg: Any) -> None:
        self.registry = ModelRegistry()
        self.sources = {
            "memory": DataSource("memory", registry=self.registry, name="mem"),
            "sqlite": DataSource("sqlite", registry=self.registry, name="lite", file=str(tmp)),
            "postgresql": DataSource(
                "postgresql", registry=self.registry, name="pg", **pg.settings(schema="parity")
            ),
        }
        self.names = (f"M{i}" for i in itertools.count())


@pytest.fixture(scope="module")
def backends(pg_server: Any, tmp_path_factory: pytest.TempPathFactory) -> Any:
    b = _Backends(tmp_path_factory.mktemp("parity") / "parity.db", pg_server)
    yield b
    b.registry.clear()
    pg_server.superuser_sql("@db DROP SCHEMA IF EXISTS parity CASCADE")


def _run(model: Any, op: tuple[Any, ...]) -> Any:
    """Run one operation; return its comparable outcome (or the error class)."""
    kind = op[0]
    try:
        if kind == "create":
            return ("ok", [r.id for r in model.create(op[1])])
        if kind == "find":
            _, where, order, limit, skip = op
            return ("ok", [r.id for r in model.find(where, order, limit, skip)])
        if kind == "count":
            return ("ok", model.count(op[1]))
        if kind == "update":
            return ("ok", model.update_all(op[1], op[2]))
        return ("ok", model.destroy_all(op[1]))
    except (FilterError, ValidationError) as exc:
        return (type(exc).__name__, None)


_EXAMPLES = max(100, settings.default.max_examples)


@settings(
    max_examples=_EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(rows=st.lists(row_strategy, min_size=2, max_size=10), ops=operations)
def test_sql_connectors_match_memory(
    backends: Any, rows: list[dict[str, Any]], ops: list[tuple[Any, ...]]
) -> None:
    name = next(backends.names)
    models = {k: ds.define(name, SPEC) for k, ds in backends.sources.items()}
    for op in [("create", rows), *ops]:
        results = {k: _run(m, op) for k, m in models.items()}
        assert results["sqlite"] == results["memory"], (op, results)
        assert results["postgresql"] == results["memory"], (op, results)
    final = {k: [r.to_dict() for r in m.find()] for k, m in models.items()}
    assert final["sqlite"] == final["memory"]
    assert final["postgresql"] == final["memory"]
