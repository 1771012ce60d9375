"""Entry point of fallback-sender: the sender engine on a whatsapp-web.js gateway (WAHA WEBJS)."""

from herald_shared.sender.service import SenderDeployment
from herald_shared.topics import MESSAGE_SEND_FALLBACK

DEPLOYMENT = SenderDeployment(
    service="fallback-sender",
    delivery_method="web-js",
    topic=MESSAGE_SEND_FALLBACK,
    default_port=9104,
)


def main() -> None:
    DEPLOYMENT.run()
