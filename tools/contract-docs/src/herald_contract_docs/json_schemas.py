"""JSON Schemas of Herald's commands and events, from their pydantic contracts.

One schema per type and version (``campaign.create.v1.json`` …), and one per topic that carries
several types (``campaign.commands.json``, ``campaign.system-commands.json``,
``campaign.events.json``: any of them, told apart by ``type``); each stands alone (what it
refers to is in its own ``$defs``).
"""

from __future__ import annotations

import typing
from typing import Any

from pydantic import BaseModel, TypeAdapter

from herald_core.contracts.commands import AnyCampaignCommand, SystemCommand, TenantCommand
from herald_core.contracts.events import (
    AnyCampaignEvent,
    AnyContactEvent,
    CampaignEvent,
    ContactEvent,
    MessageStatusChanged,
    SendMessage,
)

DIALECT = "https://json-schema.org/draft/2020-12/schema"

TOPIC_SCHEMAS: dict[str, tuple[Any, str]] = {
    "campaign.commands": (
        TenantCommand,
        "A command on campaign.commands: one of the types, told apart by `type`. Producing "
        "here is acting as any tenant; the system's own commands are refused here.",
    ),
    "campaign.system-commands": (
        SystemCommand,
        "A command of the scheduler on campaign.system-commands, a topic no tenant may "
        "write: one of the types, told apart by `type`.",
    ),
    "campaign.events": (
        CampaignEvent,
        "An event on campaign.events: one of the types, told apart by `type`.",
    ),
    "contact.events": (
        ContactEvent,
        "An event on contact.events (opt-outs, opt-ins, replies): one of the types, told apart "
        "by `type`.",
    ),
}


def contract_models() -> list[type[BaseModel]]:
    """Every command and event model, in the order of their unions."""
    unions = (AnyCampaignCommand, AnyCampaignEvent, AnyContactEvent)
    models: list[type[BaseModel]] = [m for union in unions for m in typing.get_args(union)]
    return [*models, SendMessage, MessageStatusChanged]


def type_file_name(model: type[BaseModel]) -> str:
    """``campaign.create.v1``: the contract's ``type`` and ``version``."""
    fields = model.model_fields
    kind = typing.get_args(fields["type"].annotation)[0]
    version = typing.get_args(fields["version"].annotation)[0]
    return f"{kind}.v{version}"


def _standalone(schema: dict[str, Any], title: str, description: str | None) -> dict[str, Any]:
    head: dict[str, Any] = {"$schema": DIALECT, "title": title}
    if description:
        head["description"] = description
    return {**head, **{k: v for k, v in schema.items() if k not in head}}


def json_schemas() -> dict[str, dict[str, Any]]:
    """File name (without ``.json``) → schema."""
    schemas: dict[str, dict[str, Any]] = {}
    for topic, (annotation, description) in TOPIC_SCHEMAS.items():
        schema = TypeAdapter(annotation).json_schema()
        schemas[topic] = _standalone(schema, topic, description)
    for model in contract_models():
        schema = model.model_json_schema()
        schemas[type_file_name(model)] = _standalone(
            schema, schema.get("title", model.__name__), schema.get("description")
        )
    return schemas
