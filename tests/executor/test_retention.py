"""Retention: the Prefect runs of suggestions closed over a month ago are deleted, and nothing else.

Against a real Prefect server and the application database (SQLite and PostgreSQL). Time is the
``now`` the job is given: a run that ended a moment ago is "31 days old" when now is 31 days ahead.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from uuid import UUID

import pytest
from databases import Users
from prefect.client.orchestration import PrefectClient
from prefect.exceptions import ObjectNotFound
from prefect.states import Completed, Failed
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker
from support import SUGGESTION

from jianyi.executor.retention import PREFECT_SERVER_ENV, Pruned, prune_finished_runs
from jianyi.models import AuditEntry, Suggestion
from jianyi.models.base import utcnow
from jianyi.models.enums import Outcome
from jianyi.models.schemas import SuggestionIn
from jianyi.runtime.prefect_server import PrefectServer
from jianyi.services import intake


@pytest.fixture(scope="module")
def prefect(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrefectServer]:
    server = PrefectServer(tmp_path_factory.mktemp("prefect"), ui=False, extra_env=PREFECT_SERVER_ENV).start()
    yield server
    server.stop()


def take_in(sessions: sessionmaker[Session], users: Users, n: int) -> list[int]:
    with sessions() as session:
        ids = [
            intake.submit(
                session,
                actor=users.actors["office"],
                data=SuggestionIn.model_validate({**SUGGESTION, "channel_ref": f"retention-{i}"}),
            ).id
            for i in range(n)
        ]
        session.commit()
    return ids


def test_prunes_completed_runs_of_closed_suggestions_only(
    prefect: PrefectServer, sessions: sessionmaker[Session], users: Users, db_url: str
) -> None:
    closed, still_open, failed = take_in(sessions, users, 3)

    async def scenario() -> tuple[dict[int, str], list[Pruned], list[Pruned], list[Pruned]]:
        async with PrefectClient(prefect.api_url) as client:
            flow_id = await client.create_flow_from_name("suggestion-lifecycle")
            deployment_id = await client.create_deployment(flow_id, name=f"retention-{Path(db_url).name}")
            runs: dict[int, str] = {}
            for suggestion_id, end in ((closed, Completed()), (still_open, Completed()), (failed, Failed())):
                run = await client.create_flow_run_from_deployment(
                    deployment_id, parameters={"suggestion_id": suggestion_id}
                )
                await client.set_flow_run_state(run.id, end, force=True)
                runs[suggestion_id] = str(run.id)
            with sessions() as session:
                for suggestion_id, run_id in runs.items():
                    done = suggestion_id != still_open
                    session.execute(
                        update(Suggestion)
                        .where(Suggestion.id == suggestion_id)
                        .values(
                            flow_run_id=run_id,
                            closed_at=utcnow() if done else None,
                            outcome=Outcome.not_adopted if done else None,
                        )
                    )
                session.commit()

            async def prune(days: int) -> list[Pruned]:
                return await prune_finished_runs(
                    client,
                    deployment_id=deployment_id,
                    now=utcnow() + timedelta(days=days),
                    database_url=db_url,
                )

            too_young, pruned, again = await prune(0), await prune(31), await prune(31)
            with pytest.raises(ObjectNotFound):
                await client.read_flow_run(UUID(runs[closed]))
            for kept in (still_open, failed):  # an open case's run, and a Failed run: never deleted
                assert str((await client.read_flow_run(UUID(runs[kept]))).id) == runs[kept]
            return runs, too_young, pruned, again

    runs, too_young, pruned, again = asyncio.run(scenario())
    assert too_young == []
    assert pruned == [Pruned(closed, runs[closed])]
    assert again == []
    with sessions() as session:
        audited = session.scalars(select(AuditEntry).where(AuditEntry.action == "flow_run.pruned")).all()
    assert [(a.suggestion_id, a.detail["flow_run_id"]) for a in audited] == [(closed, runs[closed])]
