"""The fan-out watermark: what it covers, how it moves, when a fan-out counts as stalled."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from herald_infra.campaigns.fan_out_watermark import Watermark, stalled_fan_out, watermark_of

NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
AGO = NOW - timedelta(minutes=10)


def test_a_watermark_covers_the_contacts_up_to_its_own() -> None:
    mark = Watermark(1, "c:+1415000005")
    assert mark.covers("c:+1415000001")
    assert mark.covers("c:+1415000005")
    assert not mark.covers("c:+1415000006")
    assert not Watermark(1).covers("c:+1415000001")


def test_a_watermark_never_moves_back() -> None:
    mark = Watermark(1, "c:5", AGO)
    assert mark.advanced("c:3", NOW) == Watermark(1, "c:5", NOW)
    assert mark.advanced("c:7", NOW) == Watermark(1, "c:7", NOW)
    assert Watermark(2).advanced("c:1", NOW).through == "c:1"


def test_the_stored_watermark_counts_for_its_run_only() -> None:
    campaign = {"fanOut": {"run": 2, "through": "c:9", "at": AGO}}
    assert watermark_of(campaign, 2) == Watermark(2, "c:9", AGO)
    assert watermark_of(campaign, 3) == Watermark(3)
    assert watermark_of({}, 1) == Watermark(1)


def test_a_fan_out_is_stalled_when_unfinished_and_quiet_since_the_limit() -> None:
    stored = {"run": 2, "through": "c:9", "at": AGO}
    quiet_since = NOW - timedelta(minutes=1)
    assert stalled_fan_out({"fanOut": stored, "dispatchedRun": 1}, quiet_since) == Watermark(
        2, "c:9", AGO
    )
    assert stalled_fan_out({"fanOut": stored}, quiet_since) is not None
    # Finished, still moving, or never started: not stalled.
    assert stalled_fan_out({"fanOut": stored, "dispatchedRun": 2}, quiet_since) is None
    moving = {**stored, "at": NOW}
    assert stalled_fan_out({"fanOut": moving, "dispatchedRun": 1}, quiet_since) is None
    assert stalled_fan_out({"dispatchedRun": 1}, quiet_since) is None
