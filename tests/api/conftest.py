"""The HTTP API in-process (FastAPI's TestClient) on this test's real database, SQLite or PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from engine import EngineDriver
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from jianyi.api.app import create_app


@pytest.fixture
def driver(sessions: sessionmaker[Session], users: Any) -> EngineDriver:
    return EngineDriver(sessions, users)


@pytest.fixture
def http(cli_on: None) -> Iterator[TestClient]:
    # An unhandled error is answered as the server would answer it (500), not raised into the test.
    with TestClient(create_app(), raise_server_exceptions=False) as client:
        yield client
