"""Scenarios that drive one suggestion to each outcome, as scripts of human steps.

The same scripts run against the lifecycle engine directly (fast, on SQLite and PostgreSQL) and
end to end through the HTTP API with the real executor, Prefect server and SMTP server.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any, Protocol

from jianyi.models.enums import Outcome, StepKind

SUGGESTION = {
    "title": "关于优化公交71路发车间隔的建议",
    "content": "问题：早高峰71路间隔过长。依据：实地观察两周。建议：高峰时段加密班次，并公布实时到站信息。",
    "channel": "mailbox",
    "proposer": {"name": "张三", "email": "zhangsan@example.com", "phone": "13800000000"},
}

NOT_ADOPT = {"decision": "not_adopt", "reasons": "现有线路已饱和", "consultation": "电话沟通"}
KEEP = {"decision": "keep_for_reference", "reasons": "纳入明年规划参考", "consultation": "座谈会"}
ADOPT = {
    "decision": "adopt",
    "reasons": "可行",
    "measures": "高峰加密至5分钟一班",
    "planned_completion": "2027-03-01",
    "consultation": "上门走访",
}
REPLY = {"method": "email", "text": "经研究，您的建议已得到认真办理。"}
PROGRESS_HALF = {"percent": 50, "milestone": "完成线路调整方案", "form": "work_improvement"}
PROGRESS_DONE = {
    "percent": 100,
    "milestone": "新时刻表已实施",
    "form": "work_improvement",
    "evidence": "沪交运〔2027〕12号",
    "implemented": True,
}
MEETING = {"held_at": "2026-11-20T10:00:00+08:00", "method": "meeting", "summary": "当面听取意见"}


def triage(lead: str = "city-transport", **extra: Any) -> dict[str, Any]:
    return {"kind": "suggestion", "category": "交通出行", "level": "general", "lead_unit": lead, **extra}


@dataclass(frozen=True)
class Action:
    kind: StepKind
    who: str  # a key of the users: office, transport, edu, housing, proposer
    payload: dict[str, Any] | None  # None: let the step lapse (no answer in time)


@dataclass
class Scenario:
    name: str
    outcome: Outcome
    actions: list[Action]
    mails: list[str]  # the e-mails the proposer receives (their templates), in order
    suggestion: dict[str, Any] = field(default_factory=lambda: copy.deepcopy(SUGGESTION))
    texts: list[str] = field(default_factory=list)  # the SMS the proposer receives (their templates)


def a(kind: StepKind, who: str, payload: dict[str, Any] | None) -> Action:
    return Action(kind, who, payload)


K = StepKind
SCENARIOS: list[Scenario] = [
    Scenario(
        "complaint",
        Outcome.redirected,
        [a(K.triage, "office", {"kind": "complaint", "note": "个人诉求，转12345"})],
        ["acknowledgement", "redirected"],
    ),
    Scenario(
        "out_of_scope",
        Outcome.out_of_scope,
        [a(K.triage, "office", {"kind": "out_of_scope", "reason_code": "litigation"})],
        ["acknowledgement", "outcome"],
    ),
    Scenario(
        "not_adopted",
        Outcome.not_adopted,
        [
            a(K.triage, "office", triage()),
            a(K.opinion, "transport", NOT_ADOPT),
            a(K.review, "office", {"action": "accept"}),
            a(K.reply, "office", REPLY),
            a(K.rating, "proposer", {"rating": "satisfied"}),
        ],
        ["acknowledgement", "reply", "outcome"],
    ),
    Scenario(
        "kept_with_rework_and_co_unit",
        Outcome.kept_for_reference,
        [
            a(K.triage, "office", triage(co_units=["city-edu"])),
            a(K.co_opinion, "edu", {"opinion": "同意主办单位意见"}),
            a(K.opinion, "transport", NOT_ADOPT),
            a(K.review, "office", {"action": "return", "reasons": "理由不充分"}),
            a(K.opinion, "transport", KEEP),
            a(K.review, "office", {"action": "accept"}),
            a(K.reply, "transport", {"method": "phone", "text": "已电话答复"}),
            a(K.rating, "office", None),
        ],
        ["acknowledgement", "outcome"],
        # Replied by phone: the rating link comes by SMS (a mailed reply carries it).
        texts=["rating_request"],
    ),
    Scenario(
        "commended_important",
        Outcome.commended,
        [
            a(K.triage, "office", triage(level="important")),
            a(
                K.pre_report_communication,
                "office",
                {
                    "held_at": "2026-11-20T09:00:00+08:00",
                    "method": "phone",
                    "participants": "张三、王处长",
                    "refined": "问题真、症结准、对策实",
                },
            ),
            a(
                K.leader_instruction,
                "office",
                {
                    "has_instruction": True,
                    "leader": "市领导",
                    "instructed_on": "2026-11-21",
                    "text": "请市交通委研究落实",
                },
            ),
            a(K.extension_request, "transport", {"working_days": 5, "reasons": "需开展客流调查"}),
            a(K.extension_decision, "office", {"approved": True}),
            a(K.proposer_hearing, "transport", MEETING),
            a(K.opinion, "transport", ADOPT),
            a(
                K.review,
                "office",
                {
                    "action": "joint_meeting",
                    "joint_meeting": {
                        "held_on": "2026-11-25",
                        "units": ["city-transport", "city-edu"],
                        "conclusions": "分工明确",
                    },
                },
            ),
            a(K.review, "office", {"action": "accept"}),
            a(K.reply, "office", REPLY),
            a(K.rating, "proposer", {"rating": "not_satisfied", "comment": "进度太慢"}),
            a(K.dissatisfaction_review, "office", {"action": "rehandle", "reasons": "请加快"}),
            a(K.opinion, "transport", ADOPT),
            a(K.review, "office", {"action": "accept"}),
            a(K.reply, "office", REPLY),
            a(K.rating, "proposer", {"rating": "satisfied"}),
            a(K.progress, "transport", PROGRESS_HALF),
            a(K.progress, "transport", PROGRESS_DONE),
            a(K.post_adoption_communication, "office", MEETING),
            a(K.commendation_result, "office", {"year": 2027, "selected": True, "tier": "一等奖"}),
        ],
        ["acknowledgement", "reply", "reply", "commendation", "outcome"],
    ),
    Scenario(
        "implemented_after_reroute",
        Outcome.implemented,
        [
            a(K.triage, "office", triage(lead="city-edu")),
            a(K.objection, "edu", {"reasons": "属交通管理职责", "suggested_unit": "city-transport"}),
            a(K.reroute, "office", {"accept_objection": True, "lead_unit": "city-transport"}),
            a(K.opinion, "transport", ADOPT),
            a(K.review, "office", {"action": "accept"}),
            a(K.reply, "office", REPLY),
            a(K.rating, "proposer", {"rating": "basically_satisfied"}),
            a(K.progress, "transport", PROGRESS_DONE),
            a(K.post_adoption_communication, "office", MEETING),
            a(K.commendation_result, "office", {"year": 2027, "selected": False}),
        ],
        ["acknowledgement", "reply", "outcome"],
    ),
    Scenario(
        "closed_after_dissatisfaction",
        Outcome.not_adopted,
        [
            a(K.triage, "office", triage()),
            a(K.opinion, "transport", NOT_ADOPT),
            a(K.review, "office", {"action": "accept"}),
            a(K.reply, "office", REPLY),
            a(K.rating, "proposer", {"rating": "not_satisfied"}),
            a(K.dissatisfaction_review, "office", {"action": "close", "reasons": "已充分说明理由"}),
        ],
        ["acknowledgement", "reply", "outcome"],
    ),
]


# The unit each actor of the scripts belongs to (the proposer has none).
UNITS = {"office": "city-office", "transport": "city-transport", "edu": "city-edu", "housing": "city-housing"}


@dataclass(frozen=True)
class OpenStep:
    id: int
    kind: StepKind
    units: frozenset[str | None]  # the owing unit and the unit that may also complete it

    def owed_by(self, who: str) -> bool:
        owners = self.units - {None}
        return not owners or UNITS.get(who) in owners  # no owning unit: the proposer's step


class Driver(Protocol):
    """What playing a script needs of a surface (the engine directly, or the HTTP API)."""

    def open_steps(self, suggestion_id: int) -> list[OpenStep]: ...

    def complete(
        self, who: str, suggestion_id: int, step_id: int, payload: dict[str, Any] | None
    ) -> None: ...


class Play:
    """One scenario being played: complete the next scripted step whenever it is open."""

    def __init__(self, scenario: Scenario, suggestion_id: int) -> None:
        self.scenario = scenario
        self.suggestion_id = suggestion_id
        self.position = 0

    @property
    def finished(self) -> bool:
        return self.position >= len(self.scenario.actions)

    def step(self, driver: Driver) -> bool:
        """Complete the next action if its step is open; True if something was done."""
        if self.finished:
            return False
        action = self.scenario.actions[self.position]
        for step in driver.open_steps(self.suggestion_id):
            # Match the owner too: after a re-routing the old unit's step stays open until applied.
            if step.kind is action.kind and step.owed_by(action.who):
                driver.complete(action.who, self.suggestion_id, step.id, action.payload)
                self.position += 1
                return True
        return False
