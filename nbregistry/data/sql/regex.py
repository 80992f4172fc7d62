"""Python regular expressions translated to PostgreSQL AREs, or a FilterError naming why not.

The translation walks Python's own parse of the pattern (``re._parser``), so what it emits
means what Python means: ``.`` excludes a newline unless DOTALL (PostgreSQL's ``.``
includes it), ``$`` matches at the end or before a final newline (``(?=\\n?\\Z)``), and
groups become non-capturing. Constructs PostgreSQL lacks or spells differently are
refused with a FilterError that names them: back-references, conditionals, atomic
groups and possessive repeats, MULTILINE, ASCII/LOCALE/VERBOSE flags, and the
negated classes ``\\D \\S \\W`` inside brackets. ``\\d \\w \\s`` map to PostgreSQL's
class escapes (locale classes: identical to Python's for ASCII text).
"""

from __future__ import annotations

import re
from typing import Any

from ...core.errors import FilterError

try:  # Python 3.11+
    from re import _constants as _c  # type: ignore[attr-defined]
    from re import _parser as _p  # type: ignore[attr-defined]
except ImportError:  # pragma: no cover - older Pythons
    import sre_constants as _c  # type: ignore[no-redef]
    import sre_parse as _p  # type: ignore[no-redef]

__all__ = ["pg_regex"]

_SPECIAL = set(r"\^$.|?*+()[]{}")
_CATEGORIES = {
    _c.CATEGORY_DIGIT: r"\d",
    _c.CATEGORY_NOT_DIGIT: r"\D",
    _c.CATEGORY_SPACE: r"\s",
    _c.CATEGORY_NOT_SPACE: r"\S",
    _c.CATEGORY_WORD: r"\w",
    _c.CATEGORY_NOT_WORD: r"\W",
}


def _lit(code: int, in_class: bool = False) -> str:
    ch = chr(code)
    if ch == "\n":
        return r"\n"
    if ch == "\t":
        return r"\t"
    if ch == "\r":
        return r"\r"
    if ch == "\x00":
        raise FilterError("a NUL character cannot appear in a PostgreSQL regular expression")
    if in_class:
        return "\\" + ch if ch in "\\]^-[" else ch
    return "\\" + ch if ch in _SPECIAL else ch


class _Translator:
    def __init__(self, path: str, dotall: bool) -> None:
        self.path = path
        self.dotall = dotall

    def refuse(self, what: str) -> FilterError:
        return FilterError(
            f"{self.path}: {what} cannot be expressed in a PostgreSQL regular expression; "
            "rewrite the pattern without it"
        )

    def seq(self, items: Any) -> str:
        return "".join(self.item(op, av) for op, av in items)

    def item(self, op: Any, av: Any) -> str:
        if op is _c.LITERAL:
            return _lit(av)
        if op is _c.NOT_LITERAL:
            return f"[^{_lit(av, True)}]"
        if op is _c.ANY:
            return "." if self.dotall else "[^\\n]"
        if op is _c.IN:
            return self.klass(av)
        if op is _c.BRANCH:
            return "(?:" + "|".join(self.seq(b) for b in av[1]) + ")"
        if op is _c.SUBPATTERN:
            _group, add, dele, sub = av
            if add or dele:
                raise self.refuse("an inline flag group such as (?i:...)")
            return "(?:" + self.seq(sub) + ")"
        if op in (_c.MAX_REPEAT, _c.MIN_REPEAT):
            lo, hi, sub = av
            inner = self.seq(sub)
            if len(sub) != 1 or sub[0][0] in (_c.SUBPATTERN, _c.BRANCH):
                inner = f"(?:{inner})" if not inner.startswith("(?:") else inner
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
            if lo > 255 or (hi is not _c.MAXREPEAT and hi > 255):
                raise self.refuse("a repetition count above 255")
            return inner + q + ("?" if op is _c.MIN_REPEAT else "")
        if op is _c.AT:
            return {
                _c.AT_BEGINNING: "^",
                _c.AT_BEGINNING_STRING: "^",
                _c.AT_END: "(?=\\n?$)",
                _c.AT_END_STRING: "$",
                _c.AT_BOUNDARY: "\\y",
                _c.AT_NON_BOUNDARY: "\\Y",
            }.get(av) or self._refuse_at(av)
        if op is _c.ASSERT:
            direction, sub = av
            return ("(?=" if direction == 1 else "(?<=") + self.seq(sub) + ")"
        if op is _c.ASSERT_NOT:
            direction, sub = av
            return ("(?!" if direction == 1 else "(?<!") + self.seq(sub) + ")"
        if op is _c.CATEGORY:
            return _CATEGORIES[av]
        names = {
            _c.GROUPREF: "a back-reference",
            _c.GROUPREF_EXISTS: "a conditional group",
        }
        name = names.get(op) or str(op).lower().replace("_", " ")
        raise self.refuse(name)

    def _refuse_at(self, av: Any) -> str:
        raise self.refuse(str(av).lower().replace("_", " "))

    def klass(self, items: Any) -> str:
        parts: list[str] = []
        negate = False
        for op, av in items:
            if op is _c.NEGATE:
                negate = True
            elif op is _c.LITERAL:
                parts.append(_lit(av, True))
            elif op is _c.RANGE:
                parts.append(f"{_lit(av[0], True)}-{_lit(av[1], True)}")
            elif op is _c.CATEGORY:
                esc = _CATEGORIES[av]
                if esc.isupper() or esc[1].isupper():
                    raise self.refuse(f"the negated class {esc} inside brackets")
                parts.append(esc)
            else:
                raise self.refuse(str(op).lower())
        return "[" + ("^" if negate else "") + "".join(parts) + "]"


def pg_regex(rx: re.Pattern[str], path: str) -> tuple[str, bool]:
    """Return ``(ARE text, case-insensitive?)`` meaning ``rx.search``; FilterError if not."""
    flags = rx.flags
    if flags & re.MULTILINE:
        raise FilterError(
            f"{path}: the MULTILINE flag (m) cannot be expressed in a PostgreSQL regular "
            "expression; match without it"
        )
    for flag, name in ((re.ASCII, "ASCII"), (re.VERBOSE, "VERBOSE")):
        if flags & flag:
            raise FilterError(
                f"{path}: the {name} flag cannot be expressed in a PostgreSQL regular "
                "expression; rewrite the pattern without it"
            )
    try:
        parsed = _p.parse(rx.pattern, flags & ~re.UNICODE)
    except re.error as exc:  # pragma: no cover - rx is already compiled
        raise FilterError(f"{path}: invalid regular expression: {exc}") from None
    tr = _Translator(path, bool(flags & re.DOTALL))
    return tr.seq(parsed), bool(flags & re.IGNORECASE)
