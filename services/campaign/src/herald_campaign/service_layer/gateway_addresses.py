"""Where an account's gateways may be: a session's base URL must resolve to public addresses
only, or to ones the operator allows (HERALD_OUTBOUND_ALLOW), when the account is made and when
the URL changes. The gateways' clients check again at every connection (a name may resolve
elsewhere later); this refuses the account up front, naming the field.

A host that does not resolve yet passes (the gateway may not be deployed yet): its requests
are checked when it does.
"""

from __future__ import annotations

from herald_campaign.service_layer.errors import InvalidAccount
from herald_core.accounts.model import SenderAccount
from herald_core.attempt_plan import Route
from herald_infra.outbound.public_addresses import (
    AddressRefused,
    HostDoesNotResolve,
    OutboundAllow,
    check_public_url,
)


async def check_gateway_addresses(
    account: SenderAccount, allow: OutboundAllow, routes: tuple[Route, ...] = tuple(Route)
) -> None:
    """Raise InvalidAccount naming ``<route>.baseUrl`` when a session's gateway of ``routes``
    is at an address Herald may not fetch (the first such route, in ``routes``' order)."""
    for route in routes:
        try:
            await check_public_url(account.session_for(route).base_url, allow)
        except HostDoesNotResolve:
            continue
        except AddressRefused as refused:
            raise InvalidAccount(f"{route.value}.baseUrl", str(refused)) from None
