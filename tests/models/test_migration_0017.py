"""Migration 0017 and what keeps its columns after it: a suggestion's first referral and first reply
(what "solved within N working days of referral" measures), as its assignments and reply say."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from alembic import command
from clock import Clock
from sqlalchemy.orm import Session, sessionmaker
from support import ADOPT, triage

from jianyi.migrate import make_config, upgrade
from jianyi.models import Assignment, Step, Suggestion
from jianyi.models.enums import StepKind

MONDAY = datetime(2026, 11, 16, 10, 0, tzinfo=ZoneInfo("Asia/Shanghai"))  # a working Monday morning


def _firsts(sessions: sessionmaker[Session], suggestion_id: int) -> tuple[Any, Any]:
    with sessions() as session:
        row = session.get_one(Suggestion, suggestion_id)
        return row.first_referred_at, row.first_replied_at


def test_the_first_referral_and_reply_are_kept_and_copied_for_earlier_cases(
    db_url: str, engine: sa.Engine, sessions: sessionmaker[Session], users: Any
) -> None:
    clock = Clock(sessions, users)
    replied = clock.submit(MONDAY)
    referred = clock.submit(MONDAY)
    waiting = clock.submit(MONDAY)
    for case in (replied, referred):
        clock.complete(case, StepKind.triage, "huangpu", triage(), MONDAY + timedelta(hours=1))
    clock.complete(replied, StepKind.opinion, "transport", ADOPT, MONDAY + timedelta(days=1))
    clock.complete(replied, StepKind.review, "huangpu", {"action": "accept"}, MONDAY + timedelta(days=2))
    reply = {"method": "phone", "text": "已电话答复"}
    clock.complete(replied, StepKind.reply, "huangpu", reply, MONDAY + timedelta(days=3))
    with sessions() as session:  # what the lifecycle kept, against the assignments and the reply step
        expected = {}
        for case in (replied, referred, waiting):
            first_assignment = session.scalar(
                sa.select(sa.func.min(Assignment.created_at)).where(Assignment.suggestion_id == case)
            )
            first_reply = session.scalar(
                sa.select(Step.submitted_at).where(Step.suggestion_id == case, Step.kind == StepKind.reply)
            )
            expected[case] = (first_assignment, first_reply)
    assert expected[replied][0] is not None and expected[replied][1] is not None
    assert expected[referred][1] is None and expected[waiting] == (None, None)
    assert {case: _firsts(sessions, case) for case in expected} == expected
    engine.dispose()
    command.downgrade(make_config(db_url), "0016")  # as the cases were before the columns
    upgrade(db_url)
    assert {case: _firsts(sessions, case) for case in expected} == expected
