"""A thin client of Herald's REST API: one method per route the CLI uses, JSON in and out.

Errors are exceptions that keep what a person needs to read: :class:`ApiError` (the API
answered 4xx/5xx: its ``error`` and the ``fields`` it names) and :class:`ApiUnreachable` (no
answer: where it tried, and why).
"""

from __future__ import annotations

from collections.abc import Generator, Iterator, Mapping
from dataclasses import dataclass, field
from importlib.metadata import version
from typing import IO, Any
from urllib.parse import quote

import httpx

from herald_cli.connection import Connection

REQUEST_TIMEOUT = httpx.Timeout(30.0, connect=10.0)
UPLOAD_TIMEOUT = httpx.Timeout(30.0, connect=10.0, read=None, write=None)
"""A CSV import answers once the whole file is in: no limit on sending it or on the answer."""
UPLOAD_CHUNK_BYTES = 64 * 1024

Json = dict[str, Any]


@dataclass(frozen=True)
class FieldError:
    field: str
    message: str


@dataclass(frozen=True)
class ApiError(Exception):
    """The API answered with an error status."""

    status: int
    method: str
    path: str
    message: str
    fields: list[FieldError] = field(default_factory=list)
    body: Json = field(default_factory=dict)
    """The whole JSON error body (a CSV import that stopped says its ``line`` here)."""

    def __str__(self) -> str:
        return f"{self.status} {self.message}"


@dataclass(frozen=True)
class ApiUnreachable(Exception):
    """No answer from the API."""

    url: str
    reason: str

    def __str__(self) -> str:
        return f"cannot reach the Herald API at {self.url}: {self.reason}"


def _reason(error: httpx.TransportError) -> str:
    if isinstance(error, httpx.ConnectTimeout):
        return "no connection within 10 s"
    if isinstance(error, httpx.TimeoutException):
        return "no answer within 30 s"
    if isinstance(error, httpx.ConnectError):
        text = str(error)
        if "refused" in text.lower():
            return "connection refused (is it up? `make up` starts it)"
        return text or "cannot connect"
    return str(error) or type(error).__name__


def api_error(response: httpx.Response) -> ApiError:
    """The error of a 4xx/5xx answer, from Herald's ``{"error", "fields"}`` body when it has
    one, else from the status line and the start of the body."""
    request = response.request
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and isinstance(body.get("error"), str):
        fields = [
            FieldError(str(item.get("field", "")), str(item.get("message", "")))
            for item in body.get("fields") or []
            if isinstance(item, dict)
        ]
        message = body["error"]
        return ApiError(
            response.status_code, request.method, request.url.path, message, fields, body
        )
    text = response.text.strip()[:200] or response.reason_phrase
    return ApiError(response.status_code, request.method, request.url.path, text)


def _file_chunks(stream: IO[bytes]) -> Iterator[bytes]:
    while chunk := stream.read(UPLOAD_CHUNK_BYTES):
        yield chunk


def _segment(value: str) -> str:
    return quote(value, safe="")


def _keys_path(tenant_id: str | None) -> str:
    if tenant_id is None:
        return "/api/admin/keys"
    return f"/api/admin/tenants/{_segment(tenant_id)}/keys"


class HeraldApi:
    """The routes of the campaign service's REST API that the CLI uses."""

    def __init__(self, connection: Connection, *, transport: httpx.BaseTransport | None = None):
        self.connection = connection
        self._client = httpx.Client(
            base_url=connection.api_url,
            headers={
                "Authorization": f"Bearer {connection.token}",
                "User-Agent": f"herald-cli/{version('herald-cli')}",
            },
            timeout=REQUEST_TIMEOUT,
            transport=transport,
        )

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> HeraldApi:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def _call(
        self,
        method: str,
        path: str,
        *,
        json: Json | None = None,
        params: Mapping[str, str | int] | None = None,
        content: Iterator[bytes] | None = None,
        headers: Mapping[str, str] | None = None,
        timeout: httpx.Timeout = REQUEST_TIMEOUT,
    ) -> Json:
        try:
            response = self._client.request(
                method,
                path,
                json=json,
                params=dict(params or {}),
                content=content,
                headers=headers,
                timeout=timeout,
            )
        except httpx.TransportError as error:
            raise ApiUnreachable(self.connection.api_url, _reason(error)) from error
        if response.is_error:
            raise api_error(response)
        if not response.content:
            return {}
        result = response.json()
        return result if isinstance(result, dict) else {"items": result}

    # Campaigns

    def create_campaign(self, body: Json) -> Json:
        return self._call("POST", "/api/campaigns", json=body)

    def list_campaigns(self, *, limit: int, offset: int) -> Json:
        return self._call("GET", "/api/campaigns", params={"limit": limit, "offset": offset})

    def campaign(self, campaign_id: str) -> Json:
        return self._call("GET", f"/api/campaigns/{_segment(campaign_id)}")

    def campaign_stats(self, campaign_id: str) -> Json:
        return self._call("GET", f"/api/messages/campaign/{_segment(campaign_id)}/stats")

    def import_contacts_csv(self, campaign_id: str, csv_file: IO[bytes]) -> Json:
        """Stream a CSV file as the request body (``text/csv``), as it is read."""
        return self._call(
            "POST",
            f"/api/campaigns/{_segment(campaign_id)}/contacts",
            content=_file_chunks(csv_file),
            headers={"Content-Type": "text/csv; charset=utf-8"},
            timeout=UPLOAD_TIMEOUT,
        )

    def upload_media(self, file: IO[bytes], *, mimetype: str, filename: str | None) -> Json:
        """Stream a media file as the request body of ``POST /api/media``."""
        return self._call(
            "POST",
            "/api/media",
            content=_file_chunks(file),
            params={"filename": filename} if filename else None,
            headers={"Content-Type": mimetype},
            timeout=UPLOAD_TIMEOUT,
        )

    def send_campaign(self, campaign_id: str, schedule: Json | None = None) -> Json:
        return self._call("POST", f"/api/campaigns/{_segment(campaign_id)}/send", json=schedule)

    def pause_campaign(self, campaign_id: str, reason: str | None) -> Json:
        body = {"reason": reason} if reason else None
        return self._call("POST", f"/api/campaigns/{_segment(campaign_id)}/pause", json=body)

    def resume_campaign(self, campaign_id: str) -> Json:
        return self._call("POST", f"/api/campaigns/{_segment(campaign_id)}/resume")

    def cancel_campaign(self, campaign_id: str, reason: str | None) -> Json:
        body = {"reason": reason} if reason else None
        return self._call("POST", f"/api/campaigns/{_segment(campaign_id)}/cancel", json=body)

    # Dead letters

    def dead_letters(self, filters: Mapping[str, str | int]) -> Json:
        return self._call("GET", "/api/dead-letters", params=filters)

    def redrive_dead_letter(self, dead_letter_id: str) -> Json:
        return self._call("POST", f"/api/dead-letters/{_segment(dead_letter_id)}/redrive")

    def redrive_campaign_dead_letters(self, campaign_id: str) -> Json:
        return self._call("POST", f"/api/campaigns/{_segment(campaign_id)}/dead-letters/redrive")

    # Accounts, queues, schedules

    def accounts(self, filters: Mapping[str, str | int]) -> Json:
        return self._call("GET", "/api/accounts", params=filters)

    def queue_stats(self) -> Json:
        return self._call("GET", "/api/messages/queue-stats")

    def schedules(self) -> Json:
        """The tenant's schedules (never a system job)."""
        return self._call("GET", "/api/schedules")

    def run_schedule(self, schedule_id: str) -> Json:
        return self._call("POST", f"/api/schedules/{_segment(schedule_id)}/run")

    def system_jobs(self) -> Json:
        """Operators: the system jobs (the redrive, the sweep)."""
        return self._call("GET", "/api/admin/schedules")

    def run_system_job(self, schedule_id: str) -> Json:
        """Operators: run a system job now (409 while its previous run is in progress)."""
        return self._call("POST", f"/api/admin/schedules/{_segment(schedule_id)}/run")

    # Suppression list (phones in paths are E.164: their ``+`` is sent as ``%2B``)

    def suppressions(self, *, after: str | None, limit: int) -> Json:
        params: dict[str, str | int] = {"limit": limit}
        if after:
            params["after"] = after
        return self._call("GET", "/api/suppressions", params=params)

    def add_suppressions(self, numbers: list[str]) -> Json:
        return self._call("POST", "/api/suppressions", json={"numbers": numbers})

    def suppression(self, phone: str) -> Json:
        return self._call("GET", f"/api/suppressions/{_segment(phone)}")

    def remove_suppression(self, phone: str) -> None:
        self._call("DELETE", f"/api/suppressions/{_segment(phone)}")

    def import_suppressions_csv(self, csv_file: IO[bytes]) -> Json:
        """Stream a CSV file (a ``phone`` column) as the request body, as it is read."""
        return self._call(
            "POST",
            "/api/suppressions/import",
            content=_file_chunks(csv_file),
            headers={"Content-Type": "text/csv; charset=utf-8"},
            timeout=UPLOAD_TIMEOUT,
        )

    def export_suppressions_csv(self) -> Generator[bytes, None, None]:
        """The list as CSV, chunk by chunk as it arrives. A generator: the request is made
        when the first chunk is asked for; close it (or read it to the end) to end it."""
        return self._download("/api/suppressions/export")

    def add_not_on_whatsapp(self, campaign_id: str) -> Json:
        return self._call(
            "POST", "/api/suppressions/not-on-whatsapp", json={"campaignId": campaign_id}
        )

    def keyword_settings(self) -> Json:
        return self._call("GET", "/api/suppressions/keywords")

    def set_keyword_settings(self, settings: Json) -> Json:
        return self._call("PUT", "/api/suppressions/keywords", json=settings)

    # Operators: tenants and API keys (``/api/admin``)

    def create_tenant(self, body: Json) -> Json:
        return self._call("POST", "/api/admin/tenants", json=body)

    def tenants(self, filters: Mapping[str, str | int]) -> Json:
        return self._call("GET", "/api/admin/tenants", params=filters)

    def tenant(self, tenant_id: str) -> Json:
        return self._call("GET", f"/api/admin/tenants/{_segment(tenant_id)}")

    def disable_tenant(self, tenant_id: str) -> Json:
        return self._call("POST", f"/api/admin/tenants/{_segment(tenant_id)}/disable")

    def enable_tenant(self, tenant_id: str) -> Json:
        return self._call("POST", f"/api/admin/tenants/{_segment(tenant_id)}/enable")

    def issue_key(self, tenant_id: str | None, body: Json) -> Json:
        """A tenant's key, or an operator key for None."""
        return self._call("POST", _keys_path(tenant_id), json=body)

    def keys(self, tenant_id: str | None, filters: Mapping[str, str | int]) -> Json:
        return self._call("GET", _keys_path(tenant_id), params=filters)

    def revoke_key(self, tenant_id: str | None, key_id: str) -> None:
        self._call("DELETE", f"{_keys_path(tenant_id)}/{_segment(key_id)}")

    def _download(self, path: str) -> Generator[bytes, None, None]:
        refused: ApiError | None = None
        try:
            with self._client.stream("GET", path) as response:
                if response.is_error:
                    response.read()
                    refused = api_error(response)
                else:
                    yield from response.iter_bytes()
        except httpx.TransportError as error:
            raise ApiUnreachable(self.connection.api_url, _reason(error)) from error
        # Raised out here: a frozen error cannot pass through the stream's @contextmanager,
        # which sets the __traceback__ of what it re-raises.
        if refused is not None:
            raise refused
