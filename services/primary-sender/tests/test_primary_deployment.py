"""What sets primary-sender apart from fallback-sender, as an operator checks it: the topic and
consumer group it reads, the sessions it sends through and how its sends are recorded, the port
it listens on, and the AsyncAPI channels that name it. Unit tests: nothing is started (the
looking is in tests/sender_deployments.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from herald_core.accounts.model import SESSION_ENGINE, SessionEngine
from herald_core.attempt_plan import DEFAULT_ATTEMPT_PLAN, AttemptPlan
from herald_primary_sender.main import DEPLOYMENT, main
from tests.sender_deployments import (
    BuiltSender,
    RecordingConsumer,
    ServedSender,
    an_account,
    built_sender,
    send_topic_consumer,
    serving_without_listening,
)

SERVICE = "primary-sender"


@pytest.fixture
async def sender(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[BuiltSender]:
    async with built_sender(DEPLOYMENT, monkeypatch) as built:
        yield built


@pytest.fixture
async def consumer(sender: BuiltSender, monkeypatch: pytest.MonkeyPatch) -> RecordingConsumer:
    return await send_topic_consumer(sender, monkeypatch)


@pytest.fixture
async def served(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[list[ServedSender]]:
    async with serving_without_listening(monkeypatch) as runs:
        yield runs


async def test_it_reads_message_send_primary_in_the_group_herald_primary_sender(
    consumer: RecordingConsumer,
) -> None:
    # What `kafka-consumer-groups --describe --group herald-primary-sender` and KEDA's lag
    # trigger look at.
    assert consumer.topics == ["message.send.primary"]
    assert consumer.config["group_id"] == "herald-primary-sender"
    assert consumer.config["client_id"] == "herald-primary-sender"


def test_it_reads_the_topic_every_message_makes_its_first_attempt_on(sender: BuiltSender) -> None:
    # The dispatcher publishes each new message on the attempt plan's first topic.
    assert sender.profile.topic == AttemptPlan.parse(DEFAULT_ATTEMPT_PLAN).first_topic


def test_it_sends_through_each_accounts_baileys_session_and_records_baileys(
    sender: BuiltSender,
) -> None:
    account = an_account()
    assert account.session_for(sender.profile.route) == account.primary
    assert SESSION_ENGINE[sender.profile.route] is SessionEngine.BAILEYS
    # The message's deliveryMethod, the status events' delivery_method, the metrics' label.
    assert sender.profile.delivery_method == "baileys"


@pytest.mark.parametrize(
    ("configured", "port"), [(None, 9103), ("9200", 9200)], ids=["default", "HERALD_HTTP_PORT"]
)
async def test_it_listens_on_9103_unless_told_otherwise(
    served: list[ServedSender],
    monkeypatch: pytest.MonkeyPatch,
    configured: str | None,
    port: int,
) -> None:
    if configured is None:
        monkeypatch.delenv("HERALD_HTTP_PORT", raising=False)
    else:
        monkeypatch.setenv("HERALD_HTTP_PORT", configured)
    main()
    (run,) = served
    assert run.config.port == port
    health = await run.get("/healthz")
    assert health.json() == {"status": "ok", "service": SERVICE}


def test_its_asyncapi_channels_name_primary_sender_and_its_topic(sender: BuiltSender) -> None:
    document = sender.asyncapi()
    channels, operations = document["channels"], document["operations"]
    assert all(name.startswith(f"{SERVICE}:") for name in channels)
    reads = {channels[n]["address"] for n, op in operations.items() if op["action"] == "receive"}
    assert reads == {"message.send.primary"}
    assert channels[f"{SERVICE}:message.send.primary"]["address"] == "message.send.primary"
    writes = {channels[n]["address"] for n, op in operations.items() if op["action"] == "send"}
    # Under the default plan a failed primary attempt goes to the fallback at once.
    assert "message.send.fallback" in writes
    assert not any(topic.startswith("message.retry.") for topic in writes)
