"""Two tenants on one Herald: one careless or hostile, one sending a paced campaign.

The senders keep real anti-ban gaps, scaled down (``fast``: 100-250 ms), so tenant A's send
rate is set by its account's pace; anything tenant B does that stalls a partition, a consumer
or the API shows as a slower rate for A.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.system import RunningStack, running_stack, stack_config

PACE_SCALE = 0.05

ISOLATION_ENV = {
    "HERALD_PACE_SCALE": f"{PACE_SCALE:g}",
    # Tenant B's broken gateway fails fast; its retries come back after a second.
    "HERALD_GATEWAY_TIMEOUT_SECONDS": "2",
    "HERALD_ATTEMPT_PLAN": "primary, fallback, fallback@1s",
}


@pytest.fixture(scope="package")
def stack(
    kafka_bootstrap: str, mongodb_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningStack]:
    config = stack_config(
        kafka_bootstrap, mongodb_url, tmp_path_factory.mktemp("herald-isolation"), ISOLATION_ENV
    )
    with running_stack(config) as running:
        yield running
