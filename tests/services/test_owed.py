"""What a unit owes and answered, a page at a time (SQLite and PostgreSQL): the workbench's numbered
pages with filters and counts, the answered list latest first, and the API's keyset pages."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from clock import Clock
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from support import SUGGESTION, triage

from jianyi.errors import InvalidInput
from jianyi.models import Step, Suggestion
from jianyi.models.enums import StepKind, StepState
from jianyi.services import owed
from jianyi.services.actors import Actor

MONDAY = datetime(2026, 11, 2, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai, a working Monday


@pytest.fixture
def clock(sessions: sessionmaker[Session], users: Any) -> Clock:
    return Clock(sessions, users)


@pytest.fixture
def owed_triage(clock: Clock) -> list[int]:
    """Seven suggestions to Huangpu on seven days: its triage steps, earliest deadline first."""
    ids = [
        clock.submit(MONDAY + timedelta(days=n), data={**SUGGESTION, "title": f"关于第{n}号路口的建议"})
        for n in range(7)
    ]
    return [clock.step(i, StepKind.triage).id for i in ids]


def _ids(page: owed.Page) -> list[int]:
    return [step.id for step, _ in page.rows]


def test_open_steps_come_by_deadline_a_numbered_page_at_a_time(
    sessions: sessionmaker[Session], users: Any, owed_triage: list[int]
) -> None:
    huangpu = users.actors["huangpu"]
    with sessions() as session:
        pages = [
            owed.open_page(session, actor=huangpu, found=owed.StepFilter(), number=n, size=3)
            for n in (1, 2, 3)
        ]
        beyond = owed.open_page(session, actor=huangpu, found=owed.StepFilter(), number=99, size=3)
        theirs = owed.open_page(session, actor=users.actors["edu"], found=owed.StepFilter())
    assert [p.number for p in pages] == [1, 2, 3] and {(p.pages, p.matching) for p in pages} == {(3, 7)}
    assert [i for p in pages for i in _ids(p)] == owed_triage
    assert beyond.number == 3 and _ids(beyond) == owed_triage[6:]  # past the last page: the last
    assert theirs.matching == 0 and theirs.rows == []


def test_filters_narrow_in_the_database(
    sessions: sessionmaker[Session], users: Any, owed_triage: list[int]
) -> None:
    huangpu = users.actors["huangpu"]

    def matching(**given: Any) -> list[int]:
        with sessions() as session:
            return _ids(owed.open_page(session, actor=huangpu, found=owed.StepFilter(**given)))

    with sessions() as session:
        code = session.scalar(
            select(Suggestion.tracking_code)
            .join(Step, Step.suggestion_id == Suggestion.id)
            .where(Step.id == owed_triage[4])
        )
        assert code is not None
        due = [session.get(Step, i).due_at for i in owed_triage]  # type: ignore[union-attr]
    assert matching(words="第3号") == [owed_triage[3]]
    assert matching(words=code.lower()) == [owed_triage[4]]
    assert matching(words="%") == []  # a wildcard typed is a character, not "anything"
    assert matching(kind=StepKind.opinion) == []
    assert matching(kind=StepKind.triage) == owed_triage
    assert matching(due_from=due[2], due_before=due[5]) == owed_triage[2:5]


def test_counts_the_open_the_overdue_and_the_due_soon(
    sessions: sessionmaker[Session], users: Any, owed_triage: list[int]
) -> None:
    with sessions() as session:
        due = [session.get(Step, i).due_at for i in owed_triage]  # type: ignore[union-attr]
        now = due[2] + timedelta(seconds=1)  # three past their deadline
        found = owed.counts(session, actor=users.actors["huangpu"], now=now, soon_before=due[4])
        nobody = owed.counts(session, actor=users.actors["edu"], now=now, soon_before=due[4])
    assert found == owed.Counts(open=7, overdue=3, due_soon=1)
    assert nobody == owed.Counts(0, 0, 0)


def test_answered_steps_come_latest_first(
    clock: Clock, sessions: sessionmaker[Session], users: Any, owed_triage: list[int]
) -> None:
    with sessions() as session:
        suggestions = [session.get(Step, i).suggestion_id for i in owed_triage[:3]]  # type: ignore[union-attr]
    for n, suggestion in enumerate(suggestions):
        clock.complete(suggestion, StepKind.triage, "huangpu", triage(), MONDAY + timedelta(days=8, hours=n))
    with sessions() as session:
        page = owed.answered_page(session, actor=users.actors["huangpu"], words="")
        searched = owed.answered_page(session, actor=users.actors["huangpu"], words="第1号")
        still = owed.open_page(session, actor=users.actors["huangpu"], found=owed.StepFilter())
    assert _ids(page) == owed_triage[:3][::-1] and page.matching == 3
    assert _ids(searched) == [owed_triage[1]]
    assert _ids(still) == owed_triage[3:]


def test_keyset_pages_skip_nothing_while_the_client_completes_steps(
    clock: Clock, sessions: sessionmaker[Session], users: Any, owed_triage: list[int]
) -> None:
    huangpu: Actor = users.actors["huangpu"]
    seen: list[int] = []
    after = None
    while True:
        with sessions() as session:
            found, after = owed.keyset_page(
                session, actor=huangpu, state=StepState.open, after=after, limit=3
            )
        seen += [s.id for s in found]
        if found:  # the client answers the first step of each page before asking for the next
            clock.complete(found[0].suggestion_id, StepKind.triage, "huangpu", triage(), MONDAY)
        if after is None:
            break
    assert seen == owed_triage
    with sessions() as session:
        left = session.scalars(select(Step.id).where(Step.id.in_(owed_triage), Step.state == StepState.open))
        assert sorted(left) == [i for n, i in enumerate(owed_triage) if n % 3]
        with pytest.raises(InvalidInput, match="after"):
            owed.keyset_page(session, actor=huangpu, state=StepState.open, after="x.1", limit=3)
