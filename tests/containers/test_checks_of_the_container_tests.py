"""The container tests' own checks, without an engine: the manifests' constraints are read for
every container they start, and a change of the host's network is seen and named."""

from __future__ import annotations

import dataclasses

import pytest

from herald_devstack.stack import SERVICES
from tests.containers.host_network import HostNetwork
from tests.containers.pod_specs import pod_specs, quantity_bytes


def test_memory_quantities_are_read_as_kubernetes_reads_them() -> None:
    assert quantity_bytes("768Mi") == 768 * 2**20
    assert quantity_bytes("1Gi") == 2**30
    assert quantity_bytes("500M") == 500 * 10**6
    assert quantity_bytes("1.5Gi") == 3 * 2**29
    with pytest.raises(ValueError):
        quantity_bytes("lots")


def test_every_container_started_has_its_deployments_constraints() -> None:
    specs = pod_specs()
    assert {*SERVICES, "gateway-primary", "gateway-fallback"} <= set(specs)
    for name in SERVICES:
        spec = specs[name]
        assert spec.command == f"herald-{name}"
        assert spec.read_only_root, name
        assert "/tmp" in spec.tmpfs and spec.tmpfs["/tmp"].startswith("size="), name
        assert spec.user != "0:0" and not spec.user.startswith("0:"), name
        assert spec.memory_limit_bytes > 0, name


def test_a_changed_host_network_is_named() -> None:
    before = HostNetwork(
        links=("lo: <LOOPBACK,UP,LOWER_UP>", "eth0: <BROADCAST,MULTICAST,UP,LOWER_UP>"),
        routes="default via 192.0.2.1 dev eth0\n",
        ruleset="",
        ip_forward="0",
    )
    assert dataclasses.replace(before).changes_since(before) == []
    bridged = dataclasses.replace(
        before, links=(*before.links, "docker0: <BROADCAST,MULTICAST,UP>"), ip_forward="1"
    )
    changes = bridged.changes_since(before)
    assert len(changes) == 2, changes
    assert "docker0" in changes[0]
    assert changes[1] == "ip_forward 0 → 1"
    masquerading = dataclasses.replace(before, ruleset="table ip nat {\n}\n")
    assert masquerading.changes_since(before)[0].startswith("nftables ruleset:")
