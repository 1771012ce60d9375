"""``herald-devstack up [--observability]|down|status|logs|clean``: the whole system as local
processes.

Kafka and the MongoDB-wire server come from ``deploy/local/{kafka,mongo}.sh``; the gateway
simulators and the five services are started here, with pid and log files under ``.local/``.
With ``--observability``, Prometheus too (``deploy/local/prometheus.sh``), scraping every service
with the alert rules loaded, its configuration generated from ``deploy/prometheus``.
"""

from __future__ import annotations

import argparse
import os
import secrets
import shutil
import subprocess
import sys
from pathlib import Path

from herald_devstack import prometheus
from herald_devstack.processes import NotReady, wait_ready
from herald_devstack.stack import StackConfig, metrics_addresses, services, simulators

REPO = Path(os.environ.get("HERALD_REPO_ROOT", Path.cwd()))
LOCAL = Path(os.environ.get("HERALD_LOCAL_DIR", REPO / ".local"))
TOKEN_FILE = LOCAL / "api-token"
ADMIN_TOKEN_FILE = LOCAL / "admin-token"
KAFKA_PORT = int(os.environ.get("KAFKA_PORT", "9092"))
MONGO_PORT = int(os.environ.get("MONGO_PORT", "27017"))
PROMETHEUS_PORT = int(os.environ.get("PROMETHEUS_PORT", "9090"))
PROMETHEUS_CONFIG = LOCAL / "prometheus" / "prometheus.yml"


def api_token() -> str:
    """``HERALD_API_TOKEN`` if set; otherwise one generated once and kept in .local/api-token."""
    return kept_token("HERALD_API_TOKEN", TOKEN_FILE)


def admin_token() -> str:
    """``HERALD_ADMIN_TOKEN`` if set; otherwise one generated once and kept in
    .local/admin-token (where ``herald admin`` finds it)."""
    return kept_token("HERALD_ADMIN_TOKEN", ADMIN_TOKEN_FILE)


def kept_token(variable: str, file: Path) -> str:
    if token := os.environ.get(variable):
        return token
    if file.exists():
        return file.read_text().strip()
    LOCAL.mkdir(parents=True, exist_ok=True)
    token = secrets.token_urlsafe(24)
    file.write_text(token + "\n")
    file.chmod(0o600)
    return token


def config() -> StackConfig:
    return StackConfig(
        kafka_bootstrap=f"127.0.0.1:{KAFKA_PORT}",
        # Same URL as deploy/local/mongo.sh prints (see there for retryWrites=false).
        mongodb_url=f"mongodb://127.0.0.1:{MONGO_PORT}/?directConnection=true&retryWrites=false",
        run_dir=LOCAL / "services",
        api_token=api_token(),
        admin_token=admin_token(),
        # Receipts as a phone would send them: delivered after a second, read a little later.
        receipt_delay_ms=1000,
        read_receipt_delay_ms=3000,
    )


def infra(script: str, command: str, env: dict[str, str] | None = None) -> None:
    subprocess.run(
        ["bash", str(REPO / "deploy" / "local" / script), command],
        check=True,
        env={**os.environ, **(env or {})},
    )


def start_prometheus(cfg: StackConfig) -> None:
    """Prometheus on PROMETHEUS_PORT scraping this stack (every 5 s), with the alert rules."""
    deployed = REPO / "deploy" / "prometheus" / "prometheus.yml"
    prometheus.write(prometheus.local_config(deployed, cfg, interval="5s"), PROMETHEUS_CONFIG)
    infra(
        "prometheus.sh",
        "start",
        {"PROMETHEUS_PORT": str(PROMETHEUS_PORT), "PROMETHEUS_CONFIG": str(PROMETHEUS_CONFIG)},
    )


def up(observability: bool = False) -> int:
    cfg = config()
    infra("kafka.sh", "start")
    infra("mongo.sh", "start")
    processes = [*simulators(cfg), *services(cfg)]
    for process in processes:
        started = process.start()
        print(f"{process.name}: {'started' if started else 'already up'}")
    try:
        wait_ready(processes, timeout=120)
    except NotReady as error:
        print(f"herald: {error}", file=sys.stderr)
        return 1
    print()
    print(f"Herald is up. API: {cfg.api_url.replace(cfg.host, 'localhost')}")
    print(f"API token: {cfg.api_token}   (Authorization: Bearer <token>)")
    print(f"Operator token: {cfg.admin_token}   (HERALD_ADMIN_TOKEN: /api/admin, herald admin)")
    for name, url in metrics_addresses(cfg).items():
        print(f"  {name:16} metrics {url.replace(cfg.host, 'localhost')}")
    print(f"Logs: {cfg.run_dir}/*.log  (make logs)")
    if observability:
        start_prometheus(cfg)
        url = f"http://localhost:{PROMETHEUS_PORT}"
        print(f"Prometheus: {url}  (alerts: {url}/classic/alerts, API: {url}/api/v1/query)")
    return 0


def down() -> int:
    cfg = config()
    for process in reversed([*simulators(cfg), *services(cfg)]):
        print(f"{process.name}: {'stopped' if process.stop() else 'not running'}")
    infra("prometheus.sh", "stop")
    infra("mongo.sh", "stop")
    infra("kafka.sh", "stop")
    return 0


def status() -> int:
    cfg = config()
    all_ready = True
    for process in [*simulators(cfg), *services(cfg)]:
        state = "ready" if process.is_ready() else ("starting" if process.pid() else "down")
        all_ready &= state == "ready"
        print(f"{process.name:16} {state}")
    for script in ("kafka.sh", "mongo.sh"):
        ok = subprocess.run(["bash", str(REPO / "deploy" / "local" / script), "status"]).returncode
        all_ready &= ok == 0
    # Optional (make up-observability): shown, not required.
    subprocess.run(["bash", str(REPO / "deploy" / "local" / "prometheus.sh"), "status"])
    return 0 if all_ready else 1


def logs() -> int:
    cfg = config()
    files = sorted(str(p) for p in cfg.run_dir.glob("*.log"))
    if not files:
        print("no logs yet: make up first")
        return 1
    os.execvp("tail", ["tail", "-n", "20", "-F", *files])


def clean() -> int:
    down()
    for name in ("kafka-data", "mongo-data", "prometheus-data", "prometheus", "services", "logs"):
        shutil.rmtree(LOCAL / name, ignore_errors=True)
    print("local data wiped")
    return 0


def main() -> None:
    parser = argparse.ArgumentParser(prog="herald-devstack", description=__doc__)
    parser.add_argument("command", choices=["up", "down", "status", "logs", "clean"])
    parser.add_argument(
        "--observability",
        action="store_true",
        help="up: start Prometheus too, scraping every service, with the alert rules",
    )
    args = parser.parse_args()
    if args.command == "up":
        sys.exit(up(observability=args.observability))
    sys.exit({"down": down, "status": status, "logs": logs, "clean": clean}[args.command]())
