"""The lifecycle engine driven directly (no Prefect): every outcome, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from engine import EngineDriver
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker
from support import SCENARIOS, SUGGESTION, Play, Scenario, triage

from jianyi.errors import Conflict, Forbidden, InvalidInput
from jianyi.models import AuditEntry, OutboxMessage, StageEntry, Step, Suggestion
from jianyi.models.enums import OutboxChannel, Outcome, Stage, StepKind, StepState
from jianyi.services import owed, steps


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda s: s.name)
def test_every_outcome(driver: EngineDriver, sessions: sessionmaker[Session], scenario: Scenario) -> None:
    suggestion_id = driver.play(scenario)
    with sessions() as session:
        suggestion = session.get(Suggestion, suggestion_id)
        assert suggestion is not None
        assert suggestion.outcome is scenario.outcome
        assert suggestion.stage is Stage.closed
        assert suggestion.closed_at is not None
        # Every step applied exactly once; nothing left open.
        applied = session.execute(
            select(AuditEntry.step_id, func.count())
            .where(
                AuditEntry.suggestion_id == suggestion_id,
                AuditEntry.action.in_(("step.applied", "step.lapsed")),
            )
            .group_by(AuditEntry.step_id)
        ).all()
        assert applied and all(count == 1 for _, count in applied)
        assert len(applied) == len(scenario.actions)
        assert not session.scalars(
            select(Step).where(
                Step.suggestion_id == suggestion_id, Step.state.in_((StepState.open, StepState.submitted))
            )
        ).all()
        messages = session.execute(
            select(OutboxMessage.channel, OutboxMessage.kind)
            .where(OutboxMessage.suggestion_id == suggestion_id)
            .order_by(OutboxMessage.id)
        ).all()
        assert [kind for channel, kind in messages if channel is OutboxChannel.email] == scenario.mails
        assert [kind for channel, kind in messages if channel is OutboxChannel.sms] == scenario.texts
        history = session.scalars(
            select(StageEntry.stage).where(StageEntry.suggestion_id == suggestion_id).order_by(StageEntry.id)
        ).all()
        assert history[0] is Stage.triage and history[-1] is Stage.closed


def test_an_attempt_with_nothing_submitted_changes_nothing_but_the_wait_key(
    driver: EngineDriver, sessions: sessionmaker[Session]
) -> None:
    suggestion_id = driver.submit()
    first = driver.advance(suggestion_id)
    again = driver.advance(suggestion_id)
    assert first is not None and again is not None
    assert [s.step_id for s in first.steps] == [s.step_id for s in again.steps]
    assert first.key != again.key  # a fired key is never reused
    with sessions() as session:
        assert (
            session.scalar(select(func.count()).select_from(Step).where(Step.suggestion_id == suggestion_id))
            == 1
        )


def test_refusals_wrong_unit_twice_and_bad_fields(
    driver: EngineDriver, sessions: sessionmaker[Session]
) -> None:
    suggestion_id = driver.submit()
    [triage_step] = driver.open_steps(suggestion_id)
    triage_id = triage_step.id
    with sessions() as session, pytest.raises(Forbidden):
        steps.complete(session, actor=driver.actors["transport"], step_id=triage_id, payload=triage())
    with sessions() as session, pytest.raises(InvalidInput) as bad:
        steps.complete(
            session,
            actor=driver.actors["office"],
            step_id=triage_id,
            payload={"kind": "suggestion", "levle": "x", "lead_unit": "no-such-unit"},
        )
    assert {e["field"] for e in bad.value.detail} == {"levle"}
    with sessions() as session, pytest.raises(InvalidInput) as unknown:
        steps.complete(
            session, actor=driver.actors["office"], step_id=triage_id, payload=triage(lead="no-such-unit")
        )
    assert unknown.value.detail == [
        {"field": "lead_unit", "message": "no active unit with code 'no-such-unit'"}
    ]
    driver.complete("office", suggestion_id, triage_id, triage())
    with sessions() as session, pytest.raises(Conflict):
        steps.complete(
            session, actor=driver.actors["office"], step_id=triage_id, payload=triage(lead="city-edu")
        )
    with sessions() as session:
        step = session.get(Step, triage_id)
        assert step is not None and step.input is not None and step.input["lead_unit"] == "city-transport"


def test_duplicate_proposer_hears_the_original_reply_and_outcome(
    driver: EngineDriver, sessions: sessionmaker[Session]
) -> None:
    original = next(s for s in SCENARIOS if s.name == "not_adopted")
    other = {**SUGGESTION, "proposer": {"name": "李四", "email": "lisi@example.com"}}
    duplicate_id = driver.submit(other)
    original_id = driver.submit(original.suggestion)
    with sessions() as session:
        code = session.get(Suggestion, original_id).tracking_code  # type: ignore[union-attr]
    [dup_step] = driver.open_steps(duplicate_id)
    dup_triage = dup_step.id
    driver.complete("office", duplicate_id, dup_triage, {"kind": "duplicate", "duplicate_of": code})
    assert driver.advance(duplicate_id) is None
    play = Play(original, original_id)
    while play.step(driver):
        pass
    driver.advance(original_id)
    with sessions() as session:
        duplicate = session.get(Suggestion, duplicate_id)
        assert duplicate is not None and duplicate.outcome is Outcome.merged
        to_lisi = session.scalars(
            select(OutboxMessage.kind)
            .where(OutboxMessage.to_addr == "lisi@example.com")
            .order_by(OutboxMessage.id)
        ).all()
        assert list(to_lisi) == ["acknowledgement", "merged", "reply", "outcome"]
        bodies = session.scalars(
            select(OutboxMessage.body_text).where(OutboxMessage.to_addr == "lisi@example.com")
        )
        assert all("张三" not in body for body in bodies)  # never another proposer's personal data


def test_rehandling_is_allowed_once(driver: EngineDriver, sessions: sessionmaker[Session]) -> None:
    scenario = next(s for s in SCENARIOS if s.name == "commended_important")
    suggestion_id = driver.submit()
    script = [a for a in scenario.actions if a.kind is not StepKind.commendation_result]
    play = Play(Scenario("partial", Outcome.commended, script[:12], []), suggestion_id)
    while play.step(driver):
        pass
    # Re-handled once already; the second "not satisfied" may only be closed with reasons.
    for kind, payload in [
        (StepKind.opinion, script[12].payload),
        (StepKind.review, {"action": "accept"}),
        (StepKind.reply, {"method": "email", "text": "再次答复"}),
    ]:
        step_id = next(o.id for o in driver.open_steps(suggestion_id) if o.kind is kind)
        driver.complete(
            "transport" if kind is StepKind.opinion else "office", suggestion_id, step_id, payload
        )
    rating = next(o.id for o in driver.open_steps(suggestion_id) if o.kind is StepKind.rating)
    driver.complete("proposer", suggestion_id, rating, {"rating": "not_satisfied"})
    review = next(o.id for o in driver.open_steps(suggestion_id) if o.kind is StepKind.dissatisfaction_review)
    with sessions() as session, pytest.raises(InvalidInput) as refused:
        steps.complete(
            session,
            actor=driver.actors["office"],
            step_id=review,
            payload={"action": "rehandle", "reasons": "再办"},
        )
    assert refused.value.detail[0]["field"] == "action"


def test_a_department_sees_only_what_is_referred_to_it(
    driver: EngineDriver, sessions: sessionmaker[Session]
) -> None:
    suggestion_id = driver.submit()
    [triage_step] = driver.open_steps(suggestion_id)
    triage_id = triage_step.id
    driver.complete("office", suggestion_id, triage_id, triage())
    driver.advance(suggestion_id)
    with sessions() as session:
        mine = owed.keyset_page(
            session, actor=driver.actors["transport"], state=StepState.open, after=None, limit=500
        )[0]
        theirs = owed.keyset_page(
            session, actor=driver.actors["edu"], state=StepState.open, after=None, limit=500
        )[0]
    assert {s.kind for s in mine} == {StepKind.opinion, StepKind.objection, StepKind.extension_request}
    assert theirs == []
