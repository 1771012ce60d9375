from herald_sender.circuit_breaker import CircuitBreaker, CircuitState


def test_opens_after_the_threshold_of_consecutive_failures_and_not_before() -> None:
    breaker = CircuitBreaker(threshold=3, cooldown_seconds=10)
    for now in (1.0, 2.0):
        breaker.record_failure(now, "gateway-error")
        assert breaker.allows(now)
    breaker.record_failure(3.0, "gateway-error")
    assert breaker.state is CircuitState.OPEN
    assert not breaker.allows(12.9)


def test_a_success_resets_the_count() -> None:
    breaker = CircuitBreaker(threshold=2, cooldown_seconds=10)
    breaker.record_failure(1.0, "gateway-error")
    breaker.record_success()
    breaker.record_failure(2.0, "gateway-error")
    assert breaker.state is CircuitState.CLOSED


def test_a_disconnected_session_opens_it_at_once() -> None:
    breaker = CircuitBreaker(threshold=5, cooldown_seconds=10)
    breaker.record_failure(1.0, "session-not-connected", session_down=True)
    assert not breaker.allows(1.5)
    assert breaker.reason == "session-not-connected"


def test_after_the_cool_down_one_trial_closes_or_reopens_it() -> None:
    breaker = CircuitBreaker(threshold=1, cooldown_seconds=10)
    breaker.record_failure(0.0, "rate-limited")
    assert breaker.allows(10.0)
    assert breaker.state is CircuitState.HALF_OPEN
    breaker.record_failure(10.0, "rate-limited")  # the trial failed: another cool-down
    assert not breaker.allows(19.9)
    assert breaker.allows(20.0)
    breaker.record_success()
    assert breaker.state.value == CircuitState.CLOSED.value
    assert breaker.consecutive_failures == 0
