"""A frozen report as HTML (Jinja2, autoescaped) and PDF (WeasyPrint), written under the data directory.

Rendering reads only the report's frozen figures, so it needs no transaction: the flow's task reads
the row, renders outside any transaction (a PDF takes a second or two, too long to hold SQLite's
write lock), then records the paths. The same version renders to the same files, which a re-run keeps.
Chinese is set in Noto Sans/Serif CJK SC (Debian's fonts-noto-cjk), which WeasyPrint finds through
fontconfig.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from jianyi.services.reports.kinds import SHANGHAI, kind_of
from jianyi.services.reports.view import sections
from jianyi.settings import get_settings

OFFICE = "人民建议征集办公室"


@dataclass(frozen=True)
class Frozen:
    """What rendering needs of a report row: plain values, no ORM object across threads."""

    id: int
    kind: str
    period: str
    period_label: str
    version: int
    note: str | None
    figures: dict[str, Any]
    created_at: datetime


@dataclass(frozen=True)
class Files:
    html: Path
    pdf: Path


@lru_cache(maxsize=1)
def environment() -> Environment:
    return Environment(
        loader=FileSystemLoader(Path(__file__).resolve().parents[2] / "templates" / "reports"),
        autoescape=select_autoescape(default=True, default_for_string=True),
        undefined=StrictUndefined,
    )


def title_of(report: Frozen) -> str:
    return f"{kind_of(report.kind).title}（{report.period_label}）"


def files_of(report: Frozen, home: Path | None = None) -> Files:
    """Where a version's files live: one name per kind, period and version, never overwritten by another."""
    base = (home or get_settings().home).resolve() / "reports" / report.kind
    stem = f"{report.period}-v{report.version}"
    return Files(html=base / f"{stem}.html", pdf=base / f"{stem}.pdf")


def html(report: Frozen) -> str:
    return (
        environment()
        .get_template("report.html.j2")
        .render(
            office=OFFICE,
            title=title_of(report),
            kind_title=kind_of(report.kind).title,
            period_label=report.period_label,
            period=report.period,
            version=report.version,
            note=report.note,
            created=report.created_at.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M"),
            sections=sections(
                report.figures, itemize_bulletin=kind_of(report.kind).period_kind in ("week", "month")
            ),
        )
    )


def _write(path: Path, data: bytes) -> None:
    """Write then rename: a reader (the API, the mail's dispatcher) never sees half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    temporary.write_bytes(data)
    temporary.replace(path)


def write_files(files: Files, page: Callable[[], str]) -> Files:
    """A document's HTML and its PDF, each written whole; kept if both exist already (a re-run).
    The page is made only when they are missing (the reports and the leaders' digest share this)."""
    if files.html.exists() and files.pdf.exists():
        return files
    from weasyprint import HTML  # imported here: it loads Pango, which only rendering needs

    text = page()
    pdf = HTML(string=text, base_url=str(files.html.parent)).write_pdf()
    assert pdf is not None
    _write(files.html, text.encode("utf-8"))
    _write(files.pdf, pdf)
    return files


def render(report: Frozen, home: Path | None = None) -> Files:
    """The version's HTML and PDF files; kept if both exist already (a re-run of the period)."""
    return write_files(files_of(report, home), lambda: html(report))
