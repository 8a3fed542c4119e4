"""Every outcome reaches every proposer who is not anonymous, by a channel they gave: e-mail, an SMS
to a mobile, a call the office owes to a landline, a letter the office posts to an address (or
answering a letter). The typical 12345 caller, who gives only a phone number, was never told."""

from __future__ import annotations

import copy
from dataclasses import replace
from typing import Any

import pytest
from engine import EngineDriver
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from support import SCENARIOS, SUGGESTION, Play, Scenario

from jianyi.models import OutboxMessage, PlannedCommunication, Suggestion
from jianyi.models.enums import OUTCOME_LABELS, CommunicationKind, CommunicationState, Outcome, StepKind
from jianyi.services import communication_duties

ADDRESS = "上海市黄浦区人民大道200号"
# (id, channel, proposer) → the medium each of their messages takes.
CONTACTS: list[tuple[str, str, dict[str, Any], str]] = [
    ("email", "mailbox", {"email": "zhang@example.com"}, "email"),
    ("mobile", "hotline_12345", {"phone": "+86 139-1234-5678"}, "sms"),
    ("landline", "hotline_12345", {"phone": "021-62781234"}, "phone"),
    ("address", "mailbox", {"address": ADDRESS}, "letter"),
    ("letter-only", "letter", {}, "letter"),
    ("visit-only", "visit", {}, "phone"),
]
MERGED = Scenario("merged", Outcome.merged, [], [])


def _suggestion(channel: str, contact: dict[str, Any], name: str = "张三") -> dict[str, Any]:
    data = copy.deepcopy(SUGGESTION)
    data.update(channel=channel, proposer={"name": name, **contact})
    return data


def _replied_by_phone(scenario: Scenario, method: str = "phone") -> Scenario:
    """The scenario with its replies given by phone (or ``method``), as to a proposer who left no e-mail."""
    actions = [
        replace(a, payload={"method": method, "text": "已答复"}) if a.kind is StepKind.reply else a
        for a in scenario.actions
    ]
    return replace(scenario, actions=actions)


def _play(driver: EngineDriver, scenario: Scenario, data: dict[str, Any]) -> int:
    if scenario is MERGED:  # a duplicate of another open suggestion, merged at triage
        original = driver.submit(copy.deepcopy(SUGGESTION))
        suggestion_id = driver.submit(data)
        with driver.sessions() as session:
            code = session.get_one(Suggestion, original).tracking_code
        [step] = driver.open_steps(suggestion_id)
        driver.complete("office", suggestion_id, step.id, {"kind": "duplicate", "duplicate_of": code})
        driver.advance(suggestion_id)
        return suggestion_id
    suggestion_id = driver.submit(data)
    play = Play(scenario, suggestion_id)
    while play.step(driver):
        pass
    driver.advance(suggestion_id)
    assert play.finished, scenario.name
    return suggestion_id


def _told(session: Session, suggestion_id: int, kind: CommunicationKind) -> list[tuple[str, str]]:
    """(medium, text) of every message or duty of `kind` planned for the suggestion."""
    told = []
    for plan in session.scalars(
        select(PlannedCommunication).where(
            PlannedCommunication.suggestion_id == suggestion_id, PlannedCommunication.kind == kind
        )
    ):
        if plan.manual:
            assert plan.state is CommunicationState.awaiting, plan.rule_id
            told.append((plan.channel, plan.body_text or ""))
        else:
            assert plan.state is CommunicationState.queued and plan.outbox_message_id, plan.rule_id
            message = session.get_one(OutboxMessage, plan.outbox_message_id)
            told.append((plan.channel, message.body_text))
    return told


@pytest.mark.parametrize(
    ("channel", "contact", "medium"), [c[1:] for c in CONTACTS], ids=[c[0] for c in CONTACTS]
)
def test_every_outcome_and_the_acknowledgement_reach_each_kind_of_contact(
    driver: EngineDriver, sessions: sessionmaker[Session], channel: str, contact: dict[str, Any], medium: str
) -> None:
    for scenario in [*SCENARIOS, MERGED]:
        if "email" not in contact and scenario is not MERGED:  # a reply by e-mail would reach nobody
            scenario = _replied_by_phone(scenario)
        suggestion_id = _play(driver, scenario, _suggestion(channel, contact))
        with sessions() as session:
            suggestion = session.get_one(Suggestion, suggestion_id)
            assert suggestion.outcome is scenario.outcome
            [(ack_medium, ack)] = _told(session, suggestion_id, CommunicationKind.acknowledgement)
            [(outcome_medium, text)] = _told(session, suggestion_id, CommunicationKind.outcome)
        assert (ack_medium, outcome_medium) == (medium, medium), scenario.name
        assert suggestion.tracking_code in ack and suggestion.tracking_code in text
        if scenario.outcome not in (Outcome.redirected, Outcome.merged):
            assert OUTCOME_LABELS[scenario.outcome] in text, scenario.name
        if medium == "sms":
            assert len(text) < 200 and "【人民建议征集】" in text


def test_a_phone_only_proposer_gets_texts_at_their_mobile_and_a_landline_gets_calls(
    driver: EngineDriver, sessions: sessionmaker[Session]
) -> None:
    commended = _replied_by_phone(next(s for s in SCENARIOS if s.outcome is Outcome.commended))
    by_mobile = _play(driver, commended, _suggestion("hotline_12345", {"phone": "139 1234 5678"}))
    by_landline = _play(driver, commended, _suggestion("hotline_12345", {"phone": "021-62781234"}))
    with sessions() as session:
        texts = session.scalars(
            select(OutboxMessage.kind)
            .where(OutboxMessage.suggestion_id == by_mobile)
            .order_by(OutboxMessage.id)
        ).all()
        assert list(texts) == [
            "acknowledgement",
            "rating_request",
            "rating_request",
            "commendation",
            "outcome",
        ]
        assert {
            m.to_addr
            for m in session.scalars(select(OutboxMessage).where(OutboxMessage.suggestion_id == by_mobile))
        } == {
            "13912345678"  # the gateway's form of +86 139 1234 5678
        }
        # A landline cannot take an SMS: nothing is sent, the office owes calls (and the letter).
        assert (
            session.scalars(select(OutboxMessage).where(OutboxMessage.suggestion_id == by_landline)).all()
            == []
        )
        owed = {
            p.rule_id: p.state
            for p in session.scalars(
                select(PlannedCommunication).where(PlannedCommunication.suggestion_id == by_landline)
            )
        }
    assert owed["acknowledgement-call"] is CommunicationState.awaiting
    assert owed["outcome-call"] is CommunicationState.awaiting
    assert owed["commendation-letter"] is CommunicationState.awaiting
    assert owed["reply-phone"] is CommunicationState.done  # the reply step logged the call


def test_a_letter_to_print_is_headed_with_the_proposers_address_for_the_handling_office(
    driver: EngineDriver, sessions: sessionmaker[Session], users: Any
) -> None:
    not_adopted = _replied_by_phone(next(s for s in SCENARIOS if s.name == "not_adopted"), "letter")
    suggestion_id = _play(driver, not_adopted, _suggestion("mailbox", {"address": ADDRESS}))
    with sessions() as session:
        plans = {
            p.rule_id: p
            for p in session.scalars(
                select(PlannedCommunication).where(PlannedCommunication.suggestion_id == suggestion_id)
            )
        }
        assert plans["reply-letter"].state is CommunicationState.done  # the reply step logged it
        letter = plans["outcome-letter"]
        shown = communication_duties.get(
            session, actor=users.actors["office"], planned_id=letter.id, now=letter.created_at
        )
    assert shown.text is not None and shown.text.startswith(f"收信人：张三\n通信地址：{ADDRESS}")
    assert OUTCOME_LABELS[Outcome.not_adopted] in shown.text
    assert "本邮件由系统自动发送" not in shown.text  # a printed letter is no automatic e-mail


def test_a_merged_duplicates_phone_only_proposer_hears_the_originals_outcome_by_sms(
    driver: EngineDriver, sessions: sessionmaker[Session]
) -> None:
    original = next(s for s in SCENARIOS if s.name == "not_adopted")
    duplicate_id = driver.submit(_suggestion("hotline_12345", {"phone": "13912345678"}, name="李四"))
    original_id = driver.submit(original.suggestion)
    with sessions() as session:
        code = session.get_one(Suggestion, original_id).tracking_code
    [step] = driver.open_steps(duplicate_id)
    driver.complete("office", duplicate_id, step.id, {"kind": "duplicate", "duplicate_of": code})
    driver.advance(duplicate_id)
    play = Play(original, original_id)
    while play.step(driver):
        pass
    driver.advance(original_id)
    with sessions() as session:
        texts = session.execute(
            select(OutboxMessage.kind, OutboxMessage.body_text)
            .where(OutboxMessage.to_addr == "13912345678")
            .order_by(OutboxMessage.id)
        ).all()
    assert [kind for kind, _ in texts] == ["acknowledgement", "merged", "outcome"]
    assert code in texts[1][1] and OUTCOME_LABELS[Outcome.not_adopted] in texts[2][1]
    assert all("李四" in body and "张三" not in body for _, body in texts)  # never the other proposer


def test_a_reply_by_a_way_the_proposer_gave_no_contact_for_is_refused(driver: EngineDriver) -> None:
    """By e-mail to a proposer with no e-mail, or by SMS to a landline, a reply reaches nobody."""
    from jianyi.errors import InvalidInput

    not_adopted = next(s for s in SCENARIOS if s.name == "not_adopted")
    suggestion_id = driver.submit(_suggestion("hotline_12345", {"phone": "021-62781234"}))
    play = Play(not_adopted, suggestion_id)
    while not play.finished and play.scenario.actions[play.position].kind is not StepKind.reply:
        play.step(driver) or driver.advance(suggestion_id)
    driver.advance(suggestion_id)
    [reply] = [s for s in driver.open_steps(suggestion_id) if s.kind is StepKind.reply]
    for method in ("email", "sms"):
        with pytest.raises(InvalidInput) as refused:
            driver.complete("office", suggestion_id, reply.id, {"method": method, "text": "已答复"})
        assert [e["field"] for e in refused.value.detail] == ["method"]
    driver.complete("office", suggestion_id, reply.id, {"method": "phone", "text": "已电话答复"})
