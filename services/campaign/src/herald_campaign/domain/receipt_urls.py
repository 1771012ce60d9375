"""Each sender account's receipt URLs: where its gateways post receipts, session changes and
incoming messages. Pure; no I/O.

The URL carries the account's receipt token, a random secret: a gateway that cannot sign (WAHA
Core, Evolution API) proves where it comes from by knowing the URL, and a receipt posted there
only ever touches that account's messages. Evolution also gets the token as a fixed header.
"""

from __future__ import annotations

import re
import secrets

from pydantic import SecretStr

from herald_core.accounts.model import GatewayAdapter

RECEIPT_TOKEN_PREFIX = "rt_"
_TOKEN_BYTES = 32
RECEIPT_TOKEN_PATTERN = r"^rt_[A-Za-z0-9_-]{43}$"
"""What :func:`new_receipt_token` makes: anything else is refused before a database lookup."""
_TOKEN = re.compile(RECEIPT_TOKEN_PATTERN)
RECEIPT_TOKEN_HEADER = "X-Herald-Webhook-Token"


def new_receipt_token() -> SecretStr:
    """A fresh token: 256 random bits, URL-safe."""
    return SecretStr(RECEIPT_TOKEN_PREFIX + secrets.token_urlsafe(_TOKEN_BYTES))


def is_receipt_token(text: str) -> bool:
    return _TOKEN.fullmatch(text) is not None


def receipt_path(gateway: GatewayAdapter, token: SecretStr) -> str:
    """The path of an account's receipt URL for one kind of gateway."""
    return f"/api/webhooks/{gateway.value}/{token.get_secret_value()}"


def receipt_url(public_url: str, gateway: GatewayAdapter, token: SecretStr) -> str:
    """The URL a gateway posts to: Herald's public base URL and the account's receipt path."""
    return public_url.rstrip("/") + receipt_path(gateway, token)
