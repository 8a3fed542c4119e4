"""Figures counted over suggestions: the count tables of the suggestions received, the adoption of
important suggestions, solved within N working days of referral, leaders' instructions and the
implementation of adopted items. Each function returns the figure's items (``sql.COLUMNS``)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import String, and_, case, cast, func, literal, or_, select, union_all
from sqlalchemy.orm import aliased

from jianyi.models import (
    Assignment,
    ImplementationProgress,
    LeaderInstruction,
    Opinion,
    Step,
    Suggestion,
    Unit,
)
from jianyi.models.enums import Decision, Level, StepKind
from jianyi.services.figures.sql import Ctx, Query, items, local_day, own_unit, scoped

SHANGHAI_OFFSET = timedelta(hours=8)  # Asia/Shanghai has kept UTC+8 all year since 1991

# What the suggestions received in a period are counted by: the table's name and its key.
_RECEIVED_KEYS: dict[str, Any] = {
    "by_stage": cast(Suggestion.stage, String),
    "by_channel": cast(Suggestion.channel, String),
    "by_category": func.coalesce(Suggestion.category, ""),
    "by_campaign": func.coalesce(Suggestion.campaign, ""),
    "by_outcome": func.coalesce(cast(Suggestion.outcome, String), "open"),
}
RECEIVED_TABLES = (*_RECEIVED_KEYS, "by_district", "by_region")
# The same keys in one statement, the office and the region as unit ids (their codes looked up once).
RECEIVED_BY_ID: dict[str, Any] = {
    **_RECEIVED_KEYS,
    "by_district": Suggestion.office_unit_id,
    "by_region": Suggestion.region_unit_id,
}


def received_counts(ctx: Ctx) -> Query:
    """Every received table at once, (table, key, count) rows: one small grouping per table over the
    period's suggestions, each read from the index that holds every key (a grouping by all the keys
    together has about as many groups as suggestions)."""
    period = (Suggestion.received_at >= ctx.start, Suggestion.received_at < ctx.as_of)
    parts = [
        scoped(
            select(literal(name).label("name"), cast(key, String).label("key"), func.count().label("n"))
            .where(*period)
            .group_by(key),
            ctx,
            Suggestion.id,
            joined=True,
        )
        for name, key in RECEIVED_BY_ID.items()
    ]
    return union_all(*parts).subquery().select()


def received(ctx: Ctx, table: str) -> Query:
    """The suggestions received in the period, keyed for one count table (stage and outcome as they
    stand now; district: the handling office; region: the region's unit, '' if none)."""
    period = (Suggestion.received_at >= ctx.start, Suggestion.received_at < ctx.as_of)
    unit = Suggestion.lead_unit_id
    if table == "by_district":
        office = aliased(Unit)
        query = select(*items(office.code, Suggestion.id, unit_id=unit, done=Suggestion.received_at)).join(
            office, office.id == Suggestion.office_unit_id
        )
    elif table == "by_region":
        region = aliased(Unit)
        query = select(
            *items(func.coalesce(region.code, ""), Suggestion.id, unit_id=unit, done=Suggestion.received_at)
        ).outerjoin(region, region.id == Suggestion.region_unit_id)
    else:
        query = select(
            *items(_RECEIVED_KEYS[table], Suggestion.id, unit_id=unit, done=Suggestion.received_at)
        )
    return scoped(query.where(*period), ctx, Suggestion.id, joined=True)


def by_unit(ctx: Ctx) -> Query:
    """Suggestions referred in the period, by the unit referred to (lead or co; each unit once)."""
    query = (
        select(
            *items(
                Unit.code,
                Assignment.suggestion_id,
                unit_id=Assignment.unit_id,
                done=func.min(Assignment.created_at),
            )
        )
        .join(Unit, Unit.id == Assignment.unit_id)
        .where(Assignment.created_at >= ctx.start, Assignment.created_at < ctx.as_of)
        .group_by(Assignment.suggestion_id, Assignment.unit_id, Unit.code)
    )
    return own_unit(scoped(query, ctx, Assignment.suggestion_id), ctx, Assignment.unit_id)


def important_adoption(ctx: Ctx) -> Query:
    """Important suggestions decided in the period: their lead unit's latest opinion before ``as_of``
    was given in the period; adopted if it says adopt or partly adopt."""
    later = aliased(Opinion)
    superseded = (
        select(later.id)
        .where(
            later.suggestion_id == Opinion.suggestion_id,
            later.is_lead.is_(True),
            later.id > Opinion.id,
            later.created_at < ctx.as_of,
        )
        .exists()
    )
    adopted = Opinion.decision.in_((Decision.adopt, Decision.partly_adopt))
    query = (
        select(
            *items(
                case((adopted, "adopted"), else_="not_adopted"),
                Opinion.suggestion_id,
                step_id=Opinion.step_id,
                unit_id=Opinion.unit_id,
                done=Opinion.created_at,
            )
        )
        .join(Suggestion, Suggestion.id == Opinion.suggestion_id)
        .where(
            Opinion.created_at >= ctx.start,
            Opinion.created_at < ctx.as_of,
            Opinion.is_lead.is_(True),
            Opinion.decision.is_not(None),
            Suggestion.level == Level.important,
            ~superseded,
        )
    )
    return scoped(query, ctx, Suggestion.id, joined=True)


def referral_and_reply(ctx: Ctx) -> Query:
    """Suggestions first referred in the period: when (``due`` holds the referral), and their first
    reply to the proposer before ``as_of`` (``done``; None if none yet). Both are kept on the
    suggestion (``first_referred_at``, ``first_replied_at``): one index range, whatever the period."""
    referred, replied = Suggestion.first_referred_at, Suggestion.first_replied_at
    query = select(
        *items(
            "referred",
            Suggestion.id,
            unit_id=Suggestion.lead_unit_id,
            due=referred,
            done=case((replied < ctx.as_of, replied), else_=None),
        )
    ).where(referred >= ctx.start, referred < ctx.as_of)
    return scoped(query, ctx, Suggestion.id, joined=True)


def referral_reply_days(ctx: Ctx, shift: timedelta) -> Query:
    """How many suggestions per (referral day, reply day): the referral's day after the office's
    cut-off is moved to midnight (``shift``), the reply's local day. Set-based: the calendar is
    applied in Python to the few (day, day) pairs, not to each suggestion."""
    sub = referral_and_reply(ctx).subquery()
    return select(local_day(sub.c.due, shift), local_day(sub.c.done, SHANGHAI_OFFSET), func.count()).group_by(
        local_day(sub.c.due, shift), local_day(sub.c.done, SHANGHAI_OFFSET)
    )


def leader_instructions(ctx: Ctx) -> Query:
    """Leaders' instructions (批示) recorded in the period, and "no instruction" records."""
    key = case((LeaderInstruction.has_instruction, "instructed"), else_="no_instruction")
    query = select(
        *items(
            key,
            LeaderInstruction.suggestion_id,
            step_id=LeaderInstruction.step_id,
            unit_id=Suggestion.lead_unit_id,
            done=LeaderInstruction.recorded_at,
        )
    ).join(Suggestion, Suggestion.id == LeaderInstruction.suggestion_id)
    query = query.where(LeaderInstruction.recorded_at >= ctx.start, LeaderInstruction.recorded_at < ctx.as_of)
    return scoped(query, ctx, Suggestion.id, joined=True)


def implementation(ctx: Ctx, *, by_form: bool = False, with_unit: bool = True) -> Query:
    """Adopted items in implementation during the period: entered implementation (its first progress
    step opened) before ``as_of`` and not implemented before the period. Key: implemented in the
    period, in progress (reports, none says implemented), not started (no report); or, ``by_form``,
    the Art. 13 form of the latest report. Percent and form: the latest report before ``as_of``.
    The lead unit needs the suggestion's row: counting goes without it, except in a unit's scope."""
    with_unit = with_unit or ctx.where.unit_id is not None
    entered = (
        select(Step.suggestion_id.label("suggestion_id"), func.min(Step.created_at).label("at"))
        .where(Step.kind == StepKind.progress, Step.created_at < ctx.as_of)
        .group_by(Step.suggestion_id)
        .subquery()
    )
    reports = ImplementationProgress.reported_at < ctx.as_of
    latest = (
        select(func.max(ImplementationProgress.id).label("id"), ImplementationProgress.suggestion_id)
        .where(reports)
        .group_by(ImplementationProgress.suggestion_id)
        .subquery()
    )
    done = (
        select(ImplementationProgress.suggestion_id, func.min(ImplementationProgress.reported_at).label("at"))
        .where(reports, ImplementationProgress.implemented.is_(True))
        .group_by(ImplementationProgress.suggestion_id)
        .subquery()
    )
    report = aliased(ImplementationProgress)
    status = case(
        (done.c.at.is_not(None), "implemented"), (report.id.is_not(None), "in_progress"), else_="not_started"
    )
    key = cast(report.form, String) if by_form else status
    query = (
        select(
            *items(
                key,
                entered.c.suggestion_id,
                unit_id=Suggestion.lead_unit_id if with_unit else None,
                due=entered.c.at,
                done=done.c.at,
                percent=report.percent,
                form=cast(report.form, String),
            )
        )
        .select_from(entered)
        .outerjoin(latest, latest.c.suggestion_id == entered.c.suggestion_id)
        .outerjoin(report, report.id == latest.c.id)
        .outerjoin(done, done.c.suggestion_id == entered.c.suggestion_id)
        .where(or_(done.c.at.is_(None), done.c.at >= ctx.start))
    )
    if by_form:
        query = query.where(and_(report.id.is_not(None)))
    if with_unit:
        query = query.join(Suggestion, Suggestion.id == entered.c.suggestion_id)
        return own_unit(scoped(query, ctx, Suggestion.id, joined=True), ctx, Suggestion.lead_unit_id)
    return scoped(query, ctx, entered.c.suggestion_id)
