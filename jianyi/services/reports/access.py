"""Who may read which report.

The office's reports are city-wide and name every unit's late and escalated items: the city office
(office and supervisor), city leaders and administrators read them all. Any other official (a district
office, a department) reads only reports about their own unit (``Report.unit_id``); none of those is
made yet, so for them the list is empty and a city report is refused.
"""

from __future__ import annotations

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from jianyi.errors import Forbidden, NotFound
from jianyi.models import Report, Unit
from jianyi.models.enums import Role, UnitKind
from jianyi.services.actors import Actor


def reads_city_reports(session: Session, actor: Actor) -> bool:
    if actor.role in (Role.admin, Role.leader):
        return True
    if actor.role in (Role.office, Role.supervisor) and actor.unit_id is not None:
        unit = session.get(Unit, actor.unit_id)
        return unit is not None and unit.kind is UnitKind.city_office
    return False


def visible(session: Session, actor: Actor) -> Select[Report]:
    query = select(Report)
    if reads_city_reports(session, actor):
        return query
    if actor.role is None or actor.unit_id is None:
        raise Forbidden("reports are for officials")
    return query.where(Report.unit_id == actor.unit_id)


def list_reports(
    session: Session, *, actor: Actor, kind: str | None = None, period: str | None = None, limit: int = 100
) -> list[Report]:
    """Newest first; every version of a period is listed."""
    query = visible(session, actor)
    if kind:
        query = query.where(Report.kind == kind)
    if period:
        query = query.where(Report.period == period)
    return list(session.scalars(query.order_by(Report.created_at.desc(), Report.id.desc()).limit(limit)))


def get_report(session: Session, *, actor: Actor, report_id: int) -> Report:
    report = session.get(Report, report_id)
    if report is None:
        raise NotFound(f"no report {report_id}")
    own = report.unit_id is not None and report.unit_id == actor.unit_id
    if not own and not reads_city_reports(session, actor):
        raise Forbidden("this report is the office's: a department reads only reports about its own unit")
    return report


def require_office(session: Session, actor: Actor) -> None:
    """Making (or correcting) a report: the city office, its supervisors, administrators."""
    if actor.role is Role.leader or not reads_city_reports(session, actor):
        raise Forbidden("reports are made by the city suggestion office")
