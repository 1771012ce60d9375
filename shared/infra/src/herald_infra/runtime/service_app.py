"""What every Herald process has: a composition of Kafka, MongoDB and its HTTP surfaces.

Each service builds a :class:`ServiceRuntime` in its composition root and :func:`serve` runs
two listeners in one process:

- the HTTP port (``HERALD_HTTP_PORT``), :func:`create_http_app`: ``/healthz`` (alive),
  ``/readyz`` (Kafka and MongoDB reachable), plus any routers the service adds (the campaign
  service's API);
- the metrics port (``HERALD_METRICS_PORT``), :func:`create_metrics_app`: ``/metrics``
  (Prometheus) and nothing else. Metrics are never served on the HTTP port, which may be
  public: they are for the Prometheus inside the deployment.

``/metrics`` answers with the process-wide registry, then the runtime's own
``scrape_registry`` (collectors of one app, so several apps in one test process never clash),
after the runtime's ``before_scrape`` hooks refreshed what they read elsewhere.
"""

from __future__ import annotations

import asyncio
import signal
import socket
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from types import FrameType

import uvicorn
from fastapi import APIRouter, FastAPI, Response
from faststream.kafka import KafkaBroker
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from pymongo import AsyncMongoClient
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.routing import Route

from herald_infra.kafka.broker import build_broker
from herald_infra.kafka.topics import ensure_topics
from herald_infra.mongo.client import Database, Document, connect, database, ensure_indexes, ping
from herald_infra.runtime.logging import configure_logging, get_logger
from herald_infra.runtime.settings import HeraldSettings

Hook = Callable[[], Awaitable[None]]
log = get_logger(__name__)

HTTP_DRAIN_SECONDS = 30
"""On SIGTERM, how long requests in progress may take to finish before the shutdown hooks run."""
METRICS_DRAIN_SECONDS = 5
"""Once the service stopped, how long a scrape in progress may take to finish."""


@dataclass
class ServiceRuntime:
    """The I/O a service owns: its broker, its database, and its start/stop hooks."""

    name: str
    settings: HeraldSettings
    broker: KafkaBroker
    client: AsyncMongoClient[Document]
    db: Database
    on_start: list[Hook] = field(default_factory=list)
    on_stop: list[Hook] = field(default_factory=list)
    before_scrape: list[Hook] = field(default_factory=list)
    """Run before each ``/metrics`` answer, e.g. to refresh gauges read from MongoDB or Kafka;
    each bounds its own time. One that fails is logged and the scrape goes on."""
    scrape_registry: CollectorRegistry = field(default_factory=CollectorRegistry)
    """This runtime's own collectors, exported on ``/metrics`` after the process-wide ones."""

    @classmethod
    def create(cls, name: str, settings: HeraldSettings) -> ServiceRuntime:
        client = connect(settings)
        return cls(
            name=name,
            settings=settings,
            broker=build_broker(settings, client_id=f"herald-{name}"),
            client=client,
            db=database(client, settings),
        )

    async def start(self) -> None:
        await ensure_indexes(self.db)
        await ensure_topics(self.settings)
        await self.broker.start()
        for hook in self.on_start:
            await hook()
        log.info("service started")

    async def stop(self) -> None:
        for hook in reversed(self.on_stop):
            await hook()
        await self.broker.stop()
        await self.client.close()
        log.info("service stopped")

    async def readiness(self) -> dict[str, str]:
        """Each dependency's state; every value is "ok" when the service is ready."""
        mongodb, kafka = await asyncio.gather(self._mongodb_state(), self._kafka_state())
        return {"mongodb": mongodb, "kafka": kafka}

    async def _mongodb_state(self) -> str:
        try:
            await asyncio.wait_for(ping(self.db), timeout=2)
        except Exception as error:
            return f"unreachable: {type(error).__name__}"
        return "ok"

    async def _kafka_state(self) -> str:
        return "ok" if await self.broker.ping(timeout=2) else "unreachable"


def create_http_app(runtime: ServiceRuntime, routers: Sequence[APIRouter] = ()) -> FastAPI:
    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await runtime.start()
        try:
            yield
        finally:
            await runtime.stop()

    app = FastAPI(title=f"Herald {runtime.name}", lifespan=lifespan)
    # Read by tools that document the service's Kafka surface (tools/contract-docs: AsyncAPI).
    app.state.runtime = runtime

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> dict[str, str]:
        return {"status": "ok", "service": runtime.name}

    @app.get("/readyz", include_in_schema=False)
    async def readyz(response: Response) -> dict[str, object]:
        checks = await runtime.readiness()
        ready = all(v == "ok" for v in checks.values())
        response.status_code = 200 if ready else 503
        status = "ready" if ready else "not ready"
        return {"status": status, "service": runtime.name, "checks": checks}

    for router in routers:
        app.include_router(router)
    return app


def create_metrics_app(runtime: ServiceRuntime) -> Starlette:
    """The metrics listener's app: ``GET /metrics`` and nothing else (no lifespan: the service
    app's runs the runtime)."""

    async def metrics(_: Request) -> Response:
        for hook in runtime.before_scrape:
            try:
                await hook()
            except Exception as error:
                log.warning("metrics refresh failed", error=repr(error))
        exposition = generate_latest() + generate_latest(runtime.scrape_registry)
        return Response(exposition, media_type=CONTENT_TYPE_LATEST)

    return Starlette(routes=[Route("/metrics", metrics, methods=["GET"])])


def metrics_app_of(app: FastAPI) -> Starlette:
    """The metrics listener's app of a service app made by :func:`create_http_app`."""
    runtime = app.state.runtime
    if not isinstance(runtime, ServiceRuntime):
        raise TypeError(f"{app.title} was not made by create_http_app")
    return create_metrics_app(runtime)


def serve(
    app: FastAPI,
    settings: HeraldSettings,
    service: str,
    default_port: int,
    default_metrics_port: int,
) -> None:
    """Run ``app`` on the HTTP port and its metrics on the metrics port until SIGTERM/SIGINT;
    uvicorn drains requests and runs the shutdown hooks, the metrics listener stops last, then
    the process exits with status 0 (a graceful stop is not a failure). A port that cannot be
    bound ends the process with status 3 before the service starts."""
    configure_logging(service, settings.log_level)
    server = uvicorn.Server(
        uvicorn.Config(
            app,
            host=settings.http_host,
            port=settings.http_port or default_port,
            log_config=None,
            access_log=False,
            timeout_graceful_shutdown=HTTP_DRAIN_SECONDS,
        )
    )
    metrics = _MetricsServer(
        uvicorn.Config(
            metrics_app_of(app),
            host=settings.http_host,
            port=settings.metrics_port or default_metrics_port,
            lifespan="off",
            log_config=None,
            access_log=False,
            timeout_graceful_shutdown=METRICS_DRAIN_SECONDS,
        )
    )

    # uvicorn handles SIGTERM/SIGINT while it serves, then puts back the handlers it found and
    # raises the signal again, which by default would end the process as killed (exit 143).
    # With these handlers that second signal only confirms the stop, and a signal that comes
    # before uvicorn listens stops it as soon as it starts.
    def _stop(_signum: int, _frame: FrameType | None) -> None:
        server.should_exit = True

    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, _stop)
    run_servers(server, metrics)


def run_servers(server: uvicorn.Server, metrics: _MetricsServer) -> None:
    """Serve both listeners on one event loop until the service's server stops."""
    with asyncio.Runner(loop_factory=server.config.get_loop_factory()) as runner:
        runner.run(_serve_with_metrics(server, metrics))


class _MetricsServer(uvicorn.Server):
    """The metrics listener: it leaves the signals to the service's server, which stops it."""

    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self.listening = asyncio.Event()

    @contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)  # a port it cannot bind ends the process (status 3)
        self.listening.set()


async def _serve_with_metrics(server: uvicorn.Server, metrics: _MetricsServer) -> None:
    """The metrics listener first (a port it cannot bind stops the process before the service
    starts), then the service until it stops, then the metrics listener: Prometheus sees the
    service while it drains."""
    serving_metrics = asyncio.create_task(metrics.serve())
    listening = asyncio.create_task(metrics.listening.wait())
    await asyncio.wait({serving_metrics, listening}, return_when=asyncio.FIRST_COMPLETED)
    if serving_metrics.done():  # it stopped before it listened
        listening.cancel()
        await serving_metrics
        return
    try:
        await server.serve()
    finally:
        metrics.should_exit = True
        await serving_metrics
