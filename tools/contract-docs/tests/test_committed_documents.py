"""The documents under docs/ are what the code generates now, and say what they should."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from herald_contract_docs.documents import generate, staleness, write
from herald_core.contracts.commands import campaign_command_adapter
from herald_core.contracts.topics import (
    CAMPAIGN_COMMANDS,
    CAMPAIGN_EVENTS,
    CAMPAIGN_SYSTEM_COMMANDS,
    CONTACT_EVENTS,
    MESSAGE_DLT,
    MESSAGE_SEND_FALLBACK,
    MESSAGE_SEND_PRIMARY,
    MESSAGE_STATUS,
)
from herald_infra.kafka.topics import herald_topics
from herald_infra.runtime.settings import HeraldSettings


@pytest.fixture(scope="module")
def generated() -> dict[str, str]:
    return generate()


@pytest.fixture(scope="module")
def asyncapi(generated: dict[str, str]) -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load(generated["asyncapi.yaml"])
    return document


def test_the_committed_documents_are_current(generated: dict[str, str]) -> None:
    stale = staleness(generated)
    assert stale.current, f"docs/ is not current ({stale.summary()}): run `make docs`"


def test_a_stale_missing_or_orphaned_document_is_reported_and_rewritten(
    generated: dict[str, str], tmp_path: Path
) -> None:
    write(generated, tmp_path)
    (tmp_path / "openapi.json").write_text("{}\n")
    (tmp_path / "schemas" / "campaign.create.v1.json").unlink()
    (tmp_path / "schemas" / "campaign.renamed.v1.json").write_text("{}\n")

    stale = staleness(generated, tmp_path)

    assert stale.changed == ["openapi.json"]
    assert stale.missing == ["schemas/campaign.create.v1.json"]
    assert stale.extra == ["schemas/campaign.renamed.v1.json"]
    assert write(generated, tmp_path) == [
        "openapi.json",
        "schemas/campaign.create.v1.json",
        "schemas/campaign.renamed.v1.json",
    ]
    assert staleness(generated, tmp_path).current


def _operations(document: dict[str, Any], action: str) -> Iterator[tuple[str, str]]:
    """(channel name, topic) of each operation with this action ("send" or "receive")."""
    for operation in document["operations"].values():
        if operation["action"] == action:
            channel = operation["channel"]["$ref"].removeprefix("#/channels/")
            yield channel, document["channels"][channel]["address"]


def test_every_topic_herald_creates_is_documented_with_who_publishes_and_who_reads_it(
    asyncapi: dict[str, Any],
) -> None:
    published = {topic for _, topic in _operations(asyncapi, "send")}
    read = {topic for _, topic in _operations(asyncapi, "receive")}
    created = {topic.name for topic in herald_topics(HeraldSettings.model_construct())}

    assert created == {
        CAMPAIGN_COMMANDS,
        CAMPAIGN_SYSTEM_COMMANDS,
        CAMPAIGN_EVENTS,
        MESSAGE_SEND_PRIMARY,
        MESSAGE_SEND_FALLBACK,
        MESSAGE_STATUS,
        CONTACT_EVENTS,
        MESSAGE_DLT,
        "message.retry.60s",
    }
    # campaign.commands is the tenants' producers' (other services): no Herald service writes it.
    assert published == created - {CAMPAIGN_COMMANDS}
    # message.status and contact.events are for other services: no Herald service reads them.
    assert read == created - {MESSAGE_STATUS, CONTACT_EVENTS}


def test_each_service_appears_with_what_it_reads_and_publishes(asyncapi: dict[str, Any]) -> None:
    read = {channel for channel, _ in _operations(asyncapi, "receive")}
    sent = {channel for channel, _ in _operations(asyncapi, "send")}

    assert read == {
        "campaign:campaign.commands",
        "campaign:campaign.system-commands",
        "campaign:campaign.events",
        "dispatcher:campaign.events",
        "dispatcher:message.retry.60s",
        "dispatcher:message.dlt",
        "primary-sender:message.send.primary",
        "fallback-sender:message.send.fallback",
    }
    assert {
        "scheduler:campaign.system-commands:publish",
        "scheduler:campaign.events:publish",
        "campaign:campaign.events:publish",
        "dispatcher:message.send.primary:publish",
        "dispatcher:message.send.fallback:publish",
        "primary-sender:message.send.fallback:publish",
        "fallback-sender:message.retry.60s:publish",
        "primary-sender:message.dlt:publish",
        "primary-sender:message.status:publish",
        "campaign:contact.events:publish",
    } <= sent


def _payload(document: dict[str, Any], channel: str) -> dict[str, Any]:
    (message,) = document["channels"][channel]["messages"].values()
    name = message["$ref"].removeprefix("#/components/messages/")
    ref = document["components"]["messages"][name]["payload"]["$ref"]
    schema: dict[str, Any] = document["components"]["schemas"][ref.split("/")[-1]]
    return schema


def _union(schema: dict[str, Any]) -> set[str]:
    return {option["$ref"].split("/")[-1] for option in schema["oneOf"]}


def test_payloads_are_the_contracts(asyncapi: dict[str, Any]) -> None:
    commands = _payload(asyncapi, "campaign:campaign.commands")
    assert commands["discriminator"] == "type"
    assert _union(commands) == {
        "CreateCampaign",
        "AddContacts",
        "SendCampaign",
        "PauseCampaign",
        "ResumeCampaign",
        "CancelCampaign",
    }
    system = {"StartCampaignRun", "PauseCampaign"}
    assert _union(_payload(asyncapi, "campaign:campaign.system-commands")) == system
    assert _union(_payload(asyncapi, "scheduler:campaign.system-commands:publish")) == system
    assert _union(_payload(asyncapi, "scheduler:campaign.events:publish")) == {
        "CampaignCompleted",
        "CampaignFailed",
    }
    contacts = _payload(asyncapi, "campaign:contact.events:publish")
    assert _union(contacts) == {"ContactOptedOut", "ContactOptedIn", "MessageReplied"}
    lanes = _payload(asyncapi, "primary-sender:message.send.primary")
    assert lanes["title"] == "SendMessage"
    assert "account_id" in lanes["properties"]
    poison = _payload(asyncapi, "campaign:message.dlt:publish")
    assert poison["type"] == "string" and poison["format"] == "binary"
    create = asyncapi["components"]["schemas"]["CreateCampaign"]["properties"]
    assert "template" in create["message_body"]["description"]  # field docstrings travel


def test_every_reference_in_the_asyncapi_document_resolves(asyncapi: dict[str, Any]) -> None:
    def references(node: object) -> Iterator[str]:
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "$ref":
                    yield value
                else:
                    yield from references(value)
        elif isinstance(node, list):
            for item in node:
                yield from references(item)

    def resolve(ref: str) -> object:
        node: Any = asyncapi
        for part in ref.removeprefix("#/").split("/"):
            node = node[part.replace("~1", "/").replace("~0", "~")]
        return node

    refs = set(references(asyncapi))
    assert len(refs) > 50
    for ref in refs:
        assert resolve(ref) is not None, ref


def test_the_json_schema_of_commands_names_every_command_type(generated: dict[str, str]) -> None:
    schema = json.loads(generated["schemas/campaign.commands.json"])
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert set(schema["discriminator"]["mapping"]) == {
        "campaign.create",
        "campaign.contacts.add",
        "campaign.send",
        "campaign.pause",
        "campaign.resume",
        "campaign.cancel",
    }
    system = json.loads(generated["schemas/campaign.system-commands.json"])
    assert set(system["discriminator"]["mapping"]) == {"campaign.run", "campaign.pause"}
    create = json.loads(generated["schemas/campaign.create.v1.json"])
    assert create["properties"]["type"]["const"] == "campaign.create"
    assert create["properties"]["version"]["const"] == 1
    assert {"tenant_id", "name", "message_body", "type"} <= set(create["required"])
    assert create["additionalProperties"] is False


def test_the_hand_written_pages_are_left_alone(generated: dict[str, str], tmp_path: Path) -> None:
    write(generated, tmp_path)
    (tmp_path / "operations.md").write_text("# Operations\n")

    assert staleness(generated, tmp_path).current
    assert write(generated, tmp_path) == []
    assert (tmp_path / "operations.md").read_text() == "# Operations\n"


# The commands of docs/kafka-contract.md ("Commands").
README_COMMANDS: list[dict[str, Any]] = [
    {
        "type": "campaign.create",
        "campaign_id": "newsletter-48",
        "name": "Newsletter",
        "message_body": "Hi {{name|there}}!",
        "delay_type": "safe",
    },
    {
        "type": "campaign.contacts.add",
        "campaign_id": "newsletter-48",
        "contacts": [{"phone": "+919876543210", "name": "John"}],
    },
    {"type": "campaign.send", "campaign_id": "newsletter-48"},
    {
        "type": "campaign.send",
        "campaign_id": "newsletter-48",
        "send_at": "2026-12-01T09:00:00+01:00",
    },
    {
        "type": "campaign.send",
        "campaign_id": "n",
        "cron": "0 9 * * MON",
        "timezone": "Europe/Berlin",
    },
    {"type": "campaign.pause", "campaign_id": "newsletter-48", "reason": "wrong link"},
    {"type": "campaign.resume", "campaign_id": "newsletter-48"},
    {"type": "campaign.cancel", "campaign_id": "newsletter-48", "reason": "done"},
]


@pytest.mark.parametrize("command", README_COMMANDS, ids=lambda c: str(c["type"]))
def test_the_readmes_kafka_commands_are_valid_contracts(command: dict[str, Any]) -> None:
    body = {**command, "event_id": "9f1c0e6a", "tenant_id": "default"}
    parsed = campaign_command_adapter.validate_json(json.dumps(body))
    assert parsed.type == command["type"]


def test_the_docs_index_lists_every_schema(generated: dict[str, str]) -> None:
    index = generated["README.md"]
    schemas = [path for path in generated if path.startswith("schemas/")]
    assert schemas and all(f"`{path}`" in index for path in schemas)
