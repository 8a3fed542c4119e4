"""The lifecycle flow through Prefect's own engine, as a worker runs it: each attempt suspends the
run with the wait's typed input, a resume with a completed step wakes it, and the case closes."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator
from uuid import UUID

import pytest
from databases import Users
from engine import EngineDriver
from prefect.client.orchestration import get_client
from prefect.client.schemas.objects import StateType
from prefect.exceptions import Pause
from prefect.flow_engine import run_flow_async
from prefect.logging.handlers import APILogHandler
from prefect.settings import PREFECT_API_URL, temporary_settings
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from jianyi.flows.lifecycle import suggestion_lifecycle
from jianyi.models import Step
from jianyi.models.enums import StepState
from jianyi.runtime.prefect_server import PrefectServer


@pytest.fixture(scope="module")
def prefect_api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    server = PrefectServer(tmp_path_factory.mktemp("prefect"), ui=False).start()
    with temporary_settings({PREFECT_API_URL: server.api_url}):
        yield server.api_url
        APILogHandler().flush()  # the runs' logs reach the server before it stops
    server.stop()


def open_triage(sessions: sessionmaker[Session], suggestion_id: int) -> Step:
    with sessions() as session:
        return session.scalars(
            select(Step).where(Step.suggestion_id == suggestion_id, Step.state == StepState.open)
        ).one()


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_the_flow_suspends_at_each_wait_and_completes_once_closed(
    prefect_api: str, sessions: sessionmaker[Session], users: Users, cli_on: None
) -> None:
    driver = EngineDriver(sessions, users)
    suggestion_id = driver.submit()

    async def attempt(run_id: UUID) -> StateType:
        async with get_client() as client:
            run = await client.read_flow_run(run_id)
            with contextlib.suppress(Pause):  # the attempt ends at its suspend, as a worker's process does
                await run_flow_async(suggestion_lifecycle, flow_run=run, parameters=run.parameters)
            run = await client.read_flow_run(run_id)
            assert run.state is not None
            return run.state.type

    async def scenario() -> None:
        deployment_id = await (await suggestion_lifecycle.ato_deployment(name="flow-test")).aapply()
        async with get_client() as client:
            run_id = (
                await client.create_flow_run_from_deployment(
                    deployment_id, parameters={"suggestion_id": suggestion_id}
                )
            ).id
            assert await attempt(run_id) is StateType.PAUSED  # waiting for the triage

            triage = await asyncio.to_thread(open_triage, sessions, suggestion_id)
            payload = {"kind": "complaint", "note": "个人诉求，转12345"}
            await asyncio.to_thread(driver.complete, "office", suggestion_id, triage.id, payload)
            # The wait's type holds a resume to a triage.
            refused = await client.resume_flow_run(
                run_id, run_input={"step_id": triage.id, "kind": "opinion"}
            )
            assert refused.status.value != "ACCEPT"
            resumed = await client.resume_flow_run(
                run_id, run_input={"step_id": triage.id, "kind": "triage", "data": payload}
            )
            assert resumed.status.value == "ACCEPT", resumed
            assert await attempt(run_id) is StateType.COMPLETED

    asyncio.run(scenario())
    assert driver.advance(suggestion_id) is None  # closed: the complaint redirected
