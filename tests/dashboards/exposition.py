"""What a ``/metrics`` answer exports: its metric families (from the ``# TYPE`` lines), the
series names each family's samples have, and which families have samples yet (a labelled
metric shows only its ``# HELP``/``# TYPE`` lines until something sets one of its series)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

SERIES_SUFFIXES: dict[str, tuple[str, ...]] = {
    "histogram": ("_bucket", "_sum", "_count"),
    "summary": ("", "_sum", "_count"),
    "counter": ("",),  # the text format's TYPE line names a counter with its _total
    "gauge": ("",),
    "untyped": ("",),
}


@dataclass
class Family:
    name: str
    type: str
    services: set[str] = field(default_factory=set)
    """The services that export it."""
    sampled_by: set[str] = field(default_factory=set)
    """The services whose scrape had at least one sample of it."""

    @property
    def series_names(self) -> set[str]:
        return {self.name + suffix for suffix in SERIES_SUFFIXES[self.type]}


def _sample_name(line: str) -> str:
    end = len(line)
    for stop in ("{", " "):
        found = line.find(stop)
        if found != -1:
            end = min(end, found)
    return line[:end]


def families(scrapes: Mapping[str, str]) -> dict[str, Family]:
    """Every family in the scrapes (service -> its ``/metrics`` text), by family name."""
    found: dict[str, Family] = {}
    for service, text in scrapes.items():
        by_series: dict[str, Family] = {}
        for line in text.splitlines():
            if line.startswith("# TYPE "):
                _, _, name, kind = line.split(" ", 3)
                family = found.setdefault(name, Family(name, kind.strip()))
                assert family.type == kind.strip(), f"{name} is a {family.type} and a {kind}"
                family.services.add(service)
                by_series.update(dict.fromkeys(family.series_names, family))
            elif line and not line.startswith("#"):
                sampled = by_series.get(_sample_name(line))
                if sampled is not None:
                    sampled.sampled_by.add(service)
    return found


def family_of(series: str, exported: Iterable[Family]) -> Family | None:
    """The family whose samples are named ``series`` (``x_bucket`` belongs to histogram ``x``)."""
    for family in exported:
        if series in family.series_names:
            return family
    return None
