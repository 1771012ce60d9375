"""The HTTP plumbing both gateway adapters share: one pooled client, failures as GatewayError."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Collection, Mapping
from typing import Any
from urllib.parse import quote

import httpx

from herald_gateways.failures import GATEWAY_MISCONFIGURED, classify_transport_failure
from herald_gateways.interface import GatewayError

MESSAGE_ID_HEADER = "X-Herald-Message-Id"
"""Sent along with every send; real gateways ignore it, the simulator counts sends by it."""

DETAIL_CHARS = 500
"""How much of a failed answer's body an error keeps."""

GATEWAY_CONNECTIONS = 100
"""Requests one gateway's client has in flight at once, each on a kept-alive connection of its
own; more wait their turn in :class:`GatewayHttp`, in order, before they reach httpx's pool."""
GATEWAY_LIMITS = httpx.Limits(
    max_connections=GATEWAY_CONNECTIONS, max_keepalive_connections=GATEWAY_CONNECTIONS
)
"""The connection pool of one gateway's client (a transport given to it should use these).
Every connection is kept alive: httpcore 1.0 closes an idle connection whenever the pool holds
more than ``max_keepalive_connections`` of any kind, so a lower number makes a new TCP
connection (and a closed one) of most requests once that many are in flight."""

ClassifyHttpFailure = Callable[[int, str], GatewayError]


class DestinationRefused(Exception):
    """Raised by a transport given to a gateway client that will not connect to where the
    gateway's URL points (the deployment's outbound policy: herald_infra.outbound). The client
    reports it as ``gateway-misconfigured`` (permanent): the account's URL must change."""


def http_failure(classify: ClassifyHttpFailure, response: httpx.Response) -> GatewayError:
    """The classified error of a non-2xx answer, carrying its status code."""
    error = classify(response.status_code, response.text[:DETAIL_CHARS])
    error.status_code = response.status_code
    return error


def path_segment(name: str) -> str:
    """A session or instance name made safe to put in a URL path."""
    return quote(name, safe="")


def json_or_none(response: httpx.Response) -> Any:
    """The answer's JSON, or None when it has no body or no JSON (WAHA may answer 201 empty)."""
    try:
        return response.json()
    except ValueError:
        return None


class GatewayHttp:
    """A pooled client for one gateway; non-2xx answers go through the gateway's classifier.

    Redirects are never followed (a gateway answers its API's routes itself). A given
    ``transport`` is where every request goes: no proxy from the environment overrides it.

    At most ``GATEWAY_CONNECTIONS`` requests are in flight; the others wait here, not in
    httpx's pool: httpcore 1.0's pool goes over every connection for every queued request each
    time a request comes or goes, so with a sender's thousand account lanes calling one gateway
    its queue alone would cost more CPU than the sends. A request waits here at most as long as
    httpx's pool would have let it (the timeout), then fails as a pool timeout would."""

    def __init__(
        self,
        base_url: str,
        headers: Mapping[str, str],
        timeout_seconds: float,
        classify: ClassifyHttpFailure,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._classify = classify
        self._timeout_seconds = timeout_seconds
        self._turns = asyncio.Semaphore(GATEWAY_CONNECTIONS)
        self._http = httpx.AsyncClient(
            base_url=base_url,
            headers=dict(headers),
            timeout=timeout_seconds,
            limits=GATEWAY_LIMITS,
            transport=transport,
            follow_redirects=False,
            trust_env=transport is None,
        )

    async def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        expect: Collection[int] = (),
    ) -> httpx.Response:
        """The 2xx answer, or one with a status in ``expect`` (the caller reads it); raises
        GatewayError for a transport failure or any other status."""
        try:
            await self._take_turn()
            try:
                response = await self._http.request(
                    method, path, json=json, params=params, headers=headers
                )
            finally:
                self._turns.release()
        except httpx.TransportError as error:
            raise classify_transport_failure(error) from error
        except DestinationRefused as refused:
            raise GatewayError(
                GATEWAY_MISCONFIGURED,
                f"the gateway's address is refused: {refused}; change the account's baseUrl "
                "(or an operator allows the network: HERALD_OUTBOUND_ALLOW)",
                retryable=False,
            ) from refused
        if not 200 <= response.status_code < 300 and response.status_code not in expect:
            raise http_failure(self._classify, response)
        return response

    async def _take_turn(self) -> None:
        """Wait for one of the ``GATEWAY_CONNECTIONS`` turns, at most the timeout (raises
        httpx's ``PoolTimeout``, as its pool would)."""
        try:
            async with asyncio.timeout(self._timeout_seconds):
                await self._turns.acquire()
        except TimeoutError:
            raise httpx.PoolTimeout(
                f"no connection to the gateway free within {self._timeout_seconds:g} s"
            ) from None

    async def close(self) -> None:
        await self._http.aclose()
