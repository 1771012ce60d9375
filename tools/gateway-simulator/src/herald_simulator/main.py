"""Command line: ``herald-gateway-simulator`` (or ``python -m herald_simulator``).

Every option also reads an environment variable (``SIM_*``); the command line wins.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import signal
import sys
from collections.abc import Mapping, Sequence
from types import FrameType
from typing import Any

import uvicorn

from herald_simulator.app import SimulatorState, create_app
from herald_simulator.config import Engine, Profile, SimulatorConfig, WahaTier, parse_sessions
from herald_simulator.receipts import add_receipt_options, receipt_config_from_args
from herald_simulator.recipient_behaviours import behaviours_from_option

log = logging.getLogger("herald_simulator")


def _probability(text: str) -> float:
    value = float(text)
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError("must be between 0 and 1")
    return value


def _non_negative(text: str) -> float:
    value = float(text)
    if value < 0:
        raise argparse.ArgumentTypeError("must be >= 0")
    return value


def _engine(text: str) -> Engine:
    try:
        return Engine(text.upper())
    except ValueError:
        raise argparse.ArgumentTypeError("must be NOWEB, GOWS or WEBJS") from None


def _sessions(text: str) -> str:
    try:
        parse_sessions(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return text


def build_parser(env: Mapping[str, str]) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="herald-gateway-simulator",
        description="Gateway simulator speaking the WAHA subset Herald uses "
        "(POST /api/sendText, /api/sendImage, /api/sendVideo, /api/sendFile, GET "
        "/api/sessions/{name}, ...) and Evolution API's, with fault injection and a send "
        "ledger under /_sim. Every option can also be set with the SIM_* variable shown.",
    )

    def opt(flag: str, var: str, default: str | None, help_text: str, **kw: Any) -> None:
        parser.add_argument(
            flag,
            default=env.get(var, default),
            help=f"{help_text} [env {var}; default {default!r}]",
            **kw,
        )

    opt("--host", "SIM_HOST", "127.0.0.1", "interface to listen on")
    opt("--port", "SIM_PORT", "3100", "TCP port", type=int)
    opt(
        "--api-key",
        "SIM_API_KEY",
        None,
        "require this X-Api-Key on /api and /_sim requests (401 otherwise); unset: no auth",
    )
    opt("--engine", "SIM_ENGINE", "NOWEB", "response shape: NOWEB, GOWS or WEBJS", type=_engine)
    opt(
        "--waha-tier",
        "SIM_WAHA_TIER",
        "PLUS",
        "WAHA's tier: CORE serves only the session 'default', checks no API key, ignores "
        "webhooks' hmac and customHeaders and refuses media (422, a Plus feature); PLUS "
        "serves any session",
        choices=["CORE", "PLUS"],
        type=str.upper,
    )
    opt(
        "--profile",
        "SIM_PROFILE",
        "fast",
        "real: the gateways' own timing (WAHA waits 5 s for a session that is not WORKING "
        "before its 422); fast: the same answers at once",
        choices=["fast", "real"],
        type=str.lower,
    )
    opt(
        "--not-working-wait-seconds",
        "SIM_NOT_WORKING_WAIT_SECONDS",
        None,
        "override the profile's wait before WAHA's 422 for a session that is not WORKING",
        type=_non_negative,
    )
    opt(
        "--not-on-whatsapp",
        "SIM_NOT_ON_WHATSAPP",
        "",
        "comma list of numbers (digits) WhatsApp does not know: check-exists says so, WAHA "
        "answers their sends 201 with no receipt past SERVER, Evolution refuses them",
    )
    opt(
        "--evolution-version",
        "SIM_EVOLUTION_VERSION",
        "2.3.6",
        "the version Evolution's GET / reports (1.8.2: a v1 Herald refuses)",
    )
    opt("--latency-ms", "SIM_LATENCY_MS", "0", "mean answer latency", type=_non_negative)
    opt(
        "--latency-jitter-ms",
        "SIM_LATENCY_JITTER_MS",
        "0",
        "latency is uniform in mean +/- jitter",
        type=_non_negative,
    )
    opt(
        "--failure-rate",
        "SIM_FAILURE_RATE",
        "0",
        "probability (0..1) of a retryable HTTP 500 per send",
        type=_probability,
    )
    opt(
        "--sessions",
        "SIM_SESSIONS",
        "default",
        "comma list of sessions that exist (WORKING); NAME:ENGINE overrides the engine",
        type=_sessions,
    )
    opt("--seed", "SIM_SEED", None, "seed for reproducible randomness", type=int)
    opt(
        "--timeout-seconds",
        "SIM_TIMEOUT_SECONDS",
        "30",
        "how long the 'timeout' fault mode hangs before answering 504",
        type=_non_negative,
    )
    opt(
        "--log-level",
        "SIM_LOG_LEVEL",
        "info",
        "simulator log level (uvicorn logs warnings only, no access log)",
        choices=["debug", "info", "warning", "error"],
    )
    add_receipt_options(opt)
    opt(
        "--recipients",
        "SIM_RECIPIENTS",
        "",
        'numbers that write back: a JSON list of behaviours ([{"phone": "+91...", '
        '"replies": [{"text": "thanks", "afterMs": 300}], "optOutAfterFirst": true}]) '
        "or the path of a JSON file holding one; PUT /_sim/recipients changes them",
    )
    return parser


def config_from_args(
    argv: Sequence[str] | None = None, env: Mapping[str, str] | None = None
) -> SimulatorConfig:
    """Parse the command line (and ``SIM_*`` variables) into a config; exits 2 on bad input."""
    parser = build_parser(os.environ if env is None else env)
    args = parser.parse_args(argv)
    # Defaults coming from the environment are strings that argparse converts only when they
    # are used as defaults of typed options; convert explicitly to be sure.
    try:
        return SimulatorConfig(
            host=str(args.host),
            port=int(args.port),
            api_key=args.api_key or None,
            engine=args.engine if isinstance(args.engine, Engine) else _engine(args.engine),
            latency_ms=float(args.latency_ms),
            latency_jitter_ms=float(args.latency_jitter_ms),
            failure_rate=float(args.failure_rate),
            sessions=parse_sessions(str(args.sessions)),
            seed=None if args.seed is None else int(args.seed),
            timeout_seconds=float(args.timeout_seconds),
            tier=WahaTier(str(args.waha_tier).upper()),
            profile=Profile(str(args.profile).lower()),
            not_working_wait_seconds=None
            if args.not_working_wait_seconds in (None, "")
            else float(args.not_working_wait_seconds),
            not_on_whatsapp=frozenset(
                n.strip().lstrip("+") for n in str(args.not_on_whatsapp).split(",") if n.strip()
            ),
            evolution_version=str(args.evolution_version),
            log_level=str(args.log_level),
            receipts=receipt_config_from_args(args),
            recipients=behaviours_from_option(str(args.recipients or "")),
        )
    except (ValueError, argparse.ArgumentTypeError) as exc:
        parser.error(str(exc))


def main(argv: Sequence[str] | None = None) -> int:
    config = config_from_args(argv)
    logging.basicConfig(
        level=config.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    app = create_app(config)
    state: SimulatorState = app.state.sim

    class _Server(uvicorn.Server):
        def handle_exit(self, sig: int, frame: FrameType | None) -> None:
            # Runs in the loop's thread (a signal handler): wake hanging requests so the
            # graceful shutdown does not wait for them.
            with contextlib.suppress(RuntimeError):  # no loop yet: nothing can be hanging
                asyncio.get_running_loop().call_soon_threadsafe(state.begin_shutdown)
            super().handle_exit(sig, frame)

    server = _Server(
        uvicorn.Config(
            app,
            host=config.host,
            port=config.port,
            log_level="warning",
            access_log=False,
            lifespan="off",
            timeout_graceful_shutdown=2,
        )
    )

    # uvicorn handles SIGINT/SIGTERM while serving, then restores the previous handlers and
    # re-raises the signal. These handlers make that (and a signal during startup) a clean exit.
    def _stop(signum: int, _frame: FrameType | None) -> None:
        server.should_exit = True

    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, _stop)

    sessions = ",".join(f"{s.name}:{(s.engine or config.engine).value}" for s in config.sessions)
    log.info(
        "herald gateway simulator listening on http://%s:%d engine=%s sessions=%s "
        "latency=%gms±%gms failure_rate=%g api_key=%s seed=%s",
        config.host,
        config.port,
        config.engine.value,
        sessions,
        config.latency_ms,
        config.latency_jitter_ms,
        config.failure_rate,
        "set" if config.api_key else "none",
        config.seed,
    )
    if config.receipts.active:
        log.info(
            "receipts to %s after %gms (read after %s more), %s",
            config.receipts.webhook_url,
            config.receipts.delay_ms,
            "never"
            if config.receipts.read_delay_ms is None
            else f"{config.receipts.read_delay_ms:g}ms",
            "signed" if config.receipts.hmac_key else "unsigned",
        )
    if config.recipients:
        log.info(
            "recipients that write back: %s",
            ", ".join(behaviour.phone for behaviour in config.recipients),
        )
    server.run()
    if not server.started:
        log.error("server did not start (is port %d free?)", config.port)
        return 1
    log.info("herald gateway simulator stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
