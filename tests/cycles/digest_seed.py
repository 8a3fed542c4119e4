"""Seeded data for the digest tests: important suggestions whose pre-report communication is done,
on a set clock, with leaders to address the digest to, and the proposer's identity to look for."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from clock import Clock
from support import SUGGESTION, triage

from jianyi.models.enums import Role, StepKind
from jianyi.services import auth
from jianyi.services.actors import Actor

MONDAY = datetime(2026, 11, 2, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai, a working Monday
FRIDAY = datetime(2026, 11, 6, 1, 0, tzinfo=UTC)  # 09:00 in Shanghai: the digest's default hour
# What must never appear in a digest, its mail or its artifact: the proposers' identity and contact.
PROPOSERS = [
    {
        "name": "张三丰",
        "email": "zhangsanfeng@example.com",
        "phone": "13800000001",
        "address": "黄浦区某路1号",
    },
    {"name": "李四光", "email": "lisiguang@example.com", "phone": "13900000002"},
]


def personal_data() -> list[str]:
    return [value for proposer in PROPOSERS for value in proposer.values()]


def add_leaders(clock: Clock) -> dict[str, tuple[Actor, str]]:
    """Two city leaders with e-mail, addressed by the digest; their actors and tokens."""
    made = {}
    with clock.sessions() as session:
        for key, name in (("leader_a", "市领导甲"), ("leader_b", "市领导乙")):
            user, token = auth.create_user(
                session, name=name, role=Role.leader, unit_code=None, email=f"{key}@example.gov.cn"
            )
            made[key] = (auth.actor_for(user), token)
        session.commit()
    return made


def pre_report(n: int) -> dict[str, Any]:
    """The office's pre-report communication, its texts naming the proposer (the digest strikes them)."""
    proposer = PROPOSERS[n]
    return {
        "held_at": "2026-11-03T09:00:00+08:00",
        "method": "phone",
        "participants": f"{proposer['name']}、王处长",
        "refined": f"经与{proposer['name']}（{proposer['phone']}）沟通，建议第{n + 1}件：问题真、症结准、对策实",
        "problem": f"第{n + 1}件反映的问题：早高峰公交间隔过长",
        "proposal": f"第{n + 1}件的建议：高峰时段加密班次",
        "office_view": "建议市交通委研究采纳",
    }


def seed_important(clock: Clock, count: int = 2) -> list[int]:
    """``count`` important suggestions at the city office, pre-reported on Tuesday: each waits for the
    digest at its ``leader_instruction`` step. And one general item, which the digest never takes."""
    ids = []
    for n in range(count):
        data = {
            **SUGGESTION,
            "title": f"关于公交线路优化的建议（{n + 1}）",
            "proposer": PROPOSERS[n],
            "region": "huangpu-waitan",
        }
        at = MONDAY + timedelta(minutes=n)
        suggestion = clock.submit(at, who="office", data=data)
        clock.complete(suggestion, StepKind.triage, "office", triage(level="important"), at)
        clock.complete(
            suggestion, StepKind.pre_report_communication, "office", pre_report(n), at + timedelta(days=1)
        )
        ids.append(suggestion)
    general = clock.submit(MONDAY, who="office")
    clock.complete(general, StepKind.triage, "office", triage(), MONDAY)
    return ids
