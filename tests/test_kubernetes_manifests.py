"""Herald's Kubernetes manifests (k8s/: a kustomize base, overlays dev and prod) build with
`kubectl kustomize`, validate offline against the Kubernetes, KEDA and Prometheus Operator
schemas (kubeconform; deploy/local/k8s-validate.sh installs it and the schemas), and say what
Herald needs: a Deployment per service with probes on its port, resources, a disruption budget,
settings from a ConfigMap and a Secret, Services, a PodMonitor for the metrics (on a port of
their own that no Service exposes), KEDA
scaling of the senders on the work their pods could start now (read from Prometheus, never more
pods than the send topics' partitions), an HPA for the API, and time for a sender to stop
gracefully."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from herald_core.contracts.common import DelayType
from herald_core.pacing import PROFILES
from herald_infra.runtime.metrics import SENDER_READY_MESSAGES
from herald_infra.runtime.service_app import HTTP_DRAIN_SECONDS
from herald_infra.runtime.settings import HeraldSettings
from herald_sender.deployment import STOP_MARGIN
from tests.herald_services import DEFAULT_METRICS_PORTS, DEFAULT_PORTS, SENDERS, command
from tests.image_contents import image_commands

ROOT = Path(__file__).resolve().parent.parent
K8S = ROOT / "k8s"
VALIDATE = ROOT / "deploy" / "local" / "k8s-validate.sh"
OVERLAYS = ("dev", "prod")
SECRET_KEYS = {
    "HERALD_API_TOKEN",
    "HERALD_ADMIN_TOKEN",
    "HERALD_MONGODB_URL",
    "HERALD_GATEWAY_API_KEY",
    "HERALD_WAHA_WEBHOOK_HMAC_KEY",
    "HERALD_EVOLUTION_WEBHOOK_TOKEN",
}

Manifest = dict[str, Any]
(READY_METRIC,) = [family.name for family in SENDER_READY_MESSAGES.describe()]
"""What the senders' KEDA triggers sum: the work their pods could start now."""


@pytest.fixture(scope="session")
def validator() -> None:
    """kubeconform and its schemas, installed once (idempotent; cached in .local/)."""
    result = subprocess.run(
        ["bash", str(VALIDATE), "install"], capture_output=True, text=True, timeout=900
    )
    assert result.returncode == 0, result.stdout + result.stderr


def validate(manifests: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", str(VALIDATE), "validate", "-"],
        input=manifests,
        capture_output=True,
        text=True,
        timeout=120,
    )


def build(folder: Path) -> str:
    result = subprocess.run(
        ["kubectl", "kustomize", str(folder)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


_rendered: dict[str, list[Manifest]] = {}


def rendered(overlay: str) -> list[Manifest]:
    """The manifests an overlay (or "base") builds to."""
    if overlay not in _rendered:
        folder = K8S / "base" if overlay == "base" else K8S / "overlays" / overlay
        _rendered[overlay] = [d for d in yaml.safe_load_all(build(folder)) if d]
    return _rendered[overlay]


def of_kind(manifests: list[Manifest], kind: str) -> dict[str, Manifest]:
    return {m["metadata"]["name"]: m for m in manifests if m["kind"] == kind}


def config(manifests: list[Manifest]) -> dict[str, str]:
    """The data of the herald-config ConfigMap (its name carries a content hash)."""
    (found,) = [
        m["data"]
        for m in manifests
        if m["kind"] == "ConfigMap" and m["metadata"]["name"].startswith("herald-config")
    ]
    data: dict[str, str] = found
    return data


def container(deployment: Manifest) -> Manifest:
    (only,) = deployment["spec"]["template"]["spec"]["containers"]
    result: Manifest = only
    return result


def env_value(item: Manifest, name: str) -> Any:
    return next(e for e in item.get("env", []) if e["name"] == name)


def quantity(text: str | int) -> float:
    """A Kubernetes quantity as a number (CPU in cores, memory in bytes)."""
    units = {"m": 1e-3, "Ki": 2**10, "Mi": 2**20, "Gi": 2**30}
    match = re.fullmatch(r"([0-9.]+)([A-Za-z]*)", str(text))
    assert match, text
    return float(match.group(1)) * units.get(match.group(2), 1)


@pytest.mark.parametrize("overlay", ["base", *OVERLAYS])
def test_each_overlay_builds_and_validates_against_the_schemas(
    validator: None, overlay: str
) -> None:
    folder = K8S / "base" if overlay == "base" else K8S / "overlays" / overlay
    manifests = build(folder)
    count = len([d for d in yaml.safe_load_all(manifests) if d])
    result = validate(manifests)
    assert result.returncode == 0, result.stdout + result.stderr
    # Every resource was checked against a schema: none skipped for want of one.
    summary = f"{count} resources found parsing stdin - Valid: {count}, Invalid: 0, Errors: 0"
    assert summary in result.stdout, result.stdout


@pytest.mark.parametrize(
    ("manifest", "complaint"),
    [
        (  # a misspelt field of a Kubernetes kind
            "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d}\nspec:\n  replica: 2\n"
            "  selector: {matchLabels: {a: b}}\n  template:\n    metadata: {labels: {a: b}}\n"
            "    spec: {containers: [{name: c, image: i}]}\n",
            "additional properties 'replica' not allowed",
        ),
        (  # KEDA's trigger metadata is a map of strings
            "apiVersion: keda.sh/v1alpha1\nkind: ScaledObject\nmetadata: {name: s}\nspec:\n"
            "  scaleTargetRef: {name: d}\n"
            "  triggers: [{type: prometheus, metadata: {threshold: 100}}]\n",
            "threshold",
        ),
        (  # a field the Prometheus Operator does not know
            "apiVersion: monitoring.coreos.com/v1\nkind: ServiceMonitor\nmetadata: {name: m}\n"
            "spec:\n  selector: {}\n  endpoints: [{port: http, pathh: /metrics}]\n",
            "pathh",
        ),
        (  # a kind there is no schema for is an error, not a silent skip
            "apiVersion: example.com/v1\nkind: Gadget\nmetadata: {name: g}\n",
            "could not find schema for Gadget",
        ),
    ],
)
def test_the_validator_rejects_what_the_cluster_would(
    validator: None, manifest: str, complaint: str
) -> None:
    result = validate(manifest)
    assert result.returncode != 0
    assert complaint in result.stdout + result.stderr, result.stdout


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_a_deployment_per_service_with_probes_resources_and_settings(overlay: str) -> None:
    manifests = rendered(overlay)
    deployments = of_kind(manifests, "Deployment")
    settings_from = {
        m["metadata"]["name"] for m in manifests if m["kind"] in {"ConfigMap", "Secret"}
    }
    assert set(DEFAULT_PORTS) <= set(deployments)
    for name, port in DEFAULT_PORTS.items():
        pod = deployments[name]["spec"]["template"]["spec"]
        main = container(deployments[name])
        assert main["command"] == [command(name)]
        assert main["command"][0] in image_commands()
        assert env_value(main, "HERALD_HTTP_PORT")["value"] == str(port)
        metrics_port = DEFAULT_METRICS_PORTS[name]
        assert env_value(main, "HERALD_METRICS_PORT")["value"] == str(metrics_port)
        assert main["ports"] == [
            {"name": "http", "containerPort": port},
            {"name": "metrics", "containerPort": metrics_port},
        ]
        assert main["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
        assert main["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
        assert main["startupProbe"]["httpGet"]["path"] == "/healthz"
        for kind in ("requests", "limits"):
            assert {"cpu", "memory"} <= set(main["resources"][kind]), (name, kind)
        assert quantity(main["resources"]["requests"]["memory"]) <= quantity(
            main["resources"]["limits"]["memory"]
        )
        sources = {next(iter(ref.values()))["name"]: ref for ref in main["envFrom"]}
        assert any(s.startswith("herald-config") for s in sources), sources
        secret = [s for s in sources if s.startswith("herald-secrets")]
        assert secret and "secretRef" in sources[secret[0]], sources
        if overlay == "dev":  # generated here; prod expects it made outside the repository
            assert secret[0] in settings_from
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert main["securityContext"]["allowPrivilegeEscalation"] is False


def test_the_dev_secret_holds_every_setting_the_services_read_from_it() -> None:
    secrets = of_kind(rendered("dev"), "Secret")
    (secret,) = [s for name, s in secrets.items() if name.startswith("herald-secrets")]
    assert set(secret["data"]) == SECRET_KEYS
    prod_names = {m["metadata"]["name"] for m in rendered("prod") if m["kind"] == "Secret"}
    assert not prod_names  # no credentials of production in the repository


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_services_disruption_budgets_and_a_pod_monitor_cover_every_service(
    overlay: str,
) -> None:
    manifests = rendered(overlay)
    services = of_kind(manifests, "Service")
    budgets = of_kind(manifests, "PodDisruptionBudget")
    deployments = of_kind(manifests, "Deployment")
    assert of_kind(manifests, "ServiceMonitor") == {}  # no Service carries the metrics
    (monitor,) = of_kind(manifests, "PodMonitor").values()
    wanted = monitor["spec"]["selector"]["matchLabels"]
    (endpoint,) = monitor["spec"]["podMetricsEndpoints"]
    assert (endpoint["port"], endpoint["path"]) == ("metrics", "/metrics")
    scraped = {
        name
        for name, d in deployments.items()
        if wanted.items() <= d["spec"]["template"]["metadata"]["labels"].items()
    }
    assert scraped == set(DEFAULT_PORTS)  # every service, and no simulator
    for name, port in DEFAULT_PORTS.items():
        pod_labels = deployments[name]["spec"]["template"]["metadata"]["labels"]
        assert services[name]["spec"]["selector"].items() <= pod_labels.items()
        assert services[name]["spec"]["ports"] == [
            {"name": "http", "port": port, "targetPort": "http"}
        ]
        selector = budgets[name]["spec"]["selector"]["matchLabels"]
        assert selector.items() <= pod_labels.items()
        assert {"minAvailable", "maxUnavailable"} & set(budgets[name]["spec"])
    assert monitor["spec"]["jobLabel"] == "app.kubernetes.io/name"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_no_service_or_ingress_exposes_a_metrics_port(overlay: str) -> None:
    manifests = rendered(overlay)
    assert not [m for m in manifests if m["kind"] in {"Ingress", "Gateway", "HTTPRoute"}]
    metrics_ports = set(DEFAULT_METRICS_PORTS.values())
    for name, service in of_kind(manifests, "Service").items():
        assert service["spec"].get("type", "ClusterIP") == "ClusterIP", name
        for port in service["spec"]["ports"]:
            assert port["targetPort"] != "metrics", (name, port)
            assert {port["port"], port["targetPort"]}.isdisjoint(metrics_ports), (name, port)


def scaling_settings(overlay: str) -> dict[str, str]:
    """The herald-scaling literals an overlay sets (a local-config ConfigMap: KEDA's settings,
    not applied to the cluster)."""
    kustomization = yaml.safe_load((K8S / "overlays" / overlay / "kustomization.yaml").read_text())
    (generator,) = [g for g in kustomization["configMapGenerator"] if g["name"] == "herald-scaling"]
    return dict(literal.split("=", 1) for literal in generator["literals"])


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_senders_scale_on_ready_work_within_the_partitions(overlay: str) -> None:
    manifests = rendered(overlay)
    settings = config(manifests)
    partitions = int(
        settings.get("HERALD_SEND_TOPIC_PARTITIONS", HeraldSettings().send_topic_partitions)
    )
    scaled = of_kind(manifests, "ScaledObject")
    deployments = of_kind(manifests, "Deployment")
    assert set(scaled) == set(SENDERS)
    # KEDA's settings are not applied to the cluster (nothing there reads them).
    names = [m["metadata"]["name"] for m in manifests if m["kind"] == "ConfigMap"]
    assert not [n for n in names if n.startswith("herald-scaling")], names
    prometheus_url = scaling_settings(overlay)["prometheus-url"]
    for name, deployment in SENDERS.items():
        spec = scaled[name]["spec"]
        assert spec["scaleTargetRef"]["name"] == name
        # KEDA owns the replica count; a Deployment's own would fight it on every apply.
        assert "replicas" not in deployments[name]["spec"]
        # Lag is the ceiling, not the signal: a replica more than the partitions gets none.
        assert 1 <= spec["minReplicaCount"] <= spec["maxReplicaCount"] <= partitions
        (trigger,) = spec["triggers"]  # no consumer-lag trigger beside it
        assert trigger["type"] == "prometheus"
        # desired = ceil(sum / threshold); Value would multiply by the current count.
        assert trigger.get("metricType", "AverageValue") == "AverageValue"
        metadata = trigger["metadata"]
        assert metadata["serverAddress"] == prometheus_url
        # The metric the senders export, summed over this deployment's pods in this namespace.
        namespace = deployments[name]["metadata"]["namespace"]
        route = deployment.route.value
        assert metadata["query"] == (
            f'sum({READY_METRIC}{{namespace="{namespace}",route="{route}"}})'
        )
        assert float(metadata["threshold"]) > 0
        assert float(metadata.get("activationThreshold", "0")) >= 0
        # Prometheus away: KEDA keeps the replicas there are (some at least) until it answers.
        fallback = spec["fallback"]
        assert fallback["failureThreshold"] >= 1
        assert 1 <= fallback["replicas"] <= spec["maxReplicaCount"]
        assert fallback["behavior"] == "currentReplicasIfHigher"


def test_an_overlay_s_prometheus_address_replaces_the_base_s() -> None:
    def addresses(overlay: str) -> set[str]:
        return {
            trigger["metadata"]["serverAddress"]
            for scaled in of_kind(rendered(overlay), "ScaledObject").values()
            for trigger in scaled["spec"]["triggers"]
        }

    dev = scaling_settings("dev")["prometheus-url"]
    assert addresses("base") != {dev}  # so the copy is seen
    assert addresses("dev") == {dev}


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_campaign_api_scales_on_cpu(overlay: str) -> None:
    manifests = rendered(overlay)
    (hpa,) = of_kind(manifests, "HorizontalPodAutoscaler").values()
    assert hpa["apiVersion"] == "autoscaling/v2"
    assert hpa["spec"]["scaleTargetRef"] == {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "name": "campaign",
    }
    (metric,) = hpa["spec"]["metrics"]
    assert (metric["type"], metric["resource"]["name"]) == ("Resource", "cpu")
    assert 1 <= hpa["spec"]["minReplicas"] <= hpa["spec"]["maxReplicas"]
    assert "replicas" not in of_kind(manifests, "Deployment")["campaign"]["spec"]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_a_sender_has_time_to_finish_its_gateway_calls_before_it_is_killed(overlay: str) -> None:
    manifests = rendered(overlay)
    gateway_timeout = float(config(manifests)["HERALD_GATEWAY_TIMEOUT_SECONDS"])
    slowest_gap = PROFILES[DelayType.SAFE].max_seconds
    for name in SENDERS:
        grace = of_kind(manifests, "Deployment")[name]["spec"]["template"]["spec"][
            "terminationGracePeriodSeconds"
        ]
        # What a stopping sender may take: requests in progress, then its gateway calls and
        # their recording (sends waiting for their pace are handed back, not waited for)…
        assert grace >= HTTP_DRAIN_SECONDS + gateway_timeout + STOP_MARGIN, (name, grace)
        # …and room even for a sender that waited out the slowest gap before its last call.
        assert grace >= slowest_gap + gateway_timeout, (name, grace)


def test_the_overlays_differ_where_a_deployment_should() -> None:
    dev, prod = rendered("dev"), rendered("prod")

    def namespaces(manifests: list[Manifest]) -> set[str]:
        return {m["metadata"].get("namespace", m["metadata"]["name"]) for m in manifests}

    def images(manifests: list[Manifest]) -> set[str]:
        return {
            container(d)["image"]
            for name, d in of_kind(manifests, "Deployment").items()
            if name in DEFAULT_PORTS
        }

    def memory_limit(manifests: list[Manifest], name: str) -> float:
        return quantity(
            container(of_kind(manifests, "Deployment")[name])["resources"]["limits"]["memory"]
        )

    assert namespaces(dev) == {"herald-dev"} and namespaces(prod) == {"herald"}
    assert len(images(dev)) == len(images(prod)) == 1 and images(dev) != images(prod)
    assert config(dev)["HERALD_LOG_LEVEL"] == "DEBUG" and config(prod)["HERALD_LOG_LEVEL"] == "INFO"
    for name in DEFAULT_PORTS:
        assert memory_limit(dev, name) < memory_limit(prod, name), name
    max_senders = {
        overlay: {n: s["spec"]["maxReplicaCount"] for n, s in of_kind(m, "ScaledObject").items()}
        for overlay, m in (("dev", dev), ("prod", prod))
    }
    assert all(max_senders["dev"][n] < max_senders["prod"][n] for n in SENDERS), max_senders
    dispatchers = [of_kind(m, "Deployment")["dispatcher"]["spec"]["replicas"] for m in (dev, prod)]
    assert dispatchers == [1, 2]
    # Development runs the gateway simulators; production talks to WAHA.
    assert {"gateway-primary", "gateway-fallback"} <= set(of_kind(dev, "Deployment"))
    assert not {"gateway-primary", "gateway-fallback"} & set(of_kind(prod, "Deployment"))


def test_the_dev_senders_talk_to_the_dev_simulators() -> None:
    manifests = rendered("dev")
    services = of_kind(manifests, "Service")
    (gateways,) = [
        m["data"]
        for m in manifests
        if m["kind"] == "ConfigMap" and m["metadata"]["name"].startswith("herald-gateways")
    ]
    for sender, key, simulator in (
        ("primary-sender", "primary-url", "gateway-primary"),
        ("fallback-sender", "fallback-url", "gateway-fallback"),
    ):
        reference = env_value(
            container(of_kind(manifests, "Deployment")[sender]), "HERALD_GATEWAY_URL"
        )
        assert reference["valueFrom"]["configMapKeyRef"]["key"] == key
        port = services[simulator]["spec"]["ports"][0]["port"]
        assert gateways[key] == f"http://{simulator}:{port}"
