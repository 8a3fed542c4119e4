"""The annual commendation's publication (表彰奖励): once the head of the city office has approved the
ranking, one flow run completes every nominated item's ``commendation_result`` step (each case's own
flow run then tells its proposer and closes it) and leaves the public list (no personal data) as a
markdown artifact. Run by ``jianyi commendation publish`` (a Prefect run when PREFECT_API_URL is
set); the deployment ``commendation-publication`` in deployments/prefect.yaml has no schedule: the
approval decides when.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NO_CACHE

from jianyi.db import read_scope, session_scope
from jianyi.models.base import utcnow
from jianyi.services.cycles import commendation

FLOW_NAME = "commendation-publication"


def publish_result(year: int, now: datetime) -> int:
    with session_scope() as session:
        return commendation.publish(session, year=year, now=now)


def public_markdown(year: int) -> str:
    with read_scope() as session:
        rows = commendation.public_list(session, commendation.get_cycle(session, year=year))
    lines = [
        f"# {year}年度优秀人民建议",
        "",
        "| 名次 | 等次 | 标题 | 类别 | 办理单位 |",
        "|---:|---|---|---|---|",
    ]
    for row in rows:
        cells = [
            str(row[k] or "—").replace("|", "\\|").replace("\n", " ")
            for k in ("rank", "tier", "title", "category", "unit")
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


@task(name="publish", cache_policy=NO_CACHE, persist_result=False)
def publish_task(year: int, now: str) -> int:
    return publish_result(year, datetime.fromisoformat(now))


@flow(name=FLOW_NAME, persist_result=False, log_prints=False)
def commendation_publication(year: int, now: str | None = None) -> dict[str, Any]:
    at = (datetime.fromisoformat(now) if now else utcnow()).isoformat()
    completed = publish_task(year, at)
    create_markdown_artifact(
        markdown=public_markdown(year), key=f"commendation-{year}", description=f"{year}年度表彰"
    )
    get_run_logger().info("commendation %d: %d step(s) completed", year, completed)
    return {"year": year, "steps_completed": completed}
