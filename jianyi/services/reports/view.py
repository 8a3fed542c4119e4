"""A report's frozen figures (a FigureSet as JSON, with its weekly trend) as the sections the
template lays out: each a title, charts (SVG data URIs) and a table. The rates, trend, units,
bulletin and count tables have sections of their own; any other list the figures service adds later
shows up as a generic table, without a change here."""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from typing import Any

from jianyi.services.reports import charts

# Chinese headers of the columns of a list the figures service may add (laid out generically); an
# unknown column keeps its name.
HEADERS = {
    "unit": "单位",
    "unit_code": "单位代码",
    "unit_name": "单位",
    "name": "名称",
    "label": "名称",
    "code": "代码",
    "kind": "类型",
    "open": "在办",
    "received": "收到",
    "assigned": "承办",
    "answered": "已答复",
    "closed": "办结",
    "late": "超期",
    "overdue": "超期",
    "on_time": "按期",
    "on_time_rate": "按期率",
    "escalated": "提级督办",
    "bulletin": "通报",
    "marked": "列入通报",
    "supervision_orders": "督办单",
    "count": "件数",
    "items": "事项",
    "tracking_code": "编号",
    "title": "标题",
    "period": "期间",
    "due_at": "期限",
    "days_late": "超期天数",
    "step": "环节",
    "rank": "名次",
    "rate": "比率",
    "value": "值",
}
# The count tables drawn as charts (the others are tables only): categories, districts, channels, outcomes.
CHARTED = frozenset({"by_category", "by_district", "by_channel", "by_outcome", "by_unit"})
# Columns whose count above zero marks a row (the late, the escalated) in red.
FLAGS = ("late", "open_overdue", "escalated", "orders_late")


@dataclass(frozen=True)
class Cell:
    text: str
    number: bool = False


@dataclass(frozen=True)
class Row:
    cells: list[Cell]
    flag: bool = False


@dataclass
class Section:
    title: str
    headers: list[str] = field(default_factory=list)
    rows: list[Row] = field(default_factory=list)
    charts: list[str] = field(default_factory=list)
    text: str | None = None
    empty: str | None = None


def data_uri(svg: str) -> str:
    """An SVG as an <img> source: the chart never enters the page's markup (autoescape stays whole)."""
    return "data:image/svg+xml;base64," + base64.b64encode(svg.encode("utf-8")).decode("ascii")


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _text(value: Any) -> Cell:
    if isinstance(value, float):
        return Cell(f"{value:.1%}" if 0 <= value <= 1 else f"{value:g}", number=True)
    if _number(value):
        return Cell(str(value), number=True)
    if value is None:
        return Cell("—")
    if isinstance(value, list):
        return Cell("、".join(str(v) for v in value))
    return Cell(str(value))


def is_rate(item: Any) -> bool:
    return isinstance(item, dict) and {"label_zh", "value", "numerator", "denominator"} <= item.keys()


def is_count_table(item: Any) -> bool:
    return isinstance(item, dict) and "rows" in item and "label_zh" in item


def rates_section(rates: list[dict[str, Any]]) -> Section:
    section = Section("主要指标", headers=["指标", "分子", "分母", "比率"])
    for rate in rates:
        value = rate["value"]
        section.rows.append(
            Row(
                [
                    Cell(rate["label_zh"]),
                    _text(rate["numerator"]),
                    _text(rate["denominator"]),
                    Cell("—" if value is None else f"{value:.1%}", number=True),
                ]
            )
        )
    shown = [r for r in rates if r["value"] is not None]
    if shown:
        section.charts.append(
            data_uri(
                charts.bars(
                    "比率", [r["label_zh"] for r in shown], [float(r["value"]) for r in shown], percent=True
                )
            )
        )
    return section


def count_section(table: dict[str, Any], *, chart: bool = True) -> Section:
    """A count table's rows with a count, the most first; a bar chart when there are two or more."""
    section = Section(table["label_zh"], headers=["项目", "件数"], empty="本期无数据。")
    rows = sorted((r for r in table["rows"] if r.get("count")), key=lambda r: -r["count"])
    section.rows = [Row([Cell(str(r.get("label") or r.get("key"))), _text(r["count"])]) for r in rows]
    if chart and len(rows) > 1:
        labels = [str(r.get("label") or r.get("key")) for r in rows]
        section.charts.append(data_uri(charts.bars("件数", labels, [float(r["count"]) for r in rows])))
    return section


def generic_section(title: str, rows: list[dict[str, Any]], *, empty: str) -> Section:
    """A list of flat records (units, bulletin items): one column per scalar field."""
    section = Section(title, empty=empty)
    if not rows:
        return section
    columns = [
        k for k, v in rows[0].items() if not isinstance(v, dict) and not k.endswith("_id") and k != "id"
    ]
    section.headers = [HEADERS.get(c, c) for c in columns]
    for row in rows:
        flag = any(_number(row.get(name)) and row[name] > 0 for name in FLAGS)
        section.rows.append(Row([_text(row.get(c)) for c in columns], flag=flag))
    return section


def units_sections(units: list[dict[str, Any]]) -> list[Section]:
    """The units ranked by on-time handling, and the late and escalated units named."""
    ranked = Section("各单位按期办理率排名", empty="本期无转办单位。")
    measured = [u for u in units if u["on_time"] + u["late"]]
    if measured:
        ranked.charts.append(
            data_uri(
                charts.bars(
                    "按期办理率（红色：有超期或提级督办）",
                    [u["name"] for u in measured],
                    [u["on_time"] / (u["on_time"] + u["late"]) for u in measured],
                    percent=True,
                    limit=15,
                    highlight=[bool(u["late"] or u["escalated"]) for u in measured],
                )
            )
        )
    ranked.headers = [
        "单位",
        "转办",
        "按期",
        "超期",
        "在办超期",
        "最长超期(工作日)",
        "提级督办",
        "督办单",
        "督办单超期",
    ]
    order = sorted(units, key=lambda u: (-(u["late"] + u["open_overdue"] + u["escalated"]), -u["referred"]))
    for u in order:
        if not (u["referred"] or u["late"] or u["open_overdue"] or u["orders_issued"]):
            continue
        ranked.rows.append(
            Row(
                [Cell(u["name"])]
                + [
                    _text(u[c])
                    for c in (
                        "referred",
                        "on_time",
                        "late",
                        "open_overdue",
                        "max_working_days_overdue",
                        "escalated",
                        "orders_issued",
                        "orders_late",
                    )
                ],
                flag=bool(u["late"] or u["open_overdue"] or u["escalated"]),
            )
        )
    late = Section(
        "超期与提级督办单位",
        headers=["单位", "超期", "在办超期", "提级督办", "督办单超期"],
        empty="本期无超期或提级督办的单位。",
    )
    for u in order:
        if u["late"] or u["open_overdue"] or u["escalated"] or u["orders_late"]:
            late.rows.append(
                Row(
                    [
                        Cell(u["name"]),
                        _text(u["late"]),
                        _text(u["open_overdue"]),
                        _text(u["escalated"]),
                        _text(u["orders_late"]),
                    ],
                    flag=True,
                )
            )
    return [late, ranked]


def bulletin_section(
    items: list[dict[str, Any]],
    names: dict[str, str],
    *,
    title: str = "列入月通报事项",
    empty: str = "本期无列入通报的事项。",
) -> Section:
    """What the supervision ladder's bulletin rung marked, item by item: all of them in a weekly or
    monthly report, those named in several months in a longer one (``bulletin_summary``)."""
    section = Section(title, headers=["编号", "标题", "办理机构", "超期单位", "通报月份"], empty=empty)
    for item in items:
        section.rows.append(
            Row(
                [
                    Cell(item["tracking_code"]),
                    Cell(item["title"]),
                    Cell(names.get(item["office"], item["office"])),
                    Cell("、".join(names.get(code, code) for code in item["units"])),
                    Cell("、".join(item["months"])),
                ],
                flag=True,
            )
        )
    return section


REPEATS_LISTED = 50  # a longer period's summary lists at most this many items named in several months


def bulletin_summary(items: list[dict[str, Any]], names: dict[str, str]) -> list[Section]:
    """A quarter's, half-year's or year's bulletin: how many items each unit had named, and the items
    named in more than one month (most months first). Each item is named in its month's bulletin."""
    units: dict[str, list[int]] = {}
    for item in items:
        for code in item["units"] or [item["office"]]:
            counts = units.setdefault(code, [0, 0])
            counts[0] += 1
            counts[1] += len(item["months"]) > 1
    by_unit = Section(
        "列入月通报事项（按单位）",
        headers=["单位", "列入通报事项", "其中多次列入"],
        empty="本期无列入通报的事项。",
    )
    for code, (named, repeated) in sorted(units.items(), key=lambda kv: (-kv[1][0], kv[0])):
        by_unit.rows.append(Row([Cell(names.get(code, code)), _text(named), _text(repeated)], flag=True))
    repeats = sorted(
        (item for item in items if len(item["months"]) > 1),
        key=lambda item: (-len(item["months"]), item["tracking_code"]),
    )
    if items:
        by_unit.text = (
            f"本期共 {len(items)} 件事项列入月通报，涉及 {len(units)} 个单位，"
            f"其中 {len(repeats)} 件在两个以上月份列入；逐项名单见各月《月通报》。"
        )
    listed = bulletin_section(
        repeats[:REPEATS_LISTED], names, title="多次列入月通报的事项", empty="本期无多次列入通报的事项。"
    )
    if len(repeats) > REPEATS_LISTED:
        listed.text = f"列出通报月份最多的 {REPEATS_LISTED} 件，另有 {len(repeats) - REPEATS_LISTED} 件。"
    return [by_unit, listed]


def trend_section(trend: dict[str, Any]) -> Section:
    """The series frozen with the report: {"by": "week" | "month", "periods": [...], "series":
    {name: [...]}} (versions frozen before months were kept {"weeks": [...], "series": ...})."""
    by_month = trend.get("by") == "month"
    section = Section("按月趋势" if by_month else "按周趋势", empty="无。")
    periods, series = trend.get("periods") or trend.get("weeks") or [], trend.get("series") or {}
    if periods and series:
        section.charts.append(data_uri(charts.trend("件数", periods, series)))
        totals = "；".join(f"{name}合计 {sum(values)}" for name, values in series.items())
        section.text = f"{periods[0]} 至 {periods[-1]}：{totals}。"
    return section


def sections(figures: dict[str, Any], *, itemize_bulletin: bool = True) -> list[Section]:
    """Rates first, then the trend, the late units, the bulletin (item by item in a weekly or monthly
    report, summed up in a longer one), the count tables (categories, districts …), the units
    ranked; then any list the figures service adds, generically."""
    out: list[Section] = []
    if figures.get("rates"):
        out.append(rates_section(figures["rates"]))
    if figures.get("trend"):
        out.append(trend_section(figures["trend"]))
    units = figures.get("units") or []
    names = {u["unit"]: u["name"] for u in units}
    unit_sections = units_sections(units)
    out.append(unit_sections[0])
    bulletin = figures.get("bulletin") or []
    if itemize_bulletin:
        out.append(bulletin_section(bulletin, names))
    else:
        out.extend(bulletin_summary(bulletin, names))
    tables = [t for t in figures.get("tables") or [] if any(row.get("count") for row in t["rows"])]
    out.extend(count_section(t, chart=t["name"] in CHARTED) for t in tables)
    if len(tables) < len(figures.get("tables") or []):
        empty = [t["label_zh"] for t in figures.get("tables") or [] if t not in tables]
        out.append(Section("本期无数据的统计表", text="、".join(empty)))
    out.append(unit_sections[1])
    known = {"rates", "trend", "units", "bulletin", "tables"}
    for name, value in figures.items():
        if (
            name not in known
            and isinstance(value, list)
            and value
            and all(isinstance(v, dict) for v in value)
        ):
            out.append(generic_section(HEADERS.get(name, name), value, empty="无。"))
    return out
