"""A session's own webhooks, as each gateway takes and posts them. Pure.

WAHA (``PUT /api/sessions/{s}`` ``{"config": {"webhooks": [{url, events, hmac: {key},
customHeaders: [{name, value}]}]}}``): every webhook subscribed to an event (or to ``*``) gets
it; Plus signs with ``hmac.key`` and sends ``customHeaders``, Core ignores both (WAHA's README
of 2024.10.8, and as seen running it).

Evolution (``POST /webhook/set/{instance}`` ``{"webhook": {enabled, url, headers, byEvents,
base64, events}}``): one webhook per instance; events in upper snake case
(``MESSAGES_UPDATE``); ``byEvents`` appends the event to the URL (``/messages-update``); an
empty list subscribes to everything. Its JSON schema needs ``enabled`` and ``url``.
"""

from __future__ import annotations

from typing import Any

from herald_simulator.config import SessionStatus, WahaTier
from herald_simulator.errors import SimError
from herald_simulator.receipts import Destination

WAHA_EVENTS = frozenset(
    {
        "session.status",
        "message",
        "message.reaction",
        "message.any",
        "message.ack",
        "message.waiting",
        "message.revoked",
        "state.change",
        "group.join",
        "group.leave",
        "presence.update",
        "poll.vote",
        "poll.vote.failed",
        "chat.archive",
        "call.received",
        "call.accepted",
        "call.rejected",
        "label.upsert",
        "label.deleted",
        "label.chat.added",
        "label.chat.deleted",
        "*",
    }
)
"""WAHA's ``WAHAEvents`` (2024.10.8), and ``*``."""

EVOLUTION_EVENTS = frozenset(
    {
        "APPLICATION_STARTUP",
        "QRCODE_UPDATED",
        "MESSAGES_SET",
        "MESSAGES_UPSERT",
        "MESSAGES_EDITED",
        "MESSAGES_UPDATE",
        "MESSAGES_DELETE",
        "SEND_MESSAGE",
        "SEND_MESSAGE_UPDATE",
        "CONTACTS_SET",
        "CONTACTS_UPSERT",
        "CONTACTS_UPDATE",
        "PRESENCE_UPDATE",
        "CHATS_SET",
        "CHATS_UPSERT",
        "CHATS_UPDATE",
        "CHATS_DELETE",
        "GROUPS_UPSERT",
        "GROUP_UPDATE",
        "GROUP_PARTICIPANTS_UPDATE",
        "CONNECTION_UPDATE",
        "LABELS_EDIT",
        "LABELS_ASSOCIATION",
        "CALL",
        "TYPEBOT_START",
        "TYPEBOT_CHANGE_STATUS",
        "REMOVE_INSTANCE",
        "LOGOUT_INSTANCE",
        "INSTANCE_CREATE",
        "INSTANCE_DELETE",
        "STATUS_INSTANCE",
    }
)
"""Evolution's ``EventController.events`` (2.3.6)."""


def waha_config_problems(config: Any) -> list[str]:
    """What WAHA's validation pipe says of a session ``config`` (empty: valid)."""
    if config is None:
        return []
    if not isinstance(config, dict):
        return ["config must be an object"]
    hooks = config.get("webhooks")
    if hooks is None:
        return []
    if not isinstance(hooks, list):
        return ["config.webhooks must be an array"]
    problems: list[str] = []
    for index, hook in enumerate(hooks):
        where = f"config.webhooks.{index}"
        if not isinstance(hook, dict):
            problems.append(f"{where} must be an object")
            continue
        url = hook.get("url")
        if not isinstance(url, str) or not url.startswith(("http://", "https://")):
            problems.append(f"{where}.url must be a URL address")
        events = hook.get("events")
        if not isinstance(events, list) or any(e not in WAHA_EVENTS for e in events):
            problems.append(f"{where}.each value in events must be one of the following values")
    return problems


def waha_destinations(config: Any, event: str, tier: WahaTier) -> list[Destination]:
    """The session webhooks that get ``event``, as WAHA of ``tier`` posts to them."""
    hooks = config.get("webhooks") if isinstance(config, dict) else None
    found: list[Destination] = []
    for hook in hooks if isinstance(hooks, list) else []:
        events = hook.get("events") or []
        if event not in events and "*" not in events:
            continue
        if tier is WahaTier.CORE:  # hmac and customHeaders are Plus features
            found.append(Destination(hook["url"]))
            continue
        hmac = hook.get("hmac")
        key = hmac.get("key") if isinstance(hmac, dict) else None
        headers = tuple(
            (str(h["name"]), str(h["value"]))
            for h in hook.get("customHeaders") or []
            if isinstance(h, dict) and "name" in h and "value" in h
        )
        found.append(Destination(hook["url"], key or None, headers))
    return found


def session_status_event(
    session: str, engine: str, me_id: str | None, status: SessionStatus, tier: WahaTier
) -> dict[str, Any]:
    """WAHA's ``session.status`` webhook body."""
    return {
        "event": "session.status",
        "session": session,
        "me": {"id": me_id} if me_id else None,
        "payload": {"name": session, "status": status.value},
        "engine": engine,
        "environment": {"version": "2024.10.8", "engine": engine, "tier": tier.value},
    }


def evolution_webhook(body: Any) -> dict[str, Any]:
    """Evolution's stored webhook of a ``/webhook/set`` body; raises SimError(400) with its
    JSON schema's messages."""
    hook = body.get("webhook") if isinstance(body, dict) else None
    if not isinstance(hook, dict):
        raise SimError(400, "Bad Request", response={"message": [['requires property "webhook"']]})
    problems = [
        f'instance requires property "{key}"' for key in ("enabled", "url") if key not in hook
    ]
    events = hook.get("events") or []
    if not isinstance(events, list) or any(e not in EVOLUTION_EVENTS for e in events):
        problems.append("events is not one of enum values")
    if problems:
        raise SimError(400, "Bad Request", response={"message": [problems]})
    given = hook.get("headers")
    headers: dict[str, Any] = given if isinstance(given, dict) else {}
    enabled = bool(hook.get("enabled"))
    return {
        "enabled": enabled,
        "url": str(hook["url"]),
        "headers": {str(k): str(v) for k, v in headers.items()},
        "webhookByEvents": bool(hook.get("byEvents", False)),
        "webhookBase64": bool(hook.get("base64", False)),
        "events": (list(events) or sorted(EVOLUTION_EVENTS)) if enabled else [],
    }


def evolution_destinations(webhook: dict[str, Any] | None, event: str) -> list[Destination]:
    """Where Evolution posts ``event`` (``messages.update``) for an instance's webhook."""
    if not webhook or not webhook.get("enabled"):
        return []
    upper = event.replace(".", "_").upper()
    if upper not in webhook.get("events", []):
        return []
    url = str(webhook["url"])
    if webhook.get("webhookByEvents"):
        url = f"{url.rstrip('/')}/{upper.replace('_', '-').lower()}"
    return [Destination(url, None, tuple(webhook.get("headers", {}).items()))]


def connection_update_event(instance: str, state: str, server_url: str) -> dict[str, Any]:
    """Evolution's ``connection.update`` webhook body."""
    return {
        "event": "connection.update",
        "instance": instance,
        "data": {"instance": instance, "state": state, "statusReason": 200},
        "destination": "",
        "date_time": "",
        "server_url": server_url,
        "apikey": "",
    }
