"""Which gateways, versions, engines and tiers Herald supports, and what a gateway's own report
(``Gateway.server_info``) means for an account about to use it. Pure.

- WAHA (``waha``): 2024.10 and later, Core or Plus. Engines by route: NOWEB and GOWS serve
  Baileys' role on the primary route, WEBJS (whatsapp-web.js) the fallback route. WAHA Core
  serves one session, ``default``, and checks no API key; Plus serves any session name and
  signs webhooks with the session's ``hmac.key``.
- Evolution API (``evolution``): v2 (2.x). v1 (1.8.x) takes another sendText body and other
  webhook settings, so an account on it is refused.
"""

from __future__ import annotations

from dataclasses import dataclass

from herald_gateways.interface import GatewayInfo

ROUTE_ENGINES: dict[str, tuple[str, ...]] = {
    "primary": ("NOWEB", "GOWS"),
    "fallback": ("WEBJS",),
}
"""WAHA engines per route: NOWEB and GOWS in Baileys' role, WEBJS as whatsapp-web.js."""

NUMBERS_PER_CHECK: dict[str, int] = {"waha": 1, "evolution": 50}
"""How many numbers one ``check_numbers`` request asks about: WAHA's check-exists takes one,
Evolution's whatsappNumbers a list. A paced caller gives each request one turn of the account."""

EVOLUTION_MIN_MAJOR = 2
WAHA_CORE_SESSION = "default"
"""The one session WAHA Core serves."""


@dataclass(frozen=True)
class GatewaySetupCheck:
    """What a gateway's report means for a session of an account: refused, or warnings."""

    refusal: str | None = None
    """Why the account cannot use this gateway at all (None: it can)."""
    warnings: tuple[str, ...] = ()
    """What the operator should know or fix; the account works only once it is fixed."""


def major_version(version: str) -> int | None:
    """The major version of a version string (``2.3.6`` → 2; None when it has none)."""
    head = version.strip().lstrip("v").split(".", 1)[0]
    return int(head) if head.isdigit() else None


def check_gateway_setup(info: GatewayInfo, *, session: str, route: str) -> GatewaySetupCheck:
    """What ``info`` means for using ``session`` on ``route`` (``primary`` or ``fallback``)."""
    if info.product == "evolution":
        major = major_version(info.version)
        if major is not None and major < EVOLUTION_MIN_MAJOR:
            return GatewaySetupCheck(
                refusal=f"Evolution API {info.version} is v1, which Herald does not support "
                "(another sendText body and webhook settings); run Evolution API v2"
            )
        return GatewaySetupCheck()
    warnings: list[str] = []
    if info.single_session_only and session != WAHA_CORE_SESSION:
        warnings.append(
            f"WAHA Core {info.version} serves only the session '{WAHA_CORE_SESSION}', not "
            f"{session!r}: every send would be refused; name the session "
            f"'{WAHA_CORE_SESSION}' or run WAHA Plus"
        )
    if info.single_session_only:
        warnings.append("WAHA Core does not check its API key: a wrong key goes unnoticed")
    engines = ROUTE_ENGINES.get(route, ())
    if info.engine and engines and info.engine not in engines:
        warnings.append(
            f"the gateway's default engine is {info.engine}; the {route} route needs "
            f"{' or '.join(engines)} (set the session's engine accordingly)"
        )
    return GatewaySetupCheck(warnings=tuple(warnings))
