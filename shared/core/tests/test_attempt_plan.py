import pytest

from herald_core.attempt_plan import AttemptPlan, InvalidAttemptPlan, Route
from herald_core.contracts.topics import MESSAGE_SEND_FALLBACK, MESSAGE_SEND_PRIMARY
from herald_infra.kafka.topics import herald_topics
from herald_infra.runtime.settings import HeraldSettings

SEED = AttemptPlan.parse("primary, fallback, fallback@60s")


def test_the_seed_plan_primary_then_fallback_at_once_then_fallback_after_a_back_off() -> None:
    first = SEED.next_attempt(0)
    assert first is not None
    assert (first.step, first.route, first.delay_seconds, first.topic) == (
        1,
        Route.FALLBACK,
        0.0,
        MESSAGE_SEND_FALLBACK,
    )
    second = SEED.next_attempt(1)
    assert second is not None
    assert (second.step, second.route, second.topic) == (2, Route.FALLBACK, "message.retry.60s")
    assert SEED.next_attempt(2) is None
    assert SEED.first_topic == MESSAGE_SEND_PRIMARY


def test_switching_route_skips_to_the_first_later_step_on_another_route() -> None:
    plan = AttemptPlan.parse("primary, primary@30s, fallback@5s")
    same = plan.next_attempt(0)
    assert same is not None and (same.step, same.route) == (1, Route.PRIMARY)
    switched = plan.next_attempt(0, switch_route=True)
    assert switched is not None and (switched.step, switched.route) == (2, Route.FALLBACK)
    # Nowhere else to go: the plan's own next step.
    only_fallback = AttemptPlan.parse("fallback, fallback@1s")
    stay = only_fallback.next_attempt(0, switch_route=True)
    assert stay is not None and stay.step == 1


def test_a_route_that_can_never_send_it_goes_to_another_route_or_nowhere() -> None:
    plan = AttemptPlan.parse("primary, primary@30s, fallback@5s, primary")
    other = plan.next_attempt_on_another_route(0)
    assert other is not None and (other.step, other.route) == (2, Route.FALLBACK)
    back = plan.next_attempt_on_another_route(2)
    assert back is not None and (back.step, back.route) == (3, Route.PRIMARY)
    # Unlike a retryable switch, never the same route again.
    assert AttemptPlan.parse("fallback, fallback@1s").next_attempt_on_another_route(0) is None


def test_delays_are_read_in_several_units_and_name_one_topic_each() -> None:
    plan = AttemptPlan.parse("primary, fallback@500ms, fallback@2m, primary@2m, fallback@1.5s")
    assert [s.delay_seconds for s in plan.steps] == [0, 0.5, 120, 120, 1.5]
    assert plan.retry_topics() == [
        "message.retry.120s",
        "message.retry.1500ms",
        "message.retry.500ms",
    ]


@pytest.mark.parametrize(
    ("text", "complaint"),
    [
        ("primary, baileys", "unknown route 'baileys'"),
        ("primary, fallback@soon", "cannot read attempt step 'fallback@soon'"),
        ("primary@10s, fallback", "the first attempt cannot wait"),
        ("primary,, fallback", "cannot read attempt step ''"),
    ],
)
def test_an_unreadable_plan_is_refused_with_the_step_named(text: str, complaint: str) -> None:
    with pytest.raises(InvalidAttemptPlan, match=complaint):
        AttemptPlan.parse(text)


def test_each_delay_of_the_configured_plan_gets_its_topic() -> None:
    settings = HeraldSettings(attempt_plan="primary, fallback@3s, fallback@60s")
    names = [t.name for t in herald_topics(settings)]
    assert "message.retry.3s" in names and "message.retry.60s" in names
