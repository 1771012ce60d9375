"""A real Prometheus for the tests: Debian's server (deploy/local/prometheus.sh) scraping a
running stack with the configuration derived from deploy/prometheus/prometheus.yml, and a small
client of its HTTP API."""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import yaml

from herald_devstack import prometheus
from tests.infra import local_prometheus
from tests.system import RunningStack

ROOT = Path(__file__).resolve().parents[2]
DEPLOYED = ROOT / "deploy" / "prometheus" / "prometheus.yml"
ALERTS = ROOT / "deploy" / "prometheus" / "alerts.yml"

Sample = dict[str, Any]
"""One series of an instant query: ``{"metric": {labels}, "value": [time, "text"]}``."""


class QueryError(AssertionError):
    pass


def without_for(rules: Path, into: Path) -> Path:
    """A copy of a rule file whose alerts fire as soon as their expression holds (no ``for``):
    a test cannot wait the minutes an operator's alert waits. The expressions are unchanged."""
    document = yaml.safe_load(rules.read_text())
    for group in document["groups"]:
        for rule in group["rules"]:
            rule.pop("for", None)
    into.write_text(yaml.safe_dump(document, sort_keys=False))
    return into


def value(sample: Sample) -> float:
    return float(sample["value"][1])


def has_a_number(samples: list[Sample]) -> bool:
    """True when at least one series has a finite value (a histogram quantile of no
    observations is NaN: Grafana draws nothing)."""
    return any(math.isfinite(value(s)) for s in samples)


@dataclass
class PrometheusApi:
    url: str
    client: httpx.AsyncClient

    async def query(self, expr: str) -> list[Sample]:
        """An instant query now; QueryError when Prometheus refuses it."""
        response = await self.client.get(f"{self.url}/api/v1/query", params={"query": expr})
        body = response.json()
        if response.status_code != 200 or body.get("status") != "success":
            raise QueryError(f"{expr!r}: {response.status_code} {body}")
        data = body["data"]
        if data["resultType"] == "scalar":
            return [{"metric": {}, "value": data["result"]}]
        result: list[Sample] = data["result"]
        return result

    async def firing(self) -> list[dict[str, str]]:
        """The labels of every alert firing now."""
        response = await self.client.get(f"{self.url}/api/v1/alerts")
        assert response.status_code == 200, response.text
        return [a["labels"] for a in response.json()["data"]["alerts"] if a["state"] == "firing"]

    async def rules(self) -> list[dict[str, Any]]:
        """Every loaded rule with its health and last error."""
        response = await self.client.get(f"{self.url}/api/v1/rules")
        assert response.status_code == 200, response.text
        return [rule for group in response.json()["data"]["groups"] for rule in group["rules"]]


@contextmanager
def prometheus_for(stack: RunningStack, work: Path, *, interval: str = "1s") -> Iterator[str]:
    """Prometheus scraping ``stack`` every ``interval`` with Herald's alert rules (without their
    ``for``, see :func:`without_for`); yields its URL, stops it and removes its data after."""
    work.mkdir(parents=True, exist_ok=True)
    rules = without_for(ALERTS, work / "alerts.yml")
    config = prometheus.local_config(DEPLOYED, stack.config, interval=interval, rule_files=[rules])
    with local_prometheus(prometheus.write(config, work / "prometheus.yml")) as url:
        yield url
