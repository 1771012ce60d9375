"""Herald's services and gateway simulators as containers of its image, run as the Kubernetes
manifests run them (their user, a read-only root filesystem with their tmpfs, their memory
limit, no capabilities), on the host's network: the engine of deploy/local/docker.sh makes no
bridge, and with the host's network a container listens where a local process would, so the
stack's addresses (tests/system.py) stay the same.

A :class:`ContainerProcess` stands in for a :class:`ManagedProcess`, so the helpers and tests
written for processes (``wait_ready``, ``stack.processes[…].kill()``) drive containers as they
are: ``kill`` is ``docker kill``, ``stop`` is ``docker stop``, ``start`` restarts the same
container, as the kubelet restarts a pod's container."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from herald_devstack.processes import ManagedProcess, wait_ready
from herald_devstack.stack import StackConfig, services, simulators
from tests.containers.pod_specs import PodSpec, pod_specs
from tests.system import RunningStack

STOPPED_WITHIN_S = 30.0
"""How long ``docker kill`` may take to leave a container stopped."""


def docker_client(docker_host: str) -> Any:
    """A Docker SDK client of the given engine (never the environment's DOCKER_HOST: the
    suite's other fixtures choose their servers by that)."""
    import docker  # type: ignore[import-untyped]  # comes with testcontainers

    return docker.from_env(environment={"DOCKER_HOST": docker_host})


@dataclass(frozen=True, kw_only=True)
class ContainerProcess(ManagedProcess):
    """One Herald command in a container of the image, with a pod's constraints."""

    image: str
    docker_host: str
    pod: PodSpec
    container_name: str
    _started: list[Any] = field(default_factory=list, compare=False, repr=False)
    """The container once created (testcontainers' DockerContainer), created at most once."""

    @property
    def container(self) -> Any:
        """The Docker SDK's container, refreshed; raises before the first start."""
        (created,) = self._started
        wrapped = created.get_wrapped_container()
        wrapped.reload()
        return wrapped

    def state(self) -> dict[str, Any]:
        state: dict[str, Any] = self.container.attrs["State"]
        return state

    def pid(self) -> int | None:
        if not self._started:
            return None
        state = self.state()
        return int(state["Pid"]) if state["Running"] else None

    def start(self) -> bool:
        if not self._started:
            self._started.append(self._create().start())
            return True
        if self.pid() is not None:
            return False
        self.container.start()
        return True

    def _create(self) -> Any:
        from testcontainers.core.config import testcontainers_config
        from testcontainers.core.container import DockerContainer

        # No Ryuk, testcontainers' reaper: its image comes from Docker Hub and it needs a
        # bridge. The fixtures remove their containers, and the engine's stop ends any left.
        testcontainers_config.ryuk_disabled = True
        command = [Path(self.argv[0]).name, *self.argv[1:]]
        container = (
            DockerContainer(
                self.image, docker_client_kw={"environment": {"DOCKER_HOST": self.docker_host}}
            )
            .with_name(self.container_name)
            .with_command(command)
            .with_envs(**self.env)
            .with_kwargs(
                network_mode="host",
                user=self.pod.user,
                read_only=self.pod.read_only_root,
                mem_limit=self.pod.memory_limit_bytes,
                memswap_limit=self.pod.memory_limit_bytes,  # no swap, as on a node
                cap_drop=["ALL"] if self.pod.drops_all_capabilities else [],
                security_opt=["no-new-privileges"] if self.pod.no_new_privileges else [],
                stop_signal="SIGTERM",
            )
        )
        for path, options in self.pod.tmpfs.items():
            container.tmpfs[path] = options
        return container

    def signal(self, signum: int) -> None:
        if self.pid() is not None:
            self.container.kill(signal=signum)

    def stop(self, timeout: float = 30.0) -> bool:
        """``docker stop``: SIGTERM, then SIGKILL after ``timeout`` seconds."""
        if self.pid() is None:
            return False
        self.container.stop(timeout=int(timeout))
        return True

    def kill(self, timeout: float = STOPPED_WITHIN_S) -> None:
        """``docker kill`` (SIGKILL); returns once the container has stopped."""
        if self.pid() is None:
            return
        self.container.kill()
        deadline = time.monotonic() + timeout
        while self.pid() is not None:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{self.container_name} still runs after docker kill")
            time.sleep(0.02)

    def exit_code(self) -> int | None:
        """The exit code of the container's last run; None while it runs."""
        state = self.state()
        return None if state["Running"] else int(state["ExitCode"])

    def log_tail(self, lines: int = 30) -> str:
        if not self._started:
            return ""
        logs: bytes = self.container.logs(tail=lines)
        return logs.decode(errors="replace")

    def remove(self) -> None:
        """Remove the container (SIGKILL if it still runs)."""
        for created in self._started:
            created.stop()
        self._started.clear()


def containers_of(
    config: StackConfig, image: str, docker_host: str, prefix: str
) -> list[ContainerProcess]:
    """The stack's simulators and services (devstack's own wiring: argv, environment,
    readiness URL), each as a container with its Deployment's constraints."""
    specs = pod_specs()
    result = []
    for process in [*simulators(config), *services(config)]:
        result.append(
            ContainerProcess(
                name=process.name,
                argv=process.argv,
                env=process.env,
                run_dir=process.run_dir,
                ready_url=process.ready_url,
                ready_service=process.ready_service,
                image=image,
                docker_host=docker_host,
                pod=specs[process.name],  # devstack names them as the Deployments
                container_name=f"{prefix}-{process.name}-{os.getpid()}",
            )
        )
    return result


@contextmanager
def running_containers(
    config: StackConfig, image: str, docker_host: str, *, prefix: str = "herald-test"
) -> Iterator[RunningStack]:
    """Start the simulators and the five services from the image, wait until each is ready,
    remove the containers afterwards."""
    containers = containers_of(config, image, docker_host, prefix)
    try:
        for container in containers:
            container.start()
        wait_ready(containers, timeout=120)
        yield RunningStack(config, {c.name: c for c in containers})
    finally:
        for container in reversed(containers):
            container.remove()
