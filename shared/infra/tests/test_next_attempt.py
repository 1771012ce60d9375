"""What follows a failed attempt: retryable failures follow the plan (switching route when the
route is in trouble), permanent ones fail the message, unless the route's gateway cannot send
such a message at all; then another route may, never this one again."""

from __future__ import annotations

from herald_core.attempt_plan import AttemptPlan, Route
from herald_core.contracts.events import SendMessage
from herald_gateways.failures import BODY_REJECTED, NOT_SUPPORTED_BY_GATEWAY, SESSION_NOT_CONNECTED
from herald_gateways.interface import GatewayError
from herald_infra.messages.attempt_outcomes import next_attempt_after

SEED = AttemptPlan.parse("primary, fallback, fallback@60s")


def attempt(step: int) -> SendMessage:
    return SendMessage(
        tenant_id="t",
        campaign_id="c",
        message_id="m",
        account_id="a",
        phone="+919876543210",
        body="hi",
        step=step,
    )


def test_media_the_primary_gateway_cannot_send_goes_to_the_fallback_once() -> None:
    refused = GatewayError(NOT_SUPPORTED_BY_GATEWAY, "Plus only", retryable=False)
    following = next_attempt_after(SEED, attempt(0), refused)
    assert following is not None and (following.step, following.route) == (1, Route.FALLBACK)
    # Refused again on the fallback: no route is left that could, so it fails (not the
    # fallback's back-off step).
    assert next_attempt_after(SEED, attempt(1), refused) is None


def test_other_permanent_failures_fail_at_once_and_retryable_ones_follow_the_plan() -> None:
    rejected = GatewayError(BODY_REJECTED, "bad body", retryable=False)
    assert next_attempt_after(SEED, attempt(0), rejected) is None
    down = GatewayError(SESSION_NOT_CONNECTED, "STOPPED", retryable=True)
    following = next_attempt_after(SEED, attempt(1), down)
    assert following is not None and following.step == 2
