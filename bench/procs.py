"""CPU and memory of processes, from /proc (Linux): what each process of the system spends."""

from __future__ import annotations

import os
from pathlib import Path

TICKS = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a process and of its children it has waited for."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    # utime, stime, cutime, cstime (fields 14–17 of proc(5); index 11–14 after the name)
    return sum(int(v) for v in fields[11:15]) / TICKS


def tree_cpu_seconds(pid: int) -> float:
    """CPU of a process and of all its live descendants (a server's workers, a PostgreSQL's backends)."""
    return sum(_safe_cpu(p) for p in [pid, *descendants(pid)])


def _safe_cpu(pid: int) -> float:
    try:
        return cpu_seconds(pid)
    except (FileNotFoundError, ProcessLookupError):
        return 0.0


def descendants(pid: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (FileNotFoundError, ProcessLookupError, IndexError, ValueError):
            continue
        children.setdefault(ppid, []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def rss_bytes(pid: int) -> int:
    return int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * PAGE


def delta(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
    """What each reading of ``after`` grew since ``before`` (a process missing before: from zero)."""
    return {k: after[k] - before.get(k, 0.0) for k in after}


def machine_cpu_seconds() -> dict[str, float]:
    """The whole machine's CPU so far, from /proc/stat: busy (every process, ours or not), idle, and
    steal (time the hypervisor gave our virtual cores to someone else). Read around a figure, it tells
    a slow moment of the system from a machine that was busy elsewhere."""
    # cpu  user nice system idle iowait irq softirq steal guest guest_nice
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    user, nice, system, idle, iowait, irq, softirq, steal = values[:8]
    return {
        "busy": (user + nice + system + irq + softirq) / TICKS,
        "idle": (idle + iowait) / TICKS,
        "steal": steal / TICKS,
    }
