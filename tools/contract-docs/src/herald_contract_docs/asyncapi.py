"""Herald's AsyncAPI document: FastStream's, generated from the services' brokers."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

from faststream.kafka import KafkaBroker
from faststream.specification import AsyncAPI

from herald_core.messages.dead_letters import DEAD_LETTER_ID, REASON

TITLE = "Herald"
VERSION = "1.0.0"
"""The version of the contracts (every command and event is ``version: 1``)."""

DESCRIPTION = "\n\n".join(
    (
        "Every Kafka topic Herald's five services consume or produce, with its payloads. "
        "Channels are named `service:topic` for what a service consumes and "
        "`service:topic:publish` for what it publishes; payloads are JSON unless they say "
        "otherwise.",
        "Other services drive Herald by publishing commands on `campaign.commands` (key: the "
        "campaign id), each with a unique `event_id` (a command delivered twice acts once) and "
        "its `tenant_id`; what happened is announced on `campaign.events`, and every change of "
        "a message's status on `message.status`; what recipients answer (opt-out and opt-in "
        "keywords, replies) on `contact.events` (key: tenant and number). A command Herald "
        "cannot decode, validate or accept goes to `message.dlt` as it came, with headers "
        f"saying why (`{REASON}`) and the id Herald keeps it under (`{DEAD_LETTER_ID}`).",
        "Kafka is a trust boundary: producing to `campaign.commands` is acting as any "
        "tenant (the `tenant_id` of a command is whatever its producer wrote), so a "
        "production broker runs with SASL and ACLs (`HERALD_KAFKA_SECURITY_PROTOCOL`, "
        "`HERALD_KAFKA_SASL_*`, `HERALD_KAFKA_SSL_*` for every Herald client) and grants WRITE "
        "on it only to producers trusted with every tenant named in their commands. The "
        "scheduler's own commands (`campaign.run`, `campaign.pause` by the system) travel on "
        "`campaign.system-commands`, which only Herald's principals may write; on "
        "`campaign.commands` they are dead-lettered with the reason `system-only`. "
        "docs/kafka-contract.md lists the ACLs of each principal.",
        "The delay topics (`message.retry.<delay>`) follow the attempt plan "
        "(`HERALD_ATTEMPT_PLAN`); this document shows the default plan, "
        "`primary, fallback, fallback@60s`. JSON Schemas of the commands and events: "
        "`docs/schemas/`; the REST API: `docs/openapi.json`.",
    )
)

_SORTED_SECTIONS = ("channels", "operations")
_SORTED_COMPONENTS = ("messages", "schemas")


def asyncapi_document(brokers: Sequence[KafkaBroker]) -> dict[str, Any]:
    """The AsyncAPI 3.0 document of ``brokers``, its maps in a stable order.

    FastStream keeps subscribers and publishers in weak sets, whose order changes from one
    process to the next, so channels, operations, messages and schemas are sorted by name.
    A name that two brokers both declare would overwrite one of them silently; FastStream warns
    then, and that warning is an error here.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        specification = AsyncAPI(
            *brokers,
            title=TITLE,
            version=VERSION,
            description=DESCRIPTION,
            schema_version="3.0.0",
        ).to_specification()
    document: dict[str, Any] = specification.to_jsonable()
    for section in _SORTED_SECTIONS:
        document[section] = dict(sorted(document[section].items()))
    components = document["components"]
    for section in _SORTED_COMPONENTS:
        components[section] = dict(sorted(components[section].items()))
    return document
