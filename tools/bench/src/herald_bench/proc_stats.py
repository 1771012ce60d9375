"""What Linux's /proc says about a process: CPU time, memory, which one listens on a port."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
LISTEN = "0A"  # the TCP state in /proc/net/tcp


def process_ticks(pid: int | None) -> int:
    """User plus system CPU ticks a process used so far (0 when it is gone)."""
    if pid is None:
        return 0
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return 0
    fields = stat.rpartition(")")[2].split()
    return int(fields[11]) + int(fields[12])  # utime and stime: fields 14 and 15 of stat


def machine_busy_ticks() -> int:
    """CPU ticks every core spent on anything but idling, since boot."""
    fields = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:8]]
    idle, iowait = fields[3], fields[4]
    return sum(fields) - idle - iowait


def memory_mb(pid: int | None, field: str) -> float:
    """A ``/proc/<pid>/status`` memory figure (``VmRSS``, ``VmHWM``) in MB; 0 when gone."""
    if pid is None:
        return 0.0
    with contextlib.suppress(FileNotFoundError, ProcessLookupError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(f"{field}:"):
                return int(line.split()[1]) / 1024
    return 0.0


def _listening_inodes(port: int) -> set[str]:
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(FileNotFoundError):
            for line in Path(table).read_text().splitlines()[1:]:
                fields = line.split()
                local, state, inode = fields[1], fields[3], fields[9]
                if state == LISTEN and int(local.rpartition(":")[2], 16) == port:
                    inodes.add(inode)
    return inodes


def listening_pid(port: int) -> int | None:
    """The process of this machine that listens on ``port`` (None: none, or not ours to see)."""
    sockets = {f"socket:[{inode}]" for inode in _listening_inodes(port)}
    if not sockets:
        return None
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            for fd in (entry / "fd").iterdir():
                if os.readlink(fd) in sockets:
                    return int(entry.name)
    return None


@dataclass(frozen=True)
class CpuSnapshot:
    """CPU ticks used so far by some named processes and by the whole machine."""

    processes: Mapping[str, int]
    machine: int

    @classmethod
    def take(cls, pids: Mapping[str, int | None]) -> CpuSnapshot:
        return cls({name: process_ticks(pid) for name, pid in pids.items()}, machine_busy_ticks())

    def cores_since(self, before: CpuSnapshot, seconds: float) -> dict[str, float]:
        """CPU used per process since ``before``, in cores (1.0: one core all along), and the
        whole machine's as ``machine``."""
        ticks = max(seconds * CLOCK_TICKS, 1e-9)
        used = {
            name: (count - before.processes.get(name, 0)) / ticks
            for name, count in self.processes.items()
        }
        used["machine"] = (self.machine - before.machine) / ticks
        return used
