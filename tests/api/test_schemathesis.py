"""Every operation of the API under generated requests (schemathesis), in-process against a real
seeded SQLite database, as the office and as a department: no 500, and no answer that contradicts
the OpenAPI document (status, content type, headers, body schema), and data the document calls
invalid is refused. A bounded run: a few thousand requests in all."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import schemathesis
from databases import Users, fresh_database
from engine import EngineDriver
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    ignored_auth,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
    unsupported_method,
)
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker
from support import NOT_ADOPT, triage

from jianyi.api.app import create_app
from jianyi.models import OutboxMessage, PlannedCommunication, Step, Suggestion
from jianyi.models.enums import OutboxState, StepKind

# Per operation and caller; both callers over every operation come to a few thousand requests.
EXAMPLES = 35
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    negative_data_rejection,
    ignored_auth,
    unsupported_method,
]


@pytest.fixture
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    return fresh_database(request, "sqlite", tmp_path)  # this run only: fast, and real


@pytest.fixture
def known(sessions: sessionmaker[Session], users: Users, tmp_path: Path) -> dict[str, list[int]]:
    """A few cases at different stages (one with a message that failed), and their ids."""
    driver = EngineDriver(sessions, users)
    ids = [driver.submit() for _ in range(3)]
    for suggestion_id in ids[1:]:
        [step] = [s for s in driver.open_steps(suggestion_id) if s.kind is StepKind.triage]
        driver.complete("office", suggestion_id, step.id, triage())
    [opinion] = [s for s in driver.open_steps(ids[2]) if s.kind is StepKind.opinion]
    driver.complete("transport", ids[2], opinion.id, NOT_ADOPT)
    driver.advance(ids[2])
    with sessions() as session, session.begin():
        session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.suggestion_id == ids[0])
            .values(state=OutboxState.failed, attempts=1, last_error="ValueError: a control character")
        )
    with sessions() as session:
        return {
            "suggestion_id": ids,
            "step_id": list(session.scalars(select(Step.id))),
            "planned_id": list(session.scalars(select(PlannedCommunication.id))) or [1],
            "tracking_code": list(session.scalars(select(Suggestion.tracking_code))),
        }


@pytest.fixture(params=["office", "transport"])
def who(request: pytest.FixtureRequest) -> str:
    """The caller: the city office, or a department."""
    return str(request.param)


@pytest.fixture
def api_schema(cli_on: None) -> Any:
    return schemathesis.openapi.from_asgi("/openapi.json", create_app())


def test_every_operation_keeps_to_the_document(
    api_schema: Any, who: str, users: Users, known: dict[str, list[int]]
) -> None:
    # Driven operation by operation (schemathesis's pytest loader needs a pytest older than ours);
    # the failures of every operation are collected, so one run shows them all.
    auth = {"Authorization": f"Bearer {users.tokens[who]}"}
    failures: list[str] = []
    sent = 0
    for result in api_schema.get_all_operations():
        operation = result.ok()
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

            @settings(
                max_examples=EXAMPLES,
                deadline=None,
                derandomize=True,
                database=None,
                suppress_health_check=list(HealthCheck),
            )
            @given(case=operation.as_strategy(generation_mode=mode, headers=auth))
            def run(case: Any) -> None:
                if case.meta is not None and case.meta.generation.mode.is_positive:
                    _name_known_records(case, known)
                nonlocal sent
                sent += 1
                case.call_and_validate(checks=CHECKS)

            try:
                run()
            except Unsatisfiable:  # nothing of it can be invalid (no parameters, no body)
                assert mode is GenerationMode.NEGATIVE, operation.label
            except (Exception, BaseExceptionGroup) as exc:  # schemathesis reports a group of failures
                failures.append(f"{operation.label} ({mode.value}): {exc}")
    assert not failures, "\n\n".join(failures)
    assert sent > 800, sent  # the run stays what it claims to be


def _name_known_records(case: Any, known: dict[str, list[int]]) -> None:
    """Half the valid requests name a record that exists, so its answers are checked too."""
    for name, value in list((case.path_parameters or {}).items()):
        if name in known and isinstance(value, int) and value % 2 == 0:
            case.path_parameters[name] = known[name][value % len(known[name])]
