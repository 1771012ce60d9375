"""Two scheduler processes: one leads; kill it (SIGKILL) and the other fires the next job,
once."""

from __future__ import annotations

import httpx
import pytest

from herald_devstack.processes import wait_ready
from tests.system import RunningStack, no_duplicate_sends, phones, wait_for_statuses

from .conftest import (
    LEASE_SECONDS,
    SCHEDULERS,
    Mongo,
    draft_campaign,
    firings_of,
    in_seconds,
    schedule_send,
    the_leader,
    wait_for_status,
)
from .test_scheduled_sends import utc

pytestmark = pytest.mark.e2e


async def test_when_the_leader_is_killed_the_other_scheduler_fires_the_next_job_once(
    api: httpx.AsyncClient,
    mongo: Mongo,
    stack: RunningStack,
    primary: httpx.AsyncClient,
    fallback: httpx.AsyncClient,
) -> None:
    leader = await the_leader(stack)
    [survivor] = [name for name in SCHEDULERS if name != leader]
    survivor_pid = stack.processes[survivor].pid()
    numbers = phones(3, prefix="+1706")
    campaign_id = await draft_campaign(api, numbers)
    # Due after the lease of the dead leader ran out and the survivor took it (with room for
    # a loaded machine): the survivor must fire it on time.
    send_at = in_seconds(2 * LEASE_SECONDS + 4)
    body = await schedule_send(api, campaign_id, {"sendAt": send_at.isoformat()})

    stack.processes[leader].kill()
    try:
        assert await the_leader(stack, timeout=2 * LEASE_SECONDS + 2) == survivor
        messages = await wait_for_statuses(mongo, stack, campaign_id, 3, {"sent"}, timeout=60)
        [firing] = await firings_of(mongo, stack, body["scheduleId"])
        assert f":{survivor_pid}:" in firing["by"]
        assert 0 <= (utc(firing["firedAt"]) - send_at).total_seconds() < 1, firing
        assert (await wait_for_status(api, campaign_id, "completed"))["run"] == 1
        accepted = await no_duplicate_sends(primary, fallback)
        assert all(accepted[m["_id"]] == 1 for m in messages)
        # Nothing fired twice: one firing per schedule and due time, each run started once.
        database = mongo[stack.config.database]
        slots = [
            (f["scheduleId"], f["scheduledFor"])
            async for f in database["schedule_firings"].find({})
        ]
        assert len(slots) == len(set(slots))
    finally:
        stack.processes[leader].start()
        wait_ready([stack.processes[leader]], timeout=60)
    # The restarted replica stands by; the survivor keeps the lease.
    assert await the_leader(stack) == survivor
