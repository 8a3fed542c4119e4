"""The figures and a drill-down as files: CSV (UTF-8 with a BOM, so that Excel reads the Chinese)
and XLSX (xlsxwriter). Every text cell that a spreadsheet would read as a formula (=, +, -, @, and
tab or carriage return before them) is escaped with a leading apostrophe (CSV injection)."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

import xlsxwriter

from jianyi.rules.calendar import SHANGHAI
from jianyi.services.figures.schemas import FigureSet, SuggestionRow

BOM = "\ufeff"
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")

Sheet = tuple[str, list[str], list[list[Any]]]  # name, header, rows


def escape(value: Any) -> Any:
    """A cell as written: text that would start a formula gets a leading apostrophe; local times."""
    if isinstance(value, datetime):
        return value.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M")
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def figure_sheets(figures: FigureSet) -> list[Sheet]:
    """The figure set as tables: rates, every count table, the units table, the bulletin."""
    rates = [
        [r.name, r.label_zh, r.numerator, r.denominator, None if r.value is None else round(r.value * 100, 1)]
        for r in figures.rates
    ]
    counts = [[t.name, t.label_zh, row.key, row.label, row.count] for t in figures.tables for row in t.rows]
    units = [
        [
            u.unit,
            u.name,
            u.referred,
            u.on_time,
            u.late,
            u.open_overdue,
            u.max_working_days_overdue,
            u.escalated,
            u.orders_issued,
            u.orders_answered,
            u.orders_late,
        ]
        for u in figures.units
    ]
    bulletin = [
        [b.tracking_code, b.title, b.office, " ".join(b.units), " ".join(b.months), b.last_marked_at]
        for b in figures.bulletin
    ]
    return [
        ("rates 比率", ["figure", "指标", "分子", "分母", "%"], rates),
        ("counts 统计", ["figure", "表", "key", "项目", "件数"], counts),
        (
            "units 单位",
            [
                "unit",
                "单位",
                "转办",
                "按期",
                "逾期",
                "超期未办",
                "最长超期工作日",
                "提级督办",
                "督办单",
                "督办单已答复",
                "督办单逾期答复",
            ],
            units,
        ),
        ("bulletin 通报", ["查询码", "标题", "办理机构", "单位", "通报月份", "最近列入"], bulletin),
    ]


def suggestion_sheet(rows: Sequence[SuggestionRow], name: str = "suggestions 建议") -> Sheet:
    header = [
        "查询码",
        "标题",
        "单位代码",
        "单位",
        "阶段",
        "结果",
        "期限",
        "办理时间",
        "超期工作日",
        "落实进度%",
        "落实形式",
    ]
    body = [
        [
            r.tracking_code,
            r.title,
            r.unit,
            r.unit_name,
            r.stage,
            r.outcome,
            r.due,
            r.done,
            r.working_days_late,
            r.percent,
            r.form,
        ]
        for r in rows
    ]
    return (name, header, body)


def to_csv(sheets: Iterable[Sheet], *, title: str | None = None) -> bytes:
    """One CSV: each table under its name, a blank line between tables; UTF-8 with a BOM."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    if title is not None:
        writer.writerow([escape(title)])
    for number, (name, header, rows) in enumerate(sheets):
        if number or title is not None:
            writer.writerow([])
        writer.writerow([escape(name)])
        writer.writerow([escape(h) for h in header])
        writer.writerows([escape(cell) for cell in row] for row in rows)
    return (BOM + out.getvalue()).encode("utf-8")


def to_xlsx(sheets: Iterable[Sheet], *, title: str | None = None) -> bytes:
    """One workbook, a worksheet per table, the first row of each its header."""
    out = io.BytesIO()
    # strings_to_formulas off: no cell is ever written as a formula, whatever its text.
    book = xlsxwriter.Workbook(
        out, {"in_memory": True, "strings_to_formulas": False, "strings_to_urls": False}
    )
    bold = book.add_format({"bold": True})
    if title is not None:
        book.set_properties({"title": title})
    for name, header, rows in sheets:
        sheet = book.add_worksheet(name[:31])
        sheet.write_row(0, 0, [escape(h) for h in header], bold)
        for number, row in enumerate(rows, start=1):
            sheet.write_row(number, 0, ["" if cell is None else escape(cell) for cell in row])
        sheet.freeze_panes(1, 0)
    book.close()
    return out.getvalue()


def figures_file(figures: FigureSet, fmt: str) -> bytes:
    title = f"人民建议征集统计 {figures.period.label} {figures.scope}"
    sheets = figure_sheets(figures)
    return to_csv(sheets, title=title) if fmt == "csv" else to_xlsx(sheets, title=title)


def suggestions_file(rows: Sequence[SuggestionRow], fmt: str, *, title: str) -> bytes:
    sheets = [suggestion_sheet(rows)]
    return to_csv(sheets, title=title) if fmt == "csv" else to_xlsx(sheets, title=title)


MEDIA_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
