"""The whole system as real processes: gateway simulators and the five services.

Kafka and the MongoDB-wire server come from the root conftest's fixtures; every run gets its
own database and free ports, so it never touches what `make up` runs.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.system import RunningStack, running_stack, stack_config


# Package scope: the processes stop when the end-to-end tests are done, so that tests after
# them can join the same consumer groups without these processes taking their partitions.
@pytest.fixture(scope="package")
def stack(
    kafka_bootstrap: str, mongodb_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningStack]:
    config = stack_config(
        kafka_bootstrap,
        mongodb_url,
        tmp_path_factory.mktemp("herald-stack"),
        # Sessions are checked every second: test_sender_accounts waits for a check.
        {"HERALD_SEND_TOPIC_PARTITIONS": "48", "HERALD_SESSION_POLL_SECONDS": "1"},
    )
    with running_stack(config) as running:
        yield running
