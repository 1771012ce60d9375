"""Delivery receipts, the pure parts: what an acknowledgement means, the never-backwards rule,
gateway ids, and the webhook signatures."""

from __future__ import annotations

import pytest
from pydantic import SecretStr

from herald_campaign.domain.receipts import (
    ReceiptOutcome,
    ReceiptSource,
    evolution_acknowledgement,
    gateway_id_candidates,
    receipt_move,
    waha_acknowledgement,
)
from herald_campaign.entrypoints.rest.webhook_signatures import (
    EVOLUTION_TOKEN,
    WAHA_ALGORITHM,
    WAHA_SIGNATURE,
    WebhookKeys,
    shared_token_valid,
    waha_signature,
    waha_signature_valid,
)
from herald_core.messages.states import MessageStatus as S
from herald_core.messages.states import can_transition

# What an acknowledgement means


@pytest.mark.parametrize(
    ("ack", "name", "status"),
    [
        (-1, "ERROR", None),
        (0, "PENDING", None),
        (1, "SERVER", None),
        (2, "DEVICE", S.DELIVERED),
        (3, "READ", S.READ),
        (4, "PLAYED", S.READ),
    ],
)
def test_waha_ack_levels(ack: int, name: str, status: S | None) -> None:
    by_number = waha_acknowledgement(ack, None)
    assert (by_number.name, by_number.status) == (name, status)
    assert waha_acknowledgement(None, name.lower()) == by_number
    assert waha_acknowledgement(ack, name) == by_number


def test_waha_ack_number_wins_over_its_name() -> None:
    assert waha_acknowledgement(2, "READ").status is S.DELIVERED


def test_an_ack_level_waha_may_add_later_is_no_progress() -> None:
    assert waha_acknowledgement(7, None).status is None
    assert waha_acknowledgement(None, "SOMETHING_NEW").status is None


def test_a_waha_ack_without_level_is_an_error() -> None:
    with pytest.raises(ValueError, match="ack or ackName"):
        waha_acknowledgement(None, None)


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        ("ERROR", None),
        ("PENDING", None),
        ("SERVER_ACK", None),
        ("DELIVERY_ACK", S.DELIVERED),
        ("READ", S.READ),
        ("PLAYED", S.READ),
        ("DELETED", None),
        ("delivery_ack", S.DELIVERED),
        (3, S.DELIVERED),
        (4, S.READ),
        (2, None),
        (99, None),
    ],
)
def test_evolution_statuses(status: str | int, expected: S | None) -> None:
    assert evolution_acknowledgement(status).status is expected


# The never-backwards rule


@pytest.mark.parametrize(
    ("current", "reported", "outcome", "target"),
    [
        (S.SENT, S.DELIVERED, ReceiptOutcome.APPLIED, S.DELIVERED),
        (S.SENT, S.READ, ReceiptOutcome.APPLIED, S.READ),
        (S.DELIVERED, S.READ, ReceiptOutcome.APPLIED, S.READ),
        (S.DELIVERED, S.DELIVERED, ReceiptOutcome.DUPLICATE, None),
        (S.READ, S.READ, ReceiptOutcome.DUPLICATE, None),
        (S.READ, S.DELIVERED, ReceiptOutcome.STALE, None),
    ],
)
def test_receipts_move_forward_only(
    current: S, reported: S, outcome: ReceiptOutcome, target: S | None
) -> None:
    move = receipt_move(current, reported)
    assert (move.outcome, move.target) == (outcome, target)


@pytest.mark.parametrize("current", [s for s in S if s not in (S.SENT, S.DELIVERED, S.READ)])
def test_a_message_that_is_not_sent_is_not_moved(current: S) -> None:
    for reported in (S.DELIVERED, S.READ):
        assert receipt_move(current, reported).outcome is ReceiptOutcome.NOT_SENT


def test_every_move_a_receipt_makes_is_one_the_state_machine_allows() -> None:
    for current in S:
        for reported in (S.DELIVERED, S.READ):
            target = receipt_move(current, reported).target
            assert target is None or can_transition(current, target)


def test_a_receipt_reports_delivered_or_read() -> None:
    with pytest.raises(ValueError):
        receipt_move(S.SENT, S.FAILED)


# Gateway ids


def test_a_waha_serialized_id_is_looked_up_whole_and_bare() -> None:
    serialized = "true_919876543210@c.us_3EB0ABCDEF0123456789ABCD"
    assert gateway_id_candidates(serialized) == (serialized, "3EB0ABCDEF0123456789ABCD")


def test_a_group_message_id_keeps_its_message_part() -> None:
    group = "false_120363@g.us_3EB0AA_919876543210@c.us"
    assert gateway_id_candidates(group) == (group, "3EB0AA")


@pytest.mark.parametrize("bare", ["3EB0ABCDEF0123456789ABCD", "BAE5F2EF5C69001E", "x_y"])
def test_a_bare_id_is_looked_up_as_it_is(bare: str) -> None:
    assert gateway_id_candidates(bare) == (bare,)


# Signatures


def test_waha_signature_matches_the_example_in_wahas_documentation() -> None:
    # waha.devlike.pro/docs/how-to/webhooks/#hmac-authentication
    body = b'{"event":"message","session":"default","engine":"WEBJS"}'
    assert waha_signature(body, "my-secret-key") == (
        "208f8a55dde9e05519e898b10b89bf0d0b3b0fdf11fdbf09b6b90476301b98d8"
        "097c462b2b17a6ce93b6b47a136cf2e78a33a63f6752c2c1631777076153fa89"
    )


BODY = b'{"event":"message.ack","payload":{"id":"x","ack":2}}'
KEY = "k3y"


def test_a_waha_signature_is_checked_against_the_raw_body() -> None:
    good = waha_signature(BODY, KEY)
    assert waha_signature_valid(BODY, KEY, good, "sha512")
    assert waha_signature_valid(BODY, KEY, good.upper(), "SHA512")
    assert waha_signature_valid(BODY, KEY, good, None)
    assert not waha_signature_valid(BODY + b" ", KEY, good, "sha512")
    assert not waha_signature_valid(BODY, "other", good, "sha512")
    assert not waha_signature_valid(BODY, KEY, good, "sha256")
    assert not waha_signature_valid(BODY, KEY, None, "sha512")
    assert not waha_signature_valid(BODY, KEY, "", "sha512")
    assert not waha_signature_valid(BODY, KEY, "not-hex", "sha512")


@pytest.mark.parametrize("key", [None, ""])
def test_without_a_key_no_waha_signature_is_valid(key: str | None) -> None:
    assert not waha_signature_valid(BODY, key, waha_signature(BODY, ""), "sha512")


def test_a_shared_token_must_be_configured_and_equal() -> None:
    assert shared_token_valid("t0ken", "t0ken")
    assert not shared_token_valid("t0ken", "t0ken2")
    assert not shared_token_valid("t0ken", None)
    assert not shared_token_valid(None, "t0ken")
    assert not shared_token_valid("", "")


def test_webhook_keys_check_each_gateway_its_way() -> None:
    keys = WebhookKeys(waha_hmac_key=SecretStr(KEY), evolution_token=SecretStr("t0ken"))
    signed = {WAHA_SIGNATURE: waha_signature(BODY, KEY), WAHA_ALGORITHM: "sha512"}
    assert keys.authentic(ReceiptSource.WAHA, signed, BODY)
    assert not keys.authentic(ReceiptSource.EVOLUTION, signed, BODY)
    assert keys.authentic(ReceiptSource.EVOLUTION, {EVOLUTION_TOKEN: "t0ken"}, BODY)
    assert not keys.authentic(ReceiptSource.WAHA, {EVOLUTION_TOKEN: "t0ken"}, BODY)


def test_webhook_keys_not_configured_refuse_everything() -> None:
    keys = WebhookKeys(waha_hmac_key=None, evolution_token=SecretStr(""))
    assert not keys.configured(ReceiptSource.WAHA)
    assert not keys.configured(ReceiptSource.EVOLUTION)
    assert not keys.authentic(
        ReceiptSource.WAHA,
        {WAHA_SIGNATURE: waha_signature(BODY, ""), WAHA_ALGORITHM: "sha512"},
        BODY,
    )
    assert not keys.authentic(ReceiptSource.EVOLUTION, {EVOLUTION_TOKEN: ""}, BODY)
