"""A report's markdown summary for the Prefect artifact: its key figures and where to download it."""

from __future__ import annotations

from typing import Any

from jianyi.models import Report
from jianyi.services.reports.kinds import kind_of
from jianyi.services.reports.view import is_rate


def _cell(value: Any) -> str:
    return str(value).replace("|", "\\|").replace("\n", " ")


def markdown(report: Report, *, pdf_url: str, html_url: str) -> str:
    title = kind_of(report.kind).title
    lines = [
        f"# {title}（{report.period_label}）第{report.version}版",
        "",
        f"[PDF]({pdf_url}) · [HTML]({html_url}) · 报告编号 {report.id}",
        "",
    ]
    if report.note:
        lines += [f"更正说明：{_cell(report.note)}", ""]
    rates = next(
        (v for v in report.figures.values() if isinstance(v, list) and v and all(is_rate(x) for x in v)), []
    )
    if rates:
        lines += ["| 指标 | 比率 | 分子/分母 |", "|---|---:|---:|"]
        for rate in rates:
            value = "—" if rate["value"] is None else f"{rate['value']:.1%}"
            lines.append(
                f"| {_cell(rate['label_zh'])} | {value} | {rate['numerator']}/{rate['denominator']} |"
            )
    return "\n".join(lines) + "\n"
