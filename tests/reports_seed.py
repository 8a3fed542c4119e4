"""Seeded data for the report tests: November 2026 on the clock, with a late unit that the
supervision ladder escalated and marked for the monthly bulletin, and the report's tools."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from clock import Clock
from sqlalchemy.orm import Session, sessionmaker
from support import ADOPT, triage

from jianyi.models.enums import StepKind
from jianyi.runtime.smtp_sink import SmtpSink

MONDAY = datetime(2026, 11, 2, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai, a working Monday
# The monthly bulletin's hour: 1 December, 08:00 in Shanghai.
DECEMBER_1 = datetime(2026, 12, 1, 0, 0, tzinfo=UTC)


def seed_november(clock: Clock) -> dict[str, int]:
    """Three suggestions in November: one the transport commission answers on time, but whose review
    the Huangpu office never does (its ladder escalates it and marks it for November's bulletin); one
    the commission never answers (late from 24 November; its last rung, escalation and the bulletin,
    fires at midnight opening 1 December in Shanghai: December's); one for education."""
    answered = clock.submit(MONDAY)
    clock.complete(answered, StepKind.triage, "huangpu", triage(), MONDAY)
    clock.complete(answered, StepKind.opinion, "transport", ADOPT, MONDAY + timedelta(days=2))
    ignored = clock.submit(MONDAY + timedelta(hours=1))
    clock.complete(ignored, StepKind.triage, "huangpu", triage(), MONDAY + timedelta(hours=1))
    education = clock.submit(MONDAY + timedelta(days=3))
    clock.complete(education, StepKind.triage, "huangpu", triage("city-edu"), MONDAY + timedelta(days=3))
    opinion = clock.step(ignored, StepKind.opinion)
    for timer in clock.timers(opinion.id):
        clock.sweep(timer.fire_at + timedelta(seconds=1))
    return {"answered": answered, "ignored": ignored, "education": education}


@pytest.fixture
def clock(sessions: sessionmaker[Session], users: Any) -> Clock:
    return Clock(sessions, users)


@pytest.fixture
def reports_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cli_on: None) -> Iterator[Path]:
    """The reports' files under this test's data directory (the settings are re-read)."""
    from jianyi.settings import get_settings

    monkeypatch.setenv("JIANYI_HOME", str(tmp_path / "home"))
    get_settings.cache_clear()
    yield tmp_path / "home"
    get_settings.cache_clear()


@pytest.fixture
def sink(tmp_path: Path) -> Iterator[SmtpSink]:
    with SmtpSink(tmp_path / "mailbox") as smtp:
        yield smtp


def pdf_text(pdf: Path) -> str:
    return subprocess.run(
        ["pdftotext", "-layout", str(pdf), "-"], check=True, capture_output=True, text=True
    ).stdout


def pdf_pages(pdf: Path, out: Path) -> list[Path]:
    """The PDF as PNG pages (what a reader sees), 50 dpi."""
    out.mkdir(parents=True, exist_ok=True)
    subprocess.run(["pdftoppm", "-r", "50", "-png", str(pdf), str(out / "page")], check=True)
    return sorted(out.glob("page-*.png"))
