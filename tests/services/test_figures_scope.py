"""A combined figures scope (an office AND a category AND a channel…): each part narrows, and who may
see what holds for every part."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy.orm import Session, sessionmaker

from jianyi.errors import Forbidden, InvalidInput
from jianyi.services.figures.access import resolve
from jianyi.services.figures.periods import Scope


def test_a_combined_scope_reads_and_prints_as_its_parts() -> None:
    combined = Scope.combine([Scope.parse("office:city-office"), Scope.parse("category:教育")])
    assert str(combined) == "office:city-office + category:教育"
    assert combined.parts() == [Scope.parse("office:city-office"), Scope.parse("category:教育")]
    assert Scope.parse("unit:x").model_dump(mode="json") == {"kind": "unit", "value": "x"}  # as before
    assert Scope.combine([]) == Scope.city()


def test_every_part_is_checked_for_the_actor(sessions: sessionmaker[Session], users: Any) -> None:
    with sessions() as session:
        transport, huangpu = users.actors["transport"], users.actors["huangpu"]
        own = Scope.combine([Scope.parse("unit:city-transport"), Scope.parse("channel:letter")])
        assert resolve(session, actor=transport, scope=own).unit_id is not None
        other = Scope.combine([Scope.parse("unit:city-transport"), Scope.parse("unit:city-edu")])
        with pytest.raises(Forbidden):  # a department never reaches another unit's figures
            resolve(session, actor=transport, scope=other)
        with pytest.raises(InvalidInput):  # two units at once: which one's steps would be counted
            resolve(session, actor=users.actors["office"], scope=other)
        city = Scope.combine([Scope.parse("channel:letter"), Scope.parse("office:city-office")])
        with pytest.raises(Forbidden):  # a district office: not the city office's, even as a second part
            resolve(session, actor=huangpu, scope=city)
        with pytest.raises(InvalidInput):
            resolve(session, actor=huangpu, scope=Scope.combine([Scope.parse("channel:pigeon")]))
