"""Herald as real processes with real (scaled) anti-ban gaps, for the campaign lifecycle tests.

The pace scale makes the ``fast`` profile's 2-5 s gaps 0.2-0.5 s, so a campaign of twenty
messages on one account takes several seconds: long enough to pause or cancel it in the middle.
The sweep runs every second, so a campaign whose messages all ended is completed at once.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.system import RunningStack, running_stack, stack_config

PACE_SCALE = 0.1
CACHE_SECONDS = 1.0
"""How long a sender trusts a campaign status it read: a pause or cancel reaches it within."""
IN_FLIGHT_SLACK = 0.75
"""A send that passed its last check just before the pause took effect reaches the gateway
this long after it at most (a claim renewal and an HTTP request, on a busy 2-core machine)."""

LIFECYCLE_ENV = {
    "HERALD_PACE_SCALE": f"{PACE_SCALE:g}",
    "HERALD_CAMPAIGN_STATE_CACHE_SECONDS": f"{CACHE_SECONDS:g}",
    "HERALD_SWEEP_CRON": "* * * * * *",
    "HERALD_CIRCUIT_FAILURE_THRESHOLD": "100000",
    "HERALD_GATEWAY_TIMEOUT_SECONDS": "5",
}


@pytest.fixture(scope="package")
def stack(
    kafka_bootstrap: str, mongodb_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningStack]:
    config = stack_config(
        kafka_bootstrap, mongodb_url, tmp_path_factory.mktemp("herald-lifecycle"), LIFECYCLE_ENV
    )
    with running_stack(config) as running:
        yield running
