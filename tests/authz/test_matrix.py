"""The authorization matrix (issue 18): who may do what, on every API operation and every page.

One row per route the app answers, one column per actor: ``public`` (no credentials), ``admin``,
``office`` (the city office, which handles the seeded case), ``district`` (huangpu's office: another
office), ``supervisor`` (the city office's), ``leader``, ``own`` (city-transport, the unit the case is
referred to, lead) and ``other`` (city-housing: another unit). Each cell is the status the app must
answer; ``*`` after it: the answer may carry the proposer's personal data (name, phone, e-mail,
address) — everywhere else it must not. Path ids are the seeded case's; a mutation the table allows
runs on a fresh record of its own, so cells do not disturb each other. A route with no row fails.

Statuses: 303 a page sends a stranger to the login form; 401 the API wants a token; 403 refused;
404 no such record (a digest's or a report's PDF and HTML: compiled here, not rendered — rendering is
WeasyPrint's, tested with the reports and digests); 409 allowed but not now (the case's state, e.g.
erasure before the case closes, a feedback or a panel not yet due); 204 nothing left to compile.
A digest's rows ask of its own important case, a report's of this month's city report. The
commendation's approval is the head of the city office's alone, and none of these officials is head:
403 for all. The rating is the proposer's, proven by the check code whoever else
asks (its wrong-code refusals: tests/api/test_tracking_secrets.py). A campaign's public form answers
the seeded campaign, whose window has ended: 422 (what was typed kept in the home page's form). A manual
nomination to the commendation names the seeded case, not adopted: 422. None of these officials
is a commendation reviewer: a reviewer's own pages and scores are 403 for all (their positive path:
tests/cycles/test_commendation_manual.py)."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from authz_harness import ACTORS, PROPOSER, SECRET, World, clients, csrf, route_keys, sign_in
from databases import BACKENDS, create_officials, fresh_database
from engine import EngineDriver
from sqlalchemy import select
from sqlalchemy.orm import sessionmaker
from support import ADOPT, SUGGESTION

from jianyi.api.app import create_app
from jianyi.db import forget_engines, make_engine
from jianyi.models import PlannedCommunication
from jianyi.models.base import utcnow
from jianyi.models.enums import Role
from jianyi.services import auth
from jianyi.services.cycles import commendation
from jianyi.services.reports.freeze import freeze
from jianyi.settings import get_settings

MATRIX = """
# route                                                              public admin office distr. super leader  own  other
GET   /                                                                200   200   200   200   200   200   200   200
GET   /admin                                                           303   200   403   403   403   403   403   403
GET   /admin/rules                                                     303   200   403   403   403   403   403   403
GET   /admin/sinks                                                     303   200   403   403   403   403   403   403
GET   /admin/tokens                                                    303   200   403   403   403   403   403   403
GET   /admin/users                                                     303   200   403   403   403   403   403   403
GET   /admin/users/{user_id}/password                                  303   200   403   403   403   403   403   403
GET   /api/board/late-units                                            401   200   200   200   200   403   403   403
GET   /api/board/overdue                                               401   200   200   200   200   403   403   403
GET   /api/board/stages                                                401   200   200   200   200   403   403   403
GET   /api/board/suggestions/{suggestion_id}                           401   200   200   403   200   403   403   403
GET   /api/campaigns                                                   401   200   200   200   200   200   200   200
GET   /api/campaigns/{campaign_id}                                     401   200   200   200   200   200   200   200
GET   /api/commendations/{year}                                        401   200   200   403   200   403   403   403
GET   /api/communications                                              401   200   200   200   200   200   200   200
GET   /api/communications/failed                                       401   200   200   200   200   200   200   200
GET   /api/communications/{planned_id}                                 401   200   200   403   200   403   403   403
GET   /api/digests                                                     401   200   200   403   200   200   403   403
GET   /api/digests/{digest_id}                                         401   200   200   403   200   200   403   403
GET   /api/digests/{digest_id}.html                                    401   404   404   403   404   404   403   403
GET   /api/digests/{digest_id}.pdf                                     401   404   404   403   404   404   403   403
GET   /api/digests/{digest_id}/items/{suggestion_id}                   401   200   200   403   200   200   403   403
GET   /api/figures                                                     401   200   200   200   200   403   200   200
GET   /api/figures.{fmt}                                               401   200   200   200   200   403   200   200
GET   /api/figures/{name}/suggestions                                  401   200   200   200   200   403   200   200
GET   /api/figures/{name}/suggestions.{fmt}                            401   200   200   200   200   403   200   200
GET   /api/health                                                      200   200   200   200   200   200   200   200
GET   /api/public/campaigns/{campaign_id}                              200   200   200   200   200   200   200   200
GET   /api/public/commendations/{year}                                 200   200   200   200   200   200   200   200
GET   /api/reports                                                     401   200   200   200   200   200   200   200
GET   /api/reports/{report_id}                                         401   200   200   403   200   200   403   403
GET   /api/reports/{report_id}.html                                    401   404   404   403   404   404   403   403
GET   /api/reports/{report_id}.pdf                                     401   404   404   403   404   404   403   403
GET   /api/steps                                                       401   200   200   200   200   200   200   200
GET   /api/steps/{step_id}                                             401   200   200   403   200   403   200   403
GET   /api/suggestions/{suggestion_id}                                 401  200*  200*   403  200*   403  200*   403
GET   /api/suggestions/{suggestion_id}/personal-data-views             401   200   200   403   200   403   403   403
GET   /api/track/{tracking_code}                                       200   200   200   200   200   200   200   200
GET   /api/units                                                       401   200   200   200   200   200   200   200
GET   /board                                                           303   200   200   200   200   403   403   403
GET   /board/drill                                                     303   200   200   200   200   403   403   403
GET   /board/drill.{fmt}                                               303   200   200   200   200   403   403   403
GET   /board/export.{fmt}                                              303   200   200   200   200   403   403   403
GET   /board/overdue                                                   303   200   200   200   200   403   403   403
GET   /campaigns                                                       200   200   200   200   200   200   200   200
GET   /campaigns/manage                                                303   200   200   403   200   403   403   403
GET   /campaigns/manage/new                                            303   200   200   403   200   403   403   403
GET   /campaigns/manage/{campaign_id}                                  303   200   200   403   200   403   403   403
GET   /campaigns/{campaign_id}                                         200   200   200   200   200   200   200   200
GET   /commendations/manage                                            303   200   200   403   200   403   403   403
GET   /commendations/review                                            303   403   403   403   403   403   403   403
GET   /digests                                                         303   200   200   403   200   200   403   403
GET   /digests/{digest_id}                                             303   200   200   403   200   200   403   403
GET   /digests/{digest_id}.pdf                                         303   404   404   403   404   404   403   403
GET   /docs                                                            200   200   200   200   200   200   200   200
GET   /leader                                                          303   200   200   200   200   200   403   403
GET   /login                                                           200   200   200   200   200   200   200   200
GET   /office/communications                                           303   200   200   200   200   403   403   403
GET   /office/communications/{planned_id}                              303  200*  200*   403  200*   403   403   403
GET   /office/communications/{planned_id}/letter                       303  200*  200*   403  200*   403   403   403
GET   /office/communications/{planned_id}/letter.pdf                   303  200*  200*   403  200*   403   403   403
GET   /office/intake                                                   303   403   200   200   200   403   403   403
GET   /office/originals                                                303   200   200   200   200   403   403   403
GET   /openapi.json                                                    200   200   200   200   200   200   200   200
GET   /redoc                                                           200   200   200   200   200   200   200   200
GET   /static/vendor/{name}                                            200   200   200   200   200   200   200   200
GET   /steps/{step_id}                                                 303  200*  200*   403  200*   403  200*   403
GET   /suggestions/{suggestion_id}                                     303  200*  200*   403  200*   403  200*   403
GET   /track                                                           200   200   200   200   200   200   200   200
GET   /track/{tracking_code}                                           200   200   200   200   200   200   200   200
GET   /workbench                                                       303   200   200   200   200   200   200   200
GET   /workbench/done                                                  303   200   200   200   200   200   200   200
MOUNT /static/web                                                      200   200   200   200   200   200   200   200
POST  /admin/users                                                     401   200   403   403   403   403   403   403
POST  /admin/users/{user_id}/deactivate                                401   303   403   403   403   403   403   403
POST  /admin/users/{user_id}/password                                  401   303   403   403   403   403   403   403
POST  /admin/users/{user_id}/rotate                                    401   200   403   403   403   403   403   403
POST  /api/campaigns                                                   401   201   201   403   201   403   403   403
POST  /api/campaigns/{campaign_id}/feedback                            401   409   409   403   409   403   403   403
POST  /api/commendations/experts                                       401   201   201   403   201   403   403   403
POST  /api/commendations/{year}                                        401   201   201   403   201   403   403   403
POST  /api/commendations/{year}/approve                                401   403   403   403   403   403   403   403
POST  /api/commendations/{year}/nominations                            401   422   422   403   422   403   403   403
POST  /api/commendations/{year}/my-scores                              401   403   403   403   403   403   403   403
POST  /api/commendations/{year}/panel                                  401   422   422   403   422   403   403   403
POST  /api/commendations/{year}/publish                                401   409   409   403   409   403   403   403
POST  /api/commendations/{year}/scores                                 401   409   409   403   409   403   403   403
POST  /api/digests                                                     401   204   204   403   204   403   403   403
POST  /api/digests/{digest_id}/items/{suggestion_id}/instruction       401   403   200   403   200   200   403   403
POST  /api/steps/{step_id}/complete                                    401   403   403   403   403   403   200   403
POST  /api/steps/{step_id}/lapse                                       401   403   200   403   200   403   403   403
POST  /api/steps/{step_id}/pause                                       401   403   403   403   403   403   200   403
POST  /api/steps/{step_id}/resume                                      401   403   403   403   403   403   200   403
POST  /api/suggestions                                                 401   403   201   201   201   403   403   403
POST  /api/suggestions/{suggestion_id}/communications                  401   200   200   403   200   403   403   403
POST  /api/suggestions/{suggestion_id}/erasure                         401   409   409   403   409   403   403   403
POST  /api/track/{tracking_code}/rating                                200   200   200   200   200   200   200   200
POST  /campaigns/manage                                                401   303   303   403   303   403   403   403
POST  /campaigns/manage/{campaign_id}/feedback                         401   303   303   403   303   403   403   403
POST  /campaigns/suggest                                               422   422   422   422   422   422   422   422
POST  /commendations/manage/{year}/nominations                         401   422   422   403   422   403   403   403
POST  /commendations/review/{year}/{suggestion_id}                     401   403   403   403   403   403   403   403
POST  /digests                                                         401   303   303   403   303   403   403   403
POST  /digests/{digest_id}/items/{suggestion_id}/instruction           401   403   303   403   303   303   403   403
POST  /login                                                           401   401   401   401   401   401   401   401
POST  /office/communications/{planned_id}                              401   303   303   403   303   403   403   403
POST  /office/intake                                                   401   403   200   200   200   403   403   403
POST  /steps/{step_id}                                                 401   403   403   403   403   403   303   403
POST  /steps/{step_id}/clock                                           401   403   403   403   403   403   303   403
POST  /suggest                                                         200   200   200   200   200   200   200   200
POST  /track/{tracking_code}/rating                                    303   303   303   303   303   303   303   303
POST  /logout                                                          303   303   303   303   303   303   303   303
"""


# The same reads of huangpu's own case (taken in and still in triage there): the city office
# oversees it without the proposer's data; the district office handles it, with them.
DISTRICT_MATRIX = """
# route                                                              public admin office distr. super leader  own  other
GET   /api/board/suggestions/{suggestion_id}                           401   200   200   200   200   403   403   403
GET   /api/steps/{step_id}                                             401   200   200   200   200   403   403   403
GET   /api/suggestions/{suggestion_id}                                 401  200*   200  200*   200   403   403   403
GET   /api/suggestions/{suggestion_id}/personal-data-views             401   200   403   200   403   403   403   403
GET   /steps/{step_id}                                                 303  200*   200  200*   200   403   403   403
GET   /suggestions/{suggestion_id}                                     303  200*   200  200*   200   403   403   403
"""


def _rows(text: str) -> dict[str, tuple[str, ...]]:
    rows = {}
    for line in text.strip().splitlines():
        if line.startswith("#"):
            continue
        method, path, *cells = line.split()
        assert len(cells) == len(ACTORS), line
        rows[f"{method} {path}"] = tuple(cells)
    return rows


TABLE = _rows(MATRIX)
DISTRICT_TABLE = _rows(DISTRICT_MATRIX)

FORM = {
    "title": "关于增加社区食堂的建议",
    "problem": "老年人用餐不便，周边缺少价格合适的食堂。",
    "grounds": "",
    "proposal": "在街道设立社区长者食堂。",
    "name": "李四",
    "email": "lisi@example.com",
}
CAMPAIGN = {
    "code": "matrix-{n}",
    "topic": "公交线路优化",
    "explanation": "征集意见",
    "host_units": ["city-transport"],
    "channels": ["web"],
    "opens_at": "{opens}",
    "closes_at": "{closes}",
}
LOG = {"kind": "in_progress", "method": "phone", "summary": "电话告知办理进展"}
INTAKE = {
    "title": "关于矩阵受理登记的建议",
    "channel": "letter",
    "problem": "来信反映小区门口缺少人行横道，过街不便。",
    "proposer.name": "赵六",
    "proposer.address": "徐汇区漕溪路1号",
}


@dataclass(frozen=True)
class Cell:
    """How to ask one row: what its path ids name, its body, and whether it is a page form."""

    target: str = "case"  # which seeded record; a mutation the table allows gets a fresh one
    body: Any = None  # a dict (JSON, or form fields for a page), or None
    form: bool = False
    query: str = ""
    ids: tuple[tuple[str, Any], ...] = ()  # path ids of this row's own
    path: str = ""  # the path asked, when the row's ids are not the usual ones (e.g. another step)


FIGURES = "?period={year_now}"  # the seeded cases are this year's
ASK: dict[str, Cell] = {
    "GET /api/figures": Cell(query=FIGURES),
    "GET /api/figures.{fmt}": Cell(query=FIGURES),
    "GET /api/figures/{name}/suggestions": Cell(query=FIGURES),
    "GET /api/figures/{name}/suggestions.{fmt}": Cell(query=FIGURES),
    "GET /static/vendor/{name}": Cell(ids=(("name", "htmx.min.js"),)),
    "GET /board": Cell(query=FIGURES),
    "GET /board/export.{fmt}": Cell(query=FIGURES),
    "GET /board/drill": Cell(query=FIGURES + "&figure=by_stage"),
    "GET /board/drill.{fmt}": Cell(query=FIGURES + "&figure=by_stage"),
    "POST /suggest": Cell("none", FORM, form=True),
    "GET /track/{tracking_code}": Cell(query="?check={check}"),
    "POST /track/{tracking_code}/rating": Cell(
        "rating", {"check": "{check}", "rating": "satisfied"}, form=True
    ),
    "POST /login": Cell("none", {"login": "nobody", "password": "wrong password"}, form=True),
    "POST /logout": Cell("none", {}, form=True),
    "POST /steps/{step_id}": Cell("fresh_case", ADOPT, form=True),
    "POST /steps/{step_id}/clock": Cell(
        "fresh_case", {"action": "pause", "text": "等建议人补充材料"}, form=True
    ),
    "POST /api/suggestions": Cell("none", SUGGESTION),
    "POST /office/intake": Cell("none", INTAKE, form=True),
    "GET /office/originals": Cell(query="?q={tracking_code}"),
    "GET /office/communications/{planned_id}": Cell("letter"),
    "GET /office/communications/{planned_id}/letter": Cell("letter"),
    "GET /office/communications/{planned_id}/letter.pdf": Cell("letter"),
    "POST /office/communications/{planned_id}": Cell(
        "letter", {"kind": "acknowledgement", "method": "letter", "summary": "受理告知书已寄出"}, form=True
    ),
    "POST /admin/users": Cell(
        "none", {"name": "矩阵用户{n}", "role": "department", "unit": "city-edu"}, form=True
    ),
    "POST /admin/users/{user_id}/deactivate": Cell("fresh_user", {}, form=True),
    "POST /admin/users/{user_id}/rotate": Cell("fresh_user", {}, form=True),
    "POST /admin/users/{user_id}/password": Cell(
        "fresh_user", {"login": "matrix-{n}", "password": "correct horse battery"}, form=True
    ),
    "POST /api/steps/{step_id}/complete": Cell("fresh_case", ADOPT),
    "POST /api/steps/{step_id}/pause": Cell("fresh_case", {"reason": "等建议人补充材料"}),
    "POST /api/steps/{step_id}/resume": Cell("paused", {"note": "材料已补充"}),
    "POST /api/steps/{step_id}/lapse": Cell("fresh_case", path="/api/steps/{objection_id}/lapse"),
    "POST /api/suggestions/{suggestion_id}/communications": Cell("fresh_case", LOG),
    "GET /api/track/{tracking_code}": Cell(query="?check={check}"),
    "POST /api/track/{tracking_code}/rating": Cell("rating", {"rating": "satisfied"}, query="?check={check}"),
    "POST /api/digests": Cell("none"),
    "GET /api/digests/{digest_id}": Cell("digest"),
    "GET /api/digests/{digest_id}.html": Cell("digest"),
    "GET /api/digests/{digest_id}.pdf": Cell("digest"),
    "GET /api/digests/{digest_id}/items/{suggestion_id}": Cell("digest"),
    "POST /api/digests/{digest_id}/items/{suggestion_id}/instruction": Cell(
        "digest",
        {"has_instruction": True, "text": "请研究落实", "leader": "市领导", "instructed_on": "2026-11-21"},
    ),
    "POST /api/campaigns": Cell("fresh_code", CAMPAIGN),
    "POST /campaigns/suggest": Cell("none", {**FORM, "campaign": "{campaign_id}"}, form=True),
    "POST /campaigns/manage": Cell(
        "fresh_code", {**CAMPAIGN, "code": "page-{n}", "host_units": "city-transport"}, form=True
    ),
    "POST /campaigns/manage/{campaign_id}/feedback": Cell(
        "fresh_campaign", {"summary": "共收到建议十条", "next_steps": "纳入明年规划"}, form=True
    ),
    "GET /digests/{digest_id}": Cell("digest"),
    "GET /digests/{digest_id}.pdf": Cell("digest"),
    "POST /digests": Cell("none", {}, form=True),
    "POST /digests/{digest_id}/items/{suggestion_id}/instruction": Cell(
        "digest",
        {"answer": "instruct", "text": "请研究落实", "leader": "市领导", "instructed_on": "2026-11-21"},
        form=True,
    ),
    "POST /api/campaigns/{campaign_id}/feedback": Cell(
        "fresh_campaign", {"summary": "共收到建议十条", "next_steps": "纳入明年规划"}
    ),
    "POST /api/commendations/experts": Cell("none", {"name": "专家甲", "unit": "city-edu"}),
    "POST /api/commendations/{year}": Cell("fresh_year"),
    "POST /api/commendations/{year}/panel": Cell("case", {"seed": "matrix"}),
    "POST /api/commendations/{year}/nominations": Cell("case", {"suggestion_id": "{suggestion_id}"}),
    "POST /api/commendations/{year}/my-scores": Cell(
        "case", {"suggestion_id": "{suggestion_id}", "score": 80}
    ),
    "POST /commendations/review/{year}/{suggestion_id}": Cell("case", {"score": "80"}, form=True),
    "POST /commendations/manage/{year}/nominations": Cell(
        "case", {"tracking_code": "{tracking_code}"}, form=True
    ),
    "POST /api/commendations/{year}/scores": Cell("case", {"expert_id": 1, "suggestion_id": 1, "score": 80}),
    "POST /api/suggestions/{suggestion_id}/erasure": Cell("case", {"basis": "建议人依法申请删除"}),
}


def _fill(path: str, ids: dict[str, Any]) -> str:
    for key, value in ids.items():
        path = path.replace("{" + key + "}", str(value))
    return path


def _ids(world: World, target: str, ok: bool) -> dict[str, Any]:
    """The path ids for a cell: the fixed ones, or (a mutation the table allows) a fresh record's."""
    ids = dict(world.ids["fixed"])
    if target == "paused":
        ids.update(world.paused_case() if ok else world.ids["paused"])
    if target == "digest":
        ids.update(world.digest() if ok else world.ids["digest"])
    if ok and target == "rating":
        ids.update(world.rating_case())
    if ok and target == "fresh_case":
        ids.update(world.case(PROPOSER))
    if ok and target == "fresh_campaign":
        ids["campaign_id"] = world.campaign()
    if ok and target == "fresh_year":
        ids["year"] = next(world.years)
    if target == "letter":  # the acknowledgement letter the office owes (a proposer with an address only)
        ids["planned_id"] = world.ids["letter"]["planned_id"]
    if ok and target == "fresh_user":
        with world.sessions() as session:
            user, _token = auth.create_user(
                session, name="矩阵用户", role=Role.department, unit_code="city-edu"
            )
            session.commit()
            ids["user_id"] = user.id
    ids["n"] = next(world.numbers)
    now = utcnow()
    ids.update(year_now=now.year, opens=now.isoformat(), closes=(now + timedelta(days=30)).isoformat())
    return ids


OFFICE_SIDE = ("admin", "office", "supervisor")  # who may see a confidential proposer (cells marked *)
STRANGERS = ("district", "other")  # who must see nothing of the case at all


def ask(world: World, who: str, key: str, ok: bool, case: str = "case") -> Any:
    client, headers = world.clients[who]
    method, path = key.split(" ", 1)
    cell = ASK.get(key, Cell())
    ids = {**world.ids[case], **_ids(world, cell.target, ok), **dict(cell.ids)}
    url = _fill(cell.path or path, ids) + _fill(cell.query, ids)
    if key.startswith("MOUNT"):
        return client.get(url + "/site.css")
    body = (
        json.loads(_fill(json.dumps(cell.body, ensure_ascii=False), ids)) if cell.body is not None else None
    )
    if cell.form:
        response = client.request(method, url, data={**(body or {}), "csrftoken": csrf(client)})
        if key == "POST /logout" and who != "public":
            sign_in(client, world.sessions, world.users, who)  # signed out: sign in again for later tests
        return response
    return client.request(method, url, json=body, headers=headers)


@pytest.fixture(scope="module", params=BACKENDS)
def world(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    """Seeded once per backend: a case the city office referred to city-transport (lead, its opinion
    step open), one with a confidential proposer referred likewise, one of huangpu's office, a paused
    step; the app in-process on that database."""
    url = fresh_database(request, request.param, tmp_path_factory.mktemp("authz"))
    with pytest.MonkeyPatch.context() as env:
        env.setenv("JIANYI_DATABASE_URL", url)
        env.setenv("JIANYI_HOME", str(tmp_path_factory.mktemp("authz-home")))
        get_settings.cache_clear()
        forget_engines()
        engine = make_engine(url)
        sessions = sessionmaker(bind=engine, expire_on_commit=False)
        users = create_officials(sessions)
        world = World(EngineDriver(sessions, users), sessions, users)
        world.ids["case"] = world.case(PROPOSER)
        world.ids["secret"] = world.case({**SECRET, "confidential": True})  # type: ignore[dict-item]
        world.ids["district"] = world.case(PROPOSER, who="huangpu", refer=False)
        world.ids["paused"] = world.paused_case()
        world.ids["digest"] = world.digest()
        world.ids["letter"] = world.case(
            {"name": PROPOSER["name"], "address": PROPOSER["address"]}, refer=False
        )
        with sessions() as session:
            commendation.open_cycle(session, actor=users.actors["office"], year=2029, now=utcnow())
            session.commit()
            report = freeze(session, kind="monthly", period=utcnow().strftime("%Y-%m"), now=utcnow())
            session.commit()
            planned = session.scalar(select(PlannedCommunication.id).order_by(PlannedCommunication.id))
            world.ids["letter"]["planned_id"] = session.scalar(
                select(PlannedCommunication.id).where(
                    PlannedCommunication.suggestion_id == world.ids["letter"]["suggestion_id"],
                    PlannedCommunication.channel == "letter",
                )
            )
        world.ids["fixed"] = {
            "planned_id": planned or 1,
            "report_id": report.id,
            "year": 2029,
            "name": "referral_on_time",
            "fmt": "csv",
            "campaign_id": world.campaign(),
            "user_id": users.actors["edu"].user_id,  # refused alike whoever it is (a change: fresh_user)
        }
        app = create_app()
        world.clients = clients(app, sessions, users)
        yield world
        for client, _headers in world.clients.values():
            client.__exit__(None, None, None)
        engine.dispose()
        get_settings.cache_clear()
        forget_engines()


def test_every_route_has_a_row() -> None:
    routes = set(route_keys(create_app().routes))
    assert sorted(routes - TABLE.keys()) == [], "routes with no row in MATRIX: add one"
    assert sorted(TABLE.keys() - routes) == [], "rows for routes the app no longer has"


def _personal(text: str, proposer: dict[str, str]) -> list[str]:
    return [value for value in proposer.values() if value in text]


def test_the_matrix(world: World) -> None:
    """Every cell answers its status, and personal data appears only in the cells marked ``*``."""
    wrong, lines = [], []
    keys = sorted(set(route_keys(create_app().routes)))
    for key in keys:
        row = TABLE.get(key, ("?",) * len(ACTORS))
        got = []
        for expected, who in zip(row, ACTORS, strict=True):
            status, may_show = expected.rstrip("*"), expected.endswith("*")
            response = ask(world, who, key, status.isdigit() and int(status) < 400)
            shown = _personal(response.text, PROPOSER)
            secret = _personal(response.text, SECRET)  # the confidential case's: in lists, if anywhere
            got.append(f"{response.status_code}{'*' if shown else ''}")
            if str(response.status_code) != status:
                wrong.append(f"{key} as {who}: {response.status_code}, not {status}: {response.text[:300]}")
            elif shown and not may_show:
                wrong.append(f"{key} as {who}: shows the proposer's {shown}")
            if secret and not (may_show and who in OFFICE_SIDE):
                wrong.append(f"{key} as {who}: shows the confidential proposer's {secret}")
            theirs = [world.ids[c]["tracking_code"] for c in ("case", "secret", "paused", "digest")]
            seen = [code for code in theirs if code in response.text]
            if who in STRANGERS and seen and "{tracking_code}" not in key:
                wrong.append(f"{key} as {who}: shows the city office's cases {seen}")
        lines.append(f"{key:<56}" + "".join(f"{g:>6}" for g in got))
    if os.environ.get("MATRIX_DUMP"):
        print("\n".join(lines))
    assert wrong == [], "\n".join(wrong)


def test_a_confidential_proposer_is_hidden_from_the_units(world: World) -> None:
    """Every page and API view of the confidential case: the unit it is referred to answers as the
    table says for an ordinary case, without the proposer's data; the office still sees it."""
    wrong = []
    for key, row in TABLE.items():
        if not key.startswith("GET") or not any(f"{{{p}}}" in key for p in ("suggestion_id", "step_id")):
            continue
        for who in ("own", "other", "district", "leader"):
            status = row[ACTORS.index(who)].rstrip("*")
            response = ask(world, who, key, False, case="secret")
            if str(response.status_code) != status:
                wrong.append(f"{key} as {who}: {response.status_code}, not {status}")
            if _personal(response.text, SECRET):
                wrong.append(
                    f"{key} as {who}: shows the confidential proposer's {_personal(response.text, SECRET)}"
                )
    assert wrong == [], "\n".join(wrong)
    office = ask(world, "office", "GET /api/suggestions/{suggestion_id}", False, case="secret")
    assert office.status_code == 200 and SECRET["phone"] in office.text  # the check above can fail


def test_the_reads_of_a_district_office_case(world: World) -> None:
    wrong = []
    for key, row in DISTRICT_TABLE.items():
        for expected, who in zip(row, ACTORS, strict=True):
            status, may_show = expected.rstrip("*"), expected.endswith("*")
            response = ask(world, who, key, False, case="district")
            if str(response.status_code) != status:
                wrong.append(f"{key} as {who}: {response.status_code}, not {status}")
            elif _personal(response.text, PROPOSER) and not may_show:
                wrong.append(f"{key} as {who}: shows the proposer's {_personal(response.text, PROPOSER)}")
    assert wrong == [], "\n".join(wrong)
