"""Migration 0008: the proposer's postal address, and the SMS summaries stored before it, which quoted
the message (the proposer's name, the tracking link with the check code), relabelled."""

from __future__ import annotations

import copy
from typing import Any

import sqlalchemy as sa
from alembic import command
from sqlalchemy.orm import Session, sessionmaker
from support import SUGGESTION

from jianyi.migrate import make_config, upgrade
from jianyi.models import Communication
from jianyi.models.schemas import SuggestionIn
from jianyi.services import intake


def test_0008_adds_the_address_and_relabels_the_sms_summaries_stored_before(
    db_url: str, engine: sa.Engine, sessions: sessionmaker[Session], users: Any
) -> None:
    data = copy.deepcopy(SUGGESTION)
    data["proposer"] = {"name": "张三", "phone": "13800000002"}
    with sessions() as session:
        result = intake.submit(session, actor=users.actors["office"], data=SuggestionIn.model_validate(data))
        session.commit()
    quoted = f"【人民建议征集】张三您好，您的建议已受理。查询码{result.check_code}。查询进度：http://x/track/A?check=***"
    with sessions() as session:  # as the summary was stored before 0008
        session.execute(
            sa.update(Communication).where(Communication.suggestion_id == result.id).values(summary=quoted)
        )
        session.commit()
    engine.dispose()
    command.downgrade(make_config(db_url), "0007")
    upgrade(db_url)
    with sessions() as session:
        summaries = session.scalars(
            sa.select(Communication.summary).where(Communication.suggestion_id == result.id)
        ).all()
        assert list(summaries) == ["短信：受理告知（含查询码）"]
        assert session.execute(sa.text("SELECT address FROM proposers")).all()  # the column is back
