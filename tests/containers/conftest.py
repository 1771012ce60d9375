"""The container tests' session: the host's network noted, deploy/local/docker.sh's engine
started (skipped, with the reason, only when no engine can be started), herald:<version> built,
and at the end the engine stopped, nothing of it left running, the host's network unchanged.

The stack of these tests (``stack``) is the end-to-end stack of tests/system.py with every
process a container of the image, so the clients of tests/conftest.py (``api``, ``primary``,
``fallback``, ``mongo``) work on it unchanged."""

from __future__ import annotations

import warnings
from collections.abc import Iterator

import pytest

from tests.containers.engine import (
    DockerEngine,
    EngineUnavailable,
    build_image,
    docker_engine,
    mounts_under,
    processes_under,
)
from tests.containers.herald_containers import running_containers
from tests.containers.host_network import HostNetwork
from tests.delivery.conftest import DELIVERY_ENV
from tests.system import RunningStack, stack_config


@pytest.fixture(scope="session")
def engine() -> Iterator[DockerEngine]:
    before = HostNetwork.now()
    try:
        with docker_engine() as started:
            yield started
    except EngineUnavailable as error:
        # A warning is printed by every pytest run; a skip's reason only with -rs.
        warnings.warn(f"container tests skipped: {error}", stacklevel=1)
        pytest.skip(f"no Docker engine could be started: {error}")
    if started.started_here:
        left = processes_under(started.state_dir)
        assert left == [], f"the engine left processes running: {left}"
        mounted = mounts_under(started.state_dir)
        assert mounted == [], f"the engine left mounts behind: {mounted}"
    changes = HostNetwork.now().changes_since(before)
    assert changes == [], "the engine and its containers changed the host's network:\n" + "\n".join(
        changes
    )


@pytest.fixture(scope="session")
def herald_image(engine: DockerEngine) -> str:
    return build_image(engine)


# Package scope: the containers go when these tests are done, so that later tests can join
# the same consumer groups without them taking their partitions.
@pytest.fixture(scope="package")
def stack(
    engine: DockerEngine,
    herald_image: str,
    kafka_bootstrap: str,
    mongodb_url: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[RunningStack]:
    # The delivery tests' settings (short claim leases): the crash test's sweep needs them.
    config = stack_config(
        kafka_bootstrap, mongodb_url, tmp_path_factory.mktemp("herald-containers"), DELIVERY_ENV
    )
    with running_containers(config, herald_image, engine.docker_host) as running:
        yield running
