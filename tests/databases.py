"""Test databases: migrated, seeded templates cloned per test; and the officials of the scenarios."""

from __future__ import annotations

import itertools
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest
from sqlalchemy.orm import Session, sessionmaker

from jianyi.db import make_engine
from jianyi.migrate import upgrade
from jianyi.models.enums import Role
from jianyi.rules.calendar import seed_from_chinese_calendar
from jianyi.runtime.postgres import TemporaryPostgres
from jianyi.services import auth
from jianyi.services.actors import Actor
from jianyi.services.network import seed_network

BACKENDS = ["sqlite", "postgresql"]
_counter = itertools.count()


def seed_template(url: str) -> None:
    upgrade(url)
    engine = make_engine(url)
    with Session(engine) as session:
        seed_network(session)
        seed_from_chinese_calendar(session)
        session.commit()
    engine.dispose()


def fresh_database(request: pytest.FixtureRequest, backend: str, directory: Path) -> str:
    """A migrated, seeded database of its own for one test (or one end-to-end system)."""
    if backend == "sqlite":
        path = directory / f"jianyi-{next(_counter)}.db"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        return f"sqlite:///{path}"
    cluster: TemporaryPostgres = request.getfixturevalue("postgres")
    template = request.getfixturevalue("postgres_template")
    name = f"jianyi_{os.getpid()}_{next(_counter)}"
    # Cloning the migrated, seeded template is far faster than migrating each database.
    with psycopg.connect(cluster.dsn("postgres"), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
    return cluster.url_for(name)


@dataclass
class Users:
    """The officials of the scenarios, by the names the scripts use."""

    actors: dict[str, Actor]
    tokens: dict[str, str]


OFFICIALS = {
    "office": ("市征集办 王处长", Role.office, "city-office"),
    "supervisor": ("市征集办 督办", Role.supervisor, "city-office"),
    "transport": ("市交通委 赵经办", Role.department, "city-transport"),
    "edu": ("市教委 钱经办", Role.department, "city-edu"),
    "housing": ("市房管局 孙经办", Role.department, "city-housing"),
    "huangpu": ("黄浦区征集办 周经办", Role.office, "huangpu-office"),
    "admin": ("管理员", Role.admin, None),
}


def create_officials(sessions: sessionmaker[Session]) -> Users:
    actors, tokens = {}, {}
    with sessions() as session:
        for key, (name, role, unit) in OFFICIALS.items():
            user, token = auth.create_user(session, name=name, role=role, unit_code=unit)
            actors[key] = auth.actor_for(user)
            tokens[key] = token
        session.commit()
    actors["proposer"] = Actor(label="proposer", role=Role.proposer, name="建议人")
    return Users(actors=actors, tokens=tokens)
