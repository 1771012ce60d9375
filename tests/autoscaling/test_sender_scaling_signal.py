"""What KEDA would do with the senders, from the metric a real sender process exports while it
works: ``herald_sender_ready_messages`` (send records whose account could send now and that wait
only for the process), replayed through the ScaledObject's own trigger and bounds (read from
the prod overlay) with KEDA's arithmetic (tests/autoscaling/keda_arithmetic.py).

One primary-sender process, one gateway simulator, real Kafka and MongoDB:

- a paced campaign, 20,000 messages over 10 accounts at the ``balanced`` profile (gaps scaled
  down to 250-500 ms): the sender holds hundreds of records, and nearly all wait for their
  account's turn. Ready work asks for one or two pods, where the lag trigger the senders had
  (500 records per replica) asks for dozens that would all wait;
- an unpaced backlog, 3,000 messages over 100 accounts with pacing off: everything the sender
  holds waits only for the sender, and ready work asks for many pods.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
import uuid
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from prometheus_client.parser import text_string_to_metric_families
from pymongo import AsyncMongoClient

from herald_bench.pacing_setup import (
    account_documents,
    campaign_document,
    load_run,
    publish_send_events,
    queued_messages,
    send_topic_partitions,
    session_name,
    skip_sender_to_end,
)
from herald_core.contracts.topics import PRIMARY_SENDER_GROUP
from herald_devstack.processes import ManagedProcess, wait_ready
from herald_devstack.stack import (
    SERVICES,
    UNPACED_QUIET_ENV,
    StackConfig,
    StackPorts,
    lone_simulator,
    services,
)
from herald_devstack.waiting import eventually
from herald_infra.kafka.topics import ensure_topics
from herald_infra.mongo.client import Document, ensure_indexes
from herald_infra.runtime.settings import HeraldSettings
from tests.autoscaling.keda_arithmetic import (
    KafkaTrigger,
    PrometheusTrigger,
    ReplicaBounds,
    replay_kafka,
    replay_prometheus,
)
from tests.test_kubernetes_manifests import of_kind, rendered

pytestmark = pytest.mark.e2e

SIMULATOR_KEY = "herald-simulator-key"
PACE_SCALE = 0.05
"""The ``balanced`` profile's 5-10 s gaps become 250-500 ms."""
LAG_TRIGGER = {"lagThreshold": "500", "activationLagThreshold": "10"}
"""The kafka trigger the senders scaled on before: a replica per 500 records of lag."""
SAMPLING_SECONDS = 15.0
SAMPLE_EVERY = 0.25
"""A scrape every quarter second (Prometheus scrapes every 15 s; this sees more of the run)."""
MOST_ACCOUNTS = 100


@dataclasses.dataclass(frozen=True)
class Sample:
    at: float
    ready: float
    held: float
    """``herald_sender_in_flight``: the records the sender holds unfinished."""
    lag: int
    sent: int


@dataclasses.dataclass(frozen=True)
class Workload:
    accounts: int
    per_account: int
    pace_scale: float

    @property
    def messages(self) -> int:
        return self.accounts * self.per_account


def primary_sender_scaling() -> tuple[PrometheusTrigger, ReplicaBounds]:
    """The prod overlay's trigger and bounds of the primary sender's ScaledObject."""
    spec = of_kind(rendered("prod"), "ScaledObject")["primary-sender"]["spec"]
    (trigger,) = [t for t in spec["triggers"] if t["type"] == "prometheus"]
    return PrometheusTrigger.from_metadata(trigger["metadata"]), ReplicaBounds.from_scaled_object(
        spec
    )


@pytest.fixture(scope="module")
def simulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    sessions = ",".join(["default", *(session_name(i) for i in range(MOST_ACCOUNTS))])
    run_dir = tmp_path_factory.mktemp("scaling-simulator")
    with lone_simulator(run_dir, SIMULATOR_KEY, "--engine", "NOWEB", "--sessions", sessions) as url:
        yield url


def sender_process(
    kafka: str, mongodb: str, gateway: str, run_dir: Path, database: str, pace_scale: float
) -> tuple[ManagedProcess, str]:
    """A primary-sender process as ``make up`` runs it, and its ``/metrics`` URL."""
    ports = StackPorts.free(SERVICES)
    config = StackConfig(
        kafka_bootstrap=kafka,
        mongodb_url=mongodb,
        run_dir=run_dir,
        api_token=f"scaling-{uuid.uuid4().hex}",
        database=database,
        gateway_api_key=SIMULATOR_KEY,
        service_ports=ports.services,
        metrics_ports=ports.metrics,
        primary_gateway_port=urlsplit(gateway).port or 0,
        fallback_gateway_port=urlsplit(gateway).port or 0,
        service_env={**UNPACED_QUIET_ENV, "HERALD_PACE_SCALE": f"{pace_scale:g}"},
    )
    sender = next(p for p in services(config) if p.name == "primary-sender")
    return sender, config.metrics_url("primary-sender")


async def scrape(client: httpx.AsyncClient, url: str) -> tuple[float, float]:
    """The sender's ready messages and held records, from its ``/metrics``."""
    response = await client.get(url)
    response.raise_for_status()
    found: dict[str, float] = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            if sample.name == "herald_sender_ready_messages" and sample.labels == {
                "route": "primary"
            }:
                found["ready"] = sample.value
            elif sample.name == "herald_sender_in_flight":
                found["held"] = sample.value
    return found["ready"], found["held"]


@asynccontextmanager
async def lag_reader(kafka: str) -> AsyncIterator[tuple[AIOKafkaConsumer, AIOKafkaAdminClient]]:
    consumer = AIOKafkaConsumer(bootstrap_servers=kafka)
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka)
    await consumer.start()
    await admin.start()
    try:
        yield consumer, admin
    finally:
        await admin.close()
        await consumer.stop()


async def group_lag(
    consumer: AIOKafkaConsumer, admin: AIOKafkaAdminClient, partitions: list[TopicPartition]
) -> int:
    """The primary sender group's lag on its send topic, as KEDA's kafka scaler sums it."""
    ends = await consumer.end_offsets(partitions)
    committed = await admin.list_consumer_group_offsets(PRIMARY_SENDER_GROUP)
    return sum(max(0, ends[p] - (committed[p].offset if p in committed else 0)) for p in partitions)


async def accepted_sends(gateway: httpx.AsyncClient) -> int:
    response = await gateway.get("/_sim/sends", params={"byMessage": "false"})
    response.raise_for_status()
    return int(response.json()["accepted"])


def campaign_at(profile: str, campaign_id: str, total: int, now: datetime) -> Document:
    """The run's campaign, at ``profile``'s gaps (no custom range)."""
    campaign = campaign_document(campaign_id, total, now)
    campaign.pop("customDelay", None)
    campaign["delayType"] = profile
    return campaign


async def run_and_sample(
    kafka: str,
    mongodb: str,
    gateway_url: str,
    run_dir: Path,
    workload: Workload,
) -> list[Sample]:
    """Load the workload, start a sender on it and scrape it while it works, for
    ``SAMPLING_SECONDS`` from its first send. Stops the sender and leaves its consumer group
    at the end of the topic (nothing of this run for later tests)."""
    database = f"herald_scaling_{uuid.uuid4().hex[:8]}"
    sender, metrics_url = sender_process(
        kafka, mongodb, gateway_url, run_dir, database, workload.pace_scale
    )
    mongo: AsyncMongoClient[Document] = AsyncMongoClient(mongodb, tz_aware=True)
    db = mongo[database]
    headers = {"X-Api-Key": SIMULATOR_KEY}
    async with (
        httpx.AsyncClient(base_url=gateway_url, headers=headers, timeout=30) as gateway,
        httpx.AsyncClient(timeout=30) as scraper,
        lag_reader(kafka) as (consumer, admin),
    ):
        try:
            now = datetime.now(UTC)
            await ensure_indexes(db)
            accounts = account_documents(workload.accounts, gateway_url, SIMULATOR_KEY, now)
            profile = "balanced"
            campaign = campaign_at(profile, f"cmp_scaling_{database}", workload.messages, now)
            messages = queued_messages(campaign, workload.accounts, workload.per_account, now)
            await load_run(db, accounts, campaign, messages)
            await ensure_topics(HeraldSettings(kafka_bootstrap_servers=kafka))
            await skip_sender_to_end(kafka)
            partitions = await send_topic_partitions(kafka)
            await gateway.delete("/_sim/sends")

            sender.start()
            await asyncio.to_thread(wait_ready, [sender], 120)
            await publish_send_events(kafka, messages)
            await eventually(
                lambda: accepted_sends(gateway),
                lambda sent: sent > 0,
                timeout=60,
                what="the sender's first send",
            )
            samples: list[Sample] = []
            started = time.monotonic()
            while time.monotonic() < started + SAMPLING_SECONDS:
                ready, held = await scrape(scraper, metrics_url)
                lag = await group_lag(consumer, admin, partitions)
                sent = await accepted_sends(gateway)
                samples.append(Sample(time.monotonic() - started, ready, held, lag, sent))
                await asyncio.sleep(SAMPLE_EVERY)
            return samples
        finally:
            await asyncio.to_thread(sender.stop)
            await skip_sender_to_end(kafka)
            await mongo.drop_database(database)
            await mongo.close()


def summary(name: str, samples: Sequence[Sample], replicas: Sequence[int]) -> str:
    return (
        f"{name}: {len(samples)} samples over {samples[-1].at:.1f} s; sent "
        f"{samples[0].sent}->{samples[-1].sent}; held max {max(s.held for s in samples):.0f}; "
        f"ready max {max(s.ready for s in samples):.0f} mean "
        f"{sum(s.ready for s in samples) / len(samples):.1f}; lag max "
        f"{max(s.lag for s in samples)}; replicas on ready work max {max(replicas)}"
    )


async def test_a_paced_campaign_asks_for_one_or_two_pods_where_lag_asked_for_dozens(
    kafka_bootstrap: str, mongodb_url: str, simulator: str, tmp_path: Path
) -> None:
    workload = Workload(accounts=10, per_account=2_000, pace_scale=PACE_SCALE)
    samples = await run_and_sample(kafka_bootstrap, mongodb_url, simulator, tmp_path, workload)
    trigger, bounds = primary_sender_scaling()
    on_ready = replay_prometheus([(s.at, s.ready) for s in samples], trigger, bounds)
    partitions = len(await send_topic_partitions(kafka_bootstrap))
    lag_trigger = KafkaTrigger.from_metadata(LAG_TRIGGER, partitions=partitions)
    on_lag = replay_kafka([(s.at, s.lag) for s in samples], lag_trigger, bounds)
    print(summary("paced", samples, on_ready), f"; replicas on lag max {max(on_lag)}")

    # It was working all along: sending, holding far more than its accounts.
    assert samples[-1].sent > samples[0].sent
    assert max(s.held for s in samples) > 10 * workload.accounts
    # At most one ready message per account: the others wait for their account's gap.
    assert max(s.ready for s in samples) <= workload.accounts
    assert min(s.lag for s in samples) > 100 * workload.accounts
    assert max(on_ready) <= 2, on_ready
    # The lag trigger would have asked for dozens of pods that all wait.
    assert min(on_lag) >= 30, on_lag


async def test_an_unpaced_backlog_asks_for_many_pods(
    kafka_bootstrap: str, mongodb_url: str, simulator: str, tmp_path: Path
) -> None:
    workload = Workload(accounts=MOST_ACCOUNTS, per_account=30, pace_scale=0)
    samples = await run_and_sample(kafka_bootstrap, mongodb_url, simulator, tmp_path, workload)
    trigger, bounds = primary_sender_scaling()
    on_ready = replay_prometheus([(s.at, s.ready) for s in samples], trigger, bounds)
    print(summary("unpaced", samples, on_ready))

    assert samples[-1].sent > samples[0].sent  # working the backlog off
    # Most of the backlog waits only for the sender: more pods would take it.
    assert max(s.ready / s.lag for s in samples if s.lag) >= 0.5
    assert max(on_ready) >= 10, on_ready
