from datetime import UTC, datetime

import pytest
from pydantic import SecretStr

from herald_core.accounts.model import (
    AccountStatus,
    GatewayAdapter,
    GatewaySession,
    HealthStatus,
    InvalidAccountSettings,
    SenderAccount,
    SessionEngine,
    account_document,
    account_of,
    check_account,
    check_session,
)
from herald_core.attempt_plan import Route

NOW = datetime(2026, 5, 20, 12, tzinfo=UTC)
SECRET = "sk-very-secret-1234"


def session(
    engine: SessionEngine,
    gateway: GatewayAdapter = GatewayAdapter.WAHA,
    api_key: str | None = SECRET,
) -> GatewaySession:
    return GatewaySession(
        engine=engine,
        gateway=gateway,
        base_url="http://waha:3000",
        session="sales",
        api_key=SecretStr(api_key) if api_key is not None else None,
    )


def account(**changes: object) -> SenderAccount:
    fields: dict[str, object] = {
        "id": "acc_1",
        "tenant_id": "t1",
        "phone": "+919876543210",
        "primary": session(SessionEngine.BAILEYS, GatewayAdapter.EVOLUTION),
        "fallback": session(SessionEngine.WHATSAPP_WEB_JS),
        "hourly_cap": 100,
        "daily_cap": 1000,
        "warmup_schedule": (50, 100),
        "activated_at": NOW,
        "created_at": NOW,
        "updated_at": NOW,
        **changes,
    }
    return SenderAccount.model_validate(fields)


def test_each_deployment_finds_its_session() -> None:
    sender = account()
    assert sender.session_for(Route.PRIMARY).engine is SessionEngine.BAILEYS
    assert sender.session_for(Route.FALLBACK).engine is SessionEngine.WHATSAPP_WEB_JS


def test_health_is_unknown_until_checked() -> None:
    assert account().primary.health.status is HealthStatus.UNKNOWN
    assert account().primary.health.checked_at is None


def test_the_api_key_does_not_show_when_an_account_is_printed() -> None:
    sender = account()
    assert SECRET not in repr(sender)
    assert SECRET not in str(sender)
    assert SECRET not in sender.model_dump_json()


def test_a_document_holds_the_key_for_the_senders_and_reads_back_the_same() -> None:
    sender = account(name="Sales", status=AccountStatus.DISABLED, disabled_at=NOW)
    document = account_document(sender)
    assert document["_id"] == "acc_1"
    assert document["sessions"]["primary"]["apiKey"] == SECRET
    assert document["sessions"]["fallback"]["health"] == {
        "status": "UNKNOWN",
        "checkedAt": None,
        "detail": None,
    }
    assert document["warmupSchedule"] == [50, 100]
    assert account_of(document) == sender


def test_the_limits_follow_the_account() -> None:
    limits = account().limits
    assert (limits.hourly_cap, limits.daily_cap, limits.warmup_schedule) == (100, 1000, (50, 100))
    assert limits.activated_at == NOW


def test_a_well_formed_account_keeps_the_rules() -> None:
    check_account(account())


def test_evolution_cannot_run_the_whatsapp_web_js_session() -> None:
    fallback = session(SessionEngine.WHATSAPP_WEB_JS, GatewayAdapter.EVOLUTION)
    with pytest.raises(InvalidAccountSettings) as raised:
        check_session(Route.FALLBACK, fallback)
    assert raised.value.field == "fallback.gateway"
    assert "evolution cannot run whatsapp-web.js" in raised.value.message


def test_evolution_needs_an_api_key() -> None:
    primary = session(SessionEngine.BAILEYS, GatewayAdapter.EVOLUTION, api_key=None)
    with pytest.raises(InvalidAccountSettings) as raised:
        check_session(Route.PRIMARY, primary)
    assert raised.value.field == "primary.apiKey"


def test_waha_runs_without_an_api_key() -> None:
    check_session(Route.PRIMARY, session(SessionEngine.BAILEYS, api_key=None))


def test_a_session_on_the_wrong_library_for_its_deployment_is_refused() -> None:
    with pytest.raises(InvalidAccountSettings) as raised:
        check_session(Route.PRIMARY, session(SessionEngine.WHATSAPP_WEB_JS))
    assert raised.value.field == "primary.engine"
