"""The metric names a PromQL expression reads, found by a tokenizer that knows PromQL's lexical
rules: strings, numbers and durations, label matchers, range and subquery brackets, function
calls, aggregation operators with their ``by``/``without`` clauses, vector-matching clauses
(``on``, ``ignoring``, ``group_left``, ``group_right``) and keywords. Whatever identifier is left
is a metric name. Syntax itself is checked by Prometheus's own parser (``promtool check
rules``); this only has to find the names in expressions that parse."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

AGGREGATIONS = frozenset(
    {
        "sum",
        "min",
        "max",
        "avg",
        "group",
        "stddev",
        "stdvar",
        "count",
        "count_values",
        "bottomk",
        "topk",
        "quantile",
        "limitk",
        "limit_ratio",
    }
)
LABEL_LISTS = frozenset({"by", "without", "on", "ignoring", "group_left", "group_right"})
"""Keywords whose parenthesised list holds label names, not expressions."""
KEYWORDS = frozenset(
    {"bool", "offset", "and", "or", "unless", "atan2", "inf", "nan", "start", "end"}
    | LABEL_LISTS
    | AGGREGATIONS
)

_TOKEN = re.compile(
    r"""
    (?P<space>\s+|\#[^\n]*)
  | (?P<string>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`)
  | (?P<number>0[xX][0-9a-fA-F]+|(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?[a-zA-Z0-9_]*)
  | (?P<name>[a-zA-Z_:][a-zA-Z0-9_:]*)
  | (?P<operator>=~|!~|!=|==|<=|>=|[-+*/%^<>=@,(){}\[\]:])
    """,
    re.VERBOSE,
)


@dataclass(frozen=True)
class Token:
    kind: str
    text: str


def tokens(expr: str) -> list[Token]:
    """The expression's tokens, comments and whitespace dropped; ValueError on a character
    PromQL has no token for."""
    found: list[Token] = []
    position = 0
    while position < len(expr):
        match = _TOKEN.match(expr, position)
        if match is None:
            raise ValueError(f"unexpected {expr[position]!r} at {position} in {expr!r}")
        kind = match.lastgroup or ""
        if kind != "space":
            found.append(Token(kind, match.group()))
        position = match.end()
    return found


def _unquote(text: str) -> str:
    body = text[1:-1]
    return body if text.startswith("`") else bytes(body, "utf-8").decode("unicode_escape")


def _closing(items: list[Token], start: int, opening: str, closing: str) -> int:
    """The index of the token closing the bracket at ``start``."""
    depth = 0
    for index in range(start, len(items)):
        if items[index].text == opening:
            depth += 1
        elif items[index].text == closing:
            depth -= 1
            if depth == 0:
                return index
    raise ValueError(f"unbalanced {opening!r} in {' '.join(t.text for t in items)!r}")


def _names_in_matchers(matchers: list[Token]) -> Iterator[str]:
    """A metric named by ``{__name__="…"}``; a regular expression on the name is refused, as
    its names cannot be checked one by one."""
    for index, token in enumerate(matchers):
        if token.kind == "name" and token.text == "__name__":
            operator, value = matchers[index + 1], matchers[index + 2]
            if operator.text != "=":
                raise ValueError(f"__name__{operator.text} selects names by pattern")
            yield _unquote(value.text)


def metric_names(expr: str) -> set[str]:
    """Every metric name ``expr`` selects series of (histogram series keep their ``_bucket``,
    ``_sum`` or ``_count`` suffix)."""
    items = tokens(expr)
    names: set[str] = set()
    index = 0
    while index < len(items):
        token = items[index]
        following = items[index + 1].text if index + 1 < len(items) else ""
        if token.text == "{":
            end = _closing(items, index, "{", "}")
            names.update(_names_in_matchers(items[index + 1 : end]))
            index = end + 1
            continue
        if token.text == "[":  # a range or subquery: durations only
            index = _closing(items, index, "[", "]") + 1
            continue
        if token.kind == "name":
            lowered = token.text.lower()
            if lowered in LABEL_LISTS and following == "(":
                index = _closing(items, index + 1, "(", ")") + 1
                continue
            if lowered not in KEYWORDS and following != "(":
                names.add(token.text)
            # a function's name, or a keyword: what follows is read on its own
        index += 1
    return names
