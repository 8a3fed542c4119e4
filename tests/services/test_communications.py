"""Communications with the proposer as communications.yaml says: what is sent (e-mail, SMS), what the
office owes and logs (calls, meetings, letters), and the reminder when that is overdue, once."""

from __future__ import annotations

import copy
import json
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from clock import Clock
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from support import ADOPT, MEETING, REPLY, SUGGESTION, triage

from jianyi.errors import Forbidden, InvalidInput
from jianyi.models import AuditEntry, Communication, OutboxMessage, PlannedCommunication, Suggestion
from jianyi.models.enums import CommunicationState, ContactMethod, OutboxChannel, Role, StepKind
from jianyi.refusals import write as write_refusal
from jianyi.services import auth, communication_duties

SHANGHAI = ZoneInfo("Asia/Shanghai")
MONDAY = datetime(2026, 11, 16, 10, 0, tzinfo=SHANGHAI)  # a working Monday morning


@pytest.fixture
def clock(sessions: sessionmaker[Session], users: Any) -> Clock:
    clock = Clock(sessions, users)
    with sessions() as session:  # a handler of the Huangpu office who receives the office's reminders
        auth.create_user(
            session,
            name="黄浦区征集办 吴经办",
            role=Role.office,
            unit_code="huangpu-office",
            email="wu@example.gov.cn",
        )
        session.commit()
    return clock


def _plans(sessions: sessionmaker[Session], suggestion_id: int) -> dict[str, PlannedCommunication]:
    with sessions() as session:
        rows = session.scalars(
            select(PlannedCommunication).where(PlannedCommunication.suggestion_id == suggestion_id)
        )
        return {p.rule_id: p for p in rows}


def _outbox(sessions: sessionmaker[Session], suggestion_id: int) -> list[tuple[OutboxChannel, str, str]]:
    with sessions() as session:
        return [
            (m.channel, m.kind, m.to_addr)
            for m in session.scalars(
                select(OutboxMessage)
                .where(OutboxMessage.suggestion_id == suggestion_id)
                .order_by(OutboxMessage.id)
            )
        ]


def _proposer(**changes: Any) -> dict[str, Any]:
    data = copy.deepcopy(SUGGESTION)
    data["proposer"] = {"name": "张三", **changes}
    return data


def test_acknowledgement_by_email_or_by_sms_or_not_at_all(
    sessions: sessionmaker[Session], clock: Clock
) -> None:
    by_mail = clock.submit(MONDAY, data=_proposer(email="a@example.com", phone="13800000001"))
    by_sms = clock.submit(MONDAY, data={**_proposer(phone="13800000002"), "channel_ref": "sms"})
    anonymous = clock.submit(
        MONDAY, data={**_proposer(phone="13800000003", anonymous=True), "channel_ref": "anon"}
    )

    assert _outbox(sessions, by_mail) == [(OutboxChannel.email, "acknowledgement", "a@example.com")]
    assert _outbox(sessions, by_sms) == [(OutboxChannel.sms, "acknowledgement", "13800000002")]
    assert _outbox(sessions, anonymous) == []
    sms = _plans(sessions, by_sms)["acknowledgement-sms"]
    assert sms.state is CommunicationState.queued and sms.communication_id is not None
    # "within 0 working days": by the end of the day of receipt.
    assert sms.due_at is not None and sms.due_at.astimezone(SHANGHAI).date() == MONDAY.date()
    with sessions() as session:
        text = session.scalars(
            select(OutboxMessage.body_text).where(OutboxMessage.suggestion_id == by_sms)
        ).one()
    assert "已受理" in text and "跟踪编号" in text and "/track/" in text


def test_a_sent_messages_summary_says_what_it_was_never_the_check_code_nor_the_link(
    sessions: sessionmaker[Session], clock: Clock
) -> None:
    # Departments read the summaries in the case's timeline; the check code is the proposer's secret.
    suggestion_id = clock.submit(MONDAY, data={**_proposer(phone="13800000002"), "channel_ref": "summary"})
    clock.complete(suggestion_id, StepKind.triage, "huangpu", triage(), MONDAY)
    clock.complete(suggestion_id, StepKind.opinion, "transport", ADOPT, MONDAY)
    clock.complete(suggestion_id, StepKind.review, "huangpu", {"action": "accept"}, MONDAY)
    replied = {"method": "phone", "text": "已电话答复"}
    clock.complete(suggestion_id, StepKind.reply, "huangpu", replied, MONDAY)
    with sessions() as session:
        check_code = session.get_one(Suggestion, suggestion_id).check_code
        sent = session.execute(
            select(Communication.kind, Communication.summary, OutboxMessage.body_text)
            .join(OutboxMessage, OutboxMessage.id == Communication.outbox_message_id)
            .where(Communication.suggestion_id == suggestion_id)
            .order_by(Communication.id)
        ).all()
    assert [(kind.value, summary) for kind, summary, _ in sent] == [
        ("acknowledgement", "短信：受理告知（含查询码）"),
        ("rating_request", "短信：满意度评价邀请（含查询链接）"),
    ]
    for _, summary, text in sent:
        assert check_code not in summary and "张三" not in summary and "/track/" not in summary
        assert f"check={check_code}" in text  # the message itself still carries it
    assert f"查询码{check_code}" in sent[0][2]


def test_manual_communications_wait_for_their_step_and_a_reply_by_phone_brings_an_sms(
    sessions: sessionmaker[Session], clock: Clock
) -> None:
    suggestion_id = clock.submit(MONDAY)
    clock.complete(suggestion_id, StepKind.triage, "huangpu", triage(level="important"), MONDAY)
    pre_report = _plans(sessions, suggestion_id)["pre-report"]
    assert pre_report.state is CommunicationState.awaiting and pre_report.manual
    assert (
        pre_report.due_at is not None
        and pre_report.due_at.astimezone(SHANGHAI).date() == datetime(2026, 11, 23).date()
    )

    held = {
        "held_at": "2026-11-17T09:00:00+08:00",
        "method": "phone",
        "participants": "张三",
        "refined": "完善",
    }
    clock.complete(suggestion_id, StepKind.pre_report_communication, "huangpu", held, MONDAY)
    pre_report = _plans(sessions, suggestion_id)["pre-report"]
    assert pre_report.state is CommunicationState.done and pre_report.communication_id is not None

    instruction = {
        "has_instruction": True,
        "leader": "区领导",
        "instructed_on": "2026-11-16",
        "text": "请研究",
    }
    clock.complete(suggestion_id, StepKind.leader_instruction, "huangpu", instruction, MONDAY)
    assert _plans(sessions, suggestion_id)["in-progress"].state is CommunicationState.awaiting
    clock.complete(suggestion_id, StepKind.proposer_hearing, "transport", MEETING, MONDAY)
    assert _plans(sessions, suggestion_id)["in-progress"].state is CommunicationState.done

    clock.complete(suggestion_id, StepKind.opinion, "transport", ADOPT, MONDAY)
    clock.complete(suggestion_id, StepKind.review, "huangpu", {"action": "accept"}, MONDAY)
    clock.complete(
        suggestion_id, StepKind.reply, "huangpu", {"method": "phone", "text": "已电话答复"}, MONDAY
    )
    plans = _plans(sessions, suggestion_id)
    assert "reply-email" not in plans  # replied by phone: no reply mail
    assert plans["rating-request-sms"].state is CommunicationState.queued
    assert [(c, k) for c, k, _ in _outbox(sessions, suggestion_id)] == [
        (OutboxChannel.email, "acknowledgement"),
        (OutboxChannel.sms, "rating_request"),
    ]


def _to_commendation(sessions: sessionmaker[Session], clock: Clock, at: datetime) -> int:
    suggestion_id = clock.submit(at)
    clock.complete(suggestion_id, StepKind.triage, "huangpu", triage(), at)
    clock.complete(suggestion_id, StepKind.opinion, "transport", ADOPT, at)
    clock.complete(suggestion_id, StepKind.review, "huangpu", {"action": "accept"}, at)
    clock.complete(suggestion_id, StepKind.reply, "huangpu", REPLY, at)
    clock.complete(suggestion_id, StepKind.rating, "huangpu", {"rating": "satisfied"}, at)
    done = {"percent": 100, "milestone": "已实施", "form": "work_improvement", "implemented": True}
    clock.complete(suggestion_id, StepKind.progress, "transport", done, at)
    assert _plans(sessions, suggestion_id)["post-adoption"].state is CommunicationState.awaiting
    clock.complete(suggestion_id, StepKind.post_adoption_communication, "huangpu", MEETING, at)
    result = {"year": 2026, "selected": True, "tier": "一等奖"}
    clock.complete(suggestion_id, StepKind.commendation_result, "huangpu", result, at)
    return suggestion_id


def test_a_commendation_is_mailed_and_its_letter_awaits_the_office_until_logged(
    sessions: sessionmaker[Session], clock: Clock, users: Any
) -> None:
    suggestion_id = _to_commendation(sessions, clock, MONDAY)
    plans = _plans(sessions, suggestion_id)
    assert plans["post-adoption"].state is CommunicationState.done
    assert plans["commendation-email"].state is CommunicationState.queued
    letter = plans["commendation-letter"]
    assert letter.state is CommunicationState.awaiting and letter.channel == "letter"
    assert (
        letter.body_text is not None
        and "张三" in letter.body_text
        and "2026年度优秀人民建议（一等奖）" in letter.body_text
    )
    kinds = [k for _, k, _ in _outbox(sessions, suggestion_id)]
    assert kinds == ["acknowledgement", "reply", "commendation", "outcome"]

    huangpu = users.actors["huangpu"]
    with sessions() as session:
        owed = communication_duties.outstanding(session, actor=huangpu, now=MONDAY)
        assert [p.rule_id for p in owed] == ["commendation-letter"]
        assert communication_duties.outstanding(session, actor=users.actors["transport"], now=MONDAY) == []
        shown = communication_duties.get(session, actor=huangpu, planned_id=letter.id, now=MONDAY)
        # Headed with where it goes, for the office that posts it.
        assert (
            shown.text == f"收信人：张三\n通信地址：{communication_duties.NO_ADDRESS}\n\n{letter.body_text}"
        )
        with pytest.raises(Forbidden):
            communication_duties.get(session, actor=users.actors["office"], planned_id=letter.id, now=MONDAY)

    with sessions() as session:
        payload = {"kind": "commendation", "method": "letter", "summary": "表彰通知书已挂号寄出"}
        logged = communication_duties.log(
            session, actor=huangpu, suggestion_id=suggestion_id, payload=payload, now=MONDAY
        )
        assert communication_duties.logged_view(session, logged).settled == [letter.id]
        session.commit()
    assert _plans(sessions, suggestion_id)["commendation-letter"].state is CommunicationState.done


def test_a_log_by_another_unit_or_with_a_bad_field_is_refused_recorded_and_changes_nothing(
    sessions: sessionmaker[Session], clock: Clock, users: Any
) -> None:
    suggestion_id = _to_commendation(sessions, clock, MONDAY)
    good = {"kind": "commendation", "method": "letter", "summary": "已寄出"}
    for actor, payload, error, field in (
        (users.actors["transport"], good, Forbidden, None),
        (users.actors["huangpu"], {**good, "methd": "letter"}, InvalidInput, "methd"),
        (users.actors["huangpu"], {**good, "kind": "thanks"}, InvalidInput, "kind"),
        (users.actors["huangpu"], {**good, "summary": "已寄出\u001b[2J"}, InvalidInput, "summary"),
    ):
        with sessions() as session, pytest.raises(error) as refused:
            communication_duties.log_or_refuse(
                session, actor=actor, suggestion_id=suggestion_id, payload=payload, now=MONDAY
            )
        # As the API and the CLI do: the refused transaction rolled back, the refusal audited in its own.
        assert refused.value.refusal is not None
        with sessions() as session:
            write_refusal(session, refused.value.refusal, refused.value)
            session.commit()
        if field is not None:
            assert [d["field"] for d in refused.value.detail] == [field]
    assert _plans(sessions, suggestion_id)["commendation-letter"].state is CommunicationState.awaiting
    with sessions() as session:
        assert (
            session.scalar(select(Communication).where(Communication.method == ContactMethod.letter)) is None
        )
        refusals = session.scalars(
            select(AuditEntry).where(AuditEntry.action == "communication.refused")
        ).all()
        assert len(refusals) == 4 and all(r.suggestion_id == suggestion_id for r in refusals)


def test_an_overdue_communication_reminds_the_office_once(
    sessions: sessionmaker[Session], clock: Clock
) -> None:
    suggestion_id = _to_commendation(sessions, clock, MONDAY)
    letter = _plans(sessions, suggestion_id)["commendation-letter"]
    assert letter.due_at is not None
    with sessions() as session:
        assert communication_duties.remind_overdue(session, now=letter.due_at) == []  # due, not yet over
        session.commit()
    later = datetime(2026, 12, 7, 9, 0, tzinfo=SHANGHAI)
    with sessions() as session:
        [reminded] = communication_duties.remind_overdue(session, now=later)
        session.commit()
    assert reminded.rule_id == "commendation-letter" and reminded.sent == 1
    with sessions() as session:
        assert communication_duties.remind_overdue(session, now=later) == []  # never twice
        notice = session.scalars(
            select(OutboxMessage).where(OutboxMessage.kind == "communication_overdue")
        ).one()
    assert notice.to_addr == "wu@example.gov.cn"
    assert "表彰告知（信函）" in notice.body_text and "commendation-letter" in notice.body_text
    assert "张三" not in notice.body_text + notice.subject  # no proposer's personal data to officials


def test_the_office_lists_shows_and_logs_through_the_cli_and_the_http_api(
    sessions: sessionmaker[Session], clock: Clock, users: Any, cli_on: Any
) -> None:
    from fastapi.testclient import TestClient
    from typer.testing import CliRunner

    from jianyi.api.app import create_app
    from jianyi.cli.main import app

    suggestion_id = _to_commendation(sessions, clock, MONDAY)
    letter = _plans(sessions, suggestion_id)["commendation-letter"]
    office = {"JIANYI_TOKEN": users.tokens["huangpu"]}

    listed = CliRunner().invoke(app, ["comms", "list"], env=office)
    assert listed.exit_code == 0, listed.output
    assert [(c["rule"], c["state"]) for c in json.loads(listed.output)] == [
        ("commendation-letter", "awaiting")
    ]
    shown = CliRunner().invoke(app, ["comms", "show", str(letter.id)], env=office)
    assert shown.exit_code == 0 and "优秀人民建议" in json.loads(shown.output)["text"]
    explained = CliRunner().invoke(app, ["rules", "explain", str(suggestion_id)], env=office)
    planned = {c["rule"]: c["state"] for c in json.loads(explained.output)["communications"]}
    assert planned["commendation-letter"] == "awaiting" and planned["acknowledgement-email"] == "queued"

    http = TestClient(create_app())
    headers = {"Authorization": f"Bearer {users.tokens['huangpu']}"}
    bad = http.post(
        f"/api/suggestions/{suggestion_id}/communications", json={"kind": "commendation"}, headers=headers
    )
    assert bad.status_code == 422
    assert {d["field"] for d in bad.json()["detail"]} == {"method", "summary"}
    stranger = http.get(
        f"/api/communications/{letter.id}", headers={"Authorization": f"Bearer {users.tokens['edu']}"}
    )
    assert stranger.status_code == 403

    logged = CliRunner().invoke(
        app,
        [
            "comms",
            "log",
            str(suggestion_id),
            "--kind",
            "commendation",
            "--method",
            "letter",
            "--summary",
            "已寄出",
        ],
        env=office,
    )
    assert logged.exit_code == 0, logged.output
    assert json.loads(logged.output)["settled"] == [letter.id]
    assert http.get("/api/communications", headers=headers).json() == []
    again = CliRunner().invoke(
        app,
        ["comms", "log", str(suggestion_id), "--kind", "commendation", "--method", "fax", "--summary", "x"],
        env=office,
    )
    assert again.exit_code == 2  # typer refuses an unknown method before anything is written
    view = http.get(f"/api/suggestions/{suggestion_id}", headers=headers).json()
    assert {c["rule"]: c["state"] for c in view["communications"]}["commendation-letter"] == "done"
