"""Deadlines and the supervision sweep, with the clock jumped forward (SQLite and PostgreSQL)."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from clock import Clock
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker
from support import triage

from jianyi.models import AuditEntry, OutboxMessage, Step, StepTimer, Suggestion, Unit
from jianyi.models.enums import StepKind, StepState
from jianyi.models.step_timer import TimerState
from jianyi.rules.calendar import load_notice
from jianyi.services import deadlines, escalation, steps
from jianyi.services.lifecycle.engine import advance

NOTICE_2027 = Path(__file__).resolve().parents[2] / "jianyi" / "rules" / "notices" / "2027.example.yaml"


MONDAY = datetime(2026, 11, 2, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai, a working Monday


@pytest.fixture
def clock(sessions: sessionmaker[Session], users: Any) -> Clock:
    return Clock(sessions, users)


def test_an_untouched_step_walks_every_rung_once(clock: Clock, sessions: sessionmaker[Session]) -> None:
    suggestion_id = clock.submit(MONDAY)
    clock.complete(suggestion_id, StepKind.triage, "huangpu", triage(), MONDAY)
    opinion = clock.step(suggestion_id, StepKind.opinion)
    # 15 working days from Monday 2026-11-02 (day 0): the end of Monday 2026-11-23 in Shanghai.
    assert opinion.due_working_days == 15 and not opinion.due_provisional
    assert opinion.due_at == datetime(2026, 11, 23, 15, 59, 59, 999999, tzinfo=UTC)
    timers = clock.timers(opinion.id)
    assert [(t.ladder, t.rung) for t in timers] == [("unit-ladder", n) for n in range(1, 6)]

    expected = [
        {"remind"},
        {"remind"},
        {"notify_head"},
        {"supervision_order"},
        {"escalate", "bulletin"},
    ]

    def opinion_rungs(at: datetime) -> list[escalation.Fired]:
        # Other windows close meanwhile (the optional objection lapses at 5 WD): watch the opinion's.
        return [f for f in clock.sweep(at) if f.step_id == opinion.id]

    for timer, actions in zip(timers, expected, strict=True):
        assert opinion_rungs(timer.fire_at - timedelta(seconds=1)) == []  # not yet
        fired = opinion_rungs(timer.fire_at + timedelta(seconds=1))
        assert [(f.ladder, f.rung) for f in fired] == [(timer.ladder, timer.rung)]
        assert {a["type"] for a in fired[0].actions} == actions
        assert opinion_rungs(timer.fire_at + timedelta(hours=1)) == []  # a rung fires once
    with sessions() as session:
        mails = [
            (m.kind, m.to_addr)
            for m in session.scalars(
                select(OutboxMessage)
                .where(OutboxMessage.kind != "acknowledgement")
                .order_by(OutboxMessage.id)
            )
        ]
        # A reminder links to the step's web page, not to a JSON endpoint that needs a token.
        reminder = session.scalar(
            select(OutboxMessage.body_text).where(OutboxMessage.kind == "remind").limit(1)
        )
        assert reminder is not None and f"/steps/{opinion.id}" in reminder and "/api/" not in reminder
        suggestion = session.get(Suggestion, suggestion_id)
        assert suggestion is not None
        city = session.scalar(select(Unit).where(Unit.code == "city-office"))
        orders = session.scalars(select(Step).where(Step.kind == StepKind.supervision_order)).all()
        order_opened = [
            (a.actor_label, a.detail["key"])
            for a in session.scalars(
                select(AuditEntry).where(
                    AuditEntry.action == "step.opened", AuditEntry.step_id.in_([o.id for o in orders])
                )
            )
        ]
        fired_audit = sorted(
            (d["ladder"], d["rung"])
            for d in session.scalars(
                select(AuditEntry.detail).where(AuditEntry.action == "supervision.fired")
            )
        )
    assert mails == [
        ("remind", "transport_handler@example.gov.cn"),
        ("remind", "transport_handler@example.gov.cn"),
        ("notify_head", "transport_head@example.gov.cn"),
        ("supervision_order", "transport_handler@example.gov.cn"),
        ("supervision_order", "transport_head@example.gov.cn"),
        ("escalate", "city_supervisor@example.gov.cn"),
    ]
    assert city is not None and suggestion.escalated_to_unit_id == city.id
    assert suggestion.bulletin_period == "monthly"
    [order] = orders
    assert order.unit_id == opinion.unit_id and order.due_working_days == 3 and order.state is StepState.open
    # Opened like every other step: audited as opened, by the rules, under its timer's key.
    assert order_opened == [("rules", order.key)] and order.key.startswith("supervision_order:t")
    # The five rungs, and the optional objection window closing at 5 WD (its rule says it lapses).
    assert fired_audit == [("expiry", 0)] + [("unit-ladder", n) for n in range(1, 6)]


def test_concurrent_sweeps_fire_each_rung_once(clock: Clock, sessions: sessionmaker[Session]) -> None:
    ids = [clock.submit(MONDAY) for _ in range(3)]
    for suggestion_id in ids:
        clock.complete(suggestion_id, StepKind.triage, "huangpu", triage(), MONDAY)
    late = MONDAY + timedelta(days=60)
    results: list[list[escalation.Fired]] = []

    def run() -> None:
        results.append(clock.sweep(late))

    threads = [threading.Thread(target=run) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    fired = [f.timer_id for batch in results for f in batch]
    with sessions() as session:
        due = session.scalar(  # moot: the triage's timers, answered before they fell due
            select(func.count())
            .select_from(StepTimer)
            .where(StepTimer.fire_at <= late, StepTimer.state != TimerState.moot)
        )
        pending = session.scalar(
            select(func.count())
            .select_from(StepTimer)
            .where(StepTimer.state == TimerState.pending, StepTimer.fire_at <= late)
        )
    assert len(fired) == len(set(fired)) == due  # every due rung fired, none twice
    assert due is not None and due >= 3 * 5 and pending == 0


def test_an_answered_step_is_not_chased(clock: Clock) -> None:
    suggestion_id = clock.submit(MONDAY)
    clock.complete(suggestion_id, StepKind.triage, "huangpu", triage(), MONDAY)
    opinion = clock.step(suggestion_id, StepKind.opinion)
    payload = {"decision": "not_adopt", "reasons": "理由", "consultation": "电话"}
    clock.complete(suggestion_id, StepKind.opinion, "transport", payload, MONDAY + timedelta(days=1))
    assert all(f.step_id != opinion.id for f in clock.sweep(MONDAY + timedelta(days=90)))
    assert {t.state for t in clock.timers(opinion.id)} == {TimerState.moot}


def test_no_rating_within_ten_working_days_counts_as_no_rating(
    clock: Clock, sessions: sessionmaker[Session]
) -> None:
    suggestion_id = clock.submit(MONDAY)
    at = MONDAY
    clock.complete(suggestion_id, StepKind.triage, "huangpu", triage(), at)
    clock.complete(
        suggestion_id,
        StepKind.opinion,
        "transport",
        {"decision": "not_adopt", "reasons": "理由", "consultation": "电话"},
        at,
    )
    clock.complete(suggestion_id, StepKind.review, "huangpu", {"action": "accept"}, at)
    clock.complete(suggestion_id, StepKind.reply, "huangpu", {"method": "phone", "text": "已答复"}, at)
    rating = clock.step(suggestion_id, StepKind.rating)
    assert rating.due_working_days == 10
    [expiry] = clock.timers(rating.id)
    assert expiry.ladder == deadlines.EXPIRY_LADDER
    [fired] = clock.sweep(expiry.fire_at + timedelta(minutes=1))
    assert fired.actions == [{"type": "lapse"}]
    with sessions() as session:
        assert advance(session, suggestion_id=suggestion_id, now=expiry.fire_at) is None  # closed
        session.commit()
        suggestion = session.get(Suggestion, suggestion_id)
        assert suggestion is not None and suggestion.rating == "none" and suggestion.outcome is not None


def test_provisional_deadlines_are_recomputed_when_the_year_is_published(
    clock: Clock, sessions: sessionmaker[Session]
) -> None:
    december = datetime(2026, 12, 21, 2, 0, tzinfo=UTC)  # 15 WD from here ends in January 2027
    suggestion_id = clock.submit(december)
    clock.complete(suggestion_id, StepKind.triage, "huangpu", triage(), december)
    before = clock.step(suggestion_id, StepKind.opinion)
    assert before.due_provisional
    with sessions() as session:
        load_notice(session, NOTICE_2027)
        assert deadlines.replan_provisional(session) == 1
        session.commit()
    after = clock.step(suggestion_id, StepKind.opinion)
    assert not after.due_provisional and after.due_working_days == 15
    assert after.due_at is not None and before.due_at is not None
    assert after.due_at >= before.due_at  # New Year's Day is not a working day in the notice
    assert all(not t.provisional for t in clock.timers(after.id) if t.state is TimerState.pending)


def test_an_approved_extension_moves_the_deadline(clock: Clock) -> None:
    suggestion_id = clock.submit(MONDAY)
    clock.complete(suggestion_id, StepKind.triage, "huangpu", triage(), MONDAY)
    before = clock.step(suggestion_id, StepKind.opinion)
    clock.complete(
        suggestion_id,
        StepKind.extension_request,
        "transport",
        {"working_days": 5, "reasons": "需调研"},
        MONDAY,
    )
    clock.complete(suggestion_id, StepKind.extension_decision, "huangpu", {"approved": True}, MONDAY)
    after = clock.step(suggestion_id, StepKind.opinion)
    assert after.id == before.id and after.due_working_days == 20
    assert after.due_at is not None and before.due_at is not None and after.due_at > before.due_at
    pending = [t for t in clock.timers(after.id) if t.state is TimerState.pending]
    assert len(pending) == 5 and max(t.fire_at for t in pending) > before.due_at


def test_rules_explain_shows_deadlines_fired_and_pending_rungs(clock: Clock, users: Any, cli_on: Any) -> None:
    from typer.testing import CliRunner

    from jianyi.cli.main import app

    suggestion_id = clock.submit(MONDAY)
    clock.complete(suggestion_id, StepKind.triage, "huangpu", triage(), MONDAY)
    opinion = clock.step(suggestion_id, StepKind.opinion)
    first = clock.timers(opinion.id)[0]
    clock.sweep(first.fire_at + timedelta(seconds=1))
    result = CliRunner().invoke(
        app, ["rules", "explain", str(suggestion_id)], env={"JIANYI_TOKEN": users.tokens["huangpu"]}
    )
    assert result.exit_code == 0, result.output
    explained = json.loads(result.output)
    [row] = [r for r in explained["open_steps"] if r["kind"] == "opinion"]
    assert row["deadline_rule"] and row["working_days"] == 15 and row["due"] == "2026-11-23 23:59"
    assert [r["state"] for r in row["rungs"]] == ["fired", "pending", "pending", "pending", "pending"]
    assert row["rungs"][0]["did"] == [{"type": "remind", "sent": 1}]
    stranger = CliRunner().invoke(
        app, ["rules", "explain", str(suggestion_id)], env={"JIANYI_TOKEN": users.tokens["edu"]}
    )
    assert stranger.exit_code == 4  # a unit it was not referred to sees nothing of it


def test_a_paused_clock_stops_the_reminders_and_moves_the_deadline(
    clock: Clock, sessions: sessionmaker[Session]
) -> None:
    from jianyi.errors import Conflict, Forbidden
    from jianyi.services import clocks

    suggestion_id = clock.submit(MONDAY)
    clock.complete(suggestion_id, StepKind.triage, "huangpu", triage(), MONDAY)
    opinion = clock.step(suggestion_id, StepKind.opinion)
    first = clock.timers(opinion.id)[0]  # 50 % of 15 WD: the end of working day 7, Wednesday 11-11
    assert [f.rung for f in clock.sweep(first.fire_at + timedelta(seconds=1)) if f.step_id == opinion.id] == [
        1
    ]

    thursday = datetime(2026, 11, 12, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai
    with sessions() as session:
        with pytest.raises(Forbidden):
            clocks.pause(session, actor=clock.actors["edu"], step_id=opinion.id, reason="x", now=thursday)
        clocks.pause(
            session, actor=clock.actors["transport"], step_id=opinion.id, reason="等待补充材料", now=thursday
        )
        session.commit()
        with pytest.raises(Conflict):
            clocks.pause(
                session, actor=clock.actors["transport"], step_id=opinion.id, reason="again", now=thursday
            )
    # While paused, the 80 % rung's original instant (end of 11-18) passes without a reminder.
    assert all(f.step_id != opinion.id for f in clock.sweep(datetime(2026, 11, 19, 2, 0, tzinfo=UTC)))

    monday = datetime(2026, 11, 16, 2, 0, tzinfo=UTC)
    with sessions() as session:
        clocks.resume(
            session, actor=clock.actors["transport"], step_id=opinion.id, note="材料已收到", now=monday
        )
        session.commit()
    # By hand: between Thursday 11-12 and Monday 11-16 the clock stood still for one working day
    # (Friday 11-13), so the goal is 16 WD from Monday 11-02: the end of Tuesday 11-24.
    after = clock.step(suggestion_id, StepKind.opinion)
    assert after.due_working_days == 16 and after.paused_working_days == 1 and after.paused_at is None
    assert after.due_at == datetime(2026, 11, 24, 15, 59, 59, 999999, tzinfo=UTC)
    timers = clock.timers(opinion.id)
    assert [(t.rung, t.state) for t in timers if t.rung == 1] == [(1, TimerState.fired)]  # not laid again
    assert sorted(t.rung for t in timers if t.state is TimerState.pending) == [2, 3, 4, 5]


def test_the_rules_lapse_together_only_the_windows_still_open(
    clock: Clock, sessions: sessionmaker[Session]
) -> None:
    """A sweep closes its lapsing windows in one go; one answered meanwhile stays answered."""
    waiting, answered = clock.submit(MONDAY), clock.submit(MONDAY)
    for suggestion_id in (waiting, answered):
        clock.complete(suggestion_id, StepKind.triage, "huangpu", triage(), MONDAY)
    payload = {"decision": "not_adopt", "reasons": "理由", "consultation": "电话"}
    clock.complete(answered, StepKind.opinion, "transport", payload, MONDAY + timedelta(days=1))
    open_id, answered_id = clock.step(waiting, StepKind.opinion).id, clock.step(answered, StepKind.opinion).id
    later = MONDAY + timedelta(days=40)
    with sessions() as session:
        lapsed = steps.lapse_for_rules(
            session, actor=escalation.RULES, step_ids=[open_id, answered_id], now=later
        )
        session.commit()
    assert lapsed == {open_id}
    with sessions() as session:
        lapsed_step, kept = session.get(Step, open_id), session.get(Step, answered_id)
        assert lapsed_step is not None and kept is not None
        assert lapsed_step.state is StepState.submitted and lapsed_step.input is None
        assert lapsed_step.completed_by_label == "rules" and lapsed_step.submitted_at == later
        assert (
            kept.input is not None and kept.input["reasons"] == "理由" and kept.completed_by_label != "rules"
        )
        audited = session.scalars(
            select(AuditEntry.step_id).where(AuditEntry.action == "step.lapsed_by")
        ).all()
        assert audited == [open_id]
    assert {t.state for t in clock.timers(open_id)} == {TimerState.moot}


def test_an_extension_is_only_what_the_rules_allow(clock: Clock) -> None:
    from jianyi.errors import InvalidInput

    suggestion_id = clock.submit(MONDAY)
    clock.complete(suggestion_id, StepKind.triage, "huangpu", triage(), MONDAY)
    before = clock.step(suggestion_id, StepKind.opinion)
    assert before.due_at is not None
    request = {"working_days": 30, "reasons": "需调研"}
    with pytest.raises(InvalidInput) as too_long:  # the rules: at most 15 WD
        clock.complete(suggestion_id, StepKind.extension_request, "transport", request, MONDAY)
    assert too_long.value.detail == [
        {"field": "working_days", "message": "at most 15 working days (extension rule opinion-extension)"}
    ]
    late = before.due_at + timedelta(minutes=1)
    with pytest.raises(InvalidInput) as after_due:  # asked before the deadline, or not at all
        clock.complete(
            suggestion_id, StepKind.extension_request, "transport", {**request, "working_days": 5}, late
        )
    assert "ask before it" in after_due.value.detail[0]["message"]
    clock.complete(
        suggestion_id, StepKind.extension_request, "transport", {**request, "working_days": 10}, MONDAY
    )
    with pytest.raises(InvalidInput) as more:  # the office grants at most what was asked
        clock.complete(
            suggestion_id,
            StepKind.extension_decision,
            "huangpu",
            {"approved": True, "working_days": 12},
            MONDAY,
        )
    assert more.value.detail[0]["message"] == "the unit asked for 10 working days: grant at most that"
    clock.complete(suggestion_id, StepKind.extension_decision, "huangpu", {"approved": True}, MONDAY)
    assert clock.step(suggestion_id, StepKind.opinion).due_working_days == 25


def test_a_clock_pauses_before_its_deadline_and_as_often_as_the_rules_say(
    clock: Clock, sessions: sessionmaker[Session]
) -> None:
    from jianyi.errors import Conflict
    from jianyi.services import clocks

    suggestion_id = clock.submit(MONDAY)
    clock.complete(suggestion_id, StepKind.triage, "huangpu", triage(), MONDAY)
    opinion = clock.step(suggestion_id, StepKind.opinion)
    assert opinion.due_at is not None
    transport = clock.actors["transport"]
    with sessions() as session, pytest.raises(Conflict) as late:
        clocks.pause(
            session,
            actor=transport,
            step_id=opinion.id,
            reason="等待",
            now=opinion.due_at + timedelta(hours=1),
        )
    assert "can no longer pause" in str(late.value)
    with sessions() as session:
        clocks.pause(
            session, actor=transport, step_id=opinion.id, reason="等待", now=MONDAY + timedelta(days=1)
        )
        clocks.resume(session, actor=transport, step_id=opinion.id, now=MONDAY + timedelta(days=2))
        session.commit()
    with sessions() as session, pytest.raises(Conflict) as again:  # max_pauses: 1 by default
        clocks.pause(
            session, actor=transport, step_id=opinion.id, reason="再等", now=MONDAY + timedelta(days=3)
        )
    assert "as many as rule opinion-general allows" in str(again.value)


def test_a_rung_that_cannot_act_fails_alone_and_the_sweep_goes_on(
    clock: Clock, sessions: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A rung whose notice cannot be stored is fired with its error; the others act, and the next
    sweep is not stuck behind it."""
    broken, fine = clock.submit(MONDAY), clock.submit(MONDAY)
    for suggestion_id in (broken, fine):
        clock.complete(suggestion_id, StepKind.triage, "huangpu", triage(), MONDAY)
    send = escalation.official_mail.send

    def send_or_fail(session: Session, **kwargs: Any) -> int:
        if kwargs["suggestion"].id == broken:
            raise ValueError("Command arg contains a prohibited control character")
        return send(session, **kwargs)

    monkeypatch.setattr(escalation.official_mail, "send", send_or_fail)
    first = clock.step(broken, StepKind.opinion)
    fired = clock.sweep(first.due_at - timedelta(days=1))
    failed = [f for f in fired if f.suggestion_id == broken and f.actions[0]["type"] == "failed"]
    acted = [f for f in fired if f.suggestion_id == fine and f.actions and f.actions[0]["type"] == "remind"]
    assert failed and "prohibited control character" in failed[0].actions[0]["error"]
    assert acted and acted[0].actions[0]["sent"] >= 1
    with sessions() as session:
        [recorded] = [
            a.detail
            for a in session.scalars(select(AuditEntry).where(AuditEntry.action == "supervision.fired"))
            if a.suggestion_id == broken and a.detail["actions"][0]["type"] == "failed"
        ][:1]
        assert recorded["ladder"] == failed[0].ladder
    assert clock.sweep(first.due_at - timedelta(days=1)) == []  # nothing left pending behind it
