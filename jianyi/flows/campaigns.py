"""A campaign's cycle (主动征集): at the window's close its participation is frozen and it waits for
the office's collective feedback (集中反馈); once given, the feedback is published on its page and
sent once to each participant. One flow run does what the campaign's state calls for now: the wait
for feedback is held in the database (the campaign's state), as a case's human steps are.

jianyi's executor runs it (deployment ``campaign-cycle/on-close``) every few minutes for a campaign
whose window has closed or whose feedback was given (jianyi/executor/cycles.py); the CLI runs it too.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from prefect import flow, get_run_logger
from prefect.artifacts import create_markdown_artifact

from jianyi.db import read_scope
from jianyi.models import Campaign
from jianyi.models.base import utcnow
from jianyi.services.cycles import campaigns
from jianyi.tasks.campaigns import close_task, publish_task

FLOW_NAME = "campaign-cycle"


def _lines(counts: dict[str, int]) -> list[str]:
    return [f"| {name} | {count} |" for name, count in counts.items()]


def summary(campaign_id: int) -> str:
    """The artifact: the campaign's state, participation and published feedback (no personal data)."""
    with read_scope() as session:
        campaign = session.get_one(Campaign, campaign_id)
        page = campaigns.public_view(session, campaign)
        lines = [f"# 主动征集：{page.topic}", "", f"状态：{page.state}", ""]
        participation = campaign.participation or {}
        if participation:
            lines += [f"共收到建议 {participation['suggestions']} 件", "", "| 渠道 | 件数 |", "|---|---:|"]
            lines += [*_lines(participation["by_channel"]), "", "| 区 | 件数 |", "|---|---:|"]
            lines += _lines(participation["by_district"])
        if page.feedback:
            lines += [
                "",
                "## 集中反馈",
                "",
                page.feedback["summary"],
                "",
                "下一步：" + page.feedback["next_steps"],
            ]
        return "\n".join(lines) + "\n"


@flow(name=FLOW_NAME, persist_result=False, log_prints=False)
def campaign_cycle(campaign_id: int, now: str | None = None) -> dict[str, Any]:
    at = (datetime.fromisoformat(now) if now else utcnow()).isoformat()
    closed = close_task(campaign_id, at)
    queued = publish_task(campaign_id, at)
    create_markdown_artifact(
        markdown=summary(campaign_id), key=f"campaign-{campaign_id}", description="主动征集 集中反馈"
    )
    get_run_logger().info(
        "campaign %d: closed %s, %d feedback message(s) queued", campaign_id, closed, queued
    )
    return {"campaign_id": campaign_id, "closed": closed, "messages_queued": queued}
