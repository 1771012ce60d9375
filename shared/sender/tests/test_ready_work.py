"""Which of the records a sender holds more sender pods could take: those whose account is free
now, one per account while pacing is on, all of them with pacing off."""

from __future__ import annotations

import pytest

from herald_sender.ready_work import ReadyRecords, ready_in_lane


@pytest.mark.parametrize(
    ("held", "free_now", "paced", "ready"),
    [
        (0, True, True, 0),  # nothing held
        (500, False, True, 0),  # its account is sending, waiting its turn, or in its gap
        (500, True, True, 1),  # the account's next send; the others each wait a gap after it
        (500, False, False, 0),
        (500, True, False, 500),  # pacing off: nothing holds them back but the sender
    ],
)
def test_a_lane_is_ready_for_what_its_account_could_send_now(
    held: int, free_now: bool, paced: bool, ready: int
) -> None:
    assert ready_in_lane(held, free_now=free_now, paced=paced) == ready


class Accounts:
    def __init__(self, free: set[str]) -> None:
        self.free = free
        self.asked: list[str] = []

    def free_now(self, account_id: str) -> bool:
        self.asked.append(account_id)
        return account_id in self.free


def test_a_lane_s_key_is_its_account_id() -> None:
    accounts = Accounts({"acc_free"})
    ready = ReadyRecords(accounts, paced=True)
    assert ready(b"acc_free", 30) == 1
    assert ready(b"acc_busy", 30) == 0
    assert accounts.asked == ["acc_free", "acc_busy"]
