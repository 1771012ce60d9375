"""Entry point of fallback-sender: the sender engine on a whatsapp-web.js gateway (WAHA WEBJS)."""

from herald_core.attempt_plan import Route
from herald_core.contracts.topics import FALLBACK_SENDER_GROUP
from herald_sender.deployment import SenderDeployment

DEPLOYMENT = SenderDeployment(
    service="fallback-sender",
    route=Route.FALLBACK,
    delivery_method="web-js",
    consumer_group=FALLBACK_SENDER_GROUP,
    default_port=9104,
    default_metrics_port=9404,
)


def main() -> None:
    DEPLOYMENT.run()
