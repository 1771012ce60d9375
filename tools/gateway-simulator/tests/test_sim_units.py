"""The pure modules: fault decision, latency, ids, ledger, session parsing, CLI parsing."""

from __future__ import annotations

import random
import re
import time
import tracemalloc

import pytest

from herald_simulator.config import Engine, FaultMode, SessionSpec, parse_sessions
from herald_simulator.errors import SimError
from herald_simulator.faults import FaultSettings, apply_update, decide, draw_latency_seconds
from herald_simulator.ids import MessageIdGenerator
from herald_simulator.ledger import Outcome, SendLedger, ledger_key
from herald_simulator.main import config_from_args


def test_decide_forced_mode_wins_over_failure_rate() -> None:
    rng = random.Random(0)
    settings = FaultSettings(failure_rate=1.0, mode=FaultMode.RATE_LIMIT)
    assert decide(settings, "default", rng) is FaultMode.RATE_LIMIT
    settings.session_modes["default"] = FaultMode.OK
    assert decide(settings, "default", rng) is FaultMode.FAIL_5XX  # rate applies under "ok"
    assert decide(settings, "other", rng) is FaultMode.RATE_LIMIT


def test_decide_failure_rate_statistics() -> None:
    rng = random.Random(123)
    settings = FaultSettings(failure_rate=0.25)
    failures = sum(decide(settings, "s", rng) is FaultMode.FAIL_5XX for _ in range(10_000))
    assert 2_300 < failures < 2_700


def test_decide_without_failure_rate_does_not_draw() -> None:
    rng = random.Random(5)
    state = rng.getstate()
    assert decide(FaultSettings(), "s", rng) is FaultMode.OK
    assert rng.getstate() == state


def test_latency_bounds() -> None:
    rng = random.Random(1)
    assert draw_latency_seconds(FaultSettings(latency_ms=250), rng) == 0.25
    draws = [
        draw_latency_seconds(FaultSettings(latency_ms=100, latency_jitter_ms=50), rng)
        for _ in range(1000)
    ]
    assert all(0.05 <= d <= 0.15 for d in draws)
    clipped = draw_latency_seconds(FaultSettings(latency_ms=0, latency_jitter_ms=100), rng)
    assert clipped >= 0.0


def test_ids_unique_and_reproducible() -> None:
    a = MessageIdGenerator(random.Random(9))
    b = MessageIdGenerator(random.Random(9))
    ids_a = [a.next_id() for _ in range(10_000)]
    assert ids_a == [b.next_id() for _ in range(10_000)]
    assert len(set(ids_a)) == len(ids_a)
    assert all(re.fullmatch(r"3EB0[0-9A-F]{20}", i) for i in ids_a)


def test_apply_update_is_all_or_nothing() -> None:
    settings = FaultSettings(latency_ms=5)
    with pytest.raises(SimError) as err:
        apply_update(settings, {"latencyMs": 10, "mode": "bogus"})
    assert err.value.status == 400 and err.value.extra["field"] == "mode"
    assert settings.latency_ms == 5 and settings.mode is FaultMode.OK
    apply_update(settings, {"sessionModes": {"a": "timeout"}, "mode": "fail_5xx"})
    assert settings.mode_for("a") is FaultMode.TIMEOUT
    assert settings.mode_for("b") is FaultMode.FAIL_5XX


def test_ledger_counts() -> None:
    ledger = SendLedger(text_preview_chars=4)

    def add(key: str | None, outcome: Outcome) -> None:
        ledger.record(
            key,
            time=0.0,
            session="s",
            chat_id="1@c.us",
            text="hello world",
            outcome=outcome,
            status_code=201,
        )

    add("k", Outcome.ACCEPTED)
    add("k", Outcome.FAIL_5XX)
    add("k", Outcome.ACCEPTED)
    add("k", Outcome.ACCEPTED)
    add(None, Outcome.INVALID_REQUEST)
    assert ledger.total == 5 and ledger.accepted == 3
    assert ledger.accepted_count("k") == 3
    assert ledger.duplicates == ["k"]  # listed once, however many repeats
    assert [r.text for r in ledger.sends_for("k")] == ["hell"] * 4
    assert ledger_key(None, "s", "1@c.us", "t") == "s|1@c.us|t"
    assert ledger_key("h1", "s", "1@c.us", "t") == "h1"


def _fill(ledger: SendLedger, n: int, offset: int = 0) -> None:
    ids = MessageIdGenerator(random.Random(1))
    text = "Hello Priya, your order #12345 has shipped and arrives on Tuesday. " * 3
    for i in range(offset, offset + n):
        ledger.record(
            f"01JB8ZJ5Q4{i:016d}",
            time=time.time(),
            session="primary",
            chat_id=f"91987{i:07d}@c.us",
            text=text,
            outcome=Outcome.ACCEPTED,
            status_code=201,
            gateway_message_id=ids.next_id(),
        )


def test_ledger_memory_per_send_is_small() -> None:
    ledger = SendLedger()
    tracemalloc.start()
    try:
        before, _ = tracemalloc.get_traced_memory()
        _fill(ledger, 20_000)
        after, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    per_send = (after - before) / 20_000
    assert per_send < 700, per_send  # about 530 bytes: 100,000 sends in ~55 MB


def test_ledger_copes_with_100k_sends() -> None:
    ledger = SendLedger()
    started = time.monotonic()
    _fill(ledger, 100_000)
    _fill(ledger, 10, offset=500)  # ten duplicates
    assert time.monotonic() - started < 10
    summary = ledger.summary()
    assert summary["total"] == 100_010 and summary["distinct"] == 100_000
    assert len(summary["duplicates"]) == 10


def test_parse_sessions() -> None:
    assert parse_sessions("default") == (SessionSpec("default"),)
    assert parse_sessions(" a:noweb , b:WEBJS ") == (
        SessionSpec("a", Engine.NOWEB),
        SessionSpec("b", Engine.WEBJS),
    )
    for bad in ("", " , ", "a,a", "a:TELEGRAM", "a/b"):
        with pytest.raises(ValueError):
            parse_sessions(bad)


def test_cli_options_and_env() -> None:
    env = {"SIM_PORT": "4000", "SIM_ENGINE": "webjs", "SIM_FAILURE_RATE": "0.5", "SIM_SEED": "7"}
    config = config_from_args(["--port", "4100", "--sessions", "p,f:NOWEB"], env=env)
    assert config.port == 4100  # command line wins
    assert config.engine is Engine.WEBJS
    assert config.failure_rate == 0.5
    assert config.seed == 7
    assert config.host == "127.0.0.1"
    assert config.api_key is None
    assert [s.name for s in config.sessions] == ["p", "f"]
    defaults = config_from_args([], env={})
    assert defaults.port == 3100 and defaults.engine is Engine.NOWEB
    assert [s.name for s in defaults.sessions] == ["default"]


@pytest.mark.parametrize(
    "argv",
    [["--failure-rate", "1.5"], ["--engine", "X"], ["--latency-ms", "-1"], ["--sessions", ""]],
)
def test_cli_rejects_bad_options(argv: list[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        config_from_args(argv, env={})
    assert exc.value.code == 2
