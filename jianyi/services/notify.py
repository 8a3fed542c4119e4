"""Messages to proposers, queued in the outbox inside the transaction of the change that causes them.

A merged duplicate's proposer still hears the reply and the outcome of the original, each in a
message of their own (only their own name, never the other proposer's).
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from jianyi.models import Communication, Proposer, Step, Suggestion
from jianyi.models.enums import OUTCOME_LABELS, CommunicationKind, ContactMethod
from jianyi.services.mail import MailContext, render_mail
from jianyi.services.outbox import queue_mail
from jianyi.settings import get_settings


def tracking_url(suggestion: Suggestion) -> str:
    return (
        f"{get_settings().resolved_public_url}/track/{suggestion.tracking_code}?check={suggestion.check_code}"
    )


def _mailable(session: Session, suggestion: Suggestion) -> Proposer | None:
    proposer = session.get(Proposer, suggestion.proposer_id)
    if proposer is None or proposer.anonymous or not proposer.email:
        return None
    return proposer


def _send(
    session: Session,
    *,
    suggestion: Suggestion,
    kind: str,
    communication: CommunicationKind,
    dedupe_key: str,
    context: dict[str, str | None],
    step: Step | None = None,
    original: Suggestion | None = None,
) -> None:
    proposer = _mailable(session, suggestion)
    if proposer is None or proposer.email is None:
        return
    mail = render_mail(
        kind,
        MailContext(
            proposer_name=proposer.name,
            tracking_code=suggestion.tracking_code,
            check_code=suggestion.check_code,
            title=suggestion.title,
            tracking_url=tracking_url(suggestion),
            original_tracking_code=original.tracking_code if original else None,
            **context,
        ),
    )
    message = queue_mail(
        session,
        dedupe_key=dedupe_key,
        suggestion_id=suggestion.id,
        kind=kind,
        to_addr=proposer.email,
        mail=mail,
    )
    if message is None:
        return
    session.add(
        Communication(
            suggestion_id=suggestion.id,
            proposer_id=proposer.id,
            kind=communication,
            method=ContactMethod.email,
            summary=mail.subject,
            step_id=step.id if step else None,
            outbox_message_id=message.id,
        )
    )


def _merged_into(session: Session, suggestion: Suggestion) -> list[Suggestion]:
    return list(
        session.scalars(
            select(Suggestion).where(Suggestion.duplicate_of_id == suggestion.id).order_by(Suggestion.id)
        )
    )


def acknowledge(session: Session, *, suggestion: Suggestion) -> None:
    _send(
        session,
        suggestion=suggestion,
        kind="acknowledgement",
        communication=CommunicationKind.acknowledgement,
        dedupe_key=f"acknowledgement:{suggestion.id}",
        context={},
    )


def tell_reply(
    session: Session, *, suggestion: Suggestion, step: Step, text: str, method: ContactMethod
) -> None:
    if method is not ContactMethod.email:
        return  # a call, letter or SMS was made and logged by the office; nothing to send
    for target in [suggestion, *_merged_into(session, suggestion)]:
        _send(
            session,
            suggestion=target,
            kind="reply",
            communication=CommunicationKind.reply,
            dedupe_key=f"reply:{suggestion.id}:{step.id}:{target.id}",
            context={"reply_text": text},
            step=step,
            original=suggestion if target is not suggestion else None,
        )


def tell_outcome(session: Session, *, suggestion: Suggestion, template: str) -> None:
    """The final word: the outcome to the proposer, and to every proposer merged into this suggestion."""
    assert suggestion.outcome is not None
    context: dict[str, str | None] = {
        "outcome_label": OUTCOME_LABELS[suggestion.outcome],
        "reason": suggestion.outcome_reason,
    }
    original = session.get(Suggestion, suggestion.duplicate_of_id) if suggestion.duplicate_of_id else None
    _send(
        session,
        suggestion=suggestion,
        kind=template,
        communication=CommunicationKind.outcome,
        dedupe_key=f"outcome:{suggestion.id}",
        context=context,
        original=original,
    )
    for duplicate in _merged_into(session, suggestion):
        _send(
            session,
            suggestion=duplicate,
            kind="outcome",
            communication=CommunicationKind.outcome,
            dedupe_key=f"outcome:{suggestion.id}:for:{duplicate.id}",
            context=context,
            original=suggestion,
        )
