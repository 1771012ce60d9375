"""Entry point of primary-sender: the sender engine on a Baileys gateway (WAHA NOWEB)."""

from herald_shared.sender.service import SenderDeployment
from herald_shared.topics import MESSAGE_SEND_PRIMARY, PRIMARY_SENDER_GROUP

DEPLOYMENT = SenderDeployment(
    service="primary-sender",
    delivery_method="baileys",
    topic=MESSAGE_SEND_PRIMARY,
    consumer_group=PRIMARY_SENDER_GROUP,
    default_port=9103,
)


def main() -> None:
    DEPLOYMENT.run()
