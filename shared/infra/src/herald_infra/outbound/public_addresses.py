"""Whether a URL a tenant gave points outside the deployment: its host resolved, and every
address it resolves to public, unless the operator allows it (``HERALD_OUTBOUND_ALLOW``: a
comma list of CIDRs and host names, e.g. the local simulators' ``127.0.0.1/32``).

Refused: loopback, private, link-local (the cloud metadata address among them), multicast,
reserved and unspecified addresses, and hosts that do not resolve.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class AddressRefused(ValueError):
    """A URL Herald will not let anything in the deployment fetch; the message says why in a
    fixed form (it never echoes what the address answered)."""


@dataclass(frozen=True)
class OutboundAllow:
    networks: tuple[IpNetwork, ...] = ()
    hosts: frozenset[str] = frozenset()

    @classmethod
    def parse(cls, text: str) -> OutboundAllow:
        networks: list[IpNetwork] = []
        hosts: set[str] = set()
        for item in (part.strip() for part in text.split(",")):
            if not item:
                continue
            try:
                networks.append(ipaddress.ip_network(item, strict=False))
            except ValueError:
                hosts.add(item.lower().rstrip("."))
        return cls(tuple(networks), frozenset(hosts))

    def allows(self, host: str, address: IpAddress) -> bool:
        return host in self.hosts or any(address in network for network in self.networks)


def is_public(address: IpAddress) -> bool:
    return not (
        address.is_loopback
        or address.is_private
        or address.is_link_local
        or address.is_multicast
        or address.is_reserved
        or address.is_unspecified
    )


async def resolve(host: str, port: int) -> Sequence[IpAddress]:
    """Every address ``host`` resolves to (an IP literal, in any form the resolver reads, is
    its own address); AddressRefused when it resolves to none."""
    loop = asyncio.get_running_loop()
    try:
        found = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError:
        raise AddressRefused(f"the host {host!r} does not resolve") from None
    return [ipaddress.ip_address(info[4][0]) for info in found]


async def check_public_url(url: str, allow: OutboundAllow) -> None:
    """Raise AddressRefused unless ``url`` is http(s) with a host whose every address is public
    or allowed by the operator."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise AddressRefused("must be an http(s) URL with a host")
    host = parts.hostname.lower().rstrip(".")
    port = parts.port or (443 if parts.scheme == "https" else 80)
    for address in await resolve(host, port):
        if not is_public(address) and not allow.allows(host, address):
            raise AddressRefused(
                f"the host {host!r} resolves to an address that is not public ({address}); "
                "Herald only lets the deployment fetch public addresses"
            )
