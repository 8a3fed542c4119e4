"""Fixtures of the service tests."""

from __future__ import annotations

from typing import Any

import pytest
from engine import EngineDriver
from sqlalchemy.orm import Session, sessionmaker


@pytest.fixture
def driver(sessions: sessionmaker[Session], users: Any) -> EngineDriver:
    return EngineDriver(sessions, users)
