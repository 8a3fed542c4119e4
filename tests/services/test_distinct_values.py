"""Distinct values by skipping through an index give what SELECT DISTINCT gives (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from clock import Clock
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from support import triage

from jianyi.models import Suggestion
from jianyi.models.enums import StepKind
from jianyi.services.figures.sql import distinct_values

MONDAY = datetime(2026, 11, 2, 2, 0, tzinfo=UTC)


def test_the_skipping_scan_finds_each_value_once_in_order(
    sessions: sessionmaker[Session], users: Any
) -> None:
    clock = Clock(sessions, users)
    with sessions() as session:
        assert distinct_values(session, Suggestion.category) == []  # an empty table
    for category in ("教育", "交通出行", "教育", "住房保障", None):
        suggestion = clock.submit(MONDAY)
        if category is not None:
            clock.complete(suggestion, StepKind.triage, "huangpu", triage(category=category), MONDAY)
    with sessions() as session:
        naive = select(Suggestion.category).where(Suggestion.category.is_not(None)).distinct()
        expected = list(session.scalars(naive.order_by(Suggestion.category)))
        found = distinct_values(session, Suggestion.category)
    assert found == expected and sorted(found) == sorted({"教育", "交通出行", "住房保障"})
