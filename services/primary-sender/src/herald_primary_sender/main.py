"""Entry point of primary-sender: the sender engine on a Baileys gateway (WAHA NOWEB)."""

from herald_core.attempt_plan import Route
from herald_core.contracts.topics import PRIMARY_SENDER_GROUP
from herald_sender.deployment import SenderDeployment

DEPLOYMENT = SenderDeployment(
    service="primary-sender",
    route=Route.PRIMARY,
    delivery_method="baileys",
    consumer_group=PRIMARY_SENDER_GROUP,
    default_port=9103,
    default_metrics_port=9403,
)


def main() -> None:
    DEPLOYMENT.run()
