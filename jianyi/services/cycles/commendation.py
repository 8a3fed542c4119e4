"""The annual commendation (表彰奖励): nominations, a reviewer panel, scores, ranking, approval,
publication.

A cycle is opened for a year with the rules' window, quota, tiers and panel size (frozen on it). The
items implemented in the window (their ``commendation_result`` step opened in it) are nominated
automatically and wait there. A panel is drawn from the active expert pool at random, from a seed
recorded on the cycle (the same seed and pool give the same panel). An expert working in an item's
handling (lead) unit does not review it: a declared conflict, refused. Each other reviewer scores each
item 0–100; the ranking is by mean score, ties broken by the earlier implementation, then the lower
suggestion id; the tiers fill in rank order to their quotas. The head of the city office approves;
publication completes every nominated item's step (selected with its tier, or not), which tells the
proposer and closes the case, and gives a public list without personal data.
"""

from __future__ import annotations

import random
import secrets
from datetime import date, datetime, time
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from jianyi.errors import Conflict, Forbidden, InvalidInput, NotFound
from jianyi.models import CommendationCycle, Expert, Nomination, Step, Suggestion, Unit, User
from jianyi.models.enums import Decision, Role, StepKind, StepState
from jianyi.services import audit, steps
from jianyi.services.actors import Actor
from jianyi.services.deadlines import current_rules
from jianyi.services.network import UnknownUnit, get_unit_by_code
from jianyi.services.reports.access import reads_city_reports
from jianyi.services.reports.kinds import SHANGHAI

NOMINATING, REVIEWING, APPROVED, PUBLISHED = "nominating", "reviewing", "approved", "published"


def _invalid(field: str, message: str) -> InvalidInput:
    return InvalidInput(f"{field}: {message}", detail=[{"field": field, "message": message}])


def require_office(session: Session, actor: Actor) -> None:
    if actor.role is Role.leader or not reads_city_reports(session, actor):
        raise Forbidden("the commendation is run by the city suggestion office")


def get_cycle(session: Session, *, year: int) -> CommendationCycle:
    cycle = session.scalar(select(CommendationCycle).where(CommendationCycle.year == year))
    if cycle is None:
        raise NotFound(f"no commendation cycle for {year}")
    return cycle


def nominations(session: Session, cycle: CommendationCycle) -> list[Nomination]:
    return list(
        session.scalars(select(Nomination).where(Nomination.cycle_id == cycle.id).order_by(Nomination.id))
    )


def add_expert(
    session: Session, *, actor: Actor, name: str, unit: str | None, user_id: int | None = None
) -> Expert:
    """A reviewer of the pool; ``user_id``: their account, to score in their own name."""
    require_office(session, actor)
    if user_id is not None and session.get(User, user_id) is None:
        raise _invalid("user_id", f"no user {user_id}")
    if user_id is not None and session.scalar(select(Expert.id).where(Expert.user_id == user_id)):
        raise Conflict(f"user_id: user {user_id} is a reviewer already")
    unit_id = None
    if unit is not None:
        try:
            unit_id = get_unit_by_code(session, code=unit).id
        except UnknownUnit as exc:
            raise _invalid("unit", f"no unit with code {unit!r}") from exc
    expert = Expert(name=name, unit_id=unit_id, user_id=user_id)
    session.add(expert)
    session.flush()
    return expert


def open_cycle(session: Session, *, actor: Actor, year: int, now: datetime) -> CommendationCycle:
    """Open the year's cycle and nominate the items implemented in its window."""
    require_office(session, actor)
    if session.scalar(select(CommendationCycle.id).where(CommendationCycle.year == year)) is not None:
        raise Conflict(f"year: the {year} cycle is open already")
    rules = current_rules().cycles.commendation
    month, day = (int(part) for part in rules.window_starts.split("-"))
    start = datetime.combine(date(year - 1, month, day), time(0), SHANGHAI)
    end = datetime.combine(date(year, month, day), time(0), SHANGHAI)
    cycle = CommendationCycle(
        year=year,
        window_start=start,
        window_end=end,
        rules=rules.model_dump(),
        state=NOMINATING,
        created_at=now,
    )
    session.add(cycle)
    session.flush()
    nominate(session, cycle=cycle, now=now)
    audit.record(session, actor=actor, action="commendation.opened", detail={"year": year})
    return cycle


def nominate(session: Session, *, cycle: CommendationCycle, now: datetime) -> int:
    """Nominate every item waiting at ``commendation_result`` that was implemented in the window and is
    not nominated yet; returns how many were added."""
    if cycle.state != NOMINATING:
        raise Conflict(f"the {cycle.year} cycle no longer takes nominations")
    taken = select(Nomination.suggestion_id).where(Nomination.cycle_id == cycle.id)
    waiting = session.scalars(
        select(Step)
        .where(
            Step.kind == StepKind.commendation_result,
            Step.state == StepState.open,
            Step.created_at >= cycle.window_start,
            Step.created_at < cycle.window_end,
            Step.suggestion_id.not_in(taken),
        )
        .order_by(Step.id)
    ).all()
    for step in waiting:
        session.add(
            Nomination(
                cycle_id=cycle.id,
                suggestion_id=step.suggestion_id,
                step_id=step.id,
                source="automatic",
                scores={},
                nominated_at=now,
            )
        )
    session.flush()
    return len(waiting)


def nominate_item(
    session: Session, *, actor: Actor, year: int, suggestion_id: int, now: datetime
) -> Nomination:
    """The office's manual nomination of an adopted or partly adopted item, whenever it was
    implemented (e.g. before the window, or after it closed): it must wait at its open
    ``commendation_result`` step, where the cycle's publication completes it. One not yet implemented
    is refused (409): its case has no such step to wait at until its implementation is done."""
    require_office(session, actor)
    cycle = get_cycle(session, year=year)
    if cycle.state != NOMINATING:
        raise Conflict(f"the {year} cycle no longer takes nominations")
    suggestion = session.get(Suggestion, suggestion_id)
    if suggestion is None:
        raise _invalid("suggestion_id", f"no suggestion {suggestion_id}")
    if suggestion.decision not in (Decision.adopt, Decision.partly_adopt):
        raise _invalid("suggestion_id", f"suggestion {suggestion_id} was not adopted or partly adopted")
    taken = session.scalar(
        select(Nomination.cycle_id)
        .join(CommendationCycle, CommendationCycle.id == Nomination.cycle_id)
        .where(Nomination.suggestion_id == suggestion_id, CommendationCycle.state != PUBLISHED)
    )
    if taken is not None:
        raise Conflict(f"suggestion {suggestion_id} is nominated already")
    step = session.scalar(
        select(Step).where(
            Step.suggestion_id == suggestion_id,
            Step.kind == StepKind.commendation_result,
            Step.state == StepState.open,
        )
    )
    if step is None:
        raise Conflict(
            f"suggestion {suggestion_id} is not implemented yet (stage {suggestion.stage.value}): "
            "nominate it once its implementation is done"
        )
    item = Nomination(
        cycle_id=cycle.id,
        suggestion_id=suggestion_id,
        step_id=step.id,
        source="manual",
        scores={},
        nominated_at=now,
    )
    session.add(item)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="commendation.nominated",
        suggestion_id=suggestion_id,
        detail={"year": year, "source": "manual"},
    )
    return item


def draw_panel(session: Session, *, actor: Actor, year: int, seed: str | None = None) -> CommendationCycle:
    """Draw the panel from the active pool with ``seed`` (a new random one if none); nominations close."""
    require_office(session, actor)
    cycle = get_cycle(session, year=year)
    if cycle.state != NOMINATING:
        raise Conflict(f"the {year} panel is drawn already")
    pool = list(session.scalars(select(Expert.id).where(Expert.active.is_(True)).order_by(Expert.id)))
    size = cycle.rules["panel_size"]
    if len(pool) < size:
        raise _invalid("experts", f"the pool holds {len(pool)} active experts, the panel needs {size}")
    cycle.seed = seed or secrets.token_hex(8)
    cycle.panel = sorted(random.Random(cycle.seed).sample(pool, size))
    cycle.state = REVIEWING
    audit.record(
        session,
        actor=actor,
        action="commendation.panel",
        detail={"year": year, "seed": cycle.seed, "panel": cycle.panel},
    )
    session.flush()
    return cycle


def conflicted(session: Session, expert_id: int, nomination: Nomination) -> bool:
    """An expert of the item's handling unit (its lead unit) does not review it."""
    expert = session.get_one(Expert, expert_id)
    suggestion = session.get_one(Suggestion, nomination.suggestion_id)
    return expert.unit_id is not None and expert.unit_id == suggestion.lead_unit_id


def score(
    session: Session, *, actor: Actor, year: int, expert_id: int, suggestion_id: int, value: int
) -> Nomination:
    """A reviewer's score, recorded by the office."""
    require_office(session, actor)
    return _record(session, year=year, expert_id=expert_id, suggestion_id=suggestion_id, value=value)


def reviewer_of(session: Session, actor: Actor) -> Expert:
    """The actor's own expert record (403 for one who is no reviewer)."""
    expert = (
        session.scalar(select(Expert).where(Expert.user_id == actor.user_id, Expert.active.is_(True)))
        if actor.user_id is not None
        else None
    )
    if expert is None:
        raise Forbidden("only a reviewer of the commendation's pool scores in their own name")
    return expert


def to_review(session: Session, *, actor: Actor, year: int) -> tuple[Expert, list[Nomination]]:
    """A reviewer's items: the year's nominations, less those of their own unit (a declared
    conflict); 403 for one not on the year's panel."""
    expert = reviewer_of(session, actor)
    cycle = get_cycle(session, year=year)
    if expert.id not in (cycle.panel or []):
        raise Forbidden(f"{expert.name} is not on the {year} panel")
    return expert, [item for item in nominations(session, cycle) if not conflicted(session, expert.id, item)]


def score_own(session: Session, *, actor: Actor, year: int, suggestion_id: int, value: int) -> Nomination:
    """A reviewer's score in their own name: only on their panel's items, conflicts refused."""
    expert = reviewer_of(session, actor)
    item = _record(session, year=year, expert_id=expert.id, suggestion_id=suggestion_id, value=value)
    audit.record(
        session,
        actor=actor,
        action="commendation.scored",
        suggestion_id=suggestion_id,
        detail={"year": year, "expert": expert.id},
    )
    return item


def _record(session: Session, *, year: int, expert_id: int, suggestion_id: int, value: int) -> Nomination:
    cycle = get_cycle(session, year=year)
    if cycle.state != REVIEWING:
        raise Conflict(f"the {year} cycle is not under review")
    if expert_id not in (cycle.panel or []):
        raise _invalid("expert_id", f"expert {expert_id} is not on the {year} panel")
    if not 0 <= value <= 100:
        raise _invalid("score", "a score is 0 to 100")
    item = session.scalar(
        select(Nomination).where(Nomination.cycle_id == cycle.id, Nomination.suggestion_id == suggestion_id)
    )
    if item is None:
        raise NotFound(f"suggestion {suggestion_id} is not nominated in {year}")
    if conflicted(session, expert_id, item):
        raise _invalid(
            "expert_id", f"expert {expert_id} works in the item's handling unit: a conflict, not scored"
        )
    item.scores = {**item.scores, str(expert_id): value}
    session.flush()
    return item


def ranking(session: Session, cycle: CommendationCycle) -> list[tuple[Nomination, float]]:
    """Every nomination with its mean score, best first (ties: earlier implementation, lower id).
    Refused while a reviewer without conflict has not scored an item."""
    ranked = []
    for item in nominations(session, cycle):
        due = [e for e in cycle.panel or [] if not conflicted(session, e, item)]
        missing = [e for e in due if str(e) not in item.scores]
        if missing or not due:
            raise Conflict(f"suggestion {item.suggestion_id} lacks scores from experts {missing or 'any'}")
        mean = sum(item.scores[str(e)] for e in due) / len(due)
        opened = session.get_one(Step, item.step_id).created_at
        ranked.append((item, mean, opened))
    ranked.sort(key=lambda row: (-row[1], row[2], row[0].suggestion_id))
    return [(item, mean) for item, mean, _ in ranked]


def approve(session: Session, *, actor: Actor, year: int, now: datetime) -> CommendationCycle:
    """The head of the city office approves the ranking: ranks and tiers are fixed."""
    user = session.get(User, actor.user_id) if actor.user_id else None
    if (
        user is None
        or not user.head
        or actor.role is not Role.office
        or not reads_city_reports(session, actor)
    ):
        raise Forbidden("the head of the city suggestion office approves the commendation")
    cycle = get_cycle(session, year=year)
    if cycle.state != REVIEWING:
        raise Conflict(f"the {year} cycle is not under review")
    slots = [tier["name"] for tier in cycle.rules["tiers"] for _ in range(tier["quota"])]
    for rank, (item, _mean) in enumerate(ranking(session, cycle), start=1):
        item.rank, item.tier = rank, slots[rank - 1] if rank <= len(slots) else None
    cycle.state, cycle.approved_by, cycle.approved_at = APPROVED, actor.name or actor.label, now
    audit.record(session, actor=actor, action="commendation.approved", detail={"year": year})
    session.flush()
    return cycle


def publish(session: Session, *, year: int, now: datetime) -> int:
    """Complete every nominated item's ``commendation_result`` step with the result (the case's flow
    run then tells the proposer and closes it). Returns how many steps were completed now."""
    cycle = get_cycle(session, year=year)
    if cycle.state == PUBLISHED:
        return 0
    if cycle.state != APPROVED:
        raise Conflict(f"the {year} result is not approved")
    done = 0
    for item in nominations(session, cycle):
        step = session.get_one(Step, item.step_id)
        if step.state is not StepState.open:
            continue
        # The result completes each step as its handling office would: no typing per case.
        office = Actor(
            label="commendation", role=Role.office, unit_id=step.unit_id, name=f"{year}年度表彰评选"
        )
        steps.complete(
            session,
            actor=office,
            step_id=step.id,
            now=now,
            payload={"year": year, "selected": item.tier is not None, "tier": item.tier},
        )
        done += 1
    cycle.state, cycle.published_at = PUBLISHED, now
    session.flush()
    return done


def public_list(session: Session, cycle: CommendationCycle) -> list[dict[str, Any]]:
    """The commended items, by rank: title, category, handling unit, tier. No personal data."""
    if cycle.state != PUBLISHED:
        return []
    rows = []
    for item in sorted(nominations(session, cycle), key=lambda n: n.rank or 0):
        if item.tier is None:
            continue
        suggestion = session.get_one(Suggestion, item.suggestion_id)
        unit = session.get(Unit, suggestion.lead_unit_id) if suggestion.lead_unit_id else None
        rows.append(
            {
                "rank": item.rank,
                "tier": item.tier,
                "title": suggestion.title,
                "category": suggestion.category,
                "unit": unit.name if unit else None,
            }
        )
    return rows


def view(session: Session, cycle: CommendationCycle) -> dict[str, Any]:
    items = nominations(session, cycle)
    return {
        "year": cycle.year,
        "state": cycle.state,
        "window_start": cycle.window_start.isoformat(),
        "window_end": cycle.window_end.isoformat(),
        "rules": cycle.rules,
        "seed": cycle.seed,
        "panel": cycle.panel,
        "nominations": len(items),
        "selected": {
            tier["name"]: sum(1 for i in items if i.tier == tier["name"]) for tier in cycle.rules["tiers"]
        },
        "approved_by": cycle.approved_by,
        "published_at": cycle.published_at.isoformat() if cycle.published_at else None,
    }
