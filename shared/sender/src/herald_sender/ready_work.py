"""The work a sender process holds that more sender pods could take: its ready messages.

Consumer lag says how many send records wait, not why. In a paced campaign most of them wait
for their sender account's turn (one send in flight per account, then a gap of seconds), and
no number of pods sends them sooner. What another pod could take is a record that waits only
for this process: its account is free now (no send of it in flight or waiting for its turn,
its gap over) and its send has not started. That is at most one record per account while
pacing is on (the account's next send; those behind it each wait a gap), and every record of
the account with pacing off (nothing holds them back but the process).

The sum over a deployment's pods, ``herald_sender_ready_messages``, is what KEDA scales the
senders on (k8s/, docs/operations.md); the pace lateness (``herald_pace_lateness_seconds``)
shows the same shortage from the other side, as sends that took their slot late.
"""

from __future__ import annotations

from typing import Protocol

from herald_core.attempt_plan import Route
from herald_infra.runtime.metrics import SENDER_READY_MESSAGES
from herald_infra.runtime.service_app import ServiceRuntime
from herald_sender.lane_consumer import LaneConsumer


class AccountsFreeNow(Protocol):
    def free_now(self, account_id: str) -> bool:
        """Whether a send of the account could start now, from memory (no I/O)."""
        ...


def ready_in_lane(held: int, *, free_now: bool, paced: bool) -> int:
    """How many of the ``held`` records of one account's lane could go to the gateway now:
    none while the account is not free, its next one when it is (pacing on: a gap follows
    each send), all of them with pacing off. Pure."""
    if held <= 0 or not free_now:
        return 0
    return 1 if paced else held


class ReadyRecords:
    """The ``ready`` count of a sender's lane consumer: a lane's key is its account id."""

    def __init__(self, accounts: AccountsFreeNow, *, paced: bool) -> None:
        """``accounts`` answers whether an account is free now (the process's account pace);
        ``paced`` is False when the deployment keeps no gaps (``HERALD_PACE_SCALE=0``)."""
        self._accounts = accounts
        self._paced = paced

    def __call__(self, key: bytes, held: int) -> int:
        account_id = key.decode(errors="replace")
        return ready_in_lane(held, free_now=self._accounts.free_now(account_id), paced=self._paced)


def export_ready_messages(runtime: ServiceRuntime, lanes: LaneConsumer, route: Route) -> None:
    """Set ``herald_sender_ready_messages{route}`` from the lanes right before each scrape
    (it changes as gaps end, not only as records come and go), and the lanes' other gauges
    with it (``herald_sender_in_flight`` falls as busy lanes send)."""
    gauge = SENDER_READY_MESSAGES.labels(route=route.value)

    async def refresh() -> None:
        gauge.set(lanes.ready_messages())
        lanes.refresh_gauges()

    runtime.before_scrape.append(refresh)
