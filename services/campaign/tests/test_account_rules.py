from datetime import UTC, datetime, timedelta

import pytest
from pydantic import SecretStr

from herald_campaign.domain.accounts import (
    AccountChanges,
    AccountDefaults,
    AccountDraft,
    SessionChanges,
    SessionSetup,
    changed_account,
    disabled_account,
    enabled_account,
    new_account,
)
from herald_core.accounts.model import (
    AccountStatus,
    GatewayAdapter,
    HealthStatus,
    InvalidAccountSettings,
    SenderAccount,
    SessionEngine,
    SessionHealth,
)

NOW = datetime(2026, 5, 20, 12, tzinfo=UTC)
LATER = NOW + timedelta(hours=1)
DEFAULTS = AccountDefaults(hourly_cap=150, daily_cap=1000, warmup_schedule=(50, 100))
WAHA = SessionSetup(GatewayAdapter.WAHA, "http://waha:3000", "noweb", SecretStr("key-1"))
WAHA_WEBJS = SessionSetup(GatewayAdapter.WAHA, "http://waha:3000", "webjs", SecretStr("key-2"))


def create(**draft: object) -> SenderAccount:
    fields: dict[str, object] = {"phone": "98765 43210", "primary": WAHA, "fallback": WAHA_WEBJS}
    return new_account(
        "acc_1",
        "t1",
        AccountDraft(**{**fields, **draft}),  # type: ignore[arg-type]
        defaults=DEFAULTS,
        default_region="IN",
        now=NOW,
        receipt_token=SecretStr("rt_" + "a" * 43),
    )


def test_a_new_account_is_enabled_in_e164_with_the_default_caps() -> None:
    account = create()
    assert account.phone == "+919876543210"
    assert account.status is AccountStatus.ENABLED
    assert (account.hourly_cap, account.daily_cap) == (150, 1000)
    assert account.warmup_schedule == (50, 100)
    assert account.activated_at == NOW
    assert account.primary.engine is SessionEngine.BAILEYS
    assert account.fallback.engine is SessionEngine.WHATSAPP_WEB_JS
    assert account.primary.health.status is HealthStatus.UNKNOWN


def test_a_draft_may_set_its_own_caps_warmup_and_activation() -> None:
    earlier = NOW - timedelta(days=30)
    account = create(hourly_cap=10, daily_cap=20, warmup_schedule=(), activated_at=earlier)
    assert (account.hourly_cap, account.daily_cap, account.warmup_schedule) == (10, 20, ())
    assert account.activated_at == earlier


def test_an_invalid_phone_names_the_field() -> None:
    with pytest.raises(InvalidAccountSettings) as raised:
        create(phone="12")
    assert raised.value.field == "phone"


def test_an_evolution_fallback_is_refused_naming_the_field() -> None:
    evolution = SessionSetup(GatewayAdapter.EVOLUTION, "http://evo:8080", "sales", SecretStr("k"))
    with pytest.raises(InvalidAccountSettings) as raised:
        create(fallback=evolution)
    assert raised.value.field == "fallback.gateway"


def test_changes_touch_only_what_they_name() -> None:
    account = create(name="Sales")
    changed = changed_account(account, AccountChanges(hourly_cap=5), default_region="IN", now=LATER)
    assert changed.hourly_cap == 5
    assert changed.name == "Sales"
    assert changed.daily_cap == account.daily_cap
    assert changed.primary == account.primary
    assert changed.updated_at == LATER
    assert changed.created_at == NOW


def test_a_name_can_be_removed_and_a_phone_changed() -> None:
    changed = changed_account(
        create(name="Sales"),
        AccountChanges(remove_name=True, phone="+91 98765 00000"),
        default_region="IN",
        now=LATER,
    )
    assert changed.name is None
    assert changed.phone == "+919876500000"


def test_an_api_key_can_be_replaced_or_removed_and_the_rest_of_the_session_stays() -> None:
    account = create()
    replaced = changed_account(
        account,
        AccountChanges(primary=SessionChanges(api_key=SecretStr("key-new"))),
        default_region="IN",
        now=LATER,
    )
    assert replaced.primary.api_key == SecretStr("key-new")
    assert replaced.primary.session == "noweb"
    assert replaced.fallback == account.fallback
    removed = changed_account(
        account,
        AccountChanges(fallback=SessionChanges(remove_api_key=True)),
        default_region="IN",
        now=LATER,
    )
    assert removed.fallback.api_key is None


def test_a_changed_session_has_unknown_health_and_an_unchanged_one_keeps_its_own() -> None:
    working = SessionHealth(status=HealthStatus.WORKING, checked_at=NOW)
    account = create()
    account = account.model_copy(
        update={
            "primary": account.primary.model_copy(update={"health": working}),
            "fallback": account.fallback.model_copy(update={"health": working}),
        }
    )
    changed = changed_account(
        account,
        AccountChanges(
            primary=SessionChanges(session="other"),
            fallback=SessionChanges(session="webjs"),  # the same as it was
        ),
        default_region="IN",
        now=LATER,
    )
    assert changed.primary.health.status is HealthStatus.UNKNOWN
    assert changed.fallback.health == working


def test_changes_that_break_a_rule_name_the_field() -> None:
    with pytest.raises(InvalidAccountSettings) as raised:
        changed_account(
            create(),
            AccountChanges(fallback=SessionChanges(gateway=GatewayAdapter.EVOLUTION)),
            default_region="IN",
            now=LATER,
        )
    assert raised.value.field == "fallback.gateway"
    with pytest.raises(InvalidAccountSettings) as raised:
        changed_account(
            create(),
            AccountChanges(
                primary=SessionChanges(gateway=GatewayAdapter.EVOLUTION, remove_api_key=True)
            ),
            default_region="IN",
            now=LATER,
        )
    assert raised.value.field == "primary.apiKey"


def test_disabling_and_enabling_are_idempotent() -> None:
    account = create()
    disabled = disabled_account(account, LATER)
    assert disabled.status is AccountStatus.DISABLED
    assert disabled.disabled_at == LATER
    assert disabled_account(disabled, LATER + timedelta(hours=1)) is disabled
    enabled = enabled_account(disabled, LATER)
    assert enabled.status is AccountStatus.ENABLED
    assert enabled.disabled_at is None
    assert enabled_account(enabled, LATER) is enabled
    # The warm-up counts from the first activation, not from enabling again.
    assert enabled.activated_at == NOW
