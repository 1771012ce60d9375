"""What the Kubernetes manifests ask of each container, read from k8s/: the user it runs as, a
read-only root filesystem with the emptyDir volumes it mounts, its memory limit and its grace
period. The five services come from the kustomize base, the gateway simulators from the dev
overlay (the only place they are deployed)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

K8S = Path(__file__).resolve().parents[2] / "k8s"
MANIFESTS = (
    *sorted((K8S / "base").glob("*.yaml")),
    K8S / "overlays" / "dev" / "gateway-simulators.yaml",
)
_QUANTITY = re.compile(r"(?P<number>\d+(?:\.\d+)?)(?P<unit>Ki|Mi|Gi|Ti|k|M|G|T)?")
_UNITS = {
    None: 1,
    "k": 10**3,
    "M": 10**6,
    "G": 10**9,
    "T": 10**12,
    "Ki": 2**10,
    "Mi": 2**20,
    "Gi": 2**30,
    "Ti": 2**40,
}


def quantity_bytes(quantity: str) -> int:
    """A Kubernetes memory quantity (``768Mi``, ``1Gi``, ``500M``) in bytes."""
    match = _QUANTITY.fullmatch(str(quantity))
    if match is None:
        raise ValueError(f"not a memory quantity: {quantity!r}")
    return int(float(match["number"]) * _UNITS[match["unit"]])


@dataclass(frozen=True)
class PodSpec:
    """One Deployment's container, as Docker should run it."""

    deployment: str
    command: str
    """The console script the container runs (its ``command``'s first word)."""
    user: str
    """``uid:gid`` from the pod's securityContext."""
    read_only_root: bool
    tmpfs: dict[str, str]
    """Mount path → tmpfs options (``size=…`` from the emptyDir's sizeLimit)."""
    memory_limit_bytes: int
    grace_period_seconds: int
    drops_all_capabilities: bool
    no_new_privileges: bool


def _pod_spec(deployment: dict[str, Any]) -> PodSpec:
    pod = deployment["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    security = container.get("securityContext", {})
    pod_security = pod.get("securityContext", {})
    volumes = {volume["name"]: volume for volume in pod.get("volumes", [])}
    tmpfs = {}
    for mount in container.get("volumeMounts", []):
        empty_dir = volumes[mount["name"]].get("emptyDir")
        assert empty_dir is not None, f"only emptyDir volumes run in a test: {mount}"
        size = empty_dir.get("sizeLimit")
        tmpfs[mount["mountPath"]] = f"size={quantity_bytes(size)}" if size else ""
    return PodSpec(
        deployment=deployment["metadata"]["name"],
        command=container["command"][0],
        user=f"{pod_security['runAsUser']}:{pod_security['runAsGroup']}",
        read_only_root=bool(security.get("readOnlyRootFilesystem")),
        tmpfs=tmpfs,
        memory_limit_bytes=quantity_bytes(container["resources"]["limits"]["memory"]),
        # Kubernetes' default when a pod does not say.
        grace_period_seconds=int(pod.get("terminationGracePeriodSeconds", 30)),
        drops_all_capabilities="ALL" in security.get("capabilities", {}).get("drop", []),
        no_new_privileges=security.get("allowPrivilegeEscalation") is False,
    )


def pod_specs() -> dict[str, PodSpec]:
    """Every Deployment of the manifests that runs Herald's image, by deployment name."""
    specs: dict[str, PodSpec] = {}
    for path in MANIFESTS:
        for document in yaml.safe_load_all(path.read_text()):
            if document and document.get("kind") == "Deployment":
                spec = _pod_spec(document)
                specs[spec.deployment] = spec
    return specs
