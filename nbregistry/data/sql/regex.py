"""Python regular expressions translated to PostgreSQL AREs with Python's meaning, or a FilterError.

The translation walks Python's own parse of the pattern (``re._parser``) and emits an
ARE that PostgreSQL matches case-sensitively (``~``) and that means exactly what
``rx.search`` means, independently of the database's locale (``LC_CTYPE``):

* every construct matching one character (a literal, ``[...]``, ``\\d \\w \\s`` and their
  negations, ``[^x]``) becomes an explicit set of code points, computed by Python's own
  ``re`` with the pattern's flags (``i`` case folding, ``a`` ASCII) over every code
  point: ``\\d`` matches ``"\u0663"`` (Arabic-Indic three), ``\\s`` a non-breaking
  space, ``/s/i`` ``"\u017f"`` (long s) and ``/\u03c3/i`` ``"\u03c2"`` (final sigma) on
  PostgreSQL exactly as in Python (PostgreSQL's own classes and ``~*`` follow the
  locale, and a ``C`` locale folds only ASCII);
* ``.`` excludes ``\\n`` unless DOTALL; ``^``/``$`` are string anchors, or line anchors
  under MULTILINE (``(?<=\\n)``, ``(?=\\n|$)``); ``$`` without MULTILINE also matches
  before a final newline; ``\\A``/``\\Z`` are string anchors; ``\\b``/``\\B`` are
  lookarounds on the ``\\w`` set; inline flag groups ``(?i:...)`` apply to their part;
* greedy and lazy repeats both become greedy ones (``~`` only asks whether a match exists).

Refused with a FilterError naming them: back-references, conditionals, atomic groups,
possessive repeats, repetition counts above 255 (PostgreSQL's limit) and NUL characters.
The emitted text is ASCII (other characters as ``\\uXXXX``/``\\UXXXXXXXX`` escapes); it
assumes a UTF8 database (code points are PostgreSQL's characters).
"""

from __future__ import annotations

import functools
import re
from typing import Any

from ...core.errors import FilterError

try:  # Python 3.11+
    from re import _constants as _c  # type: ignore[attr-defined]
    from re import _parser as _p  # type: ignore[attr-defined]
except ImportError:  # pragma: no cover - older Pythons
    import sre_constants as _c  # type: ignore[no-redef]
    import sre_parse as _p  # type: ignore[no-redef]

__all__ = ["char_set", "pg_fullmatch", "pg_regex"]

_MAX = 0x10FFFF
_SUR_LO, _SUR_HI = 0xD800, 0xDFFF
_CATEGORIES = {
    _c.CATEGORY_DIGIT: r"\d",
    _c.CATEGORY_NOT_DIGIT: r"\D",
    _c.CATEGORY_SPACE: r"\s",
    _c.CATEGORY_NOT_SPACE: r"\S",
    _c.CATEGORY_WORD: r"\w",
    _c.CATEGORY_NOT_WORD: r"\W",
}
# the flags that change which characters a one-character construct matches
_CHAR_FLAGS = re.IGNORECASE | re.ASCII
# Python before 3.14: \B never matches an empty string
_B_MATCHES_EMPTY = re.search(r"\B", "") is not None

Ranges = tuple[tuple[int, int], ...]


@functools.lru_cache(maxsize=1)
def _universe() -> tuple[tuple[int, str], ...]:
    """Return every code point a text can hold (no NUL, no surrogate), as two strings."""
    return (
        (1, "".join(map(chr, range(1, _SUR_LO)))),
        (_SUR_HI + 1, "".join(map(chr, range(_SUR_HI + 1, _MAX + 1)))),
    )


@functools.lru_cache(maxsize=1)
def _cased() -> tuple[int, str]:
    """Return the characters that case folding may relate to another one, as one string.

    A superset of what Python's IGNORECASE relates: every character whose lower, upper,
    title or case-folded form differs from itself (blocks of 256 code points without
    any are skipped whole: the case methods run in C on the block).
    """
    chars: list[str] = []
    for _start, text in _universe():
        for i in range(0, len(text), 256):
            block = text[i : i + 256]
            if all(f(block) == block for f in (str.lower, str.upper, str.title, str.casefold)):
                continue
            chars.extend(
                ch
                for ch in block
                if ch.lower() != ch or ch.upper() != ch or ch.title() != ch or ch.casefold() != ch
            )
    return 0, "".join(chars)


def _scan(src: str, flags: int, text: str, start: int | None) -> list[tuple[int, int]]:
    rx = re.compile(f"(?:{src})+" if start is not None else f"(?:{src})", flags)
    if start is not None:  # text holds consecutive code points from ``start``
        return [(start + m.start(), start + m.end() - 1) for m in rx.finditer(text)]
    return [(ord(ch), ord(ch)) for ch in rx.findall(text)]


def _merge(ranges: list[tuple[int, int]]) -> Ranges:
    out: list[list[int]] = []
    for lo, hi in sorted(ranges):
        if out and lo <= out[-1][1] + 1:
            out[-1][1] = max(out[-1][1], hi)
        else:
            out.append([lo, hi])
    return tuple((lo, hi) for lo, hi in out)


@functools.lru_cache(maxsize=4096)
def char_set(src: str, flags: int) -> Ranges:
    """Return the code-point ranges that the one-character Python pattern ``src`` matches.

    ``flags`` are Python ``re`` flags (only IGNORECASE and ASCII matter); NUL and
    surrogates are left out (no text holds them).
    """
    flags &= _CHAR_FLAGS
    found: list[tuple[int, int]] = []
    for start, text in _universe():
        found.extend(_scan(src, flags, text, start))
    return _merge(found)


@functools.lru_cache(maxsize=4096)
def _literal_set(code: int, flags: int, negate: bool) -> Ranges:
    """Return the ranges a literal (``negate``: ``[^x]``) matches under ``flags``."""
    src = _py_char(code)
    if not flags & re.IGNORECASE:
        pos: Ranges = ((code, code),)
    else:
        # every character IGNORECASE relates to another is in _cased(): scan only those
        _start, text = _cased()
        pos = _merge([(code, code), *_scan(src, flags & _CHAR_FLAGS, text, None)])
    return _complement(pos) if negate else pos


def _complement(ranges: Ranges) -> Ranges:
    out: list[tuple[int, int]] = []
    nxt = 1
    for lo, hi in ranges:
        if lo > nxt:
            out.append((nxt, lo - 1))
        nxt = max(nxt, hi + 1)
    if nxt <= _MAX:
        out.append((nxt, _MAX))
    return _drop_surrogates(out)


def _drop_surrogates(ranges: list[tuple[int, int]]) -> Ranges:
    out: list[tuple[int, int]] = []
    for lo, hi in ranges:
        if hi < _SUR_LO or lo > _SUR_HI:
            out.append((lo, hi))
            continue
        if lo < _SUR_LO:
            out.append((lo, _SUR_LO - 1))
        if hi > _SUR_HI:
            out.append((_SUR_HI + 1, hi))
    return tuple(out)


def _py_char(code: int) -> str:
    return f"\\U{code:08x}"


def _pg_char(code: int) -> str:
    ch = chr(code)
    if ch.isascii() and ch.isalnum():
        return ch
    if 0x20 < code < 0x7F:
        return "\\" + ch
    return f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}"


def _pg_ranges(ranges: Ranges) -> str:
    parts = []
    for lo, hi in ranges:
        if lo == hi:
            parts.append(_pg_char(lo))
        elif hi == lo + 1:
            parts.append(_pg_char(lo) + _pg_char(hi))
        else:
            parts.append(f"{_pg_char(lo)}-{_pg_char(hi)}")
    return "".join(parts)


def _bridge(ranges: Ranges) -> Ranges:
    """Join ranges split only by the surrogates (no text holds them): a shorter text."""
    out: list[tuple[int, int]] = []
    for lo, hi in ranges:
        if out and out[-1][1] == _SUR_LO - 1 and lo == _SUR_HI + 1:
            out[-1] = (out[-1][0], hi)
        else:
            out.append((lo, hi))
    return tuple(out)


def _emit_set(ranges: Ranges) -> str:
    """Return an ARE atom matching exactly the characters of ``ranges`` (in text)."""
    if not ranges:
        return "[^\\u0001-\\U0010ffff]"  # matches no character a text can hold
    if len(ranges) == 1 and ranges[0][0] == ranges[0][1]:
        return _pg_char(ranges[0][0])
    comp = _complement(ranges)
    if not comp:
        return "."  # outside newline-sensitive mode, PostgreSQL's . matches any character
    pos = "[" + _pg_ranges(_bridge(ranges)) + "]"
    neg = "[^" + _pg_ranges(_bridge(comp)) + "]"
    return pos if len(pos) <= len(neg) else neg


def _py_class(items: Any) -> str:
    """Return Python source of a parsed ``[...]``: the same class, for char_set."""
    out = ["["]
    for op, av in items:
        if op is _c.NEGATE:
            out.append("^")
        elif op is _c.LITERAL:
            out.append(_py_char(av))
        elif op is _c.RANGE:
            out.append(f"{_py_char(av[0])}-{_py_char(av[1])}")
        elif op is _c.CATEGORY:
            out.append(_CATEGORIES[av])
        else:  # pragma: no cover - the parser puts nothing else in a class
            raise FilterError(f"unsupported class item {op}")
    out.append("]")
    return "".join(out)


class _Translator:
    def __init__(self, path: str) -> None:
        self.path = path

    def refuse(self, what: str) -> FilterError:
        return FilterError(
            f"{self.path}: {what} cannot be expressed in a PostgreSQL regular expression; "
            "rewrite the pattern without it"
        )

    def seq(self, items: Any, flags: int) -> str:
        return "".join(self.item(op, av, flags) for op, av in items)

    def word(self, flags: int) -> str:
        return _emit_set(char_set(r"\w", flags & re.ASCII))

    def item(self, op: Any, av: Any, flags: int) -> str:
        if op is _c.LITERAL or op is _c.NOT_LITERAL:
            if av == 0:
                raise FilterError(
                    f"{self.path}: a NUL character cannot appear in a PostgreSQL regular "
                    "expression (PostgreSQL text holds no NUL)"
                )
            return _emit_set(_literal_set(av, flags & _CHAR_FLAGS, op is _c.NOT_LITERAL))
        if op is _c.ANY:
            return "." if flags & re.DOTALL else "[^\\n]"
        if op is _c.IN:
            return _emit_set(char_set(_py_class(av), flags))
        if op is _c.CATEGORY:
            return _emit_set(char_set(_CATEGORIES[av], flags))
        if op is _c.BRANCH:
            return "(?:" + "|".join(self.seq(b, flags) for b in av[1]) + ")"
        if op is _c.SUBPATTERN:
            _group, add, dele, sub = av
            return "(?:" + self.seq(sub, (flags | add) & ~dele) + ")"
        if op in (_c.MAX_REPEAT, _c.MIN_REPEAT):
            lo, hi, sub = av
            if lo > 255 or (hi is not _c.MAXREPEAT and hi > 255):
                raise self.refuse("a repetition count above 255")
            inner = "(?:" + self.seq(sub, flags) + ")"
            if lo == 0 and hi is _c.MAXREPEAT:
                q = "*"
            elif lo == 1 and hi is _c.MAXREPEAT:
                q = "+"
            elif lo == 0 and hi == 1:
                q = "?"
            elif hi is _c.MAXREPEAT:
                q = f"{{{lo},}}"
            elif lo == hi:
                q = f"{{{lo}}}"
            else:
                q = f"{{{lo},{hi}}}"
            return inner + q  # greedy or lazy: the same rows match
        if op is _c.AT:
            return self.at(av, flags)
        if op is _c.ASSERT or op is _c.ASSERT_NOT:
            direction, sub = av
            neg = op is _c.ASSERT_NOT
            head = ("(?!" if neg else "(?=") if direction == 1 else ("(?<!" if neg else "(?<=")
            return head + self.seq(sub, flags) + ")"
        names = {
            _c.GROUPREF: "a back-reference",
            _c.GROUPREF_EXISTS: "a conditional group",
        }
        name = names.get(op) or str(op).lower().replace("_", " ")
        raise self.refuse(name)

    def at(self, av: Any, flags: int) -> str:
        multiline = bool(flags & re.MULTILINE)
        if av is _c.AT_BEGINNING:
            return "(?:^|(?<=\\n))" if multiline else "^"
        if av is _c.AT_END:
            return "(?=\\n|$)" if multiline else "(?=\\n?$)"
        if av is _c.AT_BEGINNING_STRING:
            return "^"
        if av is _c.AT_END_STRING:
            return "$"
        if av is _c.AT_BOUNDARY or av is _c.AT_NON_BOUNDARY:
            w = self.word(flags)
            if av is _c.AT_BOUNDARY:
                return f"(?:(?<={w})(?!{w})|(?<!{w})(?={w}))"
            inner = f"(?:(?<={w})(?={w})|(?<!{w})(?!{w}))"
            if _B_MATCHES_EMPTY:
                return inner
            return f"(?:{inner}(?:(?=.)|(?<=.)))"  # never in an empty string (Python < 3.14)
        raise self.refuse(str(av).lower().replace("_", " "))


def pg_regex(rx: re.Pattern[str], path: str) -> str:
    """Return an ARE that PostgreSQL's ``~`` matches where ``rx.search`` does; FilterError."""
    if not isinstance(rx.pattern, str):
        raise FilterError(f"{path}: expects a str pattern, got bytes pattern {rx!r:.80}")
    try:
        parsed = _p.parse(rx.pattern, rx.flags & ~re.UNICODE)
    except re.error as exc:  # pragma: no cover - rx is already compiled
        raise FilterError(f"{path}: invalid regular expression: {exc}") from None
    return _Translator(path).seq(parsed, rx.flags)


def pg_fullmatch(rx: re.Pattern[str], path: str) -> str:
    """Return an ARE that PostgreSQL's ``~`` matches where ``rx.fullmatch`` does; FilterError."""
    return "^(?:" + pg_regex(rx, path) + ")$"
