"""A proposer's personal data: erased after the retention period (or on request), the case, its
figures and its audit kept; every staff view of it audited."""

from __future__ import annotations

import copy
import json
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

import pytest
from engine import EngineDriver
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from support import SCENARIOS, Action

from jianyi.errors import Conflict, Forbidden
from jianyi.models import (
    AuditEntry,
    Communication,
    OutboxMessage,
    PlannedCommunication,
    Proposer,
    Step,
    Suggestion,
)
from jianyi.models.base import utcnow
from jianyi.models.enums import StepKind
from jianyi.services import personal_data
from jianyi.services.actors import EXECUTOR
from jianyi.services.figures import Period, Scope, compute_figures

NAME, EMAIL, PHONE, ADDRESS = "李四海", "lisihai@example.com", "13900001111", "上海市黄浦区某路1号"
NOT_ADOPTED = next(s for s in SCENARIOS if s.name == "not_adopted")


def _closed_case(driver: EngineDriver) -> int:
    """A case closed with the proposer's name and phone in the texts officials wrote."""
    suggestion = copy.deepcopy(NOT_ADOPTED.suggestion)
    suggestion["proposer"] = {"name": NAME, "email": EMAIL, "phone": PHONE, "address": ADDRESS}
    suggestion["content"] += f"联系人{NAME}，电话{PHONE}。"
    actions: list[Action] = []
    for action in NOT_ADOPTED.actions:
        if action.kind is StepKind.reply:
            action = replace(
                action, payload={**(action.payload or {}), "text": f"{NAME}您好：经研究已办理。"}
            )
        actions.append(action)
    return driver.play(replace(NOT_ADOPTED, suggestion=suggestion, actions=actions))


def _stored(session: Session, suggestion_id: int) -> str:
    """Everything the case stored but its audit (append-only evidence, kept as it is), as one text."""
    rows: list[Any] = [session.get(Suggestion, suggestion_id).__dict__]  # type: ignore[union-attr]
    for model in (Step, Communication, PlannedCommunication, OutboxMessage):
        rows += [
            r.__dict__ for r in session.scalars(select(model).where(model.suggestion_id == suggestion_id))
        ]
    return json.dumps(
        [{k: v for k, v in r.items() if not k.startswith("_")} for r in rows], default=str, ensure_ascii=False
    )


def _audit(session: Session, suggestion_id: int) -> list[tuple[str, Any]]:
    rows = session.scalars(
        select(AuditEntry).where(AuditEntry.suggestion_id == suggestion_id).order_by(AuditEntry.id)
    )
    return [(r.action, r.detail) for r in rows]


def _figures(session: Session, users: Any, now: datetime) -> dict[str, Any]:
    """The figures of the year the case closed in, as of ``now`` (but when they were computed)."""
    period = Period.parse(f"{utcnow():%Y}")
    figures = compute_figures(
        session, actor=users.actors["admin"], period=period, scope=Scope.city(), now=now
    )
    assert figures.unit("city-transport") is not None  # the closed case is in them
    return figures.model_dump(exclude={"computed_at"})


def test_retention_erases_the_proposer_and_keeps_case_figures_and_audit(
    driver: EngineDriver, sessions: sessionmaker[Session], users: Any
) -> None:
    closed = _closed_case(driver)
    still_open = driver.submit()
    later = utcnow() + timedelta(days=200)
    with sessions() as session:
        assert NAME in _stored(session, closed) and PHONE in _stored(session, closed)
        before = _figures(session, users, later)
        audit_before = _audit(session, closed)
        open_before = _stored(session, still_open)
    with sessions() as session:
        assert personal_data.run_retention(session, actor=EXECUTOR, older_than=timedelta(days=183)) == []
        dry = personal_data.run_retention(
            session, actor=EXECUTOR, older_than=timedelta(days=183), now=later, dry_run=True
        )
        assert [e.suggestion_id for e in dry] == [closed]
        session.commit()
    with sessions() as session:
        assert NAME in _stored(session, closed)  # a dry run changes nothing
        erased = personal_data.run_retention(
            session, actor=EXECUTOR, older_than=timedelta(days=183), now=later
        )
        assert [(e.suggestion_id, e.fields) for e in erased] == [
            (closed, ["name", "phone", "email", "address"])
        ]
        session.commit()
    with sessions() as session:
        stored = _stored(session, closed)
        for value in (NAME, EMAIL, PHONE, ADDRESS):
            assert value not in stored
        proposer = session.get(Proposer, session.get(Suggestion, closed).proposer_id)  # type: ignore[union-attr]
        assert proposer is not None
        assert (proposer.name, proposer.phone, proposer.email, proposer.address) == (
            personal_data.TOMBSTONE,
            None,
            None,
            None,
        )
        assert _figures(session, users, later) == before
        audit_after = _audit(session, closed)
        assert audit_after[:-1] == audit_before and audit_after[-1][0] == personal_data.ERASED
        assert _stored(session, still_open) == open_before  # an open case keeps its proposer
        again = personal_data.run_retention(
            session, actor=EXECUTOR, older_than=timedelta(days=183), now=later
        )
        assert again == []


def test_an_erasure_request_is_recorded_by_the_handling_office_for_a_closed_case(
    driver: EngineDriver, sessions: sessionmaker[Session], users: Any
) -> None:
    closed, still_open = _closed_case(driver), driver.submit()
    actors = users.actors
    with sessions() as session:
        with pytest.raises(Forbidden):
            personal_data.request_erasure(
                session, actor=actors["transport"], suggestion_id=closed, basis="本人申请"
            )
        with pytest.raises(Conflict, match="open"):
            personal_data.request_erasure(
                session, actor=actors["office"], suggestion_id=still_open, basis="本人申请"
            )
        erased = personal_data.request_erasure(
            session, actor=actors["office"], suggestion_id=closed, basis="本人书面申请"
        )
        assert erased.suggestion_id == closed
        session.commit()
    with sessions() as session:
        with pytest.raises(Conflict, match="already"):
            personal_data.request_erasure(
                session, actor=actors["office"], suggestion_id=closed, basis="again"
            )
        actions = [
            e["action"] for e in personal_data.views_of(session, actor=actors["office"], suggestion_id=closed)
        ]
        assert actions == [personal_data.REQUESTED, personal_data.ERASED]
        assert NAME not in _stored(session, closed)


def test_staff_views_of_personal_data_are_audited_once_an_hour_and_listed(
    driver: EngineDriver, sessions: sessionmaker[Session], users: Any
) -> None:
    suggestion_id = driver.submit()
    office, transport = users.actors["office"], users.actors["transport"]
    with sessions() as session:
        assert personal_data.record_view(session, actor=office, suggestion_id=suggestion_id)
        assert not personal_data.record_view(session, actor=office, suggestion_id=suggestion_id)
        later = utcnow() + timedelta(hours=2)
        assert personal_data.record_view(session, actor=office, suggestion_id=suggestion_id, now=later)
        session.commit()
        listed = personal_data.views_of(session, actor=office, suggestion_id=suggestion_id)
        assert [(e["who"], e["action"]) for e in listed] == [(office.label, personal_data.VIEWED)] * 2
        with pytest.raises(Forbidden):
            personal_data.views_of(session, actor=transport, suggestion_id=suggestion_id)
