"""Whether a URL a tenant gave points outside the deployment: its host resolved, and every
address it resolves to public, unless the operator allows it (``HERALD_OUTBOUND_ALLOW``: a
comma list of CIDRs and host names, e.g. the local simulators' ``127.0.0.1/32``).

Refused: loopback, private, link-local (the cloud metadata address among them), shared
(carrier-grade NAT), multicast, reserved and unspecified addresses, IPv6 forms of any of them
(IPv4-mapped, 6to4, NAT64), and hosts that do not resolve. The reasons are fixed forms: they
never say what a host resolved to (a tenant learns nothing of the deployment's own names).

This is the check; :mod:`herald_infra.outbound.pinned_connections` makes every connection
to a tenant's URL pass it at connection time and go to the very address it checked.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

from herald_gateways.http_client import DestinationRefused

IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

Resolver = Callable[[str, int], Awaitable[Sequence[IpAddress]]]
"""Every address a host resolves to, for a port (the real one: :func:`resolve`)."""

_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")


class AddressRefused(DestinationRefused, ValueError):
    """A URL Herald will not let anything in the deployment fetch; the message says why in a
    fixed form (it never echoes what the address answered, nor what the host resolved to)."""


class HostDoesNotResolve(AddressRefused):
    """The host has no address now (a gateway not deployed yet, a typo)."""


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


def _embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 one stands for (IPv4-mapped, 6to4, NAT64), if any."""
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address in _NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def is_public(address: IpAddress) -> bool:
    if isinstance(address, ipaddress.IPv6Address):
        embedded = _embedded_ipv4(address)
        if embedded is not None:
            return is_public(embedded)
    return address.is_global and not (
        address.is_loopback
        or address.is_private
        or address.is_link_local
        or address.is_multicast
        or address.is_reserved
        or address.is_unspecified
    )


async def resolve(host: str, port: int) -> Sequence[IpAddress]:
    """Every address ``host`` resolves to (an IP literal, in any form the resolver reads, is
    its own address); HostDoesNotResolve when it resolves to none."""
    loop = asyncio.get_running_loop()
    try:
        found = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        raise HostDoesNotResolve(f"the host {host!r} does not resolve") from None
    return [ipaddress.ip_address(info[4][0]) for info in found]


def normal_host(host: str) -> str:
    """A host as the allow list names it: lower case, no trailing dot, no IPv6 brackets."""
    return host.lower().rstrip(".").strip("[]")


async def checked_addresses(
    host: str, port: int, allow: OutboundAllow, resolver: Resolver = resolve
) -> Sequence[IpAddress]:
    """The addresses ``host`` resolves to, every one of them public or allowed; raises
    AddressRefused (a fixed-form reason) otherwise."""
    name = normal_host(host)
    addresses = await resolver(name, port)
    if not addresses:
        raise HostDoesNotResolve(f"the host {name!r} does not resolve")
    for address in addresses:
        if not is_public(address) and not allow.allows(name, address):
            raise AddressRefused(
                f"the host {name!r} resolves to an address that is not public; Herald only "
                "lets the deployment fetch public addresses"
            )
    return addresses


def url_host_and_port(url: str) -> tuple[str, int]:
    """The host and port an http(s) URL connects to; AddressRefused for anything else."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise AddressRefused("must be an http(s) URL with a host and a valid port") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise AddressRefused("must be an http(s) URL with a host")
    return parts.hostname, port or (443 if parts.scheme == "https" else 80)


async def check_public_url(url: str, allow: OutboundAllow, resolver: Resolver = resolve) -> None:
    """Raise AddressRefused unless ``url`` is http(s) with a host whose every address is public
    or allowed by the operator."""
    host, port = url_host_and_port(url)
    await checked_addresses(host, port, allow, resolver)
