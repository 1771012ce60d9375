"""Telling an account's gateways where to post: each session's gateway gets the account's receipt
URL as its webhook (receipts, session changes, incoming messages), set up by Herald itself when
the account is made, when a session's settings change, when its token is rotated, and when an
operator asks again (a gateway reset, a restarted session that lost its configuration).

What happened is on the account (``sessions.<route>.webhook``): CONFIGURED, MANUAL (Herald cannot
do it: no public URL, or the gateway's tier or version refuses; the detail says what to set by
hand) or FAILED (the gateway could not be asked; ask again). Nothing here fails the request
that caused it: the account exists either way.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime

from pydantic import SecretStr

from herald_campaign.domain.receipt_urls import RECEIPT_TOKEN_HEADER, receipt_path, receipt_url
from herald_campaign.service_layer.accounts import AccountService
from herald_campaign.service_layer.campaigns import stored_now
from herald_campaign.service_layer.ports import (
    GatewayFactory,
    UnusableGatewaySettings,
    session_gateway,
)
from herald_core.accounts.model import (
    GatewaySession,
    SenderAccount,
    WebhookSetup,
    WebhookSetupStatus,
)
from herald_core.attempt_plan import Route
from herald_gateways.failures import WEBHOOK_SETUP_REFUSED, fixed_form
from herald_gateways.interface import GatewayError
from herald_infra.runtime.logging import get_logger

log = get_logger(__name__)

S = WebhookSetupStatus
_MASKED = SecretStr("<receipt token>")
"""Stands for the token in what an account shows: the token itself is shown only once."""
_BY_HAND = "set the gateway's webhook to this account's receipt URL by hand"


class WebhookSetupService:
    """``build`` makes a session's gateway adapter; ``events`` are, per gateway kind, the
    events its webhook must send (the gateway's own names)."""

    def __init__(
        self,
        accounts: AccountService,
        *,
        public_url: str | None,
        timeout_seconds: float,
        build: GatewayFactory,
        events: Mapping[str, Sequence[str]],
        clock: Callable[[], datetime] = stored_now,
    ) -> None:
        self._accounts = accounts
        self._public_url = public_url
        self._timeout = timeout_seconds
        self._build = build
        self._events = events
        self._clock = clock

    async def set_up(
        self, account: SenderAccount, *, routes: tuple[Route, ...] = tuple(Route)
    ) -> SenderAccount:
        """Configure the webhook of each of ``routes``' sessions; the account as it is now."""
        updates: dict[str, GatewaySession] = {}
        for route in routes:
            session = account.session_for(route)
            setup = await self._set_up_session(account, route, session)
            await self._accounts.record_webhook_setup(account, route, setup)
            updates[route.value] = session.model_copy(update={"webhook": setup})
        return account.model_copy(update=updates)

    async def _set_up_session(
        self, account: SenderAccount, route: Route, session: GatewaySession
    ) -> WebhookSetup:
        now = self._clock()
        token = account.receipt_token
        if token is None:
            return WebhookSetup(
                status=S.MANUAL,
                checked_at=now,
                detail="the account has no receipt URL yet: rotate its receipt token",
            )
        if not self._public_url:
            return WebhookSetup(
                status=S.MANUAL,
                checked_at=now,
                detail=f"HERALD_PUBLIC_URL is not set: {_BY_HAND} "
                f"(<Herald's public URL>{receipt_path(session.gateway, _MASKED)})",
            )
        try:
            gateway = session_gateway(self._build, session, self._timeout)
        except UnusableGatewaySettings as unusable:
            return WebhookSetup(
                status=S.FAILED,
                checked_at=now,
                detail=f"the session's {unusable.setting} {unusable.detail}; change it",
            )
        try:
            await gateway.configure_webhook(
                session.session,
                url=receipt_url(self._public_url, session.gateway, token),
                events=self._events[session.gateway.value],
                headers={RECEIPT_TOKEN_HEADER: token.get_secret_value()},
                hmac_key=(
                    account.webhook_hmac_key.get_secret_value()
                    if account.webhook_hmac_key is not None
                    else None
                ),
            )
        except GatewayError as error:
            status = S.MANUAL if error.reason == WEBHOOK_SETUP_REFUSED else S.FAILED
            log.warning(
                "webhook not set up",
                account_id=account.id,
                route=route.value,
                reason=error.reason,
            )
            detail = fixed_form(error)  # never the gateway's own words
            if status is S.MANUAL:
                events = ", ".join(self._events[session.gateway.value])
                detail = f"{detail}; {_BY_HAND} (events {events})"
            return WebhookSetup(status=status, checked_at=now, detail=detail)
        finally:
            await gateway.close()
        log.info("webhook set up", account_id=account.id, route=route.value)
        return WebhookSetup(status=S.CONFIGURED, checked_at=now)
