"""The whole system as processes, its gateway simulators behaving as WAHA Core does: only the
session ``default``, no API key check, webhooks unsigned; WhatsApp does not know some numbers.

Package scope, like every stack of processes: it stops before the next package's stack starts.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

import pytest

from tests.system import RunningStack, running_stack, stack_config

NOT_ON_WHATSAPP = ("+14155550901", "+14155550902")
RECEIPT_DELAY_MS = 50


@pytest.fixture(scope="package")
def core_stack(
    kafka_bootstrap: str, mongodb_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningStack]:
    config = stack_config(
        kafka_bootstrap,
        mongodb_url,
        tmp_path_factory.mktemp("herald-core-stack"),
        {"HERALD_SESSION_POLL_SECONDS": "1"},
    )
    missing = ",".join(phone.lstrip("+") for phone in NOT_ON_WHATSAPP)
    config = replace(
        config,
        simulator_args=("--waha-tier", "CORE", "--not-on-whatsapp", missing),
        receipt_delay_ms=RECEIPT_DELAY_MS,
        read_receipt_delay_ms=RECEIPT_DELAY_MS,
    )
    with running_stack(config) as running:
        yield running
