"""The office's cycles through Prefect, as jianyi's executor runs them: the digest's deployment, the
week's run created once and run in-process, its tasks and its markdown artifact (no personal data);
its schedule read from the rules, equal to deployments/prefect.yaml's. And a campaign's runs: closed
when its window has ended, then published once its feedback is given, each step one run."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from apscheduler.triggers.cron import CronTrigger
from clock import Clock
from commendation_seed import implemented
from digest_seed import add_leaders, personal_data, seed_important
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import (
    ArtifactFilter,
    ArtifactFilterFlowRunId,
    ArtifactFilterKey,
    DeploymentFilter,
    DeploymentFilterId,
)
from prefect.client.schemas.objects import StateType
from prefect.logging.handlers import APILogHandler
from prefect.settings import PREFECT_API_URL, temporary_settings
from reports_seed import clock, pdf_text, reports_home
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from jianyi.executor import cycles
from jianyi.flows.commendation import commendation_publication
from jianyi.flows.digest import digest_of_important_suggestions
from jianyi.models import Digest, OutboxMessage, Step
from jianyi.models.campaign_schemas import CampaignIn, FeedbackIn
from jianyi.models.enums import Channel, Role, StepKind, StepState
from jianyi.runtime.prefect_server import PrefectServer
from jianyi.services import auth
from jianyi.services.cycles import campaigns, commendation
from jianyi.services.deadlines import current_rules
from jianyi.services.reports.kinds import SHANGHAI

__all__ = ["clock", "reports_home"]  # fixtures
SQLITE = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)


@pytest.fixture(scope="module")
def prefect_api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    server = PrefectServer(tmp_path_factory.mktemp("prefect"), ui=False).start()
    with temporary_settings({PREFECT_API_URL: server.api_url}):
        yield server.api_url
        APILogHandler().flush()
    server.stop()


@SQLITE
def test_the_executor_compiles_the_weeks_digest_as_one_flow_run(
    prefect_api: str, clock: Clock, sessions: sessionmaker[Session], reports_home: Path
) -> None:
    add_leaders(clock)
    seed_important(clock)

    async def scenario() -> dict[str, Any]:
        deployment = await cycles.ensure_deployment()
        async with get_client() as client:
            assert await cycles.make(client, deployment, "2026-11-06") is True
            # A second trigger the same day (another executor) gets the same run back, and leaves it.
            assert await cycles.make(client, deployment, "2026-11-06") is False
            [run] = await client.read_flow_runs(
                deployment_filter=DeploymentFilter(id=DeploymentFilterId(any_=[deployment]))
            )
            assert run.state is not None and run.state.type is StateType.COMPLETED
            tasks = {
                t.name.rsplit("-", 1)[0] for t in await client.read_task_runs() if t.flow_run_id == run.id
            }
            [artifact] = await client.read_artifacts(
                artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[run.id]))
            )
            return {"run_id": str(run.id), "tasks": tasks, "artifact": artifact}

    made = asyncio.run(scenario())
    assert made["tasks"] == {"compile", "render", "mail"}
    artifact = made["artifact"]
    assert artifact.key == "digest-1" and "# 人民建议摘报（第1期）" in artifact.data
    assert not [value for value in personal_data() if value in artifact.data]
    with sessions() as session:
        [digest] = session.scalars(select(Digest)).all()
        mails = session.scalars(select(OutboxMessage).where(OutboxMessage.kind == "digest")).all()
    assert digest.flow_run_id == made["run_id"] and len(mails) == 2
    assert "关于公交线路优化的建议（2）" in pdf_text(Path(digest.pdf_path or ""))

    # Run by hand with nothing waiting: no issue, no mail.
    assert digest_of_important_suggestions(by="test") == {"digest_id": None, "mails_queued": 0}


def test_the_schedule_comes_from_the_rules_and_matches_prefect_yaml() -> None:
    rules = current_rules()
    assert rules.cycles.digest.scheduled and rules.cycles.digest.cron == "0 9 * * fri"
    thursday = datetime(2026, 11, 5, 4, 0, tzinfo=UTC)
    fires = cycles.trigger(rules).get_next_fire_time(None, thursday)
    assert (
        fires is not None
        and fires.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M %a") == "2026-11-06 09:00 Fri"
    )
    deployments = yaml.safe_load(
        (Path(__file__).resolve().parents[2] / "deployments" / "prefect.yaml").read_text(encoding="utf-8")
    )["deployments"]
    [digest] = [d for d in deployments if d["entrypoint"].endswith(":digest_of_important_suggestions")]
    [schedule] = digest["schedules"]
    assert (schedule["cron"], schedule["timezone"]) == (rules.cycles.digest.cron, rules.calendar.time_zone)
    assert str(cycles.trigger(rules)) == str(CronTrigger.from_crontab("0 9 * * fri", timezone=SHANGHAI))


@SQLITE
def test_the_executor_runs_a_campaigns_cycle_as_flow_runs(
    prefect_api: str, clock: Clock, users: Any, sessions: sessionmaker[Session], reports_home: Path
) -> None:
    closed_at = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)  # the window has ended: due to close
    data = CampaignIn(
        code="2026-parks",
        topic="公园开放",
        explanation="征集公园开放时间的意见",
        host_units=["city-transport"],
        channels=[Channel.campaign],
        opens_at=datetime(2026, 11, 2, tzinfo=UTC),
        closes_at=closed_at,
    )
    with sessions() as session:
        campaign_id = campaigns.create(session, actor=users.actors["office"], data=data, now=closed_at).id
        session.commit()
    assert cycles.due_campaigns() == [(campaign_id, "open")]

    async def step(state: str) -> dict[str, Any]:
        deployment = await cycles.ensure_campaign_deployment()
        async with get_client() as client:
            assert await cycles.make_campaign_run(client, deployment, campaign_id, state) is True
            assert await cycles.make_campaign_run(client, deployment, campaign_id, state) is False  # once
            runs = await client.read_flow_runs(
                deployment_filter=DeploymentFilter(id=DeploymentFilterId(any_=[deployment]))
            )
            [run] = [r for r in runs if r.name.endswith(state)]
            tasks = {
                t.name.rsplit("-", 1)[0] for t in await client.read_task_runs() if t.flow_run_id == run.id
            }
            [artifact] = await client.read_artifacts(
                artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[run.id]))
            )
            assert run.state is not None and run.state.type is StateType.COMPLETED
            return {"tasks": tasks, "artifact": artifact.data}

    closing = asyncio.run(step("open"))
    assert closing["tasks"] == {"close", "publish"} and "状态：awaiting_feedback" in closing["artifact"]
    assert cycles.due_campaigns() == []  # waits for the office's feedback
    with sessions() as session:
        campaigns.give_feedback(
            session,
            actor=users.actors["office"],
            campaign_id=campaign_id,
            data=FeedbackIn(summary="未收到建议", next_steps="下次扩大宣传"),
            now=closed_at,
        )
        session.commit()
    assert cycles.due_campaigns() == [(campaign_id, "feedback_given")]
    publishing = asyncio.run(step("feedback_given"))
    assert "状态：published" in publishing["artifact"] and "下次扩大宣传" in publishing["artifact"]
    assert cycles.due_campaigns() == []


@SQLITE
def test_the_commendations_publication_is_a_flow_run_completing_every_nominated_step(
    prefect_api: str, clock: Clock, users: Any, sessions: sessionmaker[Session], reports_home: Path
) -> None:
    at = datetime(2026, 11, 2, 2, 0, tzinfo=UTC)
    ids = [implemented(clock, n, at + timedelta(hours=n)) for n in range(2)]
    office = users.actors["office"]
    with sessions() as session:
        head, _ = auth.create_user(session, name="主任", role=Role.office, unit_code="city-office", head=True)
        commendation.open_cycle(session, actor=office, year=2027, now=at)
        for n in range(5):
            commendation.add_expert(session, actor=office, name=f"专家{n}", unit=None)
        cycle = commendation.draw_panel(session, actor=office, year=2027, seed="flow")
        for expert in cycle.panel or []:
            for rank, sid in enumerate(ids):
                commendation.score(
                    session, actor=office, year=2027, expert_id=expert, suggestion_id=sid, value=90 - rank
                )
        commendation.approve(session, actor=auth.actor_for(head), year=2027, now=at)
        session.commit()
    result = commendation_publication(year=2027, now=datetime(2027, 11, 20, tzinfo=UTC).isoformat())
    assert result == {"year": 2027, "steps_completed": 2}
    with sessions() as session:
        states = {
            s.state for s in session.scalars(select(Step).where(Step.kind == StepKind.commendation_result))
        }
    assert states == {StepState.submitted}  # each case's run applies it when the executor resumes it

    async def artifact() -> str:
        async with get_client() as client:
            [found] = await client.read_artifacts(
                artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=["commendation-2027"]))
            )
            return str(found.data)

    data = asyncio.run(artifact())
    assert "# 2027年度优秀人民建议" in data and "优秀建议候选000" in data and "一等奖" in data
    assert "建议人" not in data and "@example.com" not in data
