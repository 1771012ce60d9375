"""What each service declares it publishes follows the attempt plan."""

from __future__ import annotations

from faststream.kafka import KafkaBroker

from herald_campaign.asyncapi import campaign_publications
from herald_core.attempt_plan import AttemptPlan, Route
from herald_core.contracts.events import SendMessage
from herald_dispatcher.asyncapi import FAN_OUT, RELAY, dispatcher_publications
from herald_infra.runtime.asyncapi import Publication, declare_publications, publisher_title
from herald_scheduler.asyncapi import scheduler_publications
from herald_sender.asyncapi import next_attempts, sender_publications

DEFAULT = AttemptPlan.parse("primary, fallback, fallback@60s")


def topics(publications: list[Publication]) -> list[str]:
    return [p.topic for p in publications]


def test_under_the_default_plan_primary_hands_over_at_once_and_fallback_after_a_minute() -> None:
    assert [a.topic for a in next_attempts(DEFAULT, Route.PRIMARY)] == ["message.send.fallback"]
    assert [a.topic for a in next_attempts(DEFAULT, Route.FALLBACK)] == ["message.retry.60s"]
    assert topics(sender_publications(DEFAULT, Route.FALLBACK)) == [
        "message.retry.60s",
        "message.dlt",
        "message.status",
    ]


def test_a_primary_that_retries_itself_later_also_jumps_to_the_fallback_when_rate_limited() -> None:
    plan = AttemptPlan.parse("primary, primary@30s, fallback@2m")
    assert [a.topic for a in next_attempts(plan, Route.PRIMARY)] == [
        "message.retry.30s",
        "message.retry.120s",
    ]
    assert next_attempts(plan, Route.FALLBACK) == []
    delayed = sender_publications(plan, Route.PRIMARY)[0]
    assert delayed.payload is SendMessage
    assert "retry_topic-backoff-timestamp" in delayed.description


def test_the_dispatcher_publishes_the_fan_out_and_relays_to_their_send_topics() -> None:
    default = dispatcher_publications(DEFAULT)
    assert topics(default) == ["message.send.primary", "message.send.fallback", "message.dlt"]
    assert RELAY in default[1].description and FAN_OUT not in default[1].description

    back_to_primary = dispatcher_publications(AttemptPlan.parse("primary, primary@10s"))
    assert topics(back_to_primary) == ["message.send.primary", "message.dlt"]
    assert FAN_OUT in back_to_primary[0].description
    assert RELAY in back_to_primary[0].description


def test_services_that_republish_may_publish_on_either_send_topic() -> None:
    for publications in (campaign_publications(DEFAULT), scheduler_publications(DEFAULT)):
        assert {"message.send.primary", "message.send.fallback"} <= set(topics(publications))
    primary_only = AttemptPlan.parse("primary, primary@1m")
    assert "message.send.fallback" not in topics(campaign_publications(primary_only))


def test_a_declared_publication_is_a_documented_publisher_on_the_broker() -> None:
    broker = KafkaBroker("localhost:9092")
    declare_publications(broker, "dispatcher", dispatcher_publications(DEFAULT))
    names = sorted(publisher.specification.name for publisher in broker.publishers)
    assert names == sorted(
        publisher_title("dispatcher", topic)
        for topic in ("message.send.primary", "message.send.fallback", "message.dlt")
    )
