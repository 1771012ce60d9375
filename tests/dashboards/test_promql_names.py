"""The metric names the dashboard tests find in PromQL expressions, and the families of a
``/metrics`` answer they are looked up in."""

from __future__ import annotations

import pytest

from tests.dashboards.exposition import families, family_of
from tests.dashboards.grafana import as_promql, variable_expression
from tests.dashboards.promql import metric_names, tokens


@pytest.mark.parametrize(
    ("expr", "names"),
    [
        ("herald_scheduler_leader", {"herald_scheduler_leader"}),
        (
            'sum by (engine, outcome) (rate(herald_send_attempts_total{outcome="sent"}[5m]))',
            {"herald_send_attempts_total"},
        ),
        # Aggregation clause after the body, functions, numbers, and a label called like a metric.
        (
            "histogram_quantile(0.99, sum(rate(herald_send_latency_seconds_bucket[5m])) by (le))",
            {"herald_send_latency_seconds_bucket"},
        ),
        # Vector matching: on/group_left label lists, and both sides.
        (
            "a_total / on (tenant, campaign) group_left (name) max by (campaign) (b_info)",
            {"a_total", "b_info"},
        ),
        (
            "a * ignoring(x) group_right b",
            {"a", "b"},
        ),
        # Label values that look like names, strings with braces, and escaped quotes.
        (
            'x{status=~"sent|read", reason="a{b}\\"c", engine!="web-js"} > bool 0',
            {"x"},
        ),
        ("count(y == 0) or vector(0)", {"y"}),
        ("z offset 1h + z2 @ start()", {"z", "z2"}),
        ("max_over_time(rate(k[1m])[10m:30s])", {"k"}),
        ('{__name__="named_by_matcher", job="x"}', {"named_by_matcher"}),
        ("topk(3, c) unless without (x) d", {"c", "d"}),
        ('label_replace(m, "dst", "$1", "src", "(.*)")', {"m"}),
        ("recording:rule:rate5m # a comment with not_a_metric\n", {"recording:rule:rate5m"}),
        ("1e-3 * 0x1F + .5 - Inf + NaN", set()),
        ("SUM BY (le) (h_bucket)", {"h_bucket"}),
    ],
)
def test_metric_names_are_what_the_expression_selects(expr: str, names: set[str]) -> None:
    assert metric_names(expr) == names


def test_a_name_selected_by_pattern_cannot_be_checked() -> None:
    with pytest.raises(ValueError, match="pattern"):
        metric_names('{__name__=~"herald_.*"}')


def test_a_character_promql_has_no_token_for_is_an_error() -> None:
    with pytest.raises(ValueError, match="unexpected"):
        tokens("rate(x[5m]) ; drop")


def test_unbalanced_brackets_are_an_error() -> None:
    with pytest.raises(ValueError, match="unbalanced"):
        metric_names('x{job="a"')


EXPOSITION = """\
# HELP h_seconds A histogram.
# TYPE h_seconds histogram
h_seconds_bucket{le="1.0"} 0.0
h_seconds_bucket{le="+Inf"} 0.0
h_seconds_count 0.0
h_seconds_sum 0.0
# HELP c_total A counter with labels, nothing counted yet.
# TYPE c_total counter
# HELP g A gauge.
# TYPE g gauge
g 3.0
"""


def test_families_know_their_series_and_whether_they_have_samples() -> None:
    found = families({"svc": EXPOSITION, "other": "# HELP g A gauge.\n# TYPE g gauge\n"})
    assert set(found) == {"h_seconds", "c_total", "g"}
    assert found["h_seconds"].series_names == {
        "h_seconds_bucket",
        "h_seconds_sum",
        "h_seconds_count",
    }
    assert found["h_seconds"].sampled_by == {"svc"}
    assert found["c_total"].sampled_by == set()
    assert found["g"].services == {"svc", "other"} and found["g"].sampled_by == {"svc"}
    assert family_of("h_seconds_bucket", found.values()) is found["h_seconds"]
    assert family_of("c_total", found.values()) is found["c_total"]
    assert family_of("h_seconds", found.values()) is None  # a histogram has no plain series
    assert family_of("missing", found.values()) is None


def test_variable_queries_give_their_series_selector() -> None:
    assert variable_expression({"query": 'label_values(m{a=~"$x"}, campaign)'}) == 'm{a=~"$x"}'
    assert variable_expression("query_result(topk(5, m))") == "topk(5, m)"
    assert variable_expression({"query": "label_values(job)"}) is None
    with pytest.raises(ValueError, match="unknown"):
        variable_expression("metrics(herald_.*)")


def test_grafana_variables_become_promql() -> None:
    expr = 'rate(x{tenant=~"$tenant", c="${campaign:regex}"}[$__rate_interval])'
    assert as_promql(expr, {"tenant", "campaign"}) == 'rate(x{tenant=~"any", c="any"}[5m])'
    with pytest.raises(ValueError, match="not a variable"):
        as_promql('x{a="$missing"}', {"tenant"})
