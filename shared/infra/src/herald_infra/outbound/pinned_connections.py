"""HTTP connections to addresses tenants gave (gateway base URLs, notification endpoints), each
checked when it is opened and pinned to the address that was checked.

httpcore opens every connection through a network backend (``connect_tcp(host, port)``); this
one resolves the host itself, refuses it unless every address is public or allowed
(:func:`~herald_infra.outbound.public_addresses.checked_addresses`), and connects to one of
those very addresses: a name that resolves elsewhere a moment later (DNS rebinding) changes
nothing. The request itself is untouched: its ``Host`` header, and for https the TLS server
name and the certificate check, stay the URL's host (httpcore starts TLS with it).

Redirects are not followed, and no proxy from the environment is used (it would connect to
wherever it likes). A refusal raises :class:`AddressRefused` out of the request.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Iterable, Mapping

import httpcore
import httpx

from herald_infra.outbound.public_addresses import (
    AddressRefused,
    OutboundAllow,
    Resolver,
    checked_addresses,
    resolve,
)

DEFAULT_LIMITS = httpx.Limits(max_connections=100, max_keepalive_connections=20)


class PinnedNetworkBackend(httpcore.AsyncNetworkBackend):
    """Opens TCP connections only to checked addresses (see the module); ``resolver`` finds a
    host's addresses (tests give their own)."""

    def __init__(
        self,
        allow: OutboundAllow,
        *,
        resolver: Resolver = resolve,
        backend: httpcore.AsyncNetworkBackend | None = None,
    ) -> None:
        self._allow = allow
        self._resolver = resolver
        self._backend = backend or httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        try:
            async with asyncio.timeout(timeout):
                addresses = await checked_addresses(host, port, self._allow, self._resolver)
        except TimeoutError:
            raise httpcore.ConnectTimeout(f"resolving {host!r} took too long") from None
        failure: httpcore.ConnectError | httpcore.ConnectTimeout | None = None
        for address in addresses:  # all checked; the first that answers
            try:
                return await self._backend.connect_tcp(
                    str(address),
                    port,
                    timeout=timeout,
                    local_address=local_address,
                    socket_options=socket_options,
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as error:
                failure = error
        assert failure is not None  # checked_addresses returns at least one address
        raise failure

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise AddressRefused("only TCP connections to checked addresses are made")

    async def sleep(self, seconds: float) -> None:
        await self._backend.sleep(seconds)


class PinnedTransport(httpx.AsyncHTTPTransport):
    """httpx's own transport (its pool, TLS and error mapping) on a :class:`PinnedNetworkBackend`
    and without proxies from the environment."""

    def __init__(
        self,
        allow: OutboundAllow,
        *,
        resolver: Resolver = resolve,
        limits: httpx.Limits = DEFAULT_LIMITS,
        backend: httpcore.AsyncNetworkBackend | None = None,
        verify: ssl.SSLContext | bool = True,
    ) -> None:
        """``verify``: how https servers' certificates are checked (httpx's meaning: True,
        the system's CAs), always against the URL's host."""
        super().__init__(trust_env=False, limits=limits)
        # httpx builds its pool on httpcore's default backend and has no parameter for another
        # one: the same pool, on the pinned backend.
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=httpx.create_ssl_context(verify=verify, trust_env=False),
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=PinnedNetworkBackend(allow, resolver=resolver, backend=backend),
        )


def pinned_client(
    allow: OutboundAllow,
    *,
    timeout_seconds: float,
    headers: Mapping[str, str] | None = None,
    resolver: Resolver = resolve,
) -> httpx.AsyncClient:
    """A client for URLs tenants gave: every connection checked and pinned, no redirect
    followed, no proxy from the environment."""
    return httpx.AsyncClient(
        transport=PinnedTransport(allow, resolver=resolver),
        timeout=timeout_seconds,
        headers=dict(headers or {}),
        follow_redirects=False,
        trust_env=False,
    )
