"""A campaign's progress, and when a watch is over."""

from __future__ import annotations

from typing import Any

import pytest

from herald_cli.progress import FINAL_VERDICTS, Verdict, progress_of, verdict


def campaign(status: str, *, contacts: int = 10, run: int = 1) -> dict[str, Any]:
    return {"id": "cmp_1", "name": "Sale", "status": status, "contactCount": contacts, "run": run}


def stats(total: int, pending: int, sent: int, failed: int, delivered: int = 0) -> dict[str, Any]:
    rate = f"{100 * sent / total:.2f}" if total else "0.00"
    return {
        "total": total,
        "pending": pending,
        "sent": sent,
        "delivered": delivered,
        "failed": failed,
        "successRate": rate,
    }


def test_before_the_dispatcher_made_the_messages_the_contacts_are_expected() -> None:
    progress = progress_of(campaign("running"), stats(0, 0, 0, 0))
    assert (progress.expected, progress.ended, progress.fraction) == (10, 0, 0.0)
    assert not progress.all_ended
    assert verdict(progress) is Verdict.SENDING


def test_ended_counts_sent_failed_and_cancelled_messages() -> None:
    progress = progress_of(campaign("running"), stats(10, 2, 6, 1, delivered=4))
    assert progress.cancelled == 1
    assert progress.ended == 8
    assert progress.fraction == pytest.approx(0.8)
    assert progress.as_json()["cancelled"] == 1


def test_every_message_ended_while_running_waits_for_the_sweep() -> None:
    progress = progress_of(campaign("running"), stats(10, 0, 9, 1))
    assert progress.all_ended
    assert verdict(progress) is Verdict.ALL_ENDED
    assert Verdict.ALL_ENDED not in FINAL_VERDICTS


def test_a_recurring_campaign_expects_its_contacts_once_per_run() -> None:
    second_run = progress_of(campaign("running", run=2), stats(12, 2, 10, 0))
    assert second_run.expected == 20
    assert verdict(second_run) is Verdict.SENDING
    between_runs = progress_of(campaign("scheduled", run=2), stats(20, 0, 20, 0))
    assert verdict(between_runs) is Verdict.RUN_OVER


@pytest.mark.parametrize(
    ("status", "run", "counts", "expected"),
    [
        ("draft", 0, (0, 0, 0, 0), Verdict.NOT_SENT),
        ("scheduled", 0, (0, 0, 0, 0), Verdict.WAITING),
        ("paused", 1, (10, 4, 6, 0), Verdict.PAUSED),
        ("completed", 1, (10, 0, 10, 0), Verdict.COMPLETED),
        ("cancelled", 1, (10, 0, 3, 0), Verdict.CANCELLED),
    ],
)
def test_the_campaigns_status_decides_first(
    status: str, run: int, counts: tuple[int, int, int, int], expected: Verdict
) -> None:
    assert verdict(progress_of(campaign(status, run=run), stats(*counts))) is expected


def test_a_campaign_without_contacts_has_ended_once_sent() -> None:
    progress = progress_of(campaign("running", contacts=0), stats(0, 0, 0, 0))
    assert progress.fraction == 1.0
    assert verdict(progress) is Verdict.ALL_ENDED
