"""A Kafka broker and a MongoDB-wire server for the tests.

Each of the two is chosen on its own, in this order:

1. the environment: ``KAFKA_BOOTSTRAP_SERVERS`` / ``MONGODB_URL``, used as given and never
   stopped;
2. a reachable Docker engine: testcontainers runs ``apache/kafka`` (single-node KRaft) and
   ``mongo`` (single-node replica set, like docker-compose and production);
3. otherwise the project's own local servers (``deploy/local/kafka.sh`` — Apache Kafka from
   Maven Central jars on Java 17 — and ``deploy/local/mongo.sh`` — SecantusDB), started on free
   ports in a fresh temporary directory so they never touch ``make up``'s data, and stopped
   (and the directory removed) at the end.

``HERALD_TEST_INFRA=auto|docker|local`` (default ``auto``) skips the Docker probe or insists on
Docker; the environment variables above always win. Images can be changed with
``HERALD_TEST_KAFKA_IMAGE`` / ``HERALD_TEST_MONGO_IMAGE``.

Usage::

    with kafka_bootstrap() as bootstrap, mongodb_url() as url:
        ...

A test that takes Kafka down uses a broker of its own, :func:`restartable_local_kafka`, whose
``stop()`` and ``start()`` keep its ports and data.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import logging
import os
import re
import shutil
import subprocess
import tarfile
import tempfile
import time
from collections.abc import Iterator, Mapping
from io import BytesIO
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from herald_devstack.processes import ManagedProcess, free_ports

if TYPE_CHECKING:
    from testcontainers.core.container import DockerContainer

__all__ = [
    "InfraError",
    "LocalServer",
    "add_acls",
    "docker_available",
    "kafka_bootstrap",
    "local_kafka",
    "local_mongodb",
    "local_prometheus",
    "local_sasl_kafka",
    "mongodb_url",
    "restartable_local_kafka",
    "servers_from_docker",
]

log = logging.getLogger("herald.tests.infra")

REPO_ROOT = Path(__file__).resolve().parent.parent
KAFKA_SCRIPT = REPO_ROOT / "deploy" / "local" / "kafka.sh"
MONGO_SCRIPT = REPO_ROOT / "deploy" / "local" / "mongo.sh"
PROMETHEUS_SCRIPT = REPO_ROOT / "deploy" / "local" / "prometheus.sh"

KAFKA_IMAGE = os.environ.get("HERALD_TEST_KAFKA_IMAGE", "apache/kafka:4.1.1")
MONGO_IMAGE = os.environ.get("HERALD_TEST_MONGO_IMAGE", "mongo:8.0")

# A first `kafka.sh start` may resolve the jars with Maven before it starts the broker.
LOCAL_START_TIMEOUT_S = 300.0
LOCAL_STOP_TIMEOUT_S = 60.0
CONTAINER_START_TIMEOUT_S = 180
DOCKER_PING_TIMEOUT_S = 3

Mode = Literal["auto", "docker", "local"]


class InfraError(RuntimeError):
    """A test broker or database could not be provided."""


def _mode() -> Mode:
    value = os.environ.get("HERALD_TEST_INFRA", "auto").strip().lower() or "auto"
    if value == "auto":
        return "auto"
    if value == "docker":
        return "docker"
    if value == "local":
        return "local"
    raise InfraError(f"HERALD_TEST_INFRA must be auto, docker or local, not {value!r}")


def _from_env(name: str) -> str | None:
    value = os.environ.get(name, "").strip()
    return value or None


@functools.cache
def docker_available() -> bool:
    """True when a Docker engine answers a ping within a few seconds (checked once)."""
    try:
        import docker  # type: ignore[import-untyped]  # comes with testcontainers
    except ImportError:
        return False
    try:
        client = docker.from_env(timeout=DOCKER_PING_TIMEOUT_S)
    except Exception:  # no socket, no DOCKER_HOST, bad context: no engine
        return False
    try:
        return bool(client.ping())
    except Exception:
        return False
    finally:
        client.close()


def _use_docker() -> bool:
    mode = _mode()
    if mode == "local":
        return False
    available = docker_available()
    if mode == "docker" and not available:
        raise InfraError("HERALD_TEST_INFRA=docker but no Docker engine answers")
    return available


def servers_from_docker() -> bool:
    """True when this run starts its servers with Docker (testcontainers), not deploy/local/."""
    return _use_docker()


# ---------------------------------------------------------------------------------------------
# Public entry points
# ---------------------------------------------------------------------------------------------


@contextlib.contextmanager
def kafka_bootstrap() -> Iterator[str]:
    """Yield a Kafka bootstrap address (``host:port``) for the duration of the block."""
    given = _from_env("KAFKA_BOOTSTRAP_SERVERS")
    if given is not None:
        log.info("Kafka from KAFKA_BOOTSTRAP_SERVERS: %s", given)
        yield given
    elif _use_docker():
        with _kafka_container() as bootstrap:
            yield bootstrap
    else:
        with local_kafka() as bootstrap:
            yield bootstrap


@contextlib.contextmanager
def mongodb_url() -> Iterator[str]:
    """Yield a MongoDB connection URL for the duration of the block."""
    given = _from_env("MONGODB_URL")
    if given is not None:
        log.info("MongoDB from MONGODB_URL: %s", _redact(given))
        yield given
    elif _use_docker():
        with _mongo_container() as url:
            yield url
    else:
        with local_mongodb() as url:
            yield url


def _redact(url: str) -> str:
    return re.sub(r"//[^@/]*@", "//***@", url)


# ---------------------------------------------------------------------------------------------
# Local servers through deploy/local/*.sh
# ---------------------------------------------------------------------------------------------


def _run_script(
    script: Path, command: str, env: Mapping[str, str], timeout: float
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", str(script), command],
        env={**os.environ, **env},
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def _output_value(output: str, key: str) -> str | None:
    for line in output.splitlines():
        if line.startswith(f"{key}="):
            return line.partition("=")[2].strip()
    return None


def _start_local(
    name: str,
    script: Path,
    result_key: str,
    port_vars: tuple[str, ...],
    env: dict[str, str],
    state_dir: Path,
) -> str:
    """Run SCRIPT start on free ports (retrying if one was taken meanwhile); return its result.

    Updates ENV with the ports used, so that the same ENV stops the same server.
    """
    attempts = 3
    for attempt in range(1, attempts + 1):
        env.update(zip(port_vars, map(str, free_ports(len(port_vars))), strict=True))
        begin = time.monotonic()
        proc = _run_script(script, "start", env, LOCAL_START_TIMEOUT_S)
        value = _output_value(proc.stdout, result_key)
        if proc.returncode == 0 and value:
            log.info(
                "local %s ready in %.1fs: %s (state in %s)",
                name,
                time.monotonic() - begin,
                value,
                state_dir,
            )
            return value
        # Another process may have taken a port between free_port() and the server's bind.
        if "already in use" not in proc.stderr or attempt == attempts:
            raise InfraError(
                f"{script.relative_to(REPO_ROOT)} start failed (exit {proc.returncode}); "
                f"state and logs kept in {state_dir}\n"
                f"--- stdout\n{proc.stdout}--- stderr\n{proc.stderr}"
            )
    raise AssertionError("unreachable")


@dataclasses.dataclass(frozen=True)
class LocalServer:
    """A server started by a deploy/local script; the same environment (state dir, ports)
    addresses it again, so it can be stopped and started on the same ports and data."""

    name: str
    script: Path
    result_key: str
    address: str
    """What the script printed under ``result_key``: a bootstrap address or a URL."""
    env: Mapping[str, str]
    pid_file: Path | None = None
    """Where the script keeps the server's pid, for :meth:`kill`."""

    def stop(self) -> None:
        """Stop the server (SIGTERM, as an operator would), keeping its data."""
        proc = _run_script(self.script, "stop", self.env, LOCAL_STOP_TIMEOUT_S)
        if proc.returncode != 0:
            raise InfraError(f"stopping local {self.name} failed: {proc.stdout}{proc.stderr}")

    def kill(self) -> None:
        """SIGKILL the server, as a crash would (no shutdown, nothing flushed), keeping its
        data; returns once the process is gone."""
        if self.pid_file is None:
            raise InfraError(f"no pid file known for local {self.name}")
        server = ManagedProcess(self.pid_file.stem, (), {}, self.pid_file.parent)
        server.kill(timeout=LOCAL_STOP_TIMEOUT_S)

    def start(self) -> None:
        """Start it again on the same ports and data; returns once it is ready."""
        proc = _run_script(self.script, "start", self.env, LOCAL_START_TIMEOUT_S)
        address = _output_value(proc.stdout, self.result_key)
        if proc.returncode != 0 or address != self.address:
            raise InfraError(
                f"restarting local {self.name} failed (exit {proc.returncode}, "
                f"address {address!r}, expected {self.address!r})\n"
                f"--- stdout\n{proc.stdout}--- stderr\n{proc.stderr}"
            )


@contextlib.contextmanager
def _local_server(
    name: str,
    script: Path,
    result_key: str,
    port_vars: tuple[str, ...],
    extra_env: Mapping[str, str],
    pid_file: str | None = None,
) -> Iterator[LocalServer]:
    """Start SCRIPT on fresh free ports in a new temp dir; stop it and clean up afterwards."""
    state_dir = Path(tempfile.mkdtemp(prefix=f"herald-test-{name}-"))
    env: dict[str, str] = {
        "HERALD_LOCAL_DIR": str(state_dir),
        # Should this process die without running the teardown, the server goes too.
        "HERALD_OWNER_PID": str(os.getpid()),
        **extra_env,
    }
    keep_dir = False
    try:
        try:
            value = _start_local(name, script, result_key, port_vars, env, state_dir)
        except BaseException:
            keep_dir = True
            raise
        pid_path = state_dir / pid_file if pid_file is not None else None
        yield LocalServer(name, script, result_key, value, env, pid_path)
    finally:
        # Also after a failed start: the script stops only the pid recorded in state_dir.
        stop = _run_script(script, "stop", env, LOCAL_STOP_TIMEOUT_S)
        if stop.returncode != 0:
            keep_dir = True
            log.warning("stopping local %s failed: %s%s", name, stop.stdout, stop.stderr)
        if keep_dir:
            log.warning("local %s state and logs kept in %s", name, state_dir)
        else:
            shutil.rmtree(state_dir, ignore_errors=True)


@contextlib.contextmanager
def local_kafka() -> Iterator[str]:
    """Apache Kafka via deploy/local/kafka.sh on free ports in a temp dir; yields bootstrap."""
    with restartable_local_kafka() as server:
        yield server.address


@contextlib.contextmanager
def restartable_local_kafka() -> Iterator[LocalServer]:
    """A Kafka broker of its own (deploy/local/kafka.sh on free ports in a temp dir) that a
    test may stop and start again; ``address`` is its bootstrap address. Always local (Java
    and the jars of deploy/kafka): a Docker run may skip, see :func:`servers_from_docker`."""
    with _local_server(
        "kafka",
        KAFKA_SCRIPT,
        "KAFKA_BOOTSTRAP_SERVERS",
        ("KAFKA_PORT", "KAFKA_CONTROLLER_PORT"),
        # The jars stay in the checkout's .local/kafka (KAFKA_INSTALL_DIR's default), so a
        # test session installs them at most once.
        {
            "KAFKA_HEAP": os.environ.get("HERALD_TEST_KAFKA_HEAP", "-Xmx512m -Xms128m"),
            # One __consumer_offsets partition instead of 50: the first consumer group of a
            # session joins several times faster (testcontainers does the same).
            "KAFKA_EXTRA_PROPERTIES": "offsets.topic.num.partitions=1",
        },
    ) as server:
        yield server


@contextlib.contextmanager
def local_sasl_kafka(admin: str, users: Mapping[str, str]) -> Iterator[LocalServer]:
    """A locked-down Kafka broker of its own (``deploy/local/kafka.sh start --sasl`` on free
    ports in a temp dir): SASL_PLAINTEXT with PLAIN and SCRAM for ``admin`` (``NAME:PASSWORD``,
    the super user) and ``users`` (name to password), and ACLs enforced, so ``users`` may do
    nothing until :func:`add_acls` grants it. Always local, like :func:`restartable_local_kafka`."""
    with _local_server(
        "kafka-sasl",
        KAFKA_SCRIPT,
        "KAFKA_BOOTSTRAP_SERVERS",
        ("KAFKA_PORT", "KAFKA_CONTROLLER_PORT"),
        {
            "KAFKA_SASL": "1",
            "KAFKA_SASL_ADMIN": admin,
            "KAFKA_SASL_USERS": ",".join(f"{name}:{password}" for name, password in users.items()),
            "KAFKA_HEAP": os.environ.get("HERALD_TEST_KAFKA_HEAP", "-Xmx512m -Xms128m"),
            "KAFKA_EXTRA_PROPERTIES": "offsets.topic.num.partitions=1",
        },
    ) as server:
        yield server


def add_acls(server: LocalServer, *arguments: str) -> None:
    """Kafka's kafka-acls ``--add`` with ``arguments`` on a :func:`local_sasl_kafka` broker."""
    proc = subprocess.run(
        ["bash", str(KAFKA_SCRIPT), "acl", "--add", *arguments],
        env={**os.environ, **server.env},
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=LOCAL_START_TIMEOUT_S,
        check=False,
    )
    if proc.returncode != 0:
        raise InfraError(f"kafka.sh acl failed (exit {proc.returncode}): {proc.stderr[-2000:]}")


@contextlib.contextmanager
def local_mongodb() -> Iterator[str]:
    """SecantusDB via deploy/local/mongo.sh on a free port in a temp dir; yields the URL."""
    with restartable_local_mongodb() as server:
        yield server.address


@contextlib.contextmanager
def restartable_local_mongodb() -> Iterator[LocalServer]:
    """A MongoDB-wire server of its own (deploy/local/mongo.sh on a free port in a temp dir)
    that a test may kill and start again on the same data; ``address`` is its URL."""
    with _local_server(
        "mongo",
        MONGO_SCRIPT,
        "MONGODB_URL",
        ("MONGO_PORT",),
        {},
        pid_file="mongo-data/mongo.pid",  # mongo.sh's MONGO_DATA_DIR under HERALD_LOCAL_DIR
    ) as server:
        yield server


@contextlib.contextmanager
def local_prometheus(config: Path) -> Iterator[str]:
    """A Prometheus server of its own (deploy/local/prometheus.sh, Debian's binary, on a free
    port in a temp dir) with the configuration file ``config``; yields its URL. Always local:
    the same binary whether or not Docker runs the other servers."""
    with _local_server(
        "prometheus",
        PROMETHEUS_SCRIPT,
        "PROMETHEUS_URL",
        ("PROMETHEUS_PORT",),
        {"PROMETHEUS_CONFIG": str(config)},
    ) as server:
        yield server.address


# ---------------------------------------------------------------------------------------------
# Docker (testcontainers)
# ---------------------------------------------------------------------------------------------

_KAFKA_CLIENT_PORT = 9092
_KAFKA_START_SCRIPT = "/tmp/herald-kafka-env.sh"


def _put_file(container: DockerContainer, path: str, content: bytes) -> None:
    with BytesIO() as archive:
        with tarfile.TarFile(fileobj=archive, mode="w") as tar:
            info = tarfile.TarInfo(name=path.lstrip("/"))
            info.size = len(content)
            info.mode = 0o644
            info.mtime = int(time.time())
            tar.addfile(info, BytesIO(content))
        archive.seek(0)
        container.get_wrapped_container().put_archive("/", archive.getvalue())


@contextlib.contextmanager
def _kafka_container() -> Iterator[str]:
    """apache/kafka in KRaft combined mode, configured like deploy/local/kafka.sh.

    testcontainers' own KafkaContainer drives Confluent (cp-kafka) images only, so this uses
    a plain DockerContainer. The advertised listener needs the host port Docker maps, known
    only once the container runs: the container waits for a small env file that is copied in
    after start (the approach testcontainers' KafkaContainer takes too).
    """
    from testcontainers.core.container import DockerContainer
    from testcontainers.core.wait_strategies import LogMessageWaitStrategy

    container = (
        DockerContainer(KAFKA_IMAGE)
        .with_exposed_ports(_KAFKA_CLIENT_PORT)
        .with_envs(
            CLUSTER_ID="aGVyYWxkLXRlc3RzLWthZg",
            KAFKA_NODE_ID="1",
            KAFKA_PROCESS_ROLES="broker,controller",
            KAFKA_LISTENERS=(
                f"PLAINTEXT://0.0.0.0:{_KAFKA_CLIENT_PORT},"
                "BROKER://0.0.0.0:19092,CONTROLLER://0.0.0.0:9093"
            ),
            KAFKA_LISTENER_SECURITY_PROTOCOL_MAP=(
                "PLAINTEXT:PLAINTEXT,BROKER:PLAINTEXT,CONTROLLER:PLAINTEXT"
            ),
            KAFKA_INTER_BROKER_LISTENER_NAME="BROKER",
            KAFKA_CONTROLLER_LISTENER_NAMES="CONTROLLER",
            KAFKA_CONTROLLER_QUORUM_VOTERS="1@localhost:9093",
            KAFKA_AUTO_CREATE_TOPICS_ENABLE="false",
            KAFKA_NUM_PARTITIONS="1",
            KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR="1",
            KAFKA_OFFSETS_TOPIC_NUM_PARTITIONS="1",
            KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR="1",
            KAFKA_TRANSACTION_STATE_LOG_MIN_ISR="1",
            KAFKA_SHARE_COORDINATOR_STATE_TOPIC_REPLICATION_FACTOR="1",
            KAFKA_SHARE_COORDINATOR_STATE_TOPIC_MIN_ISR="1",
            KAFKA_GROUP_INITIAL_REBALANCE_DELAY_MS="0",
        )
        .with_command(
            [
                "sh",
                "-c",
                f"while [ ! -f {_KAFKA_START_SCRIPT} ]; do sleep 0.1; done; "
                f". {_KAFKA_START_SCRIPT}; exec /etc/kafka/docker/run",
            ]
        )
    )
    begin = time.monotonic()
    container.start()
    try:
        host = container.get_container_host_ip()
        port = container.get_exposed_port(_KAFKA_CLIENT_PORT)
        bootstrap = f"{host}:{port}"
        _put_file(
            container,
            _KAFKA_START_SCRIPT,
            (
                "export KAFKA_ADVERTISED_LISTENERS="
                f"PLAINTEXT://{bootstrap},BROKER://localhost:19092\n"
            ).encode(),
        )
        LogMessageWaitStrategy("Kafka Server started").with_startup_timeout(
            CONTAINER_START_TIMEOUT_S
        ).wait_until_ready(container)
        log.info("Kafka container ready in %.1fs: %s", time.monotonic() - begin, bootstrap)
        yield bootstrap
    finally:
        container.stop()


@contextlib.contextmanager
def _mongo_container() -> Iterator[str]:
    """mongo as a single-node replica set (transactions and change streams work)."""
    from pymongo import MongoClient
    from pymongo.errors import PyMongoError
    from testcontainers.core.container import DockerContainer
    from testcontainers.core.wait_strategies import LogMessageWaitStrategy

    container = (
        DockerContainer(MONGO_IMAGE)
        .with_exposed_ports(27017)
        .with_command(["--replSet", "rs0", "--bind_ip_all"])
        .waiting_for(
            LogMessageWaitStrategy(
                re.compile("waiting for connections", re.IGNORECASE)
            ).with_startup_timeout(CONTAINER_START_TIMEOUT_S)
        )
    )
    begin = time.monotonic()
    container.start()
    try:
        initiate = container.exec(
            [
                "mongosh",
                "--quiet",
                "--eval",
                "rs.initiate({_id: 'rs0', members: [{_id: 0, host: 'localhost:27017'}]})",
            ]
        )
        if initiate.exit_code != 0:
            raise InfraError(f"rs.initiate failed: {initiate.output!r}")
        host = container.get_container_host_ip()
        port = container.get_exposed_port(27017)
        url = f"mongodb://{host}:{port}/?directConnection=true"
        deadline = time.monotonic() + CONTAINER_START_TIMEOUT_S
        while True:
            client: MongoClient[dict[str, Any]] = MongoClient(url, serverSelectionTimeoutMS=1000)
            try:
                if client.admin.command("hello").get("isWritablePrimary"):
                    break
            except PyMongoError:
                pass
            finally:
                client.close()
            if time.monotonic() > deadline:
                raise InfraError(f"MongoDB container at {url} did not become primary")
            time.sleep(0.2)
        log.info("MongoDB container ready in %.1fs: %s", time.monotonic() - begin, url)
        yield url
    finally:
        container.stop()
