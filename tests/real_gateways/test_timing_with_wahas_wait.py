"""Herald's timing holds with the real gateways' delay: WAHA answers a session that is not
WORKING only after 5 s, so the gateway timeout must outlast that with room to spare, and a
claim's lease must outlast a call that takes the whole timeout."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

from herald_gateways.waha import MIN_TIMEOUT_SECONDS, NOT_WORKING_WAIT_SECONDS
from herald_infra.runtime.settings import HeraldSettings
from herald_sender.claim_and_send import RENEWAL_MARGIN_SECONDS, lease_may_run_out

TOP = Path(__file__).resolve().parents[2]


def test_the_default_timeout_outlasts_wahas_wait_and_the_lease_outlasts_the_timeout() -> None:
    settings = HeraldSettings()
    assert MIN_TIMEOUT_SECONDS >= 2 * NOT_WORKING_WAIT_SECONDS
    assert settings.gateway_timeout_seconds >= MIN_TIMEOUT_SECONDS
    assert settings.claim_lease_seconds > settings.gateway_timeout_seconds + RENEWAL_MARGIN_SECONDS
    now = datetime(2026, 1, 1, tzinfo=UTC)
    fresh_claim = now + timedelta(seconds=settings.claim_lease_seconds)
    # A fresh claim is sent without renewing it, and still has a live lease when WAHA's 422
    # (or any answer within the timeout) comes back.
    assert not lease_may_run_out(fresh_claim, settings.gateway_timeout_seconds, now)


def test_the_deployed_timeout_outlasts_wahas_wait() -> None:
    kustomization = (TOP / "k8s" / "base" / "kustomization.yaml").read_text()
    [deployed] = re.findall(r"HERALD_GATEWAY_TIMEOUT_SECONDS=([0-9.]+)", kustomization)
    assert float(deployed) >= MIN_TIMEOUT_SECONDS
