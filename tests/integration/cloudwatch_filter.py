"""CloudWatch Logs JSON filter patterns (``{ $.status >= 500 }``), evaluated offline the way CloudWatch does.

No library on PyPI implements them (moto's filter_log_events handles plain terms only), so this is a small,
strict evaluator of the documented JSON syntax: selectors ``$.a.b`` / ``$.a[0]``; ``=`` and ``!=`` on strings
(quoted or bare, ``*`` as wildcard) and numbers; ``<``, ``<=``, ``>``, ``>=`` on numbers; ``IS TRUE``,
``IS FALSE``, ``IS NULL``, ``NOT EXISTS``; ``&&`` and ``||`` (``&&`` binds tighter) with parentheses. Anything
else (regex values, term or space-delimited patterns) raises, so a test can never pass on a pattern it did not
understand. A line that is not a JSON object matches no JSON pattern, and a comparison on a missing field is false.
"""

from __future__ import annotations

import fnmatch
import json
import re
from typing import Any

_TOKEN = re.compile(
    r"""\s*(?:
        (?P<lparen>\() | (?P<rparen>\)) | (?P<and>&&) | (?P<or>\|\|)
      | (?P<op>!=|<=|>=|=|<|>)
      | (?P<selector>\$(?:\.[A-Za-z_][A-Za-z0-9_\-]*|\[\d+\])+)
      | (?P<string>"(?:[^"\\]|\\.)*")
      | (?P<keyword>IS\s+TRUE|IS\s+FALSE|IS\s+NULL|NOT\s+EXISTS)
      | (?P<number>-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?(?![\w*]))
      | (?P<bare>[^\s()&|"=<>!%]+)
    )""",
    re.VERBOSE,
)
_MISSING = object()


class UnsupportedPatternError(ValueError):
    pass


def matches(pattern: str, line: str) -> bool:
    """Whether CloudWatch Logs would count `line` (one log event) for the JSON filter `pattern`."""
    text = pattern.strip()
    if not (text.startswith("{") and text.endswith("}")):
        raise UnsupportedPatternError(f"not a JSON filter pattern: {pattern!r}")
    expression = _Parser(text[1:-1]).parse()
    try:
        event = json.loads(line)
    except ValueError:
        return False
    return isinstance(event, dict) and expression(event)


class _Parser:
    def __init__(self, text: str) -> None:
        self.tokens: list[tuple[str, str]] = []
        position = 0
        while position < len(text):
            if not text[position:].strip():
                break
            found = _TOKEN.match(text, position)
            if not found or found.end() == position:
                raise UnsupportedPatternError(f"cannot read {text[position:]!r}")
            self.tokens.append((found.lastgroup or "", found.group(found.lastgroup or 0)))
            position = found.end()
        self.index = 0

    def parse(self):
        expression = self._or()
        if self.index != len(self.tokens):
            raise UnsupportedPatternError(f"unexpected {self.tokens[self.index][1]!r}")
        return expression

    def _peek(self) -> str | None:
        return self.tokens[self.index][0] if self.index < len(self.tokens) else None

    def _take(self, kind: str) -> str:
        if self._peek() != kind:
            raise UnsupportedPatternError(f"expected {kind}, found {self.tokens[self.index :][:1]}")
        self.index += 1
        return self.tokens[self.index - 1][1]

    def _or(self):
        terms = [self._and()]
        while self._peek() == "or":
            self._take("or")
            terms.append(self._and())
        return terms[0] if len(terms) == 1 else lambda event: any(term(event) for term in terms)

    def _and(self):
        terms = [self._unary()]
        while self._peek() == "and":
            self._take("and")
            terms.append(self._unary())
        return terms[0] if len(terms) == 1 else lambda event: all(term(event) for term in terms)

    def _unary(self):
        if self._peek() == "lparen":
            self._take("lparen")
            inner = self._or()
            self._take("rparen")
            return inner
        path = _path(self._take("selector"))
        if self._peek() == "keyword":
            keyword = " ".join(self._take("keyword").split())
            return lambda event: _keyword(keyword, _lookup(event, path))
        op = self._take("op")
        kind = self._peek()
        if kind not in ("string", "number", "bare"):
            raise UnsupportedPatternError(f"unsupported value after {op}: {self.tokens[self.index :][:1]}")
        raw = self._take(kind)
        if kind == "number":
            number = float(raw)
            return lambda event: _compare_number(op, _lookup(event, path), number)
        if op not in ("=", "!="):
            raise UnsupportedPatternError(f"{op} needs a number, not {raw!r}")
        text = json.loads(raw) if kind == "string" else raw
        return lambda event: _compare_string(op, _lookup(event, path), text)


def _path(selector: str) -> list[str | int]:
    return [
        int(part[1:-1]) if part.startswith("[") else part[1:] for part in re.findall(r"\.[^.\[]+|\[\d+\]", selector)
    ]


def _lookup(event: Any, path: list[str | int]) -> Any:
    value = event
    for part in path:
        if isinstance(part, int):
            if not isinstance(value, list) or part >= len(value):
                return _MISSING
            value = value[part]
        else:
            if not isinstance(value, dict) or part not in value:
                return _MISSING
            value = value[part]
    return value


def _keyword(keyword: str, value: Any) -> bool:
    if keyword == "NOT EXISTS":
        return value is _MISSING
    if keyword == "IS NULL":
        return value is None
    return value is (keyword == "IS TRUE")


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _compare_number(op: str, value: Any, number: float) -> bool:
    if not _is_number(value):
        return False
    return {
        "=": value == number,
        "!=": value != number,
        "<": value < number,
        "<=": value <= number,
        ">": value > number,
        ">=": value >= number,
    }[op]


def _compare_string(op: str, value: Any, text: str) -> bool:
    if not isinstance(value, str):
        return False
    # `*` is the only wildcard; fnmatch's [] and ? are escaped.
    glob = "".join("*" if char == "*" else re.sub(r"([\[\]?])", r"[\1]", char) for char in text)
    equal = fnmatch.fnmatchcase(value, glob)
    return equal if op == "=" else not equal
