"""The supervision board's numbers on a handful of suggestions, and who may see it (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from clock import Clock
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from support import triage

from jianyi.errors import Forbidden
from jianyi.models.enums import Stage, StepKind
from jianyi.services import board, clocks

MONDAY = datetime(2026, 11, 2, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai, a working Monday
TRIAGE_DUE = datetime(2026, 11, 3, 15, 59, 59, 999999, tzinfo=UTC)  # 1 WD: the end of Tuesday
LATER = MONDAY + timedelta(days=40)  # past every deadline of the research stage


@pytest.fixture
def cases(sessions: sessionmaker[Session], users: Any) -> dict[str, int]:
    """Two Huangpu suggestions (one at triage, one at research) and one of the city office at triage."""
    clock = Clock(sessions, users)
    waiting = clock.submit(MONDAY)
    researched = clock.submit(MONDAY)
    clock.complete(researched, StepKind.triage, "huangpu", triage(), MONDAY)
    city = clock.submit(MONDAY, who="office")
    return {"waiting": waiting, "researched": researched, "city": city}


def test_open_suggestions_by_stage_and_office(
    sessions: sessionmaker[Session], users: Any, cases: dict[str, int]
) -> None:
    with sessions() as session:
        whole = board.stages(session, actor=users.actors["supervisor"])
        own = board.stages(session, actor=users.actors["huangpu"])
    assert whole.total == 3
    assert {c.stage: c.count for c in whole.by_stage if c.count} == {Stage.triage: 2, Stage.research: 1}
    assert [(o.office, o.total, o.stages) for o in whole.by_office] == [
        ("huangpu-office", 2, {Stage.triage: 1, Stage.research: 1}),
        ("city-office", 1, {Stage.triage: 1}),
    ]
    assert own.total == 2 and [o.office for o in own.by_office] == ["huangpu-office"]


def test_late_units_are_ranked_by_how_much_they_owe(
    sessions: sessionmaker[Session], users: Any, cases: dict[str, int]
) -> None:
    admin = users.actors["admin"]
    with sessions() as session:
        early = board.late_units(session, actor=admin, now=MONDAY + timedelta(days=2))
        late = board.late_units(session, actor=admin, now=LATER)
        huangpu = board.late_units(session, actor=users.actors["huangpu"], now=LATER)
    # Two days on only the triage steps (1 WD) are late, one per office, equally old.
    assert [(u.unit, u.overdue, u.oldest_due_at) for u in early] == [
        ("city-office", 1, TRIAGE_DUE),
        ("huangpu-office", 1, TRIAGE_DUE),
    ]
    assert early[0].days_overdue == 1  # Wednesday: the first working day after Tuesday's deadline
    # Forty days on the lead unit owes its opinion and its objection window (not yet swept): most first.
    assert [(u.unit, u.overdue) for u in late] == [
        ("city-transport", 2),
        ("city-office", 1),
        ("huangpu-office", 1),
    ]
    # Working days from Wednesday 4 November to Saturday 12 December: six weeks less two days, no holiday.
    assert late[0].kind.value == "city_department" and late[1].days_overdue == 28
    assert [(u.unit, u.overdue) for u in huangpu] == [("city-transport", 2), ("huangpu-office", 1)]


def test_overdue_steps_page_most_overdue_first_by_unit_and_district(
    sessions: sessionmaker[Session], users: Any, cases: dict[str, int]
) -> None:
    supervisor = users.actors["supervisor"]
    with sessions() as session:
        first = board.overdue(session, actor=supervisor, now=LATER, limit=2)
        assert first.next is not None
        second = board.overdue(session, actor=supervisor, now=LATER, limit=2, after=first.next)
        transport = board.overdue(session, actor=supervisor, now=LATER, unit="city-transport")
        district = board.overdue(session, actor=supervisor, now=LATER, district="huangpu-office")
        own = board.overdue(session, actor=users.actors["huangpu"], now=LATER)
        with pytest.raises(Forbidden):
            board.overdue(session, actor=users.actors["huangpu"], now=LATER, district="city-office")
    assert [(s.kind, s.suggestion_id) for s in first.items] == [
        (StepKind.triage, cases["waiting"]),
        (StepKind.triage, cases["city"]),
    ]
    assert [s.kind for s in second.items] == [StepKind.objection, StepKind.opinion] and second.next is None
    assert first.items[0].due_at == TRIAGE_DUE and first.items[0].office == "huangpu-office"
    assert [s.kind for s in transport.items] == [StepKind.objection, StepKind.opinion]
    assert {s.unit for s in transport.items} == {"city-transport"}
    assert [s.kind for s in district.items] == [StepKind.triage, StepKind.objection, StepKind.opinion]
    assert own == district


def test_a_paused_clock_is_not_late_and_one_suggestion_shows_its_deadlines(
    sessions: sessionmaker[Session], users: Any, cases: dict[str, int]
) -> None:
    suggestion_id = cases["researched"]
    with sessions() as session:
        before = board.suggestion_steps(
            session, actor=users.actors["office"], suggestion_id=suggestion_id, now=LATER
        )
        [opinion] = [s for s in before if s.kind is StepKind.opinion]
        clocks.pause(
            session,
            actor=users.actors["transport"],
            step_id=opinion.step_id,
            reason="等待补充材料",
            now=MONDAY,
        )
        session.commit()
        steps = board.suggestion_steps(
            session, actor=users.actors["huangpu"], suggestion_id=suggestion_id, now=LATER
        )
        overdue = board.overdue(session, actor=users.actors["admin"], now=LATER, unit="city-transport")
    assert [(s.kind, s.overdue, s.paused) for s in steps] == [
        (StepKind.objection, True, False),
        (StepKind.opinion, False, True),  # its clock stands still: not late
        (StepKind.extension_request, False, False),  # no deadline: last
    ]
    assert steps[2].due_at is None and opinion.overdue
    assert [s.kind for s in overdue.items] == [StepKind.objection]


def test_a_step_paused_after_its_deadline_runs_again_and_is_late(
    sessions: sessionmaker[Session], users: Any, cases: dict[str, int], db_url: str
) -> None:
    """A late step can no longer pause (clocks.pause); one paused late before that left the board
    and its ladders: the migration 0009 sets its clock running again and its rungs pending."""
    from alembic import command

    from jianyi.migrate import make_config
    from jianyi.models import Step, StepTimer
    from jianyi.models.step_timer import TimerState
    from jianyi.services import deadlines

    suggestion_id = cases["researched"]
    with sessions() as session:
        opinion = session.scalar(
            select(Step).where(Step.suggestion_id == suggestion_id, Step.kind == StepKind.opinion)
        )
        assert opinion is not None and opinion.due_at is not None
        opinion.paused_at = opinion.due_at + timedelta(days=1)  # as clocks.pause did before
        deadlines.moot_timers(session, step_ids=[opinion.id])
        session.commit()
        opinion_id = opinion.id
        admin = users.actors["admin"]
        hidden = board.overdue(session, actor=admin, now=LATER, unit="city-transport")
    assert [s.kind for s in hidden.items] == [StepKind.objection]
    command.downgrade(make_config(db_url), "0008")
    command.upgrade(make_config(db_url), "0009")
    command.upgrade(make_config(db_url), "head")  # the later ones, for the models of today
    with sessions() as session:
        overdue = board.overdue(session, actor=admin, now=LATER, unit="city-transport")
        step = session.get(Step, opinion_id)
        timers = session.scalars(select(StepTimer.state).where(StepTimer.step_id == opinion_id)).all()
    assert [s.kind for s in overdue.items] == [StepKind.objection, StepKind.opinion]
    assert step is not None and step.paused_at is None and step.paused_working_days == 0
    assert timers and set(timers) == {TimerState.pending}


def test_departments_get_403(sessions: sessionmaker[Session], users: Any, cases: dict[str, int]) -> None:
    with sessions() as session:
        for who in ("transport", "proposer"):
            with pytest.raises(Forbidden):
                board.stages(session, actor=users.actors[who])
        with pytest.raises(Forbidden):  # another office's suggestion
            board.suggestion_steps(
                session, actor=users.actors["huangpu"], suggestion_id=cases["city"], now=LATER
            )


def test_the_http_api(users: Any, cases: dict[str, int], cli_on: Any) -> None:
    from fastapi.testclient import TestClient

    from jianyi.api.app import create_app

    http = TestClient(create_app())

    def get(path: str, who: str) -> Any:
        return http.get(path, headers={"Authorization": f"Bearer {users.tokens[who]}"})

    for path in ("/api/board/stages", "/api/board/late-units", "/api/board/overdue"):
        assert get(path, "transport").status_code == 403
    assert get("/api/board/stages", "supervisor").json()["total"] == 3
    assert get("/api/board/stages", "huangpu").json()["total"] == 2
    page = get("/api/board/overdue?limit=1", "admin").json()
    assert len(page["items"]) == 1 and page["next"]
    rest = get(f"/api/board/overdue?after={page['next']}", "admin").json()
    assert page["items"][0]["step_id"] not in {s["step_id"] for s in rest["items"]}
    assert get("/api/board/overdue?after=nonsense", "admin").status_code == 422
    assert get("/api/board/overdue?unit=no-such-unit", "admin").status_code == 422
    assert get(f"/api/board/suggestions/{cases['city']}", "huangpu").status_code == 403
    assert {s["kind"] for s in get(f"/api/board/suggestions/{cases['city']}", "office").json()} == {"triage"}
    assert {u["unit"] for u in get("/api/board/late-units", "office").json()} >= {
        "city-office",
        "huangpu-office",
    }
