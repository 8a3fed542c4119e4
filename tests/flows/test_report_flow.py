"""The report flow through Prefect, as jianyi's executor runs it: the deployment per kind, the period's
run created once and run in-process, its tasks and markdown artifact on the run; re-run, the period
changes nothing and mails nothing more. And the executor's schedule: cron in Asia/Shanghai, the
catch-up of missed periods."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from apscheduler.triggers.cron import CronTrigger
from clock import Clock
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import (
    ArtifactFilter,
    ArtifactFilterFlowRunId,
    DeploymentFilter,
    DeploymentFilterId,
)
from prefect.client.schemas.objects import StateType
from prefect.logging.handlers import APILogHandler
from prefect.settings import PREFECT_API_URL, temporary_settings
from reports_seed import DECEMBER_1, clock, pdf_text, reports_home, seed_november, sink
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from jianyi.executor import reports
from jianyi.executor.dispatcher import OutboxDispatcher
from jianyi.flows.reports import periodic_report
from jianyi.models import Report
from jianyi.runtime.prefect_server import PrefectServer
from jianyi.runtime.smtp_sink import SmtpSink
from jianyi.services.reports.kinds import KINDS, SHANGHAI
from jianyi.tasks.reports import produce

__all__ = ["clock", "reports_home", "sink"]  # fixtures
SQLITE = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)


@pytest.fixture(scope="module")
def prefect_api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    server = PrefectServer(tmp_path_factory.mktemp("prefect"), ui=False).start()
    with temporary_settings({PREFECT_API_URL: server.api_url}):
        yield server.api_url
        APILogHandler().flush()  # the runs' logs reach the server before it stops
    server.stop()


@SQLITE
def test_the_executor_makes_the_monthly_bulletin_as_a_flow_run_once(
    prefect_api: str, clock: Clock, sessions: sessionmaker[Session], reports_home: Path, sink: SmtpSink
) -> None:
    seed_november(clock)

    async def scenario() -> dict[str, Any]:
        deployments = await reports.ensure_deployments()
        assert set(deployments) == set(KINDS)
        async with get_client() as client:
            assert await reports.make(client, deployments["monthly"], "monthly", "2026-11") is True
            # A second trigger (the catch-up, another executor) gets the same run back, completed.
            assert await reports.make(client, deployments["monthly"], "monthly", "2026-11") is False
            [run] = await client.read_flow_runs(
                deployment_filter=DeploymentFilter(id=DeploymentFilterId(any_=[deployments["monthly"]]))
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
    assert made["tasks"] == {"freeze", "render", "mail"}
    artifact = made["artifact"]
    assert artifact.key == "report-monthly-2026-11" and artifact.type == "markdown"
    with sessions() as session:
        [report] = session.scalars(select(Report)).all()
    assert report.flow_run_id == made["run_id"]
    assert "# 月通报（2026年11月）第1版" in artifact.data and f"/api/reports/{report.id}.pdf" in artifact.data
    assert "| 按期转办率 |" in artifact.data  # the key table
    assert "月通报（2026年11月）" in pdf_text(Path(report.pdf_path or ""))

    # Run again by hand (a new flow run of the same period): the same report, no mail queued.
    again = periodic_report(kind="monthly", period="2026-11", now=DECEMBER_1.isoformat())
    assert (again["report_id"], again["version"], again["new"], again["mails_queued"]) == (
        report.id,
        1,
        False,
        0,
    )

    dispatcher = OutboxDispatcher(sessionmaker=sessions, host=sink.host, port=sink.port)
    while asyncio.run(dispatcher.run_once()):
        pass
    [mail] = [m for m in sink.messages if "月通报" in m["Subject"]]
    [attachment] = list(mail.iter_attachments())
    assert attachment.get_content() == Path(report.pdf_path or "").read_bytes()


@SQLITE
def test_the_catch_up_makes_only_the_missing_periods_since_the_first_suggestion(
    clock: Clock, reports_home: Path
) -> None:
    assert reports.missing(DECEMBER_1) == []  # no suggestion yet: nothing to report on
    seed_november(clock)  # the first suggestion came in on 2 November
    assert reports.missing(DECEMBER_1) == [("weekly", "2026-W48"), ("monthly", "2026-11")]
    produce("weekly", "2026-W48", DECEMBER_1)
    assert reports.missing(DECEMBER_1) == [("monthly", "2026-11")]


def test_the_cron_jobs_fire_in_shanghai_just_after_their_period() -> None:
    wednesday = datetime(2026, 12, 2, 4, 0, tzinfo=UTC)
    fires = {
        name: CronTrigger.from_crontab(kind.cron, timezone=SHANGHAI).get_next_fire_time(None, wednesday)
        for name, kind in KINDS.items()
    }
    local = {name: at.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M") for name, at in fires.items() if at}
    assert local == {
        "weekly": "2026-12-07 08:00",
        "monthly": "2027-01-01 08:00",
        "quarterly": "2027-01-01 08:30",
        "half_year": "2027-01-01 09:00",
        "annual": "2027-01-01 09:30",
    }
    assert {name: KINDS[name].last_complete(at) for name, at in fires.items() if at} == {
        "weekly": "2026-W49",
        "monthly": "2026-12",
        "quarterly": "2026-Q4",
        "half_year": "2026-H2",
        "annual": "2026",
    }


def test_the_executor_schedules_one_cron_job_per_kind_and_the_catch_up() -> None:
    from uuid import uuid4

    from apscheduler.schedulers.asyncio import AsyncIOScheduler

    scheduler = AsyncIOScheduler(timezone=SHANGHAI)  # not started: the jobs are only registered
    reports.add_jobs(scheduler, {name: uuid4() for name in KINDS})
    jobs = {job.id: job for job in scheduler.get_jobs()}
    assert set(jobs) == {f"report-{name}" for name in KINDS} | {"report-catch-up"}
    assert str(jobs["report-weekly"].trigger) == str(
        CronTrigger.from_crontab(KINDS["weekly"].cron, timezone=SHANGHAI)
    )
