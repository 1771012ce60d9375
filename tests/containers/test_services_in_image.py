"""Herald's image, run as the Kubernetes manifests run it: the five services and the two
gateway simulators as containers (their user, read-only root filesystem and tmpfs, memory
limits), on the local Kafka and MongoDB-wire server. The seed walk-through and the crash test
of the process suites run on them unchanged; ``docker stop`` of a sender mid-campaign loses and
duplicates nothing; every command answers ``--help`` without starting."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest
from pymongo import AsyncMongoClient

from herald_devstack.processes import wait_ready
from herald_devstack.stack import SERVICES
from herald_devstack.waiting import eventually
from tests.containers.engine import DockerEngine
from tests.containers.herald_containers import ContainerProcess, docker_client
from tests.containers.pod_specs import pod_specs
from tests.delivery.test_sender_crash import (
    test_a_sender_killed_mid_campaign_loses_nothing_and_sends_nothing_twice as killed_sender_test,
)
from tests.e2e.test_seed_walkthrough import (
    test_seed_walkthrough_sends_every_message_once as seed_walkthrough_test,
)
from tests.image_contents import image_commands
from tests.system import (
    RunningStack,
    launch_campaign,
    messages_of,
    no_duplicate_sends,
    phones,
    wait_for_statuses,
)

# The first test of a session waits for the engine and, on a fresh machine, a cold build.
pytestmark = [pytest.mark.e2e, pytest.mark.timeout(1800)]

Mongo = AsyncMongoClient[dict[str, Any]]

HELP_WITHIN_S = 20.0
"""``--help`` of a command, container start included, on a loaded 2-core machine."""
STOP_CAMPAIGN_SIZE = 200
GATEWAY_LATENCY_MS = 50


def container(stack: RunningStack, name: str) -> ContainerProcess:
    process = stack.processes[name]
    assert isinstance(process, ContainerProcess), process
    return process


def test_containers_run_as_the_manifests_say(stack: RunningStack) -> None:
    specs = pod_specs()
    for name, process in stack.processes.items():
        spec = specs[name]
        host_config = container(stack, name).container.attrs["HostConfig"]
        assert host_config["NetworkMode"] == "host"
        assert host_config["ReadonlyRootfs"] is spec.read_only_root is True, name
        assert host_config["Memory"] == spec.memory_limit_bytes, name
        assert set(host_config.get("Tmpfs") or {}) == set(spec.tmpfs), name
        # What the process itself finds: its user, a root it cannot write, a /tmp it can.
        writable_tmp = "/tmp" in spec.tmpfs
        probe = container(stack, name).container.exec_run(
            [
                "python",
                "-c",
                "import os, sys, tempfile\n"
                "print(os.getuid(), os.getgid())\n"
                "try:\n    open('/written-by-test', 'w')\nexcept OSError as e:\n"
                "    print('root:', e.strerror)\n"
                "if sys.argv[1] == 'tmp':\n    print('tmp:', bool(tempfile.mkstemp()))",
                "tmp" if writable_tmp else "-",
            ]
        )
        lines = probe.output.decode().splitlines()
        assert probe.exit_code == 0, (name, lines)
        assert lines[0] == spec.user.replace(":", " "), (name, lines)
        assert lines[1] == "root: Read-only file system", (name, lines)
        assert lines[2:] == (["tmp: True"] if writable_tmp else []), (name, lines)
        assert process.is_ready(), name


async def test_the_seed_walkthrough_sends_every_message_once(
    api: httpx.AsyncClient, stack: RunningStack, mongo: Mongo
) -> None:
    await seed_walkthrough_test(api, stack, mongo)


async def test_a_sender_killed_with_docker_kill_loses_nothing_and_sends_nothing_twice(
    api: httpx.AsyncClient,
    stack: RunningStack,
    mongo: Mongo,
    primary: httpx.AsyncClient,
    fallback: httpx.AsyncClient,
) -> None:
    # The process suite's test, its kill a `docker kill` and its restart a `docker start`.
    await killed_sender_test(api, stack, mongo, primary, fallback)


async def test_a_sender_stopped_with_docker_stop_loses_and_duplicates_nothing(
    api: httpx.AsyncClient,
    stack: RunningStack,
    mongo: Mongo,
    primary: httpx.AsyncClient,
    fallback: httpx.AsyncClient,
) -> None:
    sender = container(stack, "primary-sender")
    grace = sender.pod.grace_period_seconds
    # Each send takes a while at the gateway, so that sends are in flight at the stop.
    latency = await primary.put("/_sim/config", json={"latencyMs": GATEWAY_LATENCY_MS})
    assert latency.status_code == 200, latency.text
    campaign_id = await launch_campaign(api, phones(STOP_CAMPAIGN_SIZE, prefix="+1213"))
    await eventually(
        lambda: messages_of(mongo, stack, campaign_id),
        lambda docs: sum(d["status"] == "sent" for d in docs) >= 20,
        timeout=120,
        interval=0.05,
        what="the campaign under way",
    )

    stopped_at = time.monotonic()
    assert sender.stop(timeout=grace)  # docker stop: SIGTERM, SIGKILL after the grace period
    took = time.monotonic() - stopped_at
    # It exited by itself (0), not killed at the end of its grace period (137).
    assert sender.exit_code() == 0, sender.log_tail()
    assert took < grace, f"the sender took {took:.1f}s of its {grace}s grace period"

    # Nothing is left claimed: what it held was sent and recorded, or handed back unsent.
    held = await messages_of(mongo, stack, campaign_id)
    statuses = {m["status"] for m in held}
    assert "sent" in statuses and statuses <= {"sent", "queued", "pending"}, statuses
    sent_before_restart = {m["_id"] for m in held if m["status"] == "sent"}
    assert len(sent_before_restart) < STOP_CAMPAIGN_SIZE, "the stop came after the campaign"
    accepted = await no_duplicate_sends(primary, fallback)
    ours = {m["_id"] for m in held} & set(accepted)
    assert ours == sent_before_restart, "what a gateway accepted is exactly what is sent"

    assert sender.start()
    wait_ready([sender], timeout=60)
    messages = await wait_for_statuses(
        mongo, stack, campaign_id, STOP_CAMPAIGN_SIZE, {"sent"}, timeout=180
    )
    accepted = await no_duplicate_sends(primary, fallback)
    assert all(accepted[m["_id"]] == 1 for m in messages)
    # Handed back, not failed: every message went out on its first attempt, on the primary.
    assert {(m["attempt"], m["deliveryMethod"]) for m in messages} == {(1, "baileys")}


@pytest.mark.parametrize(
    "command", sorted({f"herald-{s}" for s in SERVICES} | {"herald-gateway-simulator"})
)
def test_every_command_prints_its_usage_and_exits(
    engine: DockerEngine, herald_image: str, command: str
) -> None:
    assert command in image_commands()
    client = docker_client(engine.docker_host)
    started = time.monotonic()
    # The pod's constraints: a start would fail on them, a usage must not.
    run = client.containers.run(
        herald_image,
        [command, "--help"],
        network_mode="host",
        read_only=True,
        user="10001:10001",
        detach=True,
    )
    try:
        try:
            exit_code = run.wait(timeout=HELP_WITHIN_S)["StatusCode"]
        except Exception as error:  # the engine's wait timed out: it did not exit
            pytest.fail(f"{command} --help still runs after {HELP_WITHIN_S}s ({error})")
        took = time.monotonic() - started
        text = run.logs().decode()
    finally:
        run.remove(force=True)
        client.close()
    assert exit_code == 0, text
    assert text.startswith(f"usage: {command}"), text
    assert took < HELP_WITHIN_S, f"{command} --help took {took:.1f}s"
