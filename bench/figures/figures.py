"""figures: every figure of a whole year, and the annual report's PDF, over 350,000 suggestions (quick: 5,000).

The issue's goals: "every figure for a whole year over 350,000 suggestions ≤ 2 s on SQLite and on
PostgreSQL, the annual report's PDF ≤ 30 s, printed beside the same figures over 35,000". The
suggestions (``bench.seed_volume``) span 2024–2026 with their steps, assignments, fired rungs,
opinions, progress reports and leaders' instructions; the year measured is 2025, whole, as of
2026-06-16.

- ``year``: ``compute_figures`` for 2025, the whole city, each call in a session of its own (as an
  API request or the report flow has), 5 calls (quick: 2) after one warm-up; the median is judged.
- ``annual report``: the annual report of 2025 made as the report flow makes it: its figures frozen
  with their weekly trend (``reports.freeze``), then its HTML and PDF rendered by WeasyPrint (one run;
  the version is rolled back, the files written to a temporary home).

The baseline, in the same run, is the same call on a database a tenth the size.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path

from sqlalchemy.orm import Session, sessionmaker

from bench.report import Figure
from bench.seed_volume import NOW, Seeded, Volume
from bench.volume_databases import BACKENDS, databases, seed_sizes, sessions_by_size
from jianyi.models.enums import Role
from jianyi.services.actors import Actor
from jianyi.services.figures import Period, Scope, compute_figures
from jianyi.services.reports import freeze, render

YEAR_GOAL_S, REPORT_GOAL_S = 2.0, 30.0
YEAR = Period.of("year", 2025)
OFFICE = Actor(label="bench", role=Role.admin)


def year_figures(sessions: sessionmaker[Session]) -> float:
    started = time.perf_counter()
    with sessions() as session:
        figures = compute_figures(session, actor=OFFICE, period=YEAR, scope=Scope.city(), now=NOW)
        assert figures.table("by_stage").total > 0, "the seeded year has suggestions"
    return time.perf_counter() - started


def annual_report(sessions: sessionmaker[Session]) -> tuple[float, int]:
    """Seconds to freeze and render the annual report; the PDF's size in bytes."""
    with tempfile.TemporaryDirectory(prefix="jianyi-bench-report-") as home, sessions() as session:
        started = time.perf_counter()
        row = freeze.freeze(session, kind="annual", period=YEAR.code, now=NOW)
        frozen = render.Frozen(
            id=row.id, kind=row.kind, period=row.period, period_label=row.period_label,
            version=row.version, note=row.note, figures=row.figures, created_at=row.created_at,
        )  # fmt: skip
        files = render.render(frozen, home=Path(home))
        seconds = time.perf_counter() - started
        session.rollback()
        return seconds, files.pdf.stat().st_size


def run(quick: bool) -> list[Figure]:
    big, small = (5_000, 500) if quick else (350_000, 35_000)
    calls = 2 if quick else 5
    sizes = {"big": big, "small": small}
    figures: list[Figure] = []
    with databases("figures", list(sizes)) as urls:
        seeded = seed_sizes(
            urls, sizes, lambda n: Volume(suggestions=n, closed_share=0.6, history_timers=True, seed=13)
        )
        for backend in BACKENDS:
            with sessions_by_size(urls, backend, sizes) as makers:
                samples: dict[str, list[float]] = {size: [] for size in sizes}
                for size in sizes:
                    year_figures(makers[size])  # warm: statements compiled, pages cached
                for _ in range(calls):
                    for size in sizes:  # interleaved, so both sizes see the same machine
                        samples[size].append(year_figures(makers[size]))
                figures.append(year_figure(backend, samples, seeded, calls))
                report = {size: annual_report(makers[size]) for size in sizes}
                figures.append(report_figure(backend, report, seeded))
    return figures


def _counts(seeded: dict[str, Seeded]) -> tuple[int, int]:
    big, small = (seeded[size].counts["suggestions"] for size in ("big", "small"))
    return big, small


def year_figure(
    backend: str, samples: dict[str, list[float]], seeded: dict[str, Seeded], calls: int
) -> Figure:
    value, baseline = statistics.median(samples["big"]), statistics.median(samples["small"])
    big, small = _counts(seeded)
    return Figure(
        key=f"figures.{backend}.year",
        title=f"every figure of a year, {big:,} suggestions ({backend})",
        value=value,
        unit="s",
        baseline=baseline,
        baseline_label=f"{small:,} suggestions",
        goal=f"≤ {YEAR_GOAL_S:g} s",
        met=value <= YEAR_GOAL_S,
        details={
            "median_s": round(value, 3),
            "max_s": round(max(samples["big"]), 3),
            "baseline_median_s": round(baseline, 3),
            "calls": calls,
            "suggestions": big,
            "steps": seeded["big"].counts["steps"],
            "timers": seeded["big"].counts["timers"],
            "period": YEAR.code,
            "baseline": "the same call on a database a tenth the size, in the same run",
        },
    )


def report_figure(backend: str, report: dict[str, tuple[float, int]], seeded: dict[str, Seeded]) -> Figure:
    (value, pdf_bytes), (baseline, _) = report["big"], report["small"]
    big, small = _counts(seeded)
    return Figure(
        key=f"figures.{backend}.annual_report",
        title=f"annual report, figures and PDF, {big:,} suggestions ({backend})",
        value=value,
        unit="s",
        baseline=baseline,
        baseline_label=f"{small:,} suggestions",
        goal=f"≤ {REPORT_GOAL_S:g} s",
        met=value <= REPORT_GOAL_S,
        details={
            "seconds": round(value, 2),
            "baseline_seconds": round(baseline, 2),
            "pdf_bytes": pdf_bytes,
            "suggestions": big,
            "period": YEAR.code,
            "baseline": "the same report on a database a tenth the size, in the same run",
        },
    )
