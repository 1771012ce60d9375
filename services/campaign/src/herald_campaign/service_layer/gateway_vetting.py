"""Asking a new account's gateways what they are before the account is stored: a gateway Herald
cannot use (Evolution API v1) refuses the account, naming the session's field; what the operator
should know (WAHA Core serves only ``default`` and checks no API key, an engine that does not fit
the route) comes back as warnings with the created account.

A gateway that cannot be asked (down, not yet deployed) refuses nothing: the account is made, with
a warning that its gateway was not checked.
"""

from __future__ import annotations

import asyncio

from herald_campaign.service_layer.errors import InvalidAccount
from herald_campaign.service_layer.ports import (
    GatewayFactory,
    UnusableGatewaySettings,
    session_gateway,
)
from herald_core.accounts.model import SenderAccount
from herald_core.attempt_plan import Route
from herald_gateways.interface import GatewayError
from herald_gateways.support import check_gateway_setup
from herald_infra.runtime.logging import get_logger

log = get_logger(__name__)


class GatewayVetting:
    def __init__(self, *, timeout_seconds: float, build: GatewayFactory) -> None:
        self._timeout = timeout_seconds
        self._build = build

    async def vet(self, account: SenderAccount) -> tuple[str, ...]:
        """Warnings about the account's gateways; raises InvalidAccount (``<route>.gateway``)
        when one of them cannot serve Herald at all (``<route>.baseUrl`` when it cannot even be
        asked). Both gateways are asked at once."""
        found = await asyncio.gather(*(self._vet_session(account, route) for route in Route))
        return tuple(warning for warnings in found for warning in warnings)

    async def _vet_session(self, account: SenderAccount, route: Route) -> tuple[str, ...]:
        session = account.session_for(route)
        try:
            gateway = session_gateway(self._build, session, self._timeout)
        except UnusableGatewaySettings as unusable:
            raise InvalidAccount(f"{route.value}.{unusable.setting}", unusable.detail) from None
        try:
            info = await gateway.server_info()
        except GatewayError as error:
            log.info("gateway not vetted", route=route.value, reason=error.reason)
            return (
                f"{route.value}: the gateway was not checked ({error.reason}); "
                "Herald could not ask it what it is",
            )
        finally:
            await gateway.close()
        check = check_gateway_setup(info, session=session.session, route=route.value)
        if check.refusal is not None:
            raise InvalidAccount(f"{route.value}.gateway", check.refusal)
        return tuple(f"{route.value}: {warning}" for warning in check.warnings)
