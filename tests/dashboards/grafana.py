"""Herald's Grafana dashboards (deploy/grafana/dashboards) as the tests read them: their panels
and every PromQL expression in them, in panel targets and in template variables."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
DASHBOARDS = ROOT / "deploy" / "grafana" / "dashboards"
DATASOURCE = {"type": "prometheus", "uid": "prometheus"}

Dashboard = dict[str, Any]

RANGE_VARIABLES = ("__rate_interval", "__interval", "__range")
"""Grafana's built-in durations; in PromQL they stand where a duration does."""
_VARIABLE = re.compile(r"\$\{(\w+)(?::\w+)?\}|\$(\w+)")
_LABEL_VALUES = re.compile(r"^label_values\((?P<selector>.+),\s*(?P<label>\w+)\s*\)$", re.DOTALL)
_QUERY_RESULT = re.compile(r"^query_result\((?P<expr>.+)\)$", re.DOTALL)


@dataclass(frozen=True)
class Query:
    """One PromQL expression of a dashboard and where it is."""

    dashboard: str
    where: str
    expr: str
    """As written, with Grafana's variables."""
    promql: str
    """As Prometheus gets it (see :func:`as_promql`)."""


def dashboard_files() -> list[Path]:
    return sorted(DASHBOARDS.glob("*.json"))


def load(path: Path) -> Dashboard:
    board: Dashboard = json.loads(path.read_text())
    return board


def panels(board: Dashboard) -> Iterator[dict[str, Any]]:
    """Every panel, those inside collapsed rows included."""
    for panel in board.get("panels", []):
        yield panel
        yield from panel.get("panels", [])


def variable_expression(query: object) -> str | None:
    """The PromQL of a template variable's query: the series selector of
    ``label_values(selector, label)``, the expression of ``query_result(expr)``; None for
    queries that read no series (``label_names()``, ``label_values(label)``)."""
    text = query.get("query", "") if isinstance(query, dict) else str(query)
    text = text.strip()
    if (match := _LABEL_VALUES.match(text)) is not None:
        return match["selector"].strip()
    if (match := _QUERY_RESULT.match(text)) is not None:
        return match["expr"].strip()
    if text.startswith(("label_names(", "label_values(")):
        return None
    raise ValueError(f"unknown variable query {text!r}")


def queries(
    path: Path, values: Mapping[str, str] | None = None, duration: str = "5m"
) -> list[Query]:
    """Every PromQL expression of a dashboard: its panels' targets and its query variables;
    ``values`` and ``duration`` as :func:`as_promql` takes them."""
    board = load(path)
    variables = variable_names(path)
    found: list[tuple[str, str]] = [
        (f"panel {panel.get('title')!r} target {target.get('refId')}", target["expr"])
        for panel in panels(board)
        for target in panel.get("targets", [])
        if target.get("expr")
    ]
    for variable in board.get("templating", {}).get("list", []):
        if variable.get("type") == "query":
            expr = variable_expression(variable.get("query", ""))
            if expr is not None:
                found.append((f"variable {variable['name']!r}", expr))
    return [
        Query(path.name, where, expr, as_promql(expr, variables, values, duration))
        for where, expr in found
    ]


def as_promql(
    expr: str,
    variables: set[str],
    values: Mapping[str, str] | None = None,
    duration: str = "5m",
) -> str:
    """The expression as Prometheus would get it: built-in durations as ``duration``, the
    dashboard's own variables as their value in ``values``, else ``any`` (they may only stand
    in label-matcher strings, which the check then parses). ValueError for a variable the
    dashboard does not define."""

    def value(match: re.Match[str]) -> str:
        name = match[1] or match[2]
        if name in RANGE_VARIABLES:
            return duration
        if name not in variables:
            raise ValueError(f"${name} is not a variable of the dashboard: {expr!r}")
        return (values or {}).get(name, "any")

    return _VARIABLE.sub(value, expr)


def variable_names(path: Path) -> set[str]:
    return {v["name"] for v in load(path).get("templating", {}).get("list", [])}
