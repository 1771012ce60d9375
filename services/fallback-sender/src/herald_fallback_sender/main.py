"""Entry point of fallback-sender: the sender engine on a whatsapp-web.js gateway (WAHA WEBJS)."""

from herald_shared.attempt_plan import Engine
from herald_shared.sender.service import SenderDeployment
from herald_shared.topics import FALLBACK_SENDER_GROUP

DEPLOYMENT = SenderDeployment(
    service="fallback-sender",
    engine=Engine.FALLBACK,
    delivery_method="web-js",
    consumer_group=FALLBACK_SENDER_GROUP,
    default_port=9104,
)


def main() -> None:
    DEPLOYMENT.run()
