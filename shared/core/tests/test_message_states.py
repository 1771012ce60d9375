import pytest

from herald_core.messages.states import (
    ALLOWED_TRANSITIONS,
    TERMINAL_STATUSES,
    IllegalTransition,
    MessageStatus,
    can_transition,
    check_transition,
    counter_field,
)

S = MessageStatus


@pytest.mark.parametrize(
    ("source", "target"),
    [
        (S.PENDING, S.QUEUED),
        (S.QUEUED, S.SENDING),
        (S.PENDING, S.SENDING),
        (S.SENDING, S.SENT),
        (S.SENDING, S.FAILED),
        (S.SENDING, S.RETRYING),
        (S.SENDING, S.CANCELLED),  # a claim found cancelled before its gateway call
        (S.SENDING, S.EXPIRED),
        (S.RETRYING, S.QUEUED),
        (S.SENT, S.DELIVERED),
        (S.SENT, S.READ),
        (S.DELIVERED, S.READ),
        (S.FAILED, S.QUEUED),
        (S.QUEUED, S.CANCELLED),
        (S.PENDING, S.EXPIRED),
    ],
)
def test_the_lifecycle_moves_forward(source: MessageStatus, target: MessageStatus) -> None:
    assert can_transition(source, target)
    check_transition(source, target)


@pytest.mark.parametrize(
    ("source", "target"),
    [
        (S.SENT, S.SENDING),  # never sent twice
        (S.SENT, S.QUEUED),
        (S.DELIVERED, S.SENT),  # receipts never move backwards
        (S.READ, S.DELIVERED),
        (S.PENDING, S.SENT),  # a send needs a claim first
        (S.QUEUED, S.SENT),
        (S.CANCELLED, S.QUEUED),
        (S.EXPIRED, S.SENDING),
        (S.FAILED, S.SENT),
        (S.QUEUED, S.QUEUED),
    ],
)
def test_forbidden_transitions_are_refused(source: MessageStatus, target: MessageStatus) -> None:
    assert not can_transition(source, target)
    with pytest.raises(IllegalTransition, match=f"from {source} to {target}"):
        check_transition(source, target)


def test_every_status_has_a_rule_and_terminals_only_move_by_receipt_or_redrive() -> None:
    assert set(ALLOWED_TRANSITIONS) == set(MessageStatus)
    for status in TERMINAL_STATUSES:
        assert ALLOWED_TRANSITIONS[status] <= {S.DELIVERED, S.READ, S.QUEUED}


def test_counter_field_names_the_status() -> None:
    assert counter_field(S.SENT) == "counts.sent"
