"""Connections to tenants' URLs: checked when opened and pinned to the checked address.

Real HTTP (and TLS) servers on loopback; hosts resolved either by a scripted resolver (to
rebind a name between two lookups at will) or by the machine's own resolver (getaddrinfo
reading /etc/hosts, where a fixture adds a name and takes it out again)."""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import ssl
import subprocess
import uuid
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import httpcore
import httpx
import pytest

from herald_gateways.failures import GATEWAY_MISCONFIGURED, fixed_form
from herald_gateways.interface import GatewayError
from herald_infra.outbound.checked_gateways import CheckedGateways
from herald_infra.outbound.pinned_connections import (
    PinnedNetworkBackend,
    PinnedTransport,
    pinned_client,
)
from herald_infra.outbound.public_addresses import AddressRefused, IpAddress, OutboundAllow

LOOPBACK = OutboundAllow.parse("127.0.0.0/8")
PUBLIC = ipaddress.ip_address("93.184.215.14")


@dataclass
class HttpServer:
    """A real HTTP/1.1 server on one address: records each request's head, answers by script."""

    host: str
    port: int = 0
    heads: list[str] = field(default_factory=list)
    answer: bytes = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok"
    server_names: list[str | None] = field(default_factory=list)

    @property
    def origin(self) -> str:
        return f"{self.host}:{self.port}"

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError, asyncio.IncompleteReadError):
            head = await reader.readuntil(b"\r\n\r\n")
            self.heads.append(head.decode("latin-1"))
            writer.write(self.answer)
            await writer.drain()
        writer.close()


@contextlib.asynccontextmanager
async def serving(host: str, tls: ssl.SSLContext | None = None) -> AsyncIterator[HttpServer]:
    server = HttpServer(host)
    if tls is not None:
        tls.sni_callback = lambda _sock, name, _ctx: server.server_names.append(name)
    listening = await asyncio.start_server(server._serve, host, 0, ssl=tls)
    server.port = listening.sockets[0].getsockname()[1]
    try:
        yield server
    finally:
        listening.close()
        await listening.wait_closed()


def host_header(head: str) -> str:
    return next(
        line.split(":", 1)[1].strip()
        for line in head.split("\r\n")
        if line.lower().startswith("host:")
    )


class ScriptedResolver:
    """Answers each lookup with the next of its answers (the last one once they run out)."""

    def __init__(self, *answers: Sequence[str]) -> None:
        self._answers = [[ipaddress.ip_address(a) for a in answer] for answer in answers]
        self.lookups: list[str] = []

    async def __call__(self, host: str, port: int) -> Sequence[IpAddress]:
        self.lookups.append(host)
        return self._answers.pop(0) if len(self._answers) > 1 else self._answers[0]


class RecordingBackend(httpcore.AsyncNetworkBackend):
    """Where connections were asked to go; connects every one to ``actual`` instead (a public
    address cannot be reached from a test)."""

    def __init__(self, actual: str) -> None:
        self._real = httpcore.AnyIOBackend()
        self._actual = actual
        self.hosts: list[str] = []

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: object = None,
    ) -> httpcore.AsyncNetworkStream:
        self.hosts.append(host)
        return await self._real.connect_tcp(self._actual, port, timeout=timeout)

    async def sleep(self, seconds: float) -> None:
        await self._real.sleep(seconds)


# DNS rebinding: the connection goes to the address that was checked


async def test_a_name_rebound_after_its_check_is_still_connected_to_the_checked_address() -> None:
    resolver = ScriptedResolver([str(PUBLIC)], ["127.0.0.1"])
    async with serving("127.0.0.1") as server:
        backend = RecordingBackend(actual="127.0.0.1")
        transport = PinnedTransport(OutboundAllow(), resolver=resolver, backend=backend)
        async with httpx.AsyncClient(transport=transport) as client:
            answer = await client.get(f"http://rebinding.example:{server.port}/x")
            assert answer.status_code == 200
            # One lookup, and the socket went to the address it checked: an IP literal, so
            # nothing resolves the name again between the check and the connection.
            assert resolver.lookups == ["rebinding.example"]
            assert backend.hosts == [str(PUBLIC)]
            assert host_header(server.heads[0]) == f"rebinding.example:{server.port}"

            # The name now resolves to loopback: the next connection is refused, not made.
            with pytest.raises(AddressRefused, match="not public"):
                await client.get(f"http://rebinding.example:{server.port}/y")
            assert backend.hosts == [str(PUBLIC)]
            assert len(server.heads) == 1


async def test_every_address_of_a_name_must_pass() -> None:
    resolver = ScriptedResolver([str(PUBLIC), "10.0.0.1"])
    backend = RecordingBackend(actual="127.0.0.1")
    transport = PinnedTransport(OutboundAllow(), resolver=resolver, backend=backend)
    async with httpx.AsyncClient(transport=transport) as client:
        with pytest.raises(AddressRefused):
            await client.get("http://mixed.example/")
    assert backend.hosts == []


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:9/",
        "http://2130706433:9/",  # 127.0.0.1 as one number
        "http://169.254.169.254/latest/meta-data/",
        "http://10.0.0.1/",
        "http://[::1]:9/",
        "http://[::ffff:127.0.0.1]:9/",
        "http://localhost:9/",  # /etc/hosts
    ],
)
async def test_non_public_addresses_are_refused_with_the_real_resolver(url: str) -> None:
    async with pinned_client(OutboundAllow(), timeout_seconds=5) as client:
        with pytest.raises(AddressRefused, match="not public") as refused:
            await client.get(url)
    if "localhost" in url:  # the reason does not tell what the name resolved to
        assert "127.0.0.1" not in str(refused.value) and "::1" not in str(refused.value)


# The machine's resolver: a name in /etc/hosts


@pytest.fixture
def hosts_entry() -> Iterator[tuple[str, Path]]:
    """A name of this test's own in /etc/hosts (glibc reads the file at every lookup); the
    line is taken out again afterwards."""
    hosts = Path("/etc/hosts")
    name = f"pinned-{uuid.uuid4().hex[:8]}.herald.test"
    original = hosts.read_text()
    try:
        hosts.write_text(f"{original.rstrip()}\n127.0.0.2 {name}\n")
    except OSError as error:
        pytest.skip(f"/etc/hosts cannot be changed here: {error}")
    try:
        yield name, hosts
    finally:
        lines = hosts.read_text().splitlines()
        hosts.write_text("".join(f"{line}\n" for line in lines if not line.endswith(f" {name}")))


async def test_the_real_resolver_is_asked_at_each_connection(
    hosts_entry: tuple[str, Path],
) -> None:
    name, hosts = hosts_entry
    allow = OutboundAllow.parse("127.0.0.2/32")
    async with serving("127.0.0.2") as allowed, serving("127.0.0.1") as other:
        allowed_port = allowed.port
        async with pinned_client(allow, timeout_seconds=5) as client:
            answer = await client.get(f"http://{name}:{allowed_port}/")
        assert answer.status_code == 200
        assert host_header(allowed.heads[0]) == f"{name}:{allowed_port}"

        # Rebound in /etc/hosts to an address not allowed (where another server listens on
        # the same port number when it can): a new connection is refused.
        text = hosts.read_text().replace(f"127.0.0.2 {name}", f"127.0.0.1 {name}")
        hosts.write_text(text)
        async with pinned_client(allow, timeout_seconds=5) as client:
            with pytest.raises(AddressRefused):
                await client.get(f"http://{name}:{other.port}/")
        assert other.heads == []


# https: the checked address, the URL's host as the TLS server name and certificate name


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, str]:
    folder = tmp_path_factory.mktemp("tls")
    name = "gateway.herald.test"
    key, cert = folder / "key.pem", folder / "cert.pem"
    subprocess.run(
        [
            *("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"),
            *("-keyout", str(key), "-out", str(cert), "-subj", f"/CN={name}"),
            *("-addext", f"subjectAltName=DNS:{name}"),
        ],
        check=True,
        capture_output=True,
    )
    return cert, key, name


async def test_https_keeps_the_hosts_name_for_tls_while_connecting_to_the_checked_address(
    certificate: tuple[Path, Path, str],
) -> None:
    cert, key, name = certificate
    server_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_tls.load_cert_chain(cert, key)
    trust = ssl.create_default_context(cafile=str(cert))
    resolver = ScriptedResolver(["127.0.0.1"])
    async with serving("127.0.0.1", tls=server_tls) as server:
        transport = PinnedTransport(LOOPBACK, resolver=resolver, verify=trust)
        async with httpx.AsyncClient(transport=transport) as client:
            answer = await client.get(f"https://{name}:{server.port}/")
    assert answer.status_code == 200
    assert server.server_names == [name]  # SNI: the URL's host, not the address
    assert host_header(server.heads[0]) == f"{name}:{server.port}"
    assert resolver.lookups == [name]


# Redirects and the gateway clients


async def test_a_gateway_client_does_not_follow_a_redirect() -> None:
    async with serving("127.0.0.2") as target, serving("127.0.0.1") as redirecting:
        redirecting.answer = (
            f"HTTP/1.1 302 Found\r\nLocation: http://{target.origin}/api/server/version\r\n"
            "Content-Length: 0\r\nConnection: close\r\n\r\n"
        ).encode()
        gateway = CheckedGateways(LOOPBACK)("waha", f"http://{redirecting.origin}", None, 5)
        try:
            with pytest.raises(GatewayError) as failed:
                await gateway.server_info()
        finally:
            await gateway.close()
    assert failed.value.status_code == 302
    assert len(redirecting.heads) == 1
    assert target.heads == []


async def test_a_gateway_at_a_refused_address_is_misconfigured_and_never_connected() -> None:
    async with serving("127.0.0.1") as server:
        gateway = CheckedGateways(OutboundAllow())("waha", f"http://{server.origin}", None, 5)
        try:
            with pytest.raises(GatewayError) as failed:
                await gateway.session_health("default")
        finally:
            await gateway.close()
    assert failed.value.reason == GATEWAY_MISCONFIGURED
    assert not failed.value.retryable
    assert "not public" in failed.value.detail
    assert server.heads == []


async def test_the_deployments_own_gateway_is_trusted_as_configured() -> None:
    async with serving("127.0.0.1") as server:
        base_url = f"http://{server.origin}"
        gateway = CheckedGateways(OutboundAllow(), trusted_base_urls=(base_url,))(
            "waha", base_url, None, 5
        )
        try:
            await gateway.server_info()
        finally:
            await gateway.close()
    assert len(server.heads) == 1


async def test_what_a_gateway_answered_is_not_in_its_fixed_form() -> None:
    async with serving("127.0.0.1") as server:
        server.answer = (
            b"HTTP/1.1 500 Internal Server Error\r\nContent-Length: 26\r\n"
            b"Connection: close\r\n\r\nroot:x:0:0:internal-secret"
        )
        gateway = CheckedGateways(LOOPBACK)("waha", f"http://{server.origin}", None, 5)
        try:
            with pytest.raises(GatewayError) as failed:
                await gateway.session_health("default")
        finally:
            await gateway.close()
    assert "internal-secret" in failed.value.detail  # kept for classifying and the logs
    assert fixed_form(failed.value) == "gateway-error: the gateway answered 500"


async def test_a_unix_socket_is_never_opened() -> None:
    backend = PinnedNetworkBackend(LOOPBACK)
    with pytest.raises(AddressRefused):
        await backend.connect_unix_socket("/var/run/docker.sock")
