"""The figures (jianyi.services.figures) over a seeded November, checked against counts worked out
by hand from the history below (not by the service), on SQLite and PostgreSQL.

The history, all received Monday 2 November 2026 10:00 (Shanghai); opinions are due 15 working
days after referral (Monday 23 November for a referral on the 2nd), 10 for important, rework and
instructed items; the emergency campaign's 3:
  A  fast: triaged, opinion, review, reply (4 Nov), rated satisfied: closed not adopted
  B  triaged late (4 Nov, due 3 Nov); opinion late (27 Nov, due 25 Nov)
  C  opinion clock pause asked on 24 Nov, after its deadline (23 Nov): refused; late, and stays late
  D  opinion clock paused on 5 Nov, in time: neither answered nor late
  E  referred to city-edu, which objects; re-routed to city-transport; replied 6 Nov
  F  extension of 5 WD approved: opinion on 27 Nov is on time (due 30 Nov)
  G  not satisfied, re-handled: a second opinion and reply; implementation 50 %
  H  opinion returned for rework, answered again
  I  a Huangpu district item, opinion never given: a supervision order (answered), escalated to the
     city office and marked for the bulletin on 30 Nov
  J  the emergency campaign (3 WD): everything within a day or two
  K  important, a leader's instruction, adopted;  K2 important, no instruction, not adopted
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from clock import Clock
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from support import ADOPT, KEEP, MEETING, NOT_ADOPT, PROGRESS_HALF, REPLY, SUGGESTION, triage

from jianyi.errors import Conflict, Forbidden, InvalidInput
from jianyi.models import Step, Suggestion
from jianyi.models.enums import StepKind, StepState
from jianyi.rules.loader import DEFAULT_RULES_DIR, RulesHolder
from jianyi.services import clocks, deadlines
from jianyi.services.figures import FigureSet, Period, Scope, compute_figures, drilldown, trend_counts

MONDAY = datetime(2026, 11, 2, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai
NOW = datetime(2026, 12, 10, 2, 0, tzinfo=UTC)
NOVEMBER = Period.parse("2026-11")
S1 = datetime(2026, 11, 26, 2, 0, tzinfo=UTC)
S2 = datetime(2026, 11, 30, 15, 59, 59, 999999, tzinfo=UTC)  # the end of 30 Nov in Shanghai
PRE_REPORT = {
    "held_at": "2026-11-03T09:00:00+08:00",
    "method": "phone",
    "participants": "建议人、王处长",
    "refined": "问题真、症结准、对策实",
}


def d(days: int) -> datetime:
    return MONDAY + timedelta(days=days)


@dataclass
class History:
    ids: dict[str, int]
    codes: dict[str, str]  # name → tracking code
    users: Any
    sessions: sessionmaker[Session]

    def figures(self, who: str = "admin", scope: Scope | None = None, period: Period = NOVEMBER) -> FigureSet:
        with self.sessions() as session:
            return compute_figures(
                session, actor=self.users.actors[who], period=period, scope=scope or Scope.city(), now=NOW
            )

    def drill(
        self, figure: str, key: str | None = None, who: str = "admin", scope: Scope | None = None
    ) -> list[str]:
        with self.sessions() as session:
            rows = drilldown(
                session,
                actor=self.users.actors[who],
                period=NOVEMBER,
                scope=scope or Scope.city(),
                figure=figure,
                key=key,
                now=NOW,
            )
        names = {code: name for name, code in self.codes.items()}
        return sorted(names[row.tracking_code] for row in rows)


def _emergency_rules(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    directory = Path(shutil.copytree(DEFAULT_RULES_DIR, tmp_path / "rules"))
    text = (directory / "deadlines.yaml").read_text(encoding="utf-8")
    (directory / "deadlines.yaml").write_text(
        text.replace("campaigns: []", "campaigns: [epidemic-2026]"), "utf-8"
    )
    monkeypatch.setattr(deadlines, "_holder", RulesHolder(directory))


def _pause(sessions: sessionmaker[Session], users: Any, suggestion_id: int, at: datetime) -> None:
    with sessions() as session:
        step = session.scalar(
            select(Step).where(
                Step.suggestion_id == suggestion_id,
                Step.kind == StepKind.opinion,
                Step.state == StepState.open,
            )
        )
        assert step is not None
        clocks.pause(session, actor=users.actors["transport"], step_id=step.id, reason="等待补充材料", now=at)
        session.commit()


@pytest.fixture
def history(
    sessions: sessionmaker[Session], users: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> History:
    _emergency_rules(tmp_path, monkeypatch)
    clock = Clock(sessions, users)
    K = StepKind
    ids = {name: clock.submit(MONDAY, who="office") for name in "ABCDEFGH"}
    ids["I"] = clock.submit(MONDAY, who="huangpu", data={**SUGGESTION, "region": "huangpu-waitan"})
    ids["J"] = clock.submit(
        MONDAY, who="office", data={**SUGGESTION, "channel": "campaign", "campaign": "epidemic-2026"}
    )
    ids["K"] = clock.submit(MONDAY, who="office")
    ids["K2"] = clock.submit(MONDAY, who="office")
    done = clock.complete
    for name in ("A", "C", "D", "F", "G", "H", "J"):
        done(ids[name], K.triage, "office", triage(), d(0))
    done(ids["B"], K.triage, "office", triage(), d(2))
    done(ids["E"], K.triage, "office", triage(lead="city-edu"), d(0))
    done(ids["I"], K.triage, "huangpu", triage(), d(0))
    for name in ("K", "K2"):
        done(ids[name], K.triage, "office", triage(level="important"), d(0))
        done(ids[name], K.pre_report_communication, "office", PRE_REPORT, d(1))
    done(
        ids["K"],
        K.leader_instruction,
        "office",
        {"has_instruction": True, "leader": "市领导", "instructed_on": "2026-11-04", "text": "请研究"},
        d(2),
    )
    done(ids["K2"], K.leader_instruction, "office", {"has_instruction": False}, d(2))
    done(ids["K"], K.proposer_hearing, "transport", MEETING, d(4))
    done(ids["K"], K.opinion, "transport", ADOPT, d(5))
    done(ids["K2"], K.opinion, "transport", NOT_ADOPT, d(5))
    # A: fast, closed
    done(ids["A"], K.opinion, "transport", NOT_ADOPT, d(1))
    done(ids["A"], K.review, "office", {"action": "accept"}, d(1))
    done(ids["A"], K.reply, "office", REPLY, d(2))
    done(ids["A"], K.rating, "proposer", {"rating": "satisfied"}, d(3))
    # B: opinion late
    done(ids["B"], K.opinion, "transport", NOT_ADOPT, d(25))
    # C, D: paused after and before the deadline
    with pytest.raises(Conflict):  # a late step can no longer pause: it stays late
        _pause(sessions, users, ids["C"], d(22))
    _pause(sessions, users, ids["D"], d(3))
    # E: objection, re-routed
    done(
        ids["E"], K.objection, "edu", {"reasons": "属交通管理职责", "suggested_unit": "city-transport"}, d(1)
    )
    done(ids["E"], K.reroute, "office", {"accept_objection": True, "lead_unit": "city-transport"}, d(1))
    done(ids["E"], K.opinion, "transport", KEEP, d(3))
    done(ids["E"], K.review, "office", {"action": "accept"}, d(3))
    done(ids["E"], K.reply, "office", REPLY, d(4))
    # F: an extension
    done(ids["F"], K.extension_request, "transport", {"working_days": 5, "reasons": "需开展客流调查"}, d(3))
    done(ids["F"], K.extension_decision, "office", {"approved": True}, d(3))
    done(ids["F"], K.opinion, "transport", ADOPT, d(25))
    # G: re-handled after "not satisfied", then implementation
    done(ids["G"], K.opinion, "transport", ADOPT, d(1))
    done(ids["G"], K.review, "office", {"action": "accept"}, d(1))
    done(ids["G"], K.reply, "office", REPLY, d(2))
    done(ids["G"], K.rating, "proposer", {"rating": "not_satisfied"}, d(3))
    done(ids["G"], K.dissatisfaction_review, "office", {"action": "rehandle", "reasons": "请加快"}, d(3))
    done(ids["G"], K.opinion, "transport", ADOPT, d(4))
    done(ids["G"], K.review, "office", {"action": "accept"}, d(4))
    done(ids["G"], K.reply, "office", REPLY, d(7))
    done(ids["G"], K.rating, "proposer", {"rating": "satisfied"}, d(8))
    done(ids["G"], K.progress, "transport", PROGRESS_HALF, d(9))
    # H: returned for rework
    done(ids["H"], K.opinion, "transport", NOT_ADOPT, d(1))
    done(ids["H"], K.review, "office", {"action": "return", "reasons": "理由不充分"}, d(2))
    done(ids["H"], K.opinion, "transport", KEEP, d(3))
    # J: the emergency campaign
    done(ids["J"], K.opinion, "transport", NOT_ADOPT, d(2))
    done(ids["J"], K.review, "office", {"action": "accept"}, d(2))
    done(ids["J"], K.reply, "office", REPLY, d(3))
    # The rules' sweeps: I's supervision order (answered), then its escalation and bulletin mark.
    clock.sweep(S1)
    done(
        ids["I"], K.supervision_order, "transport", {"response": "正在调研", "measures": "本周内答复"}, d(25)
    )
    clock.sweep(S2)
    with sessions() as session:
        codes = dict(session.execute(select(Suggestion.id, Suggestion.tracking_code)).all())
    return History(ids, {name: codes[i] for name, i in ids.items()}, users, sessions)


def _rate(figures: FigureSet, name: str) -> tuple[int, int]:
    rate = figures.rate(name)
    return rate.numerator, rate.denominator


def _rows(figures: FigureSet, table: str) -> dict[str, int]:
    return {row.key: row.count for row in figures.table(table).rows if row.count}


def test_the_rates(history: History) -> None:
    figures = history.figures()
    assert figures.as_of == NOVEMBER.end
    # Referral: 12 triages (B's a day late) and E's re-routing.
    assert _rate(figures, "referral_on_time") == (12, 13)
    # Handling: B answered late, C paused after its deadline, I never answered; D (paused in time)
    # and E's first lead (withdrawn) are not counted; F is on time thanks to its extension.
    assert _rate(figures, "handling_on_time") == (10, 13)
    assert history.drill("handling_on_time", "late") == ["B", "C", "I"]
    assert history.drill("handling_on_time", "on_time") == ["A", "E", "F", "G", "G", "H", "H", "J", "K", "K2"]
    assert len(history.drill("handling_on_time")) == 13
    assert _rate(figures, "reply_on_time") == (5, 5)
    assert _rate(figures, "important_adoption") == (1, 2)
    assert history.drill("important_adoption", "adopted") == ["K"]
    # Solved: replied within 3 WD of the first referral (A, G, J), within 7 also E; 12 referred.
    assert _rate(figures, "solved_within_3") == (3, 12)
    assert _rate(figures, "solved_within_7") == (4, 12)
    assert history.drill("solved_within_3", "solved") == ["A", "G", "J"]
    assert history.drill("solved_within_7", "solved") == ["A", "E", "G", "J"]
    assert len(history.drill("solved_within_7", "not_solved")) == 8
    assert figures.rate("handling_on_time").value == pytest.approx(10 / 13)


def test_late_stays_late_and_paused_after_the_deadline_is_late(history: History) -> None:
    with history.sessions() as session:
        rows = drilldown(
            session,
            actor=history.users.actors["admin"],
            period=NOVEMBER,
            scope=Scope.city(),
            figure="handling_on_time",
            key="late",
            now=NOW,
        )
    by_code = {row.tracking_code: row for row in rows}
    late_b, paused_c = by_code[history.codes["B"]], by_code[history.codes["C"]]
    assert late_b.done is not None and late_b.working_days_late == 2  # due 25 Nov, answered 27 Nov
    assert paused_c.due == datetime(2026, 11, 23, 15, 59, 59, 999999, tzinfo=UTC)  # the missed deadline
    assert paused_c.done is None and paused_c.working_days_late == 5  # due 23 Nov, still late on 30 Nov
    # December: nothing answered; C (paused late) and I are still late; D still paused in time.
    december = history.figures(period=Period.parse("2026-12"))
    assert _rate(december, "handling_on_time") == (0, 2)
    # Before the deadlines passed (as of 20 November) nobody was late yet.
    with history.sessions() as session:
        early = compute_figures(
            session,
            actor=history.users.actors["admin"],
            period=NOVEMBER,
            scope=Scope.city(),
            now=datetime(2026, 11, 20, 2, 0, tzinfo=UTC),
        )
    assert _rate(early, "handling_on_time") == (9, 9)


def test_the_count_tables(history: History) -> None:
    figures = history.figures()
    assert _rows(figures, "by_channel") == {"mailbox": 11, "campaign": 1}
    assert _rows(figures, "by_campaign") == {"": 11, "epidemic-2026": 1}
    assert _rows(figures, "by_district") == {"city-office": 11, "huangpu-office": 1}
    assert _rows(figures, "by_region") == {"": 11, "huangpu-waitan": 1}
    assert _rows(figures, "by_category") == {"交通出行": 12}
    assert _rows(figures, "by_outcome") == {"open": 11, "not_adopted": 1}  # E, J: lapsed, not yet applied
    assert sum(_rows(figures, "by_stage").values()) == 12
    assert _rows(figures, "by_unit") == {"city-transport": 12, "city-edu": 1}
    assert _rows(figures, "supervision_orders") == {"issued": 2, "answered": 1}  # I, and C (late, unpaused)
    assert _rows(figures, "objections") == {"objections": 1, "rerouted": 1}
    assert _rows(figures, "extensions") == {"requested": 1, "approved": 1}
    assert _rows(figures, "reviews") == {"accept": 5, "return": 1}
    # E's and J's ratings lapsed (no answer in 10 WD): no rating.
    assert _rows(figures, "ratings") == {"satisfied": 2, "not_satisfied": 1, "none": 2}
    assert _rows(figures, "dissatisfaction") == {"rehandle": 1}
    assert _rows(figures, "leader_instructions") == {"instructed": 1, "no_instruction": 1}
    assert _rows(figures, "implementation") == {"in_progress": 1}
    assert _rows(figures, "implementation_forms") == {"work_improvement": 1}
    assert figures.table("by_channel").rows[0].label == "人民建议征集信箱"
    # Every number drills down to as many items.
    for table in figures.tables:
        for row in table.rows:
            if row.count:
                assert len(history.drill(table.name, row.key)) == row.count, (table.name, row.key)
    assert history.drill("objections", "rerouted") == ["E"]
    assert history.drill("reviews", "return") == ["H"]
    assert history.drill("by_district", "huangpu-office") == ["I"]
    with history.sessions() as session:
        [progress] = drilldown(
            session,
            actor=history.users.actors["admin"],
            period=NOVEMBER,
            scope=Scope.city(),
            figure="implementation",
            key="in_progress",
            now=NOW,
        )
    assert (progress.percent, progress.form) == (50, "work_improvement")


def test_the_units_table_and_the_bulletin(history: History) -> None:
    figures = history.figures()
    transport = figures.unit("city-transport")
    assert transport is not None
    assert (transport.referred, transport.on_time, transport.late) == (12, 10, 3)
    assert (transport.open_overdue, transport.max_working_days_overdue) == (2, 5)  # C and I, due 23 Nov
    assert (
        transport.escalated,
        transport.orders_issued,
        transport.orders_answered,
        transport.orders_late,
    ) == (
        1,
        2,  # I's, and C's (late, and no longer able to pause)
        1,
        0,
    )
    office = figures.unit("city-office")
    assert office is not None and (office.open_overdue, office.escalated) == (3, 0)  # H, K, K2 reviews
    assert office.max_working_days_overdue == 14  # H's review, due 10 Nov
    edu = figures.unit("city-edu")
    assert edu is not None and (edu.referred, edu.on_time, edu.late) == (1, 0, 0)
    assert history.drill("unit_open_overdue", "city-transport") == ["C", "I"]
    assert history.drill("unit_escalated", "city-transport") == ["I"]
    assert history.drill("unit_late", "city-transport") == ["B", "C", "I"]
    # City items escalated by the office ladder have no office above: not escalated, but marked.
    bulletin = {item.tracking_code: item for item in figures.bulletin}
    assert sorted(bulletin) == sorted(history.codes[n] for n in ("C", "H", "I", "K", "K2"))
    assert bulletin[history.codes["I"]].months == ["2026-11"]
    assert bulletin[history.codes["I"]].units == ["city-transport"]
    assert history.drill("bulletin", "2026-11") == ["C", "H", "I", "K", "K2"]


def test_who_sees_what(history: History) -> None:
    own = Scope.parse("unit:city-transport")
    department = history.figures("transport", own)
    assert [u.unit for u in department.units] == ["city-transport"]
    assert _rate(department, "handling_on_time") == (10, 13)
    assert history.drill("handling_on_time", "late", who="transport", scope=own) == ["B", "C", "I"]
    district = history.figures("huangpu", Scope.parse("office:huangpu-office"))
    assert _rate(district, "handling_on_time") == (0, 1)
    assert _rows(history.figures("huangpu"), "by_district") == {"huangpu-office": 1}  # city: its own
    region = history.figures(scope=Scope.parse("region:huangpu-office"))
    assert _rows(region, "by_region") == {"huangpu-waitan": 1}
    campaign = history.figures(scope=Scope.parse("campaign:epidemic-2026"))
    assert _rate(campaign, "solved_within_3") == (1, 1)
    with pytest.raises(Forbidden):
        history.figures("transport")  # the city
    with pytest.raises(Forbidden):
        history.figures("transport", Scope.parse("unit:city-edu"))
    with pytest.raises(Forbidden):
        history.figures("huangpu", Scope.parse("office:city-office"))
    with pytest.raises(Forbidden):
        history.figures("proposer")
    with pytest.raises(InvalidInput):
        history.drill("no_such_figure")


def test_the_trend_counts_are_the_figures_totals(history: History) -> None:
    """A report's trend (three statements a period) counts what the whole figure set counts."""
    for scope in (Scope.city(), Scope.parse("office:huangpu-office"), Scope.parse("unit:city-transport")):
        for period in (NOVEMBER, Period.parse("2026-W46"), Period.parse("2026-Q4")):
            figures = history.figures(scope=scope, period=period)
            with history.sessions() as session:
                found = trend_counts(
                    session, actor=history.users.actors["admin"], period=period, scope=scope, now=NOW
                )
            assert found == {
                "received": figures.table("by_stage").total,
                "referred": figures.table("by_unit").total,
                "late": sum(unit.late for unit in figures.units),
            }, (scope, period)
    # The November totals are not zero: the comparison above compares something.
    november = history.figures()
    assert november.table("by_stage").total and november.table("by_unit").total
    assert sum(unit.late for unit in november.units)


def test_periods_and_scopes() -> None:
    week = Period.parse("2026-W49")
    assert (week.kind, week.label) == ("week", "2026年第49周")
    assert week.start == datetime(2026, 11, 29, 16, 0, tzinfo=UTC)  # Monday 30 Nov, 00:00 Shanghai
    assert week.end - week.start == timedelta(days=7)
    assert Period.parse("2026-12").label == "2026年12月"
    assert Period.parse("2026-12").end == datetime(2026, 12, 31, 16, 0, tzinfo=UTC)
    assert Period.parse("2026-Q4").previous() == Period.parse("2026-Q3")
    assert Period.parse("2026-H2").label == "2026年下半年"
    assert Period.parse("2026").previous().code == "2025"
    assert Period.parse("2026-01").previous().code == "2025-12"
    assert Period.parse("2026-W01").previous() == Period.parse("2025-W52")
    assert Scope.parse("unit:city-transport").value == "city-transport"
    assert Scope.parse(None) == Scope.city()
    for bad in ("2026-13", "2026-W54", "26-12", "2026-Q5"):
        with pytest.raises(InvalidInput):
            Period.parse(bad)
    with pytest.raises(InvalidInput):
        Scope.parse("planet:mars")


def test_the_cli(history: History, cli_on: None) -> None:
    import json

    from typer.testing import CliRunner

    from jianyi.cli.main import app

    env = {"JIANYI_TOKEN": history.users.tokens["transport"]}
    shown = CliRunner().invoke(app, ["figures", "show", "--period", "2026-11", "--json"], env=env)
    assert shown.exit_code == 0, shown.output
    assert json.loads(shown.stdout)["scope"] == {"kind": "unit", "value": "city-transport"}
    refused = CliRunner().invoke(app, ["figures", "show", "--period", "2026-11", "--scope", "city"], env=env)
    assert refused.exit_code == 4  # 403
    admin = {"JIANYI_TOKEN": history.users.tokens["admin"]}
    both = CliRunner().invoke(
        app,
        [
            "figures",
            "show",
            "--period",
            "2026-11",
            "--json",
            "--scope",
            "office:city-office",
            "--scope",
            "channel:letter",
        ],
        env=admin,
    )
    assert both.exit_code == 0, both.output
    assert json.loads(both.stdout)["scope"]["also"] == [{"kind": "channel", "value": "letter"}]
