"""The host's network as the acceptance of the container tests sees it: links, routes, the
nftables ruleset and IP forwarding. The engine and the containers must leave all of it as it
was (no bridge, no veth, no NAT rule, no forwarding)."""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass
from pathlib import Path


def _run(*argv: str) -> str:
    result = subprocess.run(argv, capture_output=True, text=True, timeout=30, check=False)
    assert result.returncode == 0, f"{' '.join(argv)}: {result.stderr}"
    return result.stdout


@dataclass(frozen=True)
class HostNetwork:
    links: tuple[str, ...]
    routes: str
    ruleset: str
    ip_forward: str

    @classmethod
    def now(cls) -> HostNetwork:
        links = tuple(
            # "3: eth0: <FLAGS> mtu … state UP …": name, flags and state, not the counters.
            " ".join(line.split("\\")[0].split()[1:3])
            for line in _run("ip", "-o", "link", "show").splitlines()
        )
        return cls(
            links=links,
            # A route learnt from router advertisements counts down its lifetime.
            routes=re.sub(
                r" expires \d+sec",
                "",
                _run("ip", "route", "show", "table", "all")
                + _run("ip", "-6", "route", "show", "table", "all"),
            ),
            ruleset=_run("nft", "list", "ruleset"),
            ip_forward=Path("/proc/sys/net/ipv4/ip_forward").read_text().strip(),
        )

    def changes_since(self, before: HostNetwork) -> list[str]:
        """What differs from ``before``, said for a person; empty when nothing does."""
        changes = []
        if self.links != before.links:
            changes.append(f"links {sorted(before.links)} → {sorted(self.links)}")
        if self.routes != before.routes:
            changes.append(f"routes:\n{before.routes}→\n{self.routes}")
        if self.ruleset != before.ruleset:
            changes.append(f"nftables ruleset:\n{before.ruleset}→\n{self.ruleset}")
        if self.ip_forward != before.ip_forward:
            changes.append(f"ip_forward {before.ip_forward} → {self.ip_forward}")
        return changes
