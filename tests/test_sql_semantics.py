"""One filter semantics on memory, SQLite and PostgreSQL (DESIGN §12.2-12.3, issue 11).

Each case runs on all three backends and checks the very ids Python's own ``re`` (or the
rule stated in the test) gives: non-ASCII regexes and case folding, every combination of
the regexp flags on strings with newlines, booleans in comparisons, digit path segments,
out-of-range numeric bounds, keys with quotes, deep and wide and/or trees, bytes
patterns, and PostgreSQL databases whose locale is ``C``.
"""

from __future__ import annotations

import re
import uuid
from typing import Any

import pytest

from nbregistry import DataSource, FilterError, ModelRegistry

# non-ASCII text whose matching differs between Python and PostgreSQL's locale classes
WORDS = [
    "",
    "a",
    "A",
    "ab\n",
    "x\ny",
    "x\n",
    "\nx",
    "\u0663",  # ARABIC-INDIC DIGIT THREE: \d
    "x\u00a0y",  # NO-BREAK SPACE: \s
    "s",
    "S",
    "\u017f",  # LATIN SMALL LETTER LONG S: s under i
    "\u03c2",  # GREEK SMALL LETTER FINAL SIGMA
    "\u03c3",
    "\u03a3",
    "\u01c6",  # dz digraph, lower
    "\u01c5",  # dz digraph, title case
    "\ufb01",  # fi ligature
    "é",
    "É",
    "\u0130",  # I WITH DOT ABOVE
    "\u0131",  # DOTLESS I
    "K",
    "\u212a",  # KELVIN SIGN
    "foo bar",
    "foo_bar",
    "Straße",
    "STRASSE",
    "ß",
    "SS",
    "\U00010400",  # DESERET CAPITAL LONG I (outside the BMP)
    "\U00010428",
    "a%b",
    "a\\b",
    "[a]",
    "\u3000x",
]

PATTERNS: list[tuple[str, int]] = [
    (r"\d", 0),
    (r"\D", 0),
    (r"\w", 0),
    (r"^\W+$", 0),
    (r"x\sy", 0),
    (r"\S", 0),
    (r"\bfoo\b", 0),
    (r"o\B", 0),
    (r"\w", re.A),
    (r"\s", re.A),
    ("\u017f", re.I),
    ("\u03c3", re.I),
    ("\u01c5", re.I),
    ("é", re.I),
    ("k", re.I),
    ("i", re.I),
    ("[a-z]", re.I),
    ("^[^a-z]+$", re.I),
    ("\U00010400", re.I),
    ("[\U00010400]", re.I),
    ("s{2}", re.I),
    ("(?i:s)s", 0),
    ("^stra", re.I),
    (r"[^\W\d_]", 0),
    ("^$", 0),
    ("a+?b", 0),
    ("(?<=a)b", 0),
]

# every combination of i, m, s on anchors and dots next to newlines
FLAG_PATTERNS = ["x$", "^x", "^x$", "x.y", ".$", "^.$", "b.$", "a.\\Z", "\\Ax", "^y", "X$"]
FLAG_SETS = ["", "i", "m", "s", "im", "is", "ms", "ims"]

LIKES = ["é", "É", "\u017f", "\u03a3", "S", "%s%", "ß", "STRASSE", "strasse", "x%", "%\n", "_"]
LIKES += ["a\\b"]


def _source(backend: Any) -> DataSource:
    return backend.ds(name="sem")


def _ids(found: Any) -> list[Any]:
    return [x.id for x in found]


def _words_model(ds: DataSource) -> tuple[Any, dict[str, int]]:
    Word = ds.define("Word", {"name": "string", "tags": ["string"]})
    made = Word.create([{"name": w, "tags": [w]} for w in WORDS])
    return Word, {w: m.id for w, m in zip(WORDS, made, strict=True)}


def test_regexes_match_as_python_re_on_non_ascii_text(backend: Any) -> None:
    Word, idof = _words_model(_source(backend))
    for pattern, flags in PATTERNS:
        rx = re.compile(pattern, flags)
        want = sorted(idof[w] for w in WORDS if rx.search(w))
        assert sorted(_ids(Word.find({"name": {"regexp": rx}}))) == want, (pattern, flags)
        assert sorted(_ids(Word.find({"tags": rx}))) == want, (pattern, flags)


@pytest.mark.parametrize("flags", FLAG_SETS)
def test_every_regexp_flag_combination_matches_memory(backend: Any, flags: str) -> None:
    Word, idof = _words_model(_source(backend))
    py = {"i": re.I, "m": re.M, "s": re.S}
    for pattern in FLAG_PATTERNS:
        rx = re.compile(pattern, sum(py[f] for f in flags))
        want = sorted(idof[w] for w in WORDS if rx.search(w))
        got = sorted(_ids(Word.find({"name": {"regexp": f"/{pattern}/{flags}"}})))
        assert got == want, (pattern, flags)


def test_x_dollar_im_finds_the_line_before_a_newline(backend: Any) -> None:
    Word, idof = _words_model(_source(backend))
    assert sorted(_ids(Word.find({"name": {"regexp": "/x$/im"}}))) == sorted(
        [idof["x\ny"], idof["x\n"], idof["\nx"], idof["\u3000x"]]
    )


def test_ilike_folds_case_as_python_re(backend: Any) -> None:
    """ilike: Python's re IGNORECASE, one character for one (no ß/SS, no ﬁ/FI)."""
    Word, idof = _words_model(_source(backend))
    for pattern in LIKES:
        body = "".join(".*" if c == "%" else "." if c == "_" else re.escape(c) for c in pattern)
        rx = re.compile(body, re.I | re.S)
        want = sorted(idof[w] for w in WORDS if rx.fullmatch(w))
        assert sorted(_ids(Word.find({"name": {"ilike": pattern}}))) == want, pattern
        rest = sorted(set(idof.values()) - set(want))
        assert sorted(_ids(Word.find({"name": {"nilike": pattern}}))) == rest, pattern
    # the characters the README names
    assert _ids(Word.find({"name": {"ilike": "\u017f"}})) == [idof["s"], idof["S"], idof["\u017f"]]
    assert sorted(_ids(Word.find({"name": {"ilike": "\u03a3"}}))) == sorted(
        [idof["\u03c2"], idof["\u03c3"], idof["\u03a3"]]
    )
    assert _ids(Word.find({"name": {"ilike": "ß"}})) == [idof["ß"]]  # not "SS"
    assert _ids(Word.find({"name": {"ilike": "SS"}})) == [idof["SS"]]  # not "ß"
    assert _ids(Word.find({"name": {"ilike": "FI"}})) == []


def test_postgresql_with_a_c_locale_matches_memory(pg_server: Any) -> None:
    name = f"c_{uuid.uuid4().hex[:10]}"
    pg_server.superuser_sql(
        f"CREATE DATABASE {name} OWNER {pg_server.user} TEMPLATE template0 "
        "ENCODING 'UTF8' LC_COLLATE 'C' LC_CTYPE 'C'"
    )
    reg = ModelRegistry()
    try:
        mem = DataSource("memory", registry=reg, name="mem")
        pg = DataSource("postgresql", registry=reg, name="pgc", **pg_server.settings(database=name))
        models = [ds.define("Word", {"name": "string"}) for ds in (mem, pg)]
        for m in models:
            m.create([{"name": w} for w in WORDS])
        filters: list[Any] = [
            {"name": {"ilike": "é"}},
            {"name": {"nilike": "É"}},
            {"name": {"regexp": "/é/i"}},
            {"name": {"ilike": "\u017f"}},
            {"name": {"ilike": "\u03a3"}},
            {"name": {"regexp": "/\\w/"}},
            {"name": {"regexp": "/^\\W+$/"}},
            {"name": {"regexp": "/\\d/"}},
        ]
        for f in filters:
            assert _ids(models[1].find(f)) == _ids(models[0].find(f)), f
        assert len(_ids(models[1].find({"name": {"ilike": "é"}}))) == 2
    finally:
        reg.clear()
        pg_server.superuser_sql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


# --- the same filter, the same rows -------------------------------------------------------


def _mixed(backend: Any) -> Any:
    ds = _source(backend)
    P = ds.define("P", {"name": "string", "age": "integer", "score": "number", "meta": "object"})
    P.create(
        [
            {"id": 1, "name": "a", "age": 3, "score": 2.5, "anyv": True, "meta": {"0": "zero"}},
            {"id": 2, "name": "b", "age": 2**62, "score": 2.0**64, "anyv": 1, "meta": {"k": [7]}},
            {"id": 3, "name": "c", "age": -5, "score": -1e300, "anyv": 0.5, "meta": {'we"ird': 1}},
            {"id": 4, "name": None, "anyv": "1", "meta": {"k": {"0": "obj"}}},
            {"id": 5, "name": "e", "age": 0, "score": 9007199254740992.0, "anyv": False},
        ]
    )
    return P


@pytest.mark.parametrize(
    ("where", "want"),
    [
        # booleans are not numbers in comparisons (as in equality)
        ({"anyv": {"gt": 0}}, [2, 3]),
        ({"anyv": {"lt": 1}}, [3]),
        ({"anyv": {"between": [0, 1]}}, [2, 3]),
        ({"anyv": {"gt": False}}, [1]),
        ({"anyv": {"gte": False}}, [1, 5]),
        # a digit segment: an object key, or an array index (memory's rule)
        ({"meta.0": "zero"}, [1]),
        ({"meta.k.0": 7}, [2]),
        ({"meta.k.0": "obj"}, [4]),
        ({"meta.k.2": None}, [1, 2, 3, 4, 5]),
        # "-1"/"+0" are keys, never indexes; a non-ASCII digit indexes (int("\u0660") == 0)
        ({"meta.k.-1": 7}, []),
        ({"meta.k.+0": 7}, []),
        ({"meta.k. 0": 7}, []),
        ({"meta.k.\u0660": 7}, [2]),
        ({"meta.k.-1": None}, [1, 2, 3, 4, 5]),
        # a key with a double quote
        ({'meta.we"ird': 1}, [3]),
        ({'meta.we"ird': None}, [1, 2, 4, 5]),
        # bounds outside what a column holds compare exactly
        ({"age": {"gt": 2**64}}, []),
        ({"age": {"lt": 2**64}}, [1, 2, 3, 5]),
        ({"age": {"gt": -(2**64)}}, [1, 2, 3, 5]),
        ({"age": {"eq": 2**64}}, []),
        ({"age": {"lt": float("inf")}}, [1, 2, 3, 5]),
        ({"age": {"gte": 2.0**62}}, [2]),
        ({"age": {"gt": 2.0**62}}, []),
        ({"age": {"gt": 2**62 - 1}}, [2]),
        ({"age": {"inq": [3.0, 2**64, 2.5]}}, [1]),
        ({"score": {"gt": 2**64}}, []),
        ({"score": {"gte": 2**64}}, [2]),
        ({"score": {"lt": 2**64 + 1}}, [1, 2, 3, 5]),
        ({"score": {"eq": 2**53 + 1}}, []),
        ({"score": {"gte": 2**53 + 1}}, [2]),
        ({"score": {"lte": 2**53 + 1}}, [1, 3, 5]),
        ({"score": {"gt": -(10**400)}}, [1, 2, 3, 5]),
        ({"score": {"inq": [2**64, 2**53 + 1, 2.5]}}, [1, 2]),
        ({"anyv": {"gt": 2**64}}, []),
        ({"anyv": {"lt": 2**64}}, [2, 3]),
        # inq with None: IN (...) OR IS NULL
        ({"name": {"inq": ["a", None]}}, [1, 4]),
        ({"name": {"nin": ["a", None]}}, [2, 3, 5]),
        ({"age": {"inq": [*range(100, 1300), 3, None]}}, [1, 4]),
    ],
)
def test_same_filter_same_rows(backend: Any, where: Any, want: list[int]) -> None:
    P = _mixed(backend)
    assert _ids(P.find(where)) == want
    assert P.count(where) == len(want)


def test_wide_and_deep_trees_work_everywhere(backend: Any) -> None:
    ds = _source(backend)
    M = ds.define("M", {"name": "string", "n": "integer", "o": "object"})
    M.create([{"name": "a", "n": 1}, {"name": "b", "n": 2000}])
    assert _ids(M.find({"or": [{"n": i} for i in range(3000)]})) == [1, 2]
    assert _ids(M.find({"and": [{"n": {"neq": i}} for i in range(3, 3000)]})) == [1]
    assert _ids(M.find({"n": {"inq": [*range(5, 1105), None]}})) == []
    assert _ids(M.find({"o": {"inq": [*range(1100), None]}})) == [1, 2]  # JSON path, OR tree
    nest: dict[str, Any] = {"n": 1}
    for _ in range(200):
        nest = {"and": [nest]}
    assert _ids(M.find(nest)) == [1]
    assert M.count(nest) == 1
    assert _ids(M.find({"name": {"like": "a" + "%" * 60000}})) == [1]


def test_a_too_long_like_pattern_names_the_limit_on_sqlite(tmp_path: Any) -> None:
    reg = ModelRegistry()
    try:
        M = DataSource("sqlite", registry=reg, file=str(tmp_path / "l.db")).define(
            "M", {"name": "string"}
        )
        M.create({"name": "a"})
        with pytest.raises(FilterError, match="50000 bytes"):
            M.find({"name": {"like": "ab" * 30000}})
    finally:
        reg.clear()


@pytest.mark.parametrize(
    "where",
    [
        {"name": re.compile(b"a")},
        {"name": {"like": re.compile(b"a")}},
        {"name": {"ilike": re.compile(b"a")}},
        {"name": {"regexp": re.compile(b"a")}},
        {"tags": re.compile(b"a")},
        {"extra": re.compile(b"a")},
    ],
)
def test_bytes_patterns_are_a_filter_error_everywhere(backend: Any, where: Any) -> None:
    M = _source(backend).define("B", {"name": "string", "tags": ["string"]})
    M.create({"name": "a", "tags": ["a"], "extra": "a"})
    with pytest.raises(FilterError, match="bytes pattern"):
        M.find(where)
