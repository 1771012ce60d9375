"""Pairing a sender account's number with a gateway session: the login QR code of a session that
waits for a scan, passed through from the account's gateway as it gave it.

The gateway is asked with the account's own settings (adapter, base URL, API key); the key is
never part of an answer or an error. The session's health as the senders last checked it is on
the account (``sessions.<route>.health``); this asks the gateway now.
"""

from __future__ import annotations

from dataclasses import dataclass

from herald_campaign.service_layer.accounts import AccountService
from herald_campaign.service_layer.errors import InvalidAccount, OperationRefused
from herald_campaign.service_layer.ports import (
    GatewayFactory,
    UnusableGatewaySettings,
    session_gateway,
)
from herald_core.attempt_plan import Route
from herald_gateways.failures import GATEWAY_TIMEOUT, GATEWAY_UNREACHABLE, fixed_form
from herald_gateways.http_client import DestinationRefused
from herald_gateways.interface import GatewayError, LoginQr, SessionStatus
from herald_infra.runtime.logging import get_logger

log = get_logger(__name__)

_WHAT_TO_DO = {
    SessionStatus.WORKING: "it is paired already",
    SessionStatus.STARTING: "it is starting; ask again in a few seconds",
    SessionStatus.STOPPED: "start it on its gateway first",
    SessionStatus.FAILED: "restart it on its gateway first",
}


@dataclass(frozen=True)
class SessionQr:
    account_id: str
    route: Route
    session: str
    qr: LoginQr


class SessionNotWaitingForScan(OperationRefused):
    """The session has no QR code to show: it is not waiting for a scan."""

    reason = "session-not-waiting-for-scan"

    def __init__(self, route: Route, session: str, status: SessionStatus | None) -> None:
        if status is None or status is SessionStatus.SCAN_QR_CODE:
            # Waiting for a scan, yet no code: WhatsApp has not sent the gateway one yet.
            message = (
                f"the {route.value} session {session} has no QR code yet; ask again in a few "
                "seconds"
            )
        else:
            message = (
                f"the {route.value} session {session} is {status.value}, not waiting for a QR "
                f"code scan: {_WHAT_TO_DO.get(status, 'check it on its gateway')}"
            )
        super().__init__(message)
        self.status = status


class GatewayUnavailable(Exception):
    """The account's gateway could not answer (``unreachable`` true: no answer at all, or none
    in time; false: it answered with an error)."""

    def __init__(self, message: str, *, reason: str) -> None:
        super().__init__(message)
        self.message = message
        self.reason = reason

    @property
    def unreachable(self) -> bool:
        return self.reason in (GATEWAY_UNREACHABLE, GATEWAY_TIMEOUT)

    @property
    def timed_out(self) -> bool:
        return self.reason == GATEWAY_TIMEOUT

    @classmethod
    def of(cls, error: GatewayError, route: Route, base_url: str) -> GatewayUnavailable:
        """In a fixed form: the gateway's own words (whatever its address answered) are never
        passed on."""
        where = f"the {route.value} session's gateway at {base_url}"
        if error.reason == GATEWAY_UNREACHABLE:
            message = f"{where} is unreachable"
        elif error.reason == GATEWAY_TIMEOUT:
            message = f"{where} did not answer in time"
        else:
            message = f"{where} answered with an error: {fixed_form(error)}"
        return cls(message, reason=error.reason)


class SessionPairing:
    def __init__(
        self,
        accounts: AccountService,
        *,
        timeout_seconds: float,
        build: GatewayFactory,
    ) -> None:
        self._accounts = accounts
        self._timeout = timeout_seconds
        self._build = build

    async def login_qr(self, tenant_id: str, account_id: str, route: Route) -> SessionQr:
        """The QR code that pairs the account's ``route`` session. AccountNotFound (another
        tenant's account too), SessionNotWaitingForScan, GatewayUnavailable, or InvalidAccount
        naming the setting (``primary.baseUrl``) of a stored session no request can be made
        with, or whose address Herald may not fetch."""
        account = await self._accounts.get_account(tenant_id, account_id)
        session = account.session_for(route)
        try:
            gateway = session_gateway(self._build, session, self._timeout)
        except UnusableGatewaySettings as unusable:
            raise InvalidAccount(
                f"{route.value}.{unusable.setting}",
                f"{unusable.detail}; change it (PATCH the account)",
            ) from None
        try:
            qr = await gateway.login_qr(session.session)
            if qr is None:
                status = (await gateway.session_health(session.session)).status
                raise SessionNotWaitingForScan(route, session.session, status)
        except GatewayError as error:
            log.warning(
                "login QR not available from the gateway",
                account_id=account_id,
                route=route.value,
                reason=error.reason,
            )
            if isinstance(error.__cause__, DestinationRefused):  # its address, not its answer
                raise InvalidAccount(
                    f"{route.value}.baseUrl",
                    f"{error.__cause__}; change it (PATCH the account)",
                ) from None
            raise GatewayUnavailable.of(error, route, session.base_url) from None
        finally:
            await gateway.close()
        return SessionQr(account_id, route, session.session, qr)
