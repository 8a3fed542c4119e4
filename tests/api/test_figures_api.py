"""The figures over HTTP: JSON, drill-down, CSV (BOM, formulas escaped) and XLSX, and who sees what
(SQLite and PostgreSQL)."""

from __future__ import annotations

import csv
import io
import re
import zipfile
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from clock import Clock
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker
from support import NOT_ADOPT, SUGGESTION, triage

from jianyi.models.enums import StepKind

MONDAY = datetime(2026, 11, 2, 2, 0, tzinfo=UTC)
FORMULA = '=HYPERLINK("http://evil.example","点我")'


@pytest.fixture
def history(sessions: sessionmaker[Session], users: Any) -> dict[str, int]:
    """Three November suggestions: one answered on time, one answered late (its title a formula),
    one of Huangpu never answered."""
    clock = Clock(sessions, users)
    on_time = clock.submit(MONDAY, who="office")
    late = clock.submit(MONDAY, who="office", data={**SUGGESTION, "title": FORMULA})
    district = clock.submit(MONDAY, who="huangpu")
    for suggestion_id, who in ((on_time, "office"), (late, "office"), (district, "huangpu")):
        clock.complete(suggestion_id, StepKind.triage, who, triage(), MONDAY)
    clock.complete(on_time, StepKind.opinion, "transport", NOT_ADOPT, MONDAY + timedelta(days=3))
    clock.complete(late, StepKind.opinion, "transport", NOT_ADOPT, MONDAY + timedelta(days=25))
    return {"on_time": on_time, "late": late, "district": district}


def _get(http: TestClient, users: Any, who: str, path: str) -> Any:
    return http.get(path, headers={"Authorization": f"Bearer {users.tokens[who]}"})


def test_figures_and_drill_down(http: TestClient, users: Any, history: dict[str, int]) -> None:
    answer = _get(http, users, "admin", "/api/figures?period=2026-11")
    assert answer.status_code == 200
    rates = {rate["name"]: rate for rate in answer.json()["rates"]}
    assert (rates["handling_on_time"]["numerator"], rates["handling_on_time"]["denominator"]) == (1, 3)
    late = _get(
        http, users, "admin", "/api/figures/handling_on_time/suggestions?period=2026-11&key=late"
    ).json()
    assert len(late) == 2 and {row["unit"] for row in late} == {"city-transport"}
    assert all(row["working_days_late"] >= 1 for row in late)
    assert "proposer" not in late[0] and "13800000000" not in str(late)  # no personal data
    assert _get(http, users, "admin", "/api/figures/no_such/suggestions?period=2026-11").status_code == 422
    assert _get(http, users, "admin", "/api/figures?period=2026-13").status_code == 422
    assert _get(http, users, "admin", "/api/figures?period=2026-11&scope=planet:mars").status_code == 422


def received(figures: Any) -> int:
    by_stage = next(t for t in figures["tables"] if t["name"] == "by_stage")
    return sum(row["count"] for row in by_stage["rows"])


def test_scopes_given_together_narrow_at_once(http: TestClient, users: Any, history: dict[str, int]) -> None:
    def stages(query: str) -> Any:
        answer = _get(http, users, "admin", f"/api/figures?period=2026-11&{query}")
        assert answer.status_code == 200, answer.text
        return answer.json()

    both = stages("scope=office:city-office&scope=channel:mailbox")
    assert both["scope"] == {
        "kind": "office",
        "value": "city-office",
        "also": [{"kind": "channel", "value": "mailbox"}],
    }
    assert received(both) == 2  # the office's two, both by mailbox
    assert received(stages("scope=office:city-office&scope=channel:letter")) == 0
    assert received(stages("scope=city&scope=office:huangpu-office")) == 1  # "city" adds nothing
    rows = _get(
        http,
        users,
        "admin",
        "/api/figures/by_stage/suggestions?period=2026-11&scope=office:huangpu-office&scope=channel:mailbox",
    ).json()
    assert len(rows) == 1  # Huangpu's one suggestion
    too_many = "&".join(["scope=channel:mailbox"] * 8)
    assert _get(http, users, "admin", f"/api/figures?period=2026-11&{too_many}").status_code == 422


def test_who_sees_what(http: TestClient, users: Any, history: dict[str, int]) -> None:
    own = _get(http, users, "transport", "/api/figures?period=2026-11")  # default: its own unit
    assert own.status_code == 200 and own.json()["scope"] == {"kind": "unit", "value": "city-transport"}
    assert [u["unit"] for u in own.json()["units"]] == ["city-transport"]
    for path in (
        "/api/figures?period=2026-11&scope=city",
        "/api/figures?period=2026-11&scope=unit:city-edu",
        "/api/figures.csv?period=2026-11&scope=city",
        "/api/figures/handling_on_time/suggestions?period=2026-11&scope=office:city-office",
    ):
        assert _get(http, users, "transport", path).status_code == 403, path
    district = _get(http, users, "huangpu", "/api/figures?period=2026-11").json()
    assert district["scope"] == {"kind": "office", "value": "huangpu-office"}
    assert (
        _get(http, users, "huangpu", "/api/figures?period=2026-11&scope=office:city-office").status_code
        == 403
    )
    assert _get(http, users, "edu", "/api/figures?period=2026-11&scope=city").status_code == 403
    assert http.get("/api/figures?period=2026-11").status_code == 401  # no token


def test_csv_has_a_bom_and_escaped_formulas(http: TestClient, users: Any, history: dict[str, int]) -> None:
    answer = _get(
        http, users, "admin", "/api/figures/handling_on_time/suggestions.csv?period=2026-11&key=late"
    )
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/csv")
    assert answer.content.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(answer.content.decode("utf-8-sig"))))
    titles = [row[1] for row in rows if len(row) > 1]
    assert "'" + FORMULA in titles and FORMULA not in titles
    figures = _get(http, users, "admin", "/api/figures.csv?period=2026-11")
    assert figures.content.startswith(b"\xef\xbb\xbf") and "按期办理率" in figures.content.decode("utf-8-sig")


def _xlsx_strings(content: bytes) -> list[str]:
    with zipfile.ZipFile(io.BytesIO(content)) as book:
        names = book.namelist()
        assert "xl/workbook.xml" in names
        shared = book.read("xl/sharedStrings.xml").decode("utf-8") if "xl/sharedStrings.xml" in names else ""
        sheets = [book.read(n).decode("utf-8") for n in names if n.startswith("xl/worksheets/sheet")]
    assert not any("<f>" in sheet for sheet in sheets)  # no formula anywhere
    return [re.sub(r"&quot;", '"', s) for s in re.findall(r"<t[^>]*>([^<]*)</t>", shared)]


def test_xlsx_is_readable_and_writes_no_formula(
    http: TestClient, users: Any, history: dict[str, int]
) -> None:
    answer = _get(http, users, "admin", "/api/figures/handling_on_time/suggestions.xlsx?period=2026-11")
    assert answer.status_code == 200 and answer.headers["content-type"].endswith("spreadsheetml.sheet")
    strings = _xlsx_strings(answer.content)
    assert "'" + FORMULA in strings and "查询码" in strings
    figures = _xlsx_strings(_get(http, users, "admin", "/api/figures.xlsx?period=2026-11").content)
    assert "按期办理率" in figures and "city-transport" in figures


def test_the_snapshot_says_when_and_is_served_only_to_those_who_may_see_it(
    http: TestClient, users: Any, history: dict[str, int]
) -> None:
    before = datetime.now(UTC)
    city = _get(http, users, "admin", "/api/figures?period=2026-11&scope=city")
    assert city.status_code == 200 and before <= datetime.fromisoformat(city.json()["computed_at"])
    # The administrator's snapshot of the city is cached now: still refused to a unit and a district.
    assert _get(http, users, "transport", "/api/figures?period=2026-11&scope=city").status_code == 403
    assert _get(http, users, "transport", "/api/figures.csv?period=2026-11&scope=city").status_code == 403
    district = _get(http, users, "huangpu", "/api/figures?period=2026-11&scope=city").json()
    assert _received(district) == 1 and _received(city.json()) == 3  # a district: its own suggestion only


def _received(figures: dict[str, Any]) -> int:
    stages = next(table for table in figures["tables"] if table["name"] == "by_stage")
    return sum(row["count"] for row in stages["rows"])
