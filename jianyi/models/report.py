from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from jianyi.models.base import Base, utcnow


class Report(Base):
    """One version of a periodic report (周汇总, 月通报, 季督查, 半年报告, 年度总结): its figures frozen
    when it was made, so re-running the period gives it back unchanged; a correction is a new version
    and the old one is kept."""

    __tablename__ = "reports"
    __table_args__ = (UniqueConstraint("kind", "period", "scope_key", "version", name="uq_reports_version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))  # weekly, monthly, quarterly, half_year, annual
    period: Mapped[str] = mapped_column(String(16), index=True)  # e.g. 2026-W49, 2026-12, 2026-Q4
    period_label: Mapped[str] = mapped_column(String(64))  # e.g. 2026年第49周
    # "city" for the office's reports; "unit:<id>" for a report about one unit (departments see those).
    scope_key: Mapped[str] = mapped_column(String(32), default="city")
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"))
    version: Mapped[int] = mapped_column(default=1)
    note: Mapped[str | None] = mapped_column(Text)  # why a correction was made
    figures: Mapped[dict[str, Any]] = mapped_column()  # the FigureSet as JSON, frozen
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    html_path: Mapped[str | None] = mapped_column(String(500))
    pdf_path: Mapped[str | None] = mapped_column(String(500))
    emailed_at: Mapped[datetime | None] = mapped_column()  # when its mails were queued in the outbox
    flow_run_id: Mapped[str | None] = mapped_column(String(36))
