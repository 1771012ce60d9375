"""Kafka as a trust boundary, on a locked-down broker (``deploy/local/kafka.sh start --sasl``:
SASL and ACLs, no access without an ACL) with the ACLs docs/kafka-contract.md gives each
principal:

- a client without rights to ``campaign.commands`` cannot produce there, and a tenant's
  producer cannot produce on ``campaign.system-commands``;
- Herald's own principals work: the real campaign service (SCRAM-SHA-256) creates its topics,
  consumes a tenant's commands (PLAIN) and the scheduler principal's run start (SCRAM-SHA-512,
  through Herald's own broker), and reads consumer lag;
- a system command forged on ``campaign.commands`` is dead-lettered as ``system-only`` and
  changes nothing.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.errors import TopicAuthorizationFailedError
from pydantic import SecretStr

from herald_campaign.adapters.api_keys import register_api_key
from herald_campaign.bootstrap import create_app
from herald_campaign.settings import CampaignSettings
from herald_core.contracts.commands import SYSTEM_ONLY, StartCampaignRun
from herald_core.contracts.topics import (
    CAMPAIGN_COMMANDS,
    CAMPAIGN_GROUP,
    CAMPAIGN_SYSTEM_COMMANDS,
    CAMPAIGN_SYSTEM_GROUP,
    MESSAGE_DLT,
)
from herald_core.messages.dead_letters import ORIGINAL_TOPIC, REASON
from herald_core.schedules import Firing, campaign_schedule_id
from herald_devstack.asgi import running
from herald_devstack.waiting import eventually
from herald_infra.kafka.broker import build_broker
from herald_infra.kafka.connection import client_options
from herald_infra.mongo.client import Database, connect, database
from herald_infra.runtime.settings import HeraldSettings
from tests.infra import LocalServer, add_acls, local_sasl_kafka

pytestmark = pytest.mark.integration

ADMIN = "admin:admin-secret"
ADMIN_PASSWORD = {"admin": "admin-secret"}
PASSWORDS = {
    "herald-campaign": "campaign-secret",
    "herald-scheduler": "scheduler-secret",
    "tenant-app": "tenant-secret",
    "stranger": "stranger-secret",
}
TENANT = "tenant-a"
TOKEN = "kafka-acls-token"


def operations(*names: str) -> list[str]:
    return [argument for name in names for argument in ("--operation", name)]


def acls_of_herald_and_a_tenant(broker: LocalServer) -> None:
    """The ACLs of docs/kafka-contract.md ("A locked-down broker"), as kafka-acls adds them."""
    prefixed = ["--resource-pattern-type", "prefixed"]
    campaign = ["--allow-principal", "User:herald-campaign", *prefixed]
    add_acls(broker, *campaign, "--topic", "campaign.",
             *operations("Read", "Write", "Describe", "Create"))  # fmt: skip
    add_acls(broker, *campaign, "--topic", "message.", "--topic", "contact.",
             *operations("Write", "Describe", "Create"))  # fmt: skip
    add_acls(broker, *campaign, "--group", "herald-campaign", *operations("Read"))
    # Lag of every Herald consumer group, for GET /api/messages/queue-stats.
    add_acls(broker, *campaign, "--group", "herald-", *operations("Describe"))
    add_acls(broker, "--allow-principal", "User:herald-scheduler",
             "--topic", CAMPAIGN_SYSTEM_COMMANDS, *operations("Write", "Describe"))  # fmt: skip
    add_acls(broker, "--allow-principal", "User:tenant-app",
             "--topic", CAMPAIGN_COMMANDS, *operations("Write", "Describe"))  # fmt: skip


def sasl(bootstrap: str, user: str, mechanism: str = "PLAIN") -> dict[str, Any]:
    """Herald's connection settings of ``user``: what its HERALD_KAFKA_* variables say."""
    return {
        "kafka_bootstrap_servers": bootstrap,
        "kafka_security_protocol": "SASL_PLAINTEXT",
        "kafka_sasl_mechanism": mechanism,
        "kafka_sasl_username": user,
        "kafka_sasl_password": SecretStr(
            ADMIN.partition(":")[2] if user == "admin" else PASSWORDS[user]
        ),
    }


@pytest.fixture(scope="module")
def broker() -> Iterator[LocalServer]:
    with local_sasl_kafka(ADMIN, PASSWORDS) as server:
        acls_of_herald_and_a_tenant(server)
        yield server


@dataclass
class Service:
    db: Database
    api: httpx.AsyncClient
    """The REST API, as the tenant."""


@pytest.fixture(scope="module")
async def service(broker: LocalServer, mongodb_url: str) -> AsyncIterator[Service]:
    """The campaign service as principal herald-campaign (SCRAM-SHA-256)."""
    settings = CampaignSettings(
        **sasl(broker.address, "herald-campaign", "SCRAM-SHA-256"),
        mongodb_url=mongodb_url,
        mongodb_database=f"it_kafka_acls_{uuid.uuid4().hex[:8]}",
        api_token=TOKEN,
        default_tenant=TENANT,
    )
    mongo = connect(settings)
    app = create_app(settings)
    try:
        async with (
            running(app),
            httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app),
                base_url="http://campaign",
                headers={"Authorization": f"Bearer {TOKEN}"},
            ) as api,
        ):
            db = database(mongo, settings)
            await register_api_key(db, TOKEN, TENANT, "kafka-acls")
            yield Service(db, api)
    finally:
        await mongo.close()


async def producer_of(bootstrap: str, user: str) -> AIOKafkaProducer:
    producer = AIOKafkaProducer(
        **client_options(HeraldSettings(**sasl(bootstrap, user))), acks="all"
    )
    await producer.start()
    return producer


def command(kind: str, campaign_id: str, **fields: Any) -> bytes:
    body = {"type": kind, "event_id": uuid.uuid4().hex, "tenant_id": TENANT, **fields}
    return json.dumps({**body, "campaign_id": campaign_id}).encode()


async def dead_letters_of(bootstrap: str, key: str, count: int) -> list[Any]:
    """The first ``count`` records of ``message.dlt`` keyed ``key``, read as the super user."""
    consumer = AIOKafkaConsumer(
        **client_options(HeraldSettings(**sasl(bootstrap, "admin"))), enable_auto_commit=False
    )
    await consumer.start()
    try:
        partitions = [TopicPartition(MESSAGE_DLT, p) for p in await partitions_of(consumer)]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        found: list[Any] = []
        deadline = time.monotonic() + 60
        while len(found) < count:
            assert time.monotonic() < deadline, f"{len(found)} of {count} dead letters of {key}"
            batches = await consumer.getmany(timeout_ms=500)
            found += [r for rs in batches.values() for r in rs if r.key == key.encode()]
        return found
    finally:
        await consumer.stop()


async def partitions_of(consumer: AIOKafkaConsumer) -> set[int]:
    partitions = await eventually(
        lambda: _partitions(consumer), bool, what="message.dlt's partitions", timeout=60
    )
    return partitions


async def _partitions(consumer: AIOKafkaConsumer) -> set[int]:
    await consumer._client.force_metadata_update()  # a topic the service just created
    return consumer.partitions_for_topic(MESSAGE_DLT) or set()


async def test_a_client_without_an_acl_on_campaign_commands_cannot_produce_there(
    broker: LocalServer, service: Service
) -> None:
    stranger = await producer_of(broker.address, "stranger")
    try:
        with pytest.raises(TopicAuthorizationFailedError):
            await stranger.send_and_wait(CAMPAIGN_COMMANDS, command("campaign.create", "x"))
    finally:
        await stranger.stop()


async def test_a_tenants_producer_cannot_produce_the_system_commands(
    broker: LocalServer, service: Service
) -> None:
    tenant = await producer_of(broker.address, "tenant-app")
    try:
        run = command("campaign.run", "x", schedule_id="sch_x", scheduled_for="2026-06-01T09:00Z")
        with pytest.raises(TopicAuthorizationFailedError):
            await tenant.send_and_wait(CAMPAIGN_SYSTEM_COMMANDS, run)
    finally:
        await tenant.stop()


async def scheduled_campaign_by_commands(tenant: AIOKafkaProducer, db: Database) -> str:
    """A campaign with a contact and a cron schedule, made with a tenant's commands."""
    campaign_id = f"acl-{uuid.uuid4().hex[:10]}"
    key = campaign_id.encode()
    contacts = {"contacts": [{"phone": "+919876543210"}]}
    for record in (
        command("campaign.create", campaign_id, name="Locked down", message_body="Hi"),
        command("campaign.contacts.add", campaign_id, **contacts),
        command("campaign.send", campaign_id, cron="0 9 * * MON"),
    ):
        await tenant.send_and_wait(CAMPAIGN_COMMANDS, record, key=key)
    await eventually(
        lambda: db["campaigns"].find_one({"_id": campaign_id}),
        lambda found: found is not None and found["status"] == "scheduled",
        what="the tenant's campaign scheduled",
        timeout=60,
    )
    return campaign_id


async def test_herald_principals_run_a_tenants_commands_and_the_schedulers_run_start(
    broker: LocalServer, service: Service
) -> None:
    tenant = await producer_of(broker.address, "tenant-app")
    try:
        campaign_id = await scheduled_campaign_by_commands(tenant, service.db)
    finally:
        await tenant.stop()
    # The scheduler's principal, through the broker every Herald service builds.
    scheduler = build_broker(
        HeraldSettings(**sasl(broker.address, "herald-scheduler", "SCRAM-SHA-512")),
        client_id="herald-scheduler",
    )
    firing = Firing(campaign_schedule_id(campaign_id), datetime(2026, 6, 1, 9, tzinfo=UTC))
    run = StartCampaignRun(
        type="campaign.run",
        event_id=firing.command_event_id,
        tenant_id=TENANT,
        campaign_id=campaign_id,
        schedule_id=firing.schedule_id,
        scheduled_for=firing.scheduled_for,
    )
    async with scheduler:
        await scheduler.start()
        await scheduler.publish(run, topic=CAMPAIGN_SYSTEM_COMMANDS, key=campaign_id.encode())
    started = await eventually(
        lambda: service.db["campaigns"].find_one({"_id": campaign_id}),
        lambda found: found is not None and found.get("run") == 1,
        what="the scheduled run started",
        timeout=60,
    )
    assert started is not None and started["status"] == "running"


async def test_consumer_lag_is_read_on_the_locked_down_broker(service: Service) -> None:
    # The service's own admin client and consumer, as herald-campaign.
    stats = await service.api.get("/api/messages/queue-stats")
    assert stats.status_code == 200, stats.text
    consumers = {(c["topic"], c["group"]) for c in stats.json()["consumers"]}
    assert (CAMPAIGN_COMMANDS, CAMPAIGN_GROUP) in consumers
    assert (CAMPAIGN_SYSTEM_COMMANDS, CAMPAIGN_SYSTEM_GROUP) in consumers


async def test_a_system_command_forged_on_campaign_commands_is_dead_lettered_unapplied(
    broker: LocalServer, service: Service
) -> None:
    tenant = await producer_of(broker.address, "tenant-app")
    try:
        campaign_id = await scheduled_campaign_by_commands(tenant, service.db)
        key = campaign_id.encode()
        firing = Firing(campaign_schedule_id(campaign_id), datetime(2026, 6, 1, 9, tzinfo=UTC))
        forged_run = command(
            "campaign.run",
            campaign_id,
            schedule_id=firing.schedule_id,
            scheduled_for=firing.scheduled_for.isoformat(),
        )
        forged_pause = command("campaign.pause", campaign_id, by="system", reason="forged")
        await tenant.send_and_wait(CAMPAIGN_COMMANDS, forged_run, key=key)
        await tenant.send_and_wait(CAMPAIGN_COMMANDS, forged_pause, key=key)
    finally:
        await tenant.stop()

    letters = await dead_letters_of(broker.address, campaign_id, 2)
    headers = [{k: v.decode() for k, v in letter.headers} for letter in letters]
    assert [h[REASON] for h in headers] == [SYSTEM_ONLY, SYSTEM_ONLY]
    assert {h[ORIGINAL_TOPIC] for h in headers} == {CAMPAIGN_COMMANDS}
    assert [letter.value for letter in letters] == [forged_run, forged_pause]
    stored = await service.db["campaigns"].find_one({"_id": campaign_id})
    assert stored is not None
    assert (stored["status"], stored.get("run")) == ("scheduled", None)
