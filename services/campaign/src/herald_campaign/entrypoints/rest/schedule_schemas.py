"""Request and response bodies of scheduled sends and ``/api/schedules`` (camelCase JSON)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, Field, ValidationInfo, field_validator

from herald_campaign.domain.schedules import SendSchedule
from herald_campaign.entrypoints.rest.schemas import (
    INSTANT_RANGE,
    Instant,
    RequestModel,
    ResponseModel,
)
from herald_campaign.service_layer.schedules import ScheduleList, is_system_job
from herald_core.schedules import CRON_HORIZON_YEARS, InvalidSchedule, check_cron, zone
from herald_infra.mongo.client import Document


class SendCampaignRequest(RequestModel):
    """Optional body of ``POST /api/campaigns/{id}/send``: without one the campaign sends now."""

    send_at: Instant | None = Field(
        default=None,
        description="Send once at this time (ISO 8601 with offset); a time that has passed "
        f"sends at once. {INSTANT_RANGE}",
    )
    # Before the cron expression: its check reads it.
    timezone: Annotated[str, Field(min_length=1, max_length=64)] = Field(
        default="UTC", description='The cron expression\'s time zone ("Europe/Berlin").'
    )
    cron: Annotated[str, Field(min_length=9, max_length=120)] | None = Field(
        default=None,
        description='Send at every firing of this cron expression ("0 9 * * MON"; six fields '
        'with seconds last, "* * * * * */30", also work), each firing a run of its own. One '
        f'that never fires (no firing within {CRON_HORIZON_YEARS} years: "0 0 30 2 *") is '
        "refused.",
    )

    @field_validator("cron")
    @classmethod
    def _readable_cron(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is None:
            return None
        if info.data.get("send_at") is not None:
            raise ValueError("give sendAt or cron, not both")
        try:
            # An unknown zone is the timezone field's error; the firing is checked in UTC then.
            check_cron(value, info.data.get("timezone", "UTC"))
        except InvalidSchedule as error:
            raise ValueError(str(error)) from None
        return value

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            zone(value)
        except InvalidSchedule as error:
            raise ValueError(str(error)) from None
        return value

    def schedule(self) -> SendSchedule | None:
        """The schedule asked for; None: send now."""
        if self.send_at is None and self.cron is None:
            return None
        return SendSchedule(self.send_at, self.cron, self.timezone)


class ScheduleResponse(ResponseModel):
    id: str
    kind: str = Field(description="campaign-send, or a system job: redrive, sweep")
    system: bool = Field(
        description="A system job (redrive, sweep): an operator's, under /api/admin/schedules; "
        "it cannot be stopped."
    )
    campaign_id: str | None = None
    send_at: datetime | None = Field(default=None, description="A one-shot schedule's time.")
    cron: str | None = None
    timezone: str | None = None
    active: bool = Field(description="False once stopped, or once a one-shot schedule fired.")
    next_run_at: datetime | None = None
    last_run_at: datetime | None = None
    run_requested_at: datetime | None = Field(
        default=None, description="A run asked for (POST …/run) that has not fired yet."
    )
    created_at: datetime | None = None
    stopped_at: datetime | None = None

    @classmethod
    def of(cls, schedule: Document) -> ScheduleResponse:
        return cls(
            id=schedule["_id"],
            kind=schedule["kind"],
            system=is_system_job(schedule),
            campaign_id=schedule.get("campaignId"),
            send_at=schedule.get("sendAt"),
            cron=schedule.get("cron"),
            timezone=schedule.get("timezone"),
            active=bool(schedule.get("active")),
            next_run_at=schedule.get("nextRunAt"),
            last_run_at=schedule.get("lastRunAt"),
            run_requested_at=schedule.get("runRequestedAt"),
            created_at=schedule.get("createdAt"),
            stopped_at=schedule.get("stoppedAt"),
        )


class ScheduleListResponse(ResponseModel):
    schedules: list[ScheduleResponse] = Field(description="The tenant's schedules, newest first.")
    total: int = Field(description="The tenant's schedules in all.")
    limit: int
    offset: int

    @classmethod
    def of(cls, listing: ScheduleList, *, limit: int, offset: int) -> ScheduleListResponse:
        return cls(
            schedules=[ScheduleResponse.of(s) for s in listing.own],
            total=listing.total,
            limit=limit,
            offset=offset,
        )


class SystemJobListResponse(ResponseModel):
    schedules: list[ScheduleResponse] = Field(
        description="The system jobs (the redrive, the sweep), by id, with their next runs."
    )

    @classmethod
    def of(cls, jobs: list[Document]) -> SystemJobListResponse:
        return cls(schedules=[ScheduleResponse.of(job) for job in jobs])


class StoppedScheduleResponse(ResponseModel):
    schedule: ScheduleResponse
    campaign_status: str | None = Field(
        default=None,
        description="The campaign's status now: draft when it never ran, completed when a "
        "recurring one had run, or as it was (a run under way completes by itself).",
    )


class StoppedSchedulesResponse(ResponseModel):
    stopped: int = Field(description="Schedules that were active and are stopped now.")


class ScheduleErrorResponse(BaseModel):
    error: str
    reason: str = Field(description="schedule-stopped, run-in-progress")
