"""What the fuzzer asks of the campaign API's refusals, beyond the OpenAPI document: every 4xx
says why in ``error``, and a 422 names the fields at fault, each one a field that the request
sent or that the document declares."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

FIELD_SEGMENT = re.compile(r"^[^.\[]+")
"""The first name of a field path: ``contacts`` of ``contacts[3].phone``."""


def declared_names(document: Mapping[str, Any]) -> frozenset[str]:
    """Every parameter and property name in an OpenAPI document, at any depth."""
    return frozenset(_names_in(document))


def _names_in(node: Any) -> Iterator[str]:
    if isinstance(node, Mapping):
        properties = node.get("properties")
        if isinstance(properties, Mapping):
            yield from (str(name) for name in properties)
        if isinstance(node.get("name"), str) and isinstance(node.get("in"), str):
            yield node["name"]  # a parameter
        for value in node.values():
            yield from _names_in(value)
    elif isinstance(node, list):
        for value in node:
            yield from _names_in(value)


def sent_names(
    body: Any, query: Mapping[str, Any], path: Mapping[str, Any], headers: Mapping[str, Any]
) -> frozenset[str]:
    """The names a request carried: its parameters, headers, and every key of its body."""
    return frozenset([*query, *path, *headers, *_keys_in(body)])


def _keys_in(node: Any) -> Iterator[str]:
    if isinstance(node, Mapping):
        for key, value in node.items():
            yield str(key)
            yield from _keys_in(value)
    elif isinstance(node, list):
        for value in node:
            yield from _keys_in(value)


def refusal_problems(status: int, body: Any, known: frozenset[str]) -> list[str]:
    """What is wrong with a 4xx answer's body (nothing: an empty list). ``known`` are the names
    a 422 may blame: those the request sent and those the document declares."""
    if not isinstance(body, Mapping):
        return [f"a {status} answer is not a JSON object: {body!r}"]
    error = body.get("error")
    if not isinstance(error, str) or not error.strip():
        return [f"a {status} answer says nothing in `error`: {body!r}"]
    if status != 422:
        return []
    fields = body.get("fields")
    if not isinstance(fields, list) or not fields:
        return [f"a 422 answer names no field: {body!r}"]
    lowered = {name.lower() for name in known} | {"body"}
    problems = []
    for entry in fields:
        name = entry.get("field") if isinstance(entry, Mapping) else None
        message = entry.get("message") if isinstance(entry, Mapping) else None
        first = FIELD_SEGMENT.match(name) if isinstance(name, str) else None
        if first is None or not isinstance(message, str) or not message:
            problems.append(f"a 422 field entry without a field and a message: {entry!r}")
        elif first.group(0).lower() not in lowered:
            problems.append(f"a 422 blames {name!r}, a field neither sent nor declared")
    return problems
