"""Does the 20th resume of one suggestion cost what the 1st does?

Starts the whole system (real Prefect server, API, executor, SMTP sink) in a temporary directory,
drives one suggestion to implementation, then completes 25 progress reports one after the other.
For each resume it measures, from the completion's HTTP request to the next step being open:
wall time, and CPU of the executor and of the Prefect server (from /proc). It prints each figure
as a ratio to the first resume measured in the same run (absolute times on a shared machine mislead).

    .venv/bin/python bench/resume_cost.py [--resumes 25]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from support import ADOPT, PROGRESS_HALF, SUGGESTION, triage

from jianyi.db import session_scope
from jianyi.migrate import upgrade
from jianyi.models.enums import Role
from jianyi.runtime.system import System
from jianyi.services import auth
from jianyi.services.network import seed_network

TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime + stime


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--resumes", type=int, default=25)
    args = parser.parse_args()
    home = Path(tempfile.mkdtemp(prefix="jianyi-bench-"))
    system = System(home, prefect_ui=False, extra_env={"JIANYI_EXECUTOR_POLL_SECONDS": "0.05"})
    system.start_services()
    os.environ.update(system.env())
    upgrade(system.database_url)
    with session_scope(system.database_url) as session:
        seed_network(session)
        office = auth.create_user(session, name="office", role=Role.office, unit_code="city-office")[1]
        dept = auth.create_user(session, name="dept", role=Role.department, unit_code="city-transport")[1]
    system.start_api()
    system.start_executor()
    assert system.executor is not None and system.prefect is not None and system.prefect.pid is not None
    http = httpx.Client(base_url=system.api_url, timeout=30)
    tokens = {"office": office, "dept": dept}

    def open_step(sid: int, kind: str, not_id: int | None = None) -> int:
        while True:
            view = http.get(f"/api/suggestions/{sid}", headers={"Authorization": f"Bearer {office}"}).json()
            for step in view["open_steps"]:
                if step["kind"] == kind and step["state"] == "open" and step["id"] != not_id:
                    return int(step["id"])
            time.sleep(0.01)

    def complete(who: str, step_id: int, payload: dict[str, object]) -> None:
        response = http.post(
            f"/api/steps/{step_id}/complete", json=payload, headers={"Authorization": f"Bearer {tokens[who]}"}
        )
        response.raise_for_status()

    try:
        created = http.post(
            "/api/suggestions", json=SUGGESTION, headers={"Authorization": f"Bearer {office}"}
        ).json()
        sid = created["id"]
        complete("office", open_step(sid, "triage"), triage())
        complete("dept", open_step(sid, "opinion"), ADOPT)
        complete("office", open_step(sid, "review"), {"action": "accept"})
        complete("office", open_step(sid, "reply"), {"method": "phone", "text": "已答复"})
        complete("office", open_step(sid, "rating"), {"rating": "satisfied"})
        step_id = open_step(sid, "progress")
        rows = []
        for n in range(1, args.resumes + 1):
            time.sleep(0.5)  # let the previous attempt's tail (logs, claim release) settle before measuring
            ex0, pf0, t0 = (
                cpu_seconds(system.executor.pid),
                cpu_seconds(system.prefect.pid),
                time.perf_counter(),
            )
            complete("dept", step_id, {**PROGRESS_HALF, "milestone": f"第{n}次进展"})
            step_id = open_step(sid, "progress", not_id=step_id)
            wall = time.perf_counter() - t0
            time.sleep(0.3)  # the attempt's suspend and log flush land after the next step is visible
            rows.append(
                (n, wall, cpu_seconds(system.executor.pid) - ex0, cpu_seconds(system.prefect.pid) - pf0)
            )
    finally:
        system.stop()

    base_wall, base_ex, base_pf = rows[0][1], rows[0][2] or 1 / TICKS, rows[0][3] or 1 / TICKS
    print(
        f"{'resume':>6} {'wall s':>8} {'÷ 1st':>6} {'executor CPU s':>15} {'÷ 1st':>6} {'Prefect CPU s':>14} {'÷ 1st':>6}"
    )
    for n, wall, ex, pf in rows:
        if n in (1, 2, 5, 10, 15, 20, 25) or n == len(rows):
            print(
                f"{n:>6} {wall:>8.3f} {wall / base_wall:>6.2f} {ex:>15.2f} {ex / base_ex:>6.2f} {pf:>14.2f} {pf / base_pf:>6.2f}"
            )
    early = rows[1:6]
    late = rows[-5:]

    def mean(values: list[float]) -> float:
        return statistics.mean(values)

    print(
        "\nmean of resumes 2–6 vs the last five: "
        f"wall ×{mean([r[1] for r in late]) / mean([r[1] for r in early]):.2f}, "
        f"executor CPU ×{mean([r[2] for r in late]) / max(mean([r[2] for r in early]), 1 / TICKS):.2f}, "
        f"Prefect CPU ×{mean([r[3] for r in late]) / max(mean([r[3] for r in early]), 1 / TICKS):.2f}"
    )


if __name__ == "__main__":
    main()
