"""Herald's alert rules (deploy/prometheus/alerts.yml): they parse with Prometheus's own parser,
their unit tests (alerts.test.yml) pass under ``promtool test rules`` and cover every alert
firing, and each tells the person it wakes how bad it is, what happened, and where the runbook
is. The same rules run against real services in test_real_prometheus.py."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.dashboards.promql import metric_names
from tests.promtool import check_rules, run_rule_tests

ROOT = Path(__file__).resolve().parents[2]
ALERTS = ROOT / "deploy" / "prometheus" / "alerts.yml"
ALERT_TESTS = ROOT / "deploy" / "prometheus" / "alerts.test.yml"
OPERATIONS = ROOT / "docs" / "operations.md"

REQUIRED = {
    "a session not WORKING": "herald_session_status",
    "a circuit open too long": "herald_circuit_state",
    "a dead-letter rate": "herald_dead_letters_total",
    "consumer lag growing": "herald_consumer_lag_records",
    "the scheduler without a leader": "herald_scheduler_leader",
    "the sweep failing": "herald_schedule_firings_total",
}
"""What an operator must be woken for, and the metric that shows it."""


def rules() -> list[dict[str, Any]]:
    groups = yaml.safe_load(ALERTS.read_text())["groups"]
    return [rule for group in groups for rule in group["rules"]]


def alert_ids(rule: dict[str, Any]) -> str:
    return str(rule["alert"])


def headings(markdown: str) -> set[str]:
    """GitHub's anchors of a document's headings (lower case, spaces to dashes, no punctuation)."""
    anchors = set()
    for line in markdown.splitlines():
        if line.startswith("#"):
            title = line.lstrip("#").strip().lower()
            anchors.add(re.sub(r"[^\w\- ]", "", title).replace(" ", "-"))
    return anchors


def test_the_rules_parse_with_prometheus_own_parser() -> None:
    result = check_rules(ALERTS)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(rules())} rules found" in result.stdout, result.stdout


def test_the_rules_unit_tests_pass() -> None:
    result = run_rule_tests(ALERT_TESTS)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout, result.stdout


def test_every_alert_is_tested_firing() -> None:
    cases = yaml.safe_load(ALERT_TESTS.read_text())["tests"]
    fired = {
        case["alertname"]
        for test in cases
        for case in test.get("alert_rule_test", [])
        if case.get("exp_alerts")
    }
    assert fired == {rule["alert"] for rule in rules()}


def test_the_alerts_cover_what_an_operator_must_be_woken_for() -> None:
    watched = {name for rule in rules() for name in metric_names(rule["expr"])}
    assert {topic: name for topic, name in REQUIRED.items() if name not in watched} == {}


@pytest.mark.parametrize("rule", rules(), ids=alert_ids)
def test_the_alert_says_how_bad_what_and_where_the_runbook_is(rule: dict[str, Any]) -> None:
    assert rule["alert"].startswith("Herald"), rule["alert"]
    assert rule["labels"]["severity"] in {"page", "ticket"}
    annotations = rule["annotations"]
    assert annotations["summary"].strip() and annotations["description"].strip()
    document, _, anchor = annotations["runbook"].partition("#")
    assert document == "docs/operations.md", annotations["runbook"]
    assert anchor in headings(OPERATIONS.read_text()), f"no section #{anchor} in {document}"
