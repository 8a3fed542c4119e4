"""No case is ever left without an open step or an outcome: the wedges found, and a property-based
walk of random valid answers through the engine that looks for more."""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from clock import Clock
from engine import EngineDriver
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker
from support import SUGGESTION, triage

from jianyi.errors import InvalidInput
from jianyi.models import PlannedCommunication, Step, Suggestion, Unit
from jianyi.models.enums import CommunicationKind, StepKind, StepState
from jianyi.models.schemas import SuggestionIn
from jianyi.rules.capabilities import LAPSABLE_STEPS
from jianyi.services import intake, steps
from jianyi.services.lifecycle.engine import CaseInvariantError
from jianyi.services.lifecycle.stages import SPECS

MONDAY = datetime(2026, 11, 2, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai, a working Monday
PRE_REPORT = {
    "held_at": "2026-11-20T09:00:00+08:00",
    "method": "phone",
    "participants": "张三",
    "refined": "问题真、症结准、对策实",
}
NO_INSTRUCTION = {"has_instruction": False}
OBJECTION = {"reasons": "不属本单位职责"}


def test_the_rules_know_which_steps_may_lapse() -> None:
    # jianyi/rules/capabilities.py states what the stage map's handlers can take: the two agree.
    assert {kind for kind, spec in SPECS.items() if spec.may_lapse} == LAPSABLE_STEPS


def _open(sessions: sessionmaker[Session], suggestion_id: int, kind: StepKind) -> Step:
    with sessions() as session:
        step = session.scalar(
            select(Step).where(
                Step.suggestion_id == suggestion_id, Step.kind == kind, Step.state == StepState.open
            )
        )
        assert step is not None, kind
        return step


def _answer(
    driver: EngineDriver, who: str, suggestion_id: int, kind: StepKind, payload: dict[str, Any]
) -> None:
    driver.open_steps(suggestion_id)
    step = _open(driver.sessions, suggestion_id, kind)
    driver.complete(who, suggestion_id, step.id, payload)


@pytest.mark.parametrize(
    "decision",
    [
        {"accept_objection": True, "co_units": []},
        {"accept_objection": True, "co_units": ["city-housing"]},
        {"accept_objection": True, "lead_unit": "city-edu", "co_units": ["city-edu"]},
    ],
    ids=["nobody", "co-units-only", "lead-also-co"],
)
def test_the_lead_units_objection_is_accepted_only_with_a_new_lead(
    driver: EngineDriver, sessions: sessionmaker[Session], decision: dict[str, Any]
) -> None:
    suggestion_id = driver.submit()
    _answer(driver, "office", suggestion_id, StepKind.triage, triage())
    _answer(driver, "transport", suggestion_id, StepKind.objection, OBJECTION)
    driver.advance(suggestion_id)
    reroute = _open(sessions, suggestion_id, StepKind.reroute)
    with sessions() as session, pytest.raises(InvalidInput) as refused:
        steps.complete(session, actor=driver.actors["office"], step_id=reroute.id, payload=decision)
    assert refused.value.detail[0]["field"] == "lead_unit"
    assert driver.advance(suggestion_id) is not None  # still waiting, on the office's decision


def test_rerouting_an_important_item_plans_its_pre_report_communication_once(
    driver: EngineDriver, sessions: sessionmaker[Session]
) -> None:
    suggestion_id = driver.submit()
    _answer(driver, "office", suggestion_id, StepKind.triage, triage(level="important"))
    _answer(driver, "office", suggestion_id, StepKind.pre_report_communication, PRE_REPORT)
    _answer(driver, "office", suggestion_id, StepKind.leader_instruction, NO_INSTRUCTION)
    _answer(driver, "transport", suggestion_id, StepKind.objection, OBJECTION)
    _answer(
        driver, "office", suggestion_id, StepKind.reroute, {"accept_objection": True, "lead_unit": "city-edu"}
    )
    wait = driver.advance(suggestion_id)
    assert wait is not None and StepKind.opinion in wait.kinds
    with sessions() as session:
        planned = session.scalar(
            select(func.count())
            .select_from(PlannedCommunication)
            .where(
                PlannedCommunication.suggestion_id == suggestion_id,
                PlannedCommunication.kind == CommunicationKind.pre_report,
            )
        )
    assert planned == 1  # the one the pre_report_communication step logged


def test_a_duplicate_joins_only_an_open_original_of_the_same_office(
    driver: EngineDriver, sessions: sessionmaker[Session]
) -> None:
    closed = driver.submit()
    _answer(driver, "office", closed, StepKind.triage, {"kind": "complaint", "note": "转12345"})
    assert driver.advance(closed) is None
    elsewhere = driver.submit(who="huangpu")
    duplicate = driver.submit()
    driver.advance(duplicate)
    step = _open(sessions, duplicate, StepKind.triage)
    with sessions() as session:
        codes = {i: session.get(Suggestion, i).tracking_code for i in (closed, elsewhere)}  # type: ignore[union-attr]
    for original, words in ((closed, "is closed (redirected)"), (elsewhere, "another office")):
        with sessions() as session, pytest.raises(InvalidInput) as refused:
            steps.complete(
                session,
                actor=driver.actors["office"],
                step_id=step.id,
                payload={"kind": "duplicate", "duplicate_of": codes[original]},
            )
        [error] = refused.value.detail
        assert error["field"] == "duplicate_of" and words in error["message"]


def test_the_triage_clock_starts_at_receipt_not_at_the_first_attempt(
    sessions: sessionmaker[Session], users: Any
) -> None:
    with sessions() as session:
        result = intake.submit(
            session, actor=users.actors["huangpu"], data=SuggestionIn.model_validate(SUGGESTION), now=MONDAY
        )
        session.commit()
    with sessions() as session:  # Prefect down: no attempt yet, the triage step is owed all the same
        [opened] = session.scalars(select(Step).where(Step.suggestion_id == result.id)).all()
        assert opened.kind is StepKind.triage and opened.created_at == MONDAY
        assert opened.due_at == datetime(2026, 11, 3, 15, 59, 59, 999999, tzinfo=UTC)  # 1 WD
    clock = Clock(sessions, users)  # the first attempt, two days late, finds it and opens nothing new
    clock.complete(result.id, StepKind.triage, "huangpu", triage(), MONDAY + timedelta(days=2))
    with sessions() as session:
        kinds = session.scalars(
            select(Step.kind).where(Step.suggestion_id == result.id, Step.kind == StepKind.triage)
        ).all()
    assert kinds == [StepKind.triage]


# ---- the property: whatever valid answers come, in whatever order, a case waits on someone -------

UNITS = ["city-transport", "city-edu", "city-housing"]
WHO = {"city-office": "office", "city-transport": "transport", "city-edu": "edu", "city-housing": "housing"}
HELD = {"held_at": "2026-11-20T10:00:00+08:00", "method": "meeting", "summary": "当面沟通"}


def _payloads(data: Any, kind: StepKind, original: str) -> dict[str, Any]:
    """A valid answer of this kind, its branch drawn (the submission checks may still refuse it)."""
    from hypothesis import strategies as st

    draw = data.draw
    if kind is StepKind.triage:
        choice = draw(
            st.sampled_from(
                ["suggestion", "suggestion", "suggestion", "complaint", "out_of_scope", "duplicate"]
            )
        )
        if choice == "complaint":
            return {"kind": "complaint", "note": "个人诉求"}
        if choice == "out_of_scope":
            return {"kind": "out_of_scope", "reason_code": "litigation"}
        if choice == "duplicate":
            return {"kind": "duplicate", "duplicate_of": original}
        lead = draw(st.sampled_from(UNITS))
        co = draw(st.lists(st.sampled_from([u for u in UNITS if u != lead]), unique=True, max_size=2))
        return triage(lead=lead, co_units=co, level=draw(st.sampled_from(["general", "important"])))
    if kind is StepKind.pre_report_communication:
        return PRE_REPORT
    if kind is StepKind.leader_instruction:
        if draw(st.booleans()):
            return {
                "has_instruction": True,
                "leader": "市领导",
                "instructed_on": "2026-11-21",
                "text": "请研究",
            }
        return NO_INSTRUCTION
    if kind is StepKind.objection:
        return OBJECTION
    if kind is StepKind.reroute:
        # Each way the office may decide, as the input model allows it (the checks may refuse).
        lead, co = (
            draw(st.sampled_from(UNITS)),
            draw(st.lists(st.sampled_from(UNITS), unique=True, max_size=2)),
        )
        return draw(
            st.sampled_from(
                [
                    {"accept_objection": False},
                    {"accept_objection": True, "lead_unit": lead},
                    {"accept_objection": True, "lead_unit": lead, "co_units": co},
                    {"accept_objection": True, "co_units": co},
                    {"accept_objection": True, "co_units": []},
                ]
            )
        )
    if kind in (StepKind.proposer_hearing, StepKind.post_adoption_communication):
        return HELD
    if kind is StepKind.co_opinion:
        return {"opinion": "同意"}
    if kind is StepKind.opinion:
        decision = draw(st.sampled_from(["adopt", "partly_adopt", "keep_for_reference", "not_adopt"]))
        return {
            "decision": decision,
            "reasons": "理由",
            "consultation": "电话",
            "measures": "措施",
            "planned_completion": "2027-03-01",
        }
    if kind is StepKind.extension_request:
        return {"working_days": draw(st.integers(1, 20)), "reasons": "需调研"}
    if kind is StepKind.extension_decision:
        return {
            "approved": draw(st.booleans()),
            "working_days": draw(st.one_of(st.none(), st.integers(1, 20))),
        }
    if kind is StepKind.review:
        action = draw(st.sampled_from(["accept", "accept", "return", "joint_meeting"]))
        meeting = {
            "held_on": "2026-11-25",
            "units": ["city-transport", "city-edu"],
            "conclusions": "分工明确",
        }
        return {
            "action": action,
            "reasons": "理由",
            **({"joint_meeting": meeting} if action == "joint_meeting" else {}),
        }
    if kind is StepKind.reply:
        return {"method": draw(st.sampled_from(["email", "phone"])), "text": "已答复"}
    if kind is StepKind.rating:
        return {"rating": draw(st.sampled_from(["satisfied", "basically_satisfied", "not_satisfied"]))}
    if kind is StepKind.dissatisfaction_review:
        return {"action": draw(st.sampled_from(["rehandle", "close"])), "reasons": "理由"}
    if kind is StepKind.progress:
        done = draw(st.booleans())
        return {
            "percent": 100 if done else 50,
            "milestone": "进展",
            "form": "work_improvement",
            "implemented": done,
        }
    if kind is StepKind.commendation_result:
        return {"year": 2027, "selected": draw(st.booleans())}
    return {"response": "已整改"}  # a supervision order


def _waits_on_someone(session: Session, suggestion_id: int) -> bool:
    """An outcome, or an open step whose answer moves the case (not only optional windows or
    supervision orders, which lead nowhere)."""
    suggestion = session.get(Suggestion, suggestion_id)
    assert suggestion is not None
    if suggestion.outcome is not None:
        return True
    return any(
        not s.optional and s.kind is not StepKind.supervision_order
        for s in session.scalars(
            select(Step).where(Step.suggestion_id == suggestion_id, Step.state == StepState.open)
        )
    )


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_no_case_is_ever_left_without_an_open_step_or_an_outcome(
    driver: EngineDriver, sessions: sessionmaker[Session]
) -> None:
    from hypothesis import HealthCheck, Phase, given, settings
    from hypothesis import strategies as st

    original = driver.submit({**SUGGESTION, "channel_ref": "original"})
    with sessions() as session:
        code = session.get(Suggestion, original).tracking_code  # type: ignore[union-attr]
        units = {u.id: u.code for u in session.scalars(select(Unit))}

    # Derandomized: the same walks on every run (and no example database written), so a failure
    # here is reproducible; widen max_examples locally to look further. Before the checks of
    # step_checks.reroute, these walks found the lead unit withdrawn with nobody to lead.
    @settings(
        max_examples=40,
        deadline=None,
        derandomize=True,
        database=None,
        phases=[Phase.explicit, Phase.generate],  # a wedge is told at once, as found (no shrinking)
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    @given(data=st.data())
    def walk(data: Any) -> None:
        suggestion_id = driver.submit()
        for _ in range(40):
            try:
                wait, wedged = driver.advance(suggestion_id), ""
            except CaseInvariantError as exc:  # open, and nothing to wait for
                wait, wedged = None, str(exc)
            if not wedged:
                with sessions() as session:
                    wedged = "" if _waits_on_someone(session, suggestion_id) else "only optional windows open"
            assert not wedged, f"suggestion {suggestion_id} waits on nobody: {wedged}"
            if wait is None:
                return
            # The optional windows (objection, extension) lead to the branches: drawn twice as often.
            choices = [s.step_id for s in wait.steps] + [s.step_id for s in wait.steps if s.optional]
            with sessions() as session:
                step = session.get(Step, data.draw(st.sampled_from(choices)))
                assert step is not None
                kind, unit = step.kind, units.get(step.unit_id) if step.unit_id else None
            who = "proposer" if unit is None else WHO[unit]
            lapsable = step.optional or SPECS[kind].office_may_lapse
            if lapsable and data.draw(st.integers(0, 3)) == 0:
                driver.complete("office", suggestion_id, step.id, None)  # the window closes unused
                continue
            # Refused at submission (as a person would be): the case still waits.
            with contextlib.suppress(InvalidInput):
                driver.complete(who, suggestion_id, step.id, _payloads(data, kind, code))

    walk()


# ---- a run cancelled in Prefect: on hold until the office resumes it --------------------------------


def test_only_the_handling_office_resumes_a_cancelled_run(
    sessions: sessionmaker[Session], users: Any, cli_on: Any
) -> None:
    """Refused before Prefect is asked anything; the resume itself runs against a real Prefect server
    in tests/e2e/test_api_e2e.py."""
    import uuid

    from typer.testing import CliRunner

    from jianyi.cli.main import app
    from jianyi.models import AuditEntry

    run_id = uuid.uuid4()
    with sessions() as session:
        result = intake.submit(
            session, actor=users.actors["office"], data=SuggestionIn.model_validate(SUGGESTION)
        )
        session.get(Suggestion, result.id).flow_run_id = str(run_id)  # type: ignore[union-attr]
        session.commit()
    command = ["runs", "resume", str(result.id), "--note", "误操作"]
    for who in ("transport", "edu"):
        refused = CliRunner().invoke(app, command, env={"JIANYI_TOKEN": users.tokens[who]})
        assert refused.exit_code == 4, refused.output  # a unit cannot
    with sessions() as session:
        audited = session.scalars(select(AuditEntry.detail).where(AuditEntry.action == "run.resumed")).all()
    assert audited == []
