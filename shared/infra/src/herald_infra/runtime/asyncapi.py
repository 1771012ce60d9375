"""What a service publishes, declared on its broker so that FastStream's AsyncAPI document shows it.

FastStream documents a subscriber from its handler's signature, and a publisher only when it is
declared (``broker.publisher(topic, schema=…)``). Herald's services publish with
``broker.publish(…, topic=…)``, the topic often chosen per record by the attempt plan, so each
composition root declares here the topics its service publishes on and what. A declared
publisher opens no connection and sends nothing by itself.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from faststream.kafka import KafkaBroker

from herald_core.contracts.events import MessageStatusChanged, SendMessage
from herald_core.contracts.topics import MESSAGE_DLT, MESSAGE_STATUS
from herald_core.messages import dead_letters, delayed_attempts


@dataclass(frozen=True)
class Publication:
    """One topic a service publishes on, the payload's type, and what and why."""

    topic: str
    payload: object
    """A pydantic model, a discriminated union of them, or ``bytes`` for records passed on as
    they came."""
    description: str


def publisher_title(service: str, topic: str) -> str:
    """The AsyncAPI channel of a service's publications on a topic: ``campaign:campaign.events:
    publish`` (a subscriber's is ``campaign:campaign.events``)."""
    return f"{service}:{topic}:publish"


def declare_publications(
    broker: KafkaBroker, service: str, publications: Iterable[Publication]
) -> None:
    """Declare on ``broker`` each topic ``service`` publishes on, for the AsyncAPI document."""
    for publication in publications:
        broker.publisher(
            publication.topic,
            title=publisher_title(service, publication.topic),
            description=publication.description,
            schema=publication.payload,
        )


DEAD_LETTER_HEADERS = ", ".join(
    (
        dead_letters.ORIGINAL_TOPIC,
        dead_letters.ORIGINAL_PARTITION,
        dead_letters.ORIGINAL_OFFSET,
        dead_letters.EXCEPTION_FQCN,
        dead_letters.EXCEPTION_MESSAGE,
        dead_letters.REASON,
        dead_letters.ATTEMPTS,
        dead_letters.FIRST_FAILURE,
        dead_letters.LAST_FAILURE,
        dead_letters.DEAD_LETTER_ID,
    )
)
DELAY_HEADERS = ", ".join(
    (
        f"{delayed_attempts.DUE_TIMESTAMP} (epoch milliseconds when it is due)",
        f"{delayed_attempts.ATTEMPTS}",
        f"{delayed_attempts.TARGET_TOPIC} (the send topic it goes to then)",
    )
)


def send_attempts(topic: str, why: str) -> Publication:
    """Send events on a send topic, keyed by sender account."""
    return Publication(
        topic,
        SendMessage,
        f"{why} One record per attempt of one message, keyed by its sender account id, so an "
        "account's attempts stay in order on one partition.",
    )


def delayed_attempts_on(topic: str) -> Publication:
    """Attempts waiting on a delay topic for their back-off."""
    return Publication(
        topic,
        SendMessage,
        "A failed attempt's next one, waiting for its back-off (the dispatcher's relay moves "
        f"it on once due); keyed by sender account, with the headers {DELAY_HEADERS}.",
    )


def poison_dead_letters(what: str) -> Publication:
    """Records a FastStream subscriber could not decode, validate or accept."""
    return Publication(
        MESSAGE_DLT,
        bytes,
        f"{what}: the record as it came (value and key unchanged), with the headers "
        f"{DEAD_LETTER_HEADERS}.",
    )


def message_dead_letters(what: str) -> Publication:
    """Send events of messages that failed for good."""
    return Publication(
        MESSAGE_DLT,
        SendMessage,
        f"{what}: the message's last SendMessage, keyed by sender account, with the headers "
        f"{DEAD_LETTER_HEADERS}. A send-topic record that is no SendMessage goes here as it "
        "came.",
    )


def status_changes(what: str) -> Publication:
    return Publication(
        MESSAGE_STATUS,
        MessageStatusChanged,
        f"{what}; keyed by message id. Notifications for other services: MongoDB holds the "
        "state, and Herald itself reads none of these.",
    )
