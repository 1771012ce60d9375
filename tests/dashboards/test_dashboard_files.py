"""Herald's dashboards are valid for Grafana's file provisioning (a uid and title each, panels
with unique ids on the grid, every query on the provisioned Prometheus datasource, uid
``prometheus``), every PromQL expression parses with Prometheus's own parser (promtool), and
together they cover what an operator watches."""

from __future__ import annotations

import itertools
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.dashboards.grafana import (
    DATASOURCE,
    Dashboard,
    dashboard_files,
    load,
    panels,
    queries,
)
from tests.dashboards.promql import metric_names
from tests.promtool import check_rules

FILES = dashboard_files()
UID = re.compile(r"^[a-zA-Z0-9_-]{1,40}$")
GRID_COLUMNS = 24


def ids(path: Path) -> str:
    return path.name


def test_there_are_dashboards() -> None:
    assert len(FILES) >= 4, FILES


def test_uids_and_titles_are_unique_across_dashboards() -> None:
    boards = [load(path) for path in FILES]
    uids = [board["uid"] for board in boards]
    titles = [board["title"] for board in boards]
    assert len(set(uids)) == len(uids), uids
    assert len(set(titles)) == len(titles), titles


@pytest.mark.parametrize("path", FILES, ids=ids)
def test_the_dashboard_is_valid_for_provisioning(path: Path) -> None:
    board = load(path)
    assert UID.match(board["uid"]), board["uid"]
    assert board["title"].startswith("Herald / ")
    # A provisioned dashboard gets its id from Grafana; a fixed one would clash.
    assert board.get("id") is None
    assert isinstance(board["schemaVersion"], int)
    assert "herald" in board["tags"]  # the dashboards link to each other by this tag
    assert board["panels"], "no panels"


@pytest.mark.parametrize("path", FILES, ids=ids)
def test_panels_have_unique_ids_and_sit_on_the_grid_without_overlapping(path: Path) -> None:
    every = list(panels(load(path)))
    panel_ids = [panel["id"] for panel in every]
    assert all(isinstance(i, int) for i in panel_ids), panel_ids
    assert len(set(panel_ids)) == len(panel_ids), panel_ids
    boxes = []
    for panel in every:
        assert panel.get("title"), panel["id"]
        grid = panel["gridPos"]
        x, y, w, h = (grid[k] for k in ("x", "y", "w", "h"))
        assert all(isinstance(v, int) and v >= 0 for v in (x, y)), panel["title"]
        assert w > 0 and h > 0 and x + w <= GRID_COLUMNS, panel["title"]
        boxes.append((panel["title"], x, y, w, h))
    for (a, ax, ay, aw, ah), (b, bx, by, bw, bh) in itertools.combinations(boxes, 2):
        overlap = ax < bx + bw and bx < ax + aw and ay < by + bh and by < ay + ah
        assert not overlap, (a, b)


@pytest.mark.parametrize("path", FILES, ids=ids)
def test_every_query_uses_the_provisioned_prometheus_datasource(path: Path) -> None:
    board: Dashboard = load(path)
    for panel in panels(board):
        if panel["type"] == "row":
            assert not panel.get("targets"), panel["title"]
            continue
        assert panel["datasource"] == DATASOURCE, panel["title"]
        targets: list[dict[str, Any]] = panel["targets"]
        assert targets, f"{panel['title']} has no query"
        ref_ids = [target["refId"] for target in targets]
        assert len(set(ref_ids)) == len(ref_ids), panel["title"]
        for target in targets:
            assert target["datasource"] == DATASOURCE, (panel["title"], target["refId"])
            assert target["expr"].strip(), (panel["title"], target["refId"])
    for variable in board["templating"]["list"]:
        if variable["type"] == "query":
            assert variable["datasource"] == DATASOURCE, variable["name"]


def test_every_expression_parses_with_prometheus_own_parser(tmp_path: Path) -> None:
    # promtool checks a rule file with Prometheus's PromQL parser; one recording rule per
    # expression, named after where it is, so that an error points at the panel.
    rules = []
    where: dict[str, str] = {}
    for path in FILES:
        for number, query in enumerate(queries(path)):
            record = f"dashboard:{path.stem.replace('-', '_')}:{number}"
            where[record] = f"{query.dashboard}: {query.where}"
            rules.append({"record": record, "expr": query.promql})
    rule_file = tmp_path / "dashboards.rules.yml"
    rule_file.write_text(yaml.safe_dump({"groups": [{"name": "dashboards", "rules": rules}]}))
    result = check_rules(rule_file)
    report = result.stdout + result.stderr
    for record, place in where.items():
        report = report.replace(record, place)
    assert result.returncode == 0, report
    assert f"SUCCESS: {len(rules)} rules found" in result.stdout, report


COVERED = {
    "campaign progress by status": "herald_campaign_messages",
    "campaigns by status": "herald_campaigns",
    "throughput by delivery method and outcome": "herald_send_attempts_total",
    "retries by delay topic": "herald_retries_total",
    "delayed attempts relayed": "herald_retries_relayed_total",
    "dead letters by reason": "herald_dead_letters_total",
    "send latency percentiles": "herald_send_latency_seconds_bucket",
    "pacing gap distribution": "herald_pace_gap_seconds_bucket",
    "pacing lateness": "herald_pace_lateness_seconds_bucket",
    "senders' ready work (what KEDA scales them on)": "herald_sender_ready_messages",
    "circuit-breaker state": "herald_circuit_state",
    "consumer lag per group": "herald_consumer_lag_records",
    "scheduler firing lateness": "herald_schedule_firing_lateness_seconds_bucket",
    "per-account session health": "herald_session_status",
}


def test_the_dashboards_cover_what_an_operator_watches() -> None:
    used = {name for path in FILES for q in queries(path) for name in metric_names(q.promql)}
    missing = {topic: name for topic, name in COVERED.items() if name not in used}
    assert missing == {}


@pytest.mark.parametrize("path", FILES, ids=ids)
def test_no_panel_shows_a_campaign_name(path: Path) -> None:
    # Campaign names are not labels (they are the tenants' words, kept by every Prometheus):
    # a panel that groups, joins or titles by one would show nothing, or a stale export.
    for query in queries(path):
        assert not re.search(r"\bname\b", query.expr), f"{query.dashboard}: {query.where}"
    for panel in panels(load(path)):
        for target in panel.get("targets", []):
            assert "{{name}}" not in target.get("legendFormat", ""), panel["title"]
