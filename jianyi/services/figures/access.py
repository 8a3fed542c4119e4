"""Who may see which figures, and the scope as SQL.

As the supervision board (``board.scope``): administrators and the city office (office or
supervisor) any scope; a district office its own suggestions (any scope within them; another
office's is refused); a department its own unit only (``unit:<its code>``); anyone else 403.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import ColumnElement, and_, exists, or_, select
from sqlalchemy.orm import Session, aliased

from jianyi.errors import Forbidden, InvalidInput
from jianyi.models import Assignment, Suggestion, Unit
from jianyi.models.enums import Channel, Role, UnitKind
from jianyi.services.actors import Actor
from jianyi.services.figures.periods import Scope, ScopeKind


@dataclass(frozen=True)
class Where:
    """The scope resolved: a condition on suggestions (None: all of them) and, for a unit scope,
    the unit whose own steps the unit-attributed figures count; ``office_id``: the district office
    the actor is confined to (None: not confined), the one thing beyond the scope the figures vary by."""

    suggestions: ColumnElement[bool] | None
    unit_id: int | None
    office_id: int | None = None


def default_scope(session: Session, actor: Actor) -> Scope:
    """What an actor sees when it names no scope: a department its unit, an office its suggestions."""
    unit = session.get(Unit, actor.unit_id) if actor.unit_id is not None else None
    if actor.role is Role.department and unit is not None:
        return Scope(kind=ScopeKind.unit, value=unit.code)
    if (
        actor.role in (Role.office, Role.supervisor)
        and unit is not None
        and unit.kind is UnitKind.district_office
    ):
        return Scope(kind=ScopeKind.office, value=unit.code)
    return Scope.city()


def _unit(session: Session, code: str | None, *, kinds: tuple[UnitKind, ...] | None = None) -> Unit:
    unit = session.query(Unit).filter(Unit.code == code).one_or_none() if code else None
    if unit is None or (kinds is not None and unit.kind not in kinds):
        raise InvalidInput(
            f"scope: no such unit: {code!r}", detail=[{"field": "scope", "message": "unknown unit code"}]
        )
    return unit


def resolve(session: Session, *, actor: Actor, scope: Scope) -> Where:
    """The scope as SQL, after checking the actor may see it (403 otherwise, 422 for a bad value)."""
    own = session.get(Unit, actor.unit_id) if actor.unit_id is not None else None
    office_id: int | None = None  # a district office sees its own suggestions only
    if actor.role is Role.admin or (
        actor.role in (Role.office, Role.supervisor) and own is not None and own.kind is UnitKind.city_office
    ):
        pass
    elif (
        actor.role in (Role.office, Role.supervisor)
        and own is not None
        and own.kind is UnitKind.district_office
    ):
        office_id = own.id
    elif actor.role is Role.department and own is not None:
        # Its own unit, narrowed further if it likes (a category…), never another unit.
        units = {p.value for p in scope.parts() if p.kind is ScopeKind.unit}
        if scope.kind is not ScopeKind.unit or units != {own.code}:
            raise Forbidden(f"a department sees its own unit's figures only (scope unit:{own.code})")
    else:
        raise Forbidden(
            "the figures are for the suggestion offices, their supervisors, departments and administrators"
        )

    terms: list[ColumnElement[bool]] = []
    unit_id: int | None = None
    if office_id is not None:
        terms.append(Suggestion.office_unit_id == office_id)
    for part in scope.parts():  # a combined scope: every part narrows the suggestions
        term, part_unit = _term(session, part, office_id)
        if part_unit is not None:
            if unit_id not in (None, part_unit):
                raise InvalidInput(
                    "scope: one unit at a time", detail=[{"field": "scope", "message": "one unit at a time"}]
                )
            unit_id = part_unit
        if term is not None:
            terms.append(term)
    return Where(suggestions=and_(*terms) if terms else None, unit_id=unit_id, office_id=office_id)


def _term(
    session: Session, scope: Scope, office_id: int | None
) -> tuple[ColumnElement[bool] | None, int | None]:
    """One scope's condition on suggestions (None: all), and the unit of a unit scope."""
    if scope.kind is ScopeKind.office:
        office = _unit(session, scope.value, kinds=(UnitKind.city_office, UnitKind.district_office))
        if office_id is not None and office.id != office_id:
            raise Forbidden("a district office sees its own district's figures only")
        return Suggestion.office_unit_id == office.id, None
    if scope.kind is ScopeKind.unit:
        unit_id = _unit(session, scope.value).id
        # Aliases, correlated to suggestions only: the items may themselves be read from these tables.
        referral = aliased(Assignment)
        referred = select(referral.id).where(
            referral.suggestion_id == Suggestion.id, referral.unit_id == unit_id
        )
        return exists(referred).correlate(Suggestion), unit_id
    if scope.kind is ScopeKind.category:
        return Suggestion.category == scope.value, None
    if scope.kind is ScopeKind.channel:
        if scope.value is None or scope.value not in Channel.__members__:
            raise InvalidInput(
                f"scope: no channel {scope.value!r}",
                detail=[{"field": "scope", "message": "one of " + ", ".join(Channel)}],
            )
        return Suggestion.channel.in_([Channel(scope.value)]), None
    if scope.kind is ScopeKind.campaign:
        return Suggestion.campaign == scope.value, None
    if scope.kind is ScopeKind.region:
        region = _unit(session, scope.value)
        # A district's figures take in its sub-districts' suggestions.
        area = aliased(Unit)
        below = select(area.id).where(or_(area.id == region.id, area.parent_id == region.id))
        return Suggestion.region_unit_id.in_(below), None
    return None, None  # the whole city
