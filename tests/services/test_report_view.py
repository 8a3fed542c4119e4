"""A report's bulletin section: item by item in a week's or month's report, summed up in a longer one."""

from __future__ import annotations

from typing import Any

from jianyi.services.reports import view


def _item(code: str, units: list[str], months: list[str]) -> dict[str, Any]:
    return {"tracking_code": code, "title": f"事项{code}", "office": "city", "units": units, "months": months}


COLUMNS = ("referred", "on_time", "late", "open_overdue", "max_working_days_overdue", "escalated")
COLUMNS += ("orders_issued", "orders_answered", "orders_late")


def _unit(code: str, name: str) -> dict[str, Any]:
    return {"unit": code, "name": name} | dict.fromkeys(COLUMNS, 1)


FIGURES: dict[str, Any] = {
    "units": [_unit("jt", "市交通委"), _unit("zj", "市住建委")],
    "bulletin": [
        _item("A1", ["jt"], ["2025-01", "2025-02", "2025-03"]),
        _item("A2", ["jt"], ["2025-02"]),
        _item("A3", ["zj"], ["2025-04", "2025-06"]),
        _item("A4", ["jt", "zj"], ["2025-05"]),
    ],
}


def _titled(sections: list[view.Section]) -> dict[str, view.Section]:
    return {s.title: s for s in sections}


def _cells(section: view.Section) -> list[list[str]]:
    return [[c.text for c in row.cells] for row in section.rows]


def test_a_monthly_report_names_every_item() -> None:
    section = _titled(view.sections(FIGURES, itemize_bulletin=True))["列入月通报事项"]
    assert [cells[0] for cells in _cells(section)] == ["A1", "A2", "A3", "A4"]


def test_a_longer_report_counts_items_by_unit_and_lists_the_repeated() -> None:
    titled = _titled(view.sections(FIGURES, itemize_bulletin=False))
    assert "列入月通报事项" not in titled
    by_unit = titled["列入月通报事项（按单位）"]
    assert _cells(by_unit) == [["市交通委", "3", "1"], ["市住建委", "2", "1"]]
    assert by_unit.text is not None and "共 4 件" in by_unit.text and "2 个单位" in by_unit.text
    repeated = titled["多次列入月通报的事项"]
    assert [cells[0] for cells in _cells(repeated)] == ["A1", "A3"]  # most months first


def test_a_longer_report_lists_at_most_so_many_repeated_items() -> None:
    many = [_item(f"B{i:03d}", ["jt"], ["2025-01", "2025-02"]) for i in range(view.REPEATS_LISTED + 7)]
    titled = _titled(view.sections({"units": FIGURES["units"], "bulletin": many}, itemize_bulletin=False))
    repeated = titled["多次列入月通报的事项"]
    assert len(repeated.rows) == view.REPEATS_LISTED
    assert repeated.text is not None and "另有 7 件" in repeated.text


def test_no_bulletin_items_says_so() -> None:
    titled = _titled(view.sections({"units": [], "bulletin": []}, itemize_bulletin=False))
    assert titled["列入月通报事项（按单位）"].rows == []
    assert titled["列入月通报事项（按单位）"].empty == "本期无列入通报的事项。"
