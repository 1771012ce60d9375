"""Which URLs a tenant may give for something in the deployment to fetch: hosts resolved with
the machine's real resolver (IP literals in every form it reads, and /etc/hosts' localhost),
every address public unless the operator allows it."""

from __future__ import annotations

import pytest

from herald_infra.outbound.public_addresses import (
    AddressRefused,
    OutboundAllow,
    check_public_url,
)

NOTHING_ALLOWED = OutboundAllow()


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:3100/a.png",
        "http://localhost/a.png",  # /etc/hosts
        "http://2130706433/a.png",  # 127.0.0.1 as a decimal number
        "http://0x7f.1/a.png",  # and in hex, shortened
        "http://10.1.2.3/a.png",
        "http://192.168.0.10/a.png",
        "http://169.254.169.254/latest/meta-data/",  # cloud metadata
        "http://[::1]/a.png",
        "http://0.0.0.0/a.png",
        "http://224.0.0.1/a.png",
    ],
)
async def test_addresses_that_are_not_public_are_refused(url: str) -> None:
    with pytest.raises(AddressRefused, match="not public"):
        await check_public_url(url, NOTHING_ALLOWED)


@pytest.mark.parametrize(
    "url", ["ftp://8.8.8.8/a.png", "file:///etc/passwd", "http:///a.png", "https://"]
)
async def test_only_http_urls_with_a_host(url: str) -> None:
    with pytest.raises(AddressRefused, match="http"):
        await check_public_url(url, NOTHING_ALLOWED)


async def test_a_host_that_does_not_resolve_is_refused() -> None:
    with pytest.raises(AddressRefused, match="does not resolve"):
        await check_public_url("https://no-such-host.invalid/a.png", NOTHING_ALLOWED)


async def test_public_addresses_pass() -> None:
    await check_public_url("https://8.8.8.8/a.png", NOTHING_ALLOWED)
    await check_public_url("http://[2001:4860:4860::8888]/a.png", NOTHING_ALLOWED)


async def test_the_operator_may_allow_networks_and_hosts() -> None:
    allow = OutboundAllow.parse(" 127.0.0.0/8 , media.internal., ")
    await check_public_url("http://127.0.0.1:3100/a.png", allow)
    assert allow.hosts == frozenset({"media.internal"})
    with pytest.raises(AddressRefused):
        await check_public_url("http://10.0.0.1/a.png", allow)
