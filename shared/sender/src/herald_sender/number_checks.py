"""Is the recipient on WhatsApp? Asked before a number's first send, because WAHA answers 201 to
a send to a number that is not and the message then never gets past the server: without the
check it would count as sent for ever.

An answer comes from the tenant's remembered answers (:mod:`herald_infra.recipients.
number_checks`) or, failing that, from the account's gateway in a paced turn of the account of
its own (a check is a request to WhatsApp like a send). A number that is not on WhatsApp fails
as ``not-on-whatsapp``: permanent, no other route, never sent.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

from herald_core.contracts.events import SendMessage
from herald_gateways.failures import NOT_ON_WHATSAPP
from herald_gateways.interface import GatewayError
from herald_infra.mongo.client import Database
from herald_infra.recipients.number_checks import known_answers, remember_answers
from herald_infra.runtime.logging import get_logger
from herald_infra.runtime.metrics import NUMBER_CHECKS
from herald_sender.gateway_directory import SendRoute

log = get_logger(__name__)


def not_on_whatsapp(phone: str) -> GatewayError:
    """The failure of a message whose number is not on WhatsApp: permanent, and no other
    route would do better."""
    return GatewayError(NOT_ON_WHATSAPP, f"{phone} is not on WhatsApp", retryable=False)


def _result(on_whatsapp: bool) -> str:
    return "on-whatsapp" if on_whatsapp else NOT_ON_WHATSAPP


class NumberChecks:
    def __init__(
        self,
        db: Database,
        *,
        keep_hours: float,
        delivery_method: str,
        clock: Callable[[], datetime],
    ) -> None:
        self._db = db
        self._keep = timedelta(hours=keep_hours)
        self._method = delivery_method
        self._clock = clock

    @property
    def enabled(self) -> bool:
        return self._keep > timedelta(0)

    async def known(self, event: SendMessage) -> bool | None:
        """The remembered answer for the message's number, or None when there is none (or
        checks are off: then the number is taken to be on WhatsApp)."""
        if not self.enabled:
            return True
        answers = await known_answers(self._db, event.tenant_id, [event.phone], self._clock())
        answer = answers.get(event.phone)
        if answer is not None:
            NUMBER_CHECKS.labels(
                delivery_method=self._method, source="cache", result=_result(answer)
            ).inc()
        return answer

    async def ask(
        self,
        event: SendMessage,
        route: SendRoute,
        on_error: Callable[[GatewayError], Awaitable[None]],
    ) -> bool:
        """Ask the account's gateway, remember the answer; raises the GatewayError of a check
        that could not be made (after ``on_error``: it counts like a failed send). A gateway
        that answers nothing for the number is taken to say yes: the send then decides."""
        try:
            answers = await route.gateway.check_numbers(route.session, [event.phone])
        except GatewayError as error:
            await on_error(error)
            raise
        answer = answers.get(event.phone)
        if answer is None:
            log.warning("the gateway gave no answer for the number; sending anyway")
            return True
        now = self._clock()
        await remember_answers(
            self._db, event.tenant_id, {event.phone: answer}, now=now, keep_for=self._keep
        )
        NUMBER_CHECKS.labels(
            delivery_method=self._method, source="gateway", result=_result(answer)
        ).inc()
        return answer
