"""Communications with the proposer, as the rules of communications.yaml call for them.

The lifecycle reports what happened (an event: a reply was sent) or where the case went (a stage:
referral); every rule triggered by it whose condition holds plans one communication:

- one the system sends (e-mail, SMS) is rendered from its template and queued in the outbox, in the
  same transaction as the change that caused it, so it is sent if and only if the change commits;
- one a person holds (a call, a meeting, a letter) waits for the office to log it, and the
  supervision sweep reminds the office, once, when it is overdue.

Each plan is unique per (suggestion, rule, cause), so an attempt replayed after a crash plans
nothing twice. A merged duplicate's proposer hears the reply and the outcome of the original, in a
message of their own (only their own name, never the other proposer's).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from jinja2 import TemplateError
from sqlalchemy import bindparam, func, insert, select, update
from sqlalchemy.orm import Session

from jianyi.models import (
    Communication,
    OutboxMessage,
    PlannedCommunication,
    Proposer,
    StageEntry,
    Suggestion,
)
from jianyi.models.base import table_of
from jianyi.models.enums import (
    COMMUNICATION_LABELS,
    OUTCOME_LABELS,
    CommunicationKind,
    CommunicationState,
    ContactMethod,
    OutboxChannel,
    Stage,
)
from jianyi.rules.lookup import triggered_communications
from jianyi.rules.messages import RenderedMail, render, with_query
from jianyi.rules.schema_comms import CommunicationEvent, CommunicationRule
from jianyi.services import audit, deadlines
from jianyi.services.actors import FLOW
from jianyi.services.outbox import queue_mail
from jianyi.settings import get_settings

# Triggers whose news concerns the original's merged duplicates as much as the original.
_FAN_OUT = frozenset({"event:reply_sent", "event:closed", "stage:closed"})


def tracking_url(suggestion: Suggestion) -> str:
    return (
        f"{get_settings().resolved_public_url}/track/{suggestion.tracking_code}?check={suggestion.check_code}"
    )


@dataclass(frozen=True)
class _Recipient:
    suggestion: Suggestion  # whose tracking code and link the message carries
    proposer: Proposer | None
    cause: str


def on_event(
    session: Session,
    suggestion: Suggestion,
    event: CommunicationEvent,
    *,
    now: datetime,
    cause: str,
    values: Mapping[str, str | None] | None = None,
    reply_method: str | None = None,
) -> None:
    """Plan what the rules say `event` calls for. `cause` names this occurrence (e.g. "step:42"):
    the same event seen again for the same cause plans nothing new."""
    _trigger(
        session,
        suggestion,
        trigger=f"event:{event.value}",
        rules=triggered_communications(deadlines.current_rules(), event=event),
        now=now,
        cause=f"event:{event.value}:{cause}",
        values=values or {},
        reply_method=reply_method,
    )


def on_stage(session: Session, suggestion: Suggestion, stage: Stage, *, now: datetime) -> None:
    """Plan what entering `stage` calls for (its n-th entry is its own cause: research can recur)."""
    entries = session.scalar(
        select(func.count())
        .select_from(StageEntry)
        .where(StageEntry.suggestion_id == suggestion.id, StageEntry.stage == stage)
    )
    _trigger(
        session,
        suggestion,
        trigger=f"stage:{stage.value}",
        rules=triggered_communications(deadlines.current_rules(), stage=stage),
        now=now,
        cause=f"stage:{stage.value}:{entries or 1}",
        values={},
        reply_method=None,
    )


def _trigger(
    session: Session,
    suggestion: Suggestion,
    *,
    trigger: str,
    rules: list[CommunicationRule],
    now: datetime,
    cause: str,
    values: Mapping[str, str | None],
    reply_method: str | None,
) -> None:
    # Conditions are evaluated per recipient: a merged duplicate's proposer may have no e-mail.
    if not rules:
        return
    recipients = [_Recipient(suggestion, session.get(Proposer, suggestion.proposer_id), cause)]
    if trigger in _FAN_OUT:
        merged = session.scalars(
            select(Suggestion).where(Suggestion.duplicate_of_id == suggestion.id).order_by(Suggestion.id)
        )
        recipients += [
            _Recipient(d, session.get(Proposer, d.proposer_id), f"{cause}:via:{suggestion.id}")
            for d in merged
        ]
    for recipient in recipients:
        ctx = deadlines.suggestion_context(session, suggestion, proposer=recipient.proposer)
        if recipient.suggestion is not suggestion:  # a merged duplicate's proposer wrote by their own channel
            ctx["suggestion"]["channel"] = recipient.suggestion.channel.value
        ctx["reply"] = {"method": reply_method or ""}
        message_values = _values(session, suggestion, recipient, trigger, values)
        for rule in rules:
            if rule.condition is None or rule.condition.evaluate(ctx):
                _plan(session, rule, recipient, now=now, values=message_values)


def _values(
    session: Session,
    original: Suggestion,
    recipient: _Recipient,
    trigger: str,
    given: Mapping[str, str | None],
) -> dict[str, str | None]:
    """The template values: the recipient's own codes and link, what the trigger gives (rules/messages.py)."""
    link = tracking_url(recipient.suggestion)
    values: dict[str, str | None] = {
        "proposer_name": recipient.proposer.name if recipient.proposer else None,
        "tracking_code": recipient.suggestion.tracking_code,
        "title": recipient.suggestion.title,
        "tracking_url": link,
        "rating_url": with_query(link, rate="1"),
        **given,
    }
    via_original = recipient.suggestion is not original
    if trigger in {"event:closed", "stage:closed"}:
        assert original.outcome is not None
        values["outcome_label"] = OUTCOME_LABELS[original.outcome]
        values["reason"] = original.outcome_reason
        merged_into = session.get(Suggestion, original.duplicate_of_id) if original.duplicate_of_id else None
        values["original_tracking_code"] = merged_into.tracking_code if merged_into else None
    if trigger in _FAN_OUT:
        values.setdefault("original_tracking_code", None)
        if via_original:  # a merged duplicate's proposer: which suggestion this news is about
            values["original_tracking_code"] = original.tracking_code
    return values


# Built once (bound at execution): planning runs in every intake, and building a statement costs
# more than executing it. Rows are written with Core INSERTs: nothing reads them back as objects.
_ALREADY_PLANNED = select(PlannedCommunication.id).where(
    PlannedCommunication.suggestion_id == bindparam("suggestion_id"),
    PlannedCommunication.rule_id == bindparam("rule_id"),
    PlannedCommunication.cause == bindparam("cause"),
)
_INSERT_PLAN = insert(table_of(PlannedCommunication))
_INSERT_COMMUNICATION = insert(table_of(Communication)).returning(table_of(Communication).c.id)


def _plan(
    session: Session,
    rule: CommunicationRule,
    recipient: _Recipient,
    *,
    now: datetime,
    values: Mapping[str, str | None],
) -> None:
    target = recipient.suggestion
    key = {"suggestion_id": target.id, "rule_id": rule.id, "cause": recipient.cause}
    if session.scalar(_ALREADY_PLANNED, key) is not None:
        return
    due_at = now
    if rule.timing.within_working_days is not None:
        rules = deadlines.current_rules()
        calendar = deadlines.current_calendar(session)
        due_at = calendar.add_working_days(
            now, rule.timing.within_working_days, cutoff=rules.calendar.cutoff
        ).at
    plan: dict[str, Any] = {
        **key,
        "proposer_id": recipient.proposer.id if recipient.proposer else None,
        "kind": rule.kind,
        "channel": rule.channel,
        "manual": rule.manual,
        "state": CommunicationState.awaiting if rule.manual else CommunicationState.queued,
        "due_at": due_at,
        "created_at": now,
        "body_text": None,
        "note": None,
        "outbox_message_id": None,
        "communication_id": None,
        "done_at": None,
    }
    rendered: RenderedMail | None = None
    if rule.template is not None:
        try:
            if rule.manual:  # a text the office prints or reads out: `medium` tells the template so
                rendered = render(rule.template, "letter", {**values, "medium": rule.channel})
            else:
                rendered = render(rule.template, rule.channel, values)  # type: ignore[arg-type]
        except (TemplateError, ValueError) as exc:
            # The rules check renders every template for its trigger, so this is a template file
            # changed under a running system: skip the message, keep the case going, say why.
            _skip(plan, now, f"template {rule.template!r} could not be rendered: {exc}")
    if rule.manual:
        plan["body_text"] = rendered.text if rendered else None
    elif rendered is not None:
        _queue(session, plan, recipient, rendered, template=rule.template or rule.kind.value, now=now)
    # Inserted once its message and communication exist: one INSERT with their ids, no UPDATE after.
    session.execute(_INSERT_PLAN, plan)
    audit.record(
        session,
        actor=FLOW,
        action="communication.planned",
        suggestion_id=target.id,
        detail={
            "rule": rule.id,
            "kind": rule.kind.value,
            "channel": rule.channel,
            "state": plan["state"].value,
            "due_at": due_at.isoformat(),
            "cause": recipient.cause,
        },
    )


def _skip(plan: dict[str, Any], now: datetime, note: str) -> None:
    plan.update(state=CommunicationState.skipped, note=note, done_at=now)


def _queue(
    session: Session,
    plan: dict[str, Any],
    recipient: _Recipient,
    rendered: RenderedMail,
    *,
    template: str,
    now: datetime,
) -> None:
    proposer = recipient.proposer
    channel = OutboxChannel(plan["channel"])
    # An SMS goes to a mobile only: a landline cannot take one (the rules call such a proposer).
    address = (proposer.email if channel is OutboxChannel.email else proposer.mobile) if proposer else None
    if proposer is None or proposer.anonymous or not address:
        _skip(plan, now, f"no {'e-mail address' if channel is OutboxChannel.email else 'mobile number'}")
        return
    message_id = queue_mail(
        session,
        dedupe_key=f"comm:{plan['suggestion_id']}:{plan['rule_id']}:{plan['cause']}"[:120],
        suggestion_id=plan["suggestion_id"],
        kind=template,  # the outbox says what the message is: its template
        to_addr=address,
        mail=rendered,
        channel=channel,
    )
    if message_id is None:
        _skip(plan, now, "no address")
        return
    communication_id = session.scalar(
        _INSERT_COMMUNICATION,
        {
            "suggestion_id": plan["suggestion_id"],
            "proposer_id": proposer.id,
            "kind": plan["kind"],
            "method": ContactMethod(channel.value),
            "at": now,
            "summary": sent_summary(channel, plan["kind"], rendered, recipient.suggestion.check_code),
            "by_user_id": None,
            "step_id": None,
            "outbox_message_id": message_id,
        },
    )
    plan.update(outbox_message_id=message_id, communication_id=communication_id, done_at=now)


_MEDIUM_LABELS = {OutboxChannel.email: "邮件", OutboxChannel.sms: "短信"}
_URL = re.compile(r"https?://\S+")


def sent_summary(
    channel: OutboxChannel, kind: CommunicationKind, rendered: RenderedMail, check_code: str | None
) -> str:
    """What the case's timeline keeps of a message sent: what it was, never its secrets.

    Every viewer of the case reads it (departments too), so an SMS is named, not quoted (its text
    greets the proposer by name and carries the check code or the tracking link that holds it): e.g.
    "短信：受理告知（含查询码）". An e-mail is its subject, unless the subject holds a secret.
    """
    label = f"{_MEDIUM_LABELS[channel]}：{COMMUNICATION_LABELS[kind]}"
    subject = rendered.subject
    if channel is OutboxChannel.email and subject and not (check_code and check_code in subject):
        return _URL.sub("", subject).strip()[:200] or label
    if check_code and check_code in _URL.sub("", rendered.text):
        return f"{label}（含查询码）"
    if _URL.search(rendered.text):
        return f"{label}（含查询链接）"
    return label


def record(
    session: Session,
    *,
    suggestion: Suggestion,
    kind: CommunicationKind,
    method: ContactMethod,
    summary: str,
    at: datetime,
    by_user_id: int | None = None,
    step_id: int | None = None,
) -> Communication:
    """Log a contact held by a person; it settles every communication of that kind still awaited."""
    communication = Communication(
        suggestion_id=suggestion.id,
        proposer_id=suggestion.proposer_id,
        kind=kind,
        method=method,
        at=at,
        summary=summary,
        by_user_id=by_user_id,
        step_id=step_id,
    )
    session.add(communication)
    session.flush()
    session.execute(
        update(PlannedCommunication)
        .where(
            PlannedCommunication.suggestion_id == suggestion.id,
            PlannedCommunication.kind == kind,
            PlannedCommunication.state == CommunicationState.awaiting,
        )
        .values(state=CommunicationState.done, communication_id=communication.id, done_at=at)
        .execution_options(synchronize_session=False)
    )
    return communication


def sent_state(session: Session, plan: PlannedCommunication) -> str | None:
    """The outbox state of a sent communication (pending, sent, failed), for the office's views."""
    if plan.outbox_message_id is None:
        return None
    message = session.get(OutboxMessage, plan.outbox_message_id)
    return message.state.value if message else None
