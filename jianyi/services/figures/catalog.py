"""Every figure by name: its Chinese label, its items (what is counted), and its keys' labels.

``compute_figures`` counts each figure's items by key; ``drilldown`` lists the items of one key.
Both read the definitions here, so a number and its list cannot disagree.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from jianyi.models.enums import (
    OUTCOME_LABELS,
    STAGE_LABELS,
    Channel,
    ImplementationForm,
    Outcome,
    Stage,
    StepKind,
)
from jianyi.services.figures import case_figures as cases
from jianyi.services.figures import step_figures as steps
from jianyi.services.figures.sql import Ctx, Query

Items = Callable[[Ctx], Query]

CHANNEL_LABELS: dict[str, str] = {
    Channel.mailbox: "人民建议征集信箱",
    Channel.leader_mailbox: "市委、市政府领导信箱",
    Channel.hotline_12345: "12345市民服务热线",
    Channel.phone: "来电",
    Channel.letter: "来信",
    Channel.visit: "来访",
    Channel.app: "随申办",
    Channel.service_review: "好差评",
    Channel.station: "征集联系点、红色信箱",
    Channel.campaign: "主动征集",
    Channel.web: "网上征集页面",
}
FORM_LABELS: dict[str, str] = {
    ImplementationForm.welfare_measure: "出台惠民举措",
    ImplementationForm.work_improvement: "改进国家机关工作",
    ImplementationForm.law_or_policy_input: "纳入法规政策制定",
    ImplementationForm.npc_oversight_topic: "列为人大监督议题",
    ImplementationForm.deputies_bill_input: "形成代表议案建议",
    ImplementationForm.decision_reference: "供决策参考",
    ImplementationForm.other: "其他",
}


@dataclass(frozen=True)
class Rate:
    name: str
    label_zh: str
    items: Items
    numerator_key: str
    rest_key: str
    working_days: int | None = None  # solved within N working days of referral: keyed in Python


@dataclass(frozen=True)
class Table:
    name: str
    label_zh: str
    items: Items
    # Fixed keys, listed even at 0, in this order; other keys found are listed after them.
    keys: dict[str, str] = field(default_factory=dict)
    blank: str = "（无）"  # the label of the key '' (no category, no campaign, no region)
    labels_are_units: bool = False  # keys are unit codes: labelled with the units' names


def _on_time(kinds: tuple[StepKind, ...], *, by_unit: bool = False) -> Items:
    return lambda ctx: steps.on_time(ctx, kinds, by_unit=by_unit)


def _handling(ctx: Ctx) -> Query:
    return steps.on_time(ctx, steps.HANDLING_KINDS, by_unit=True)


RATES: dict[str, Rate] = {
    rate.name: rate
    for rate in (
        Rate("referral_on_time", "按期转办率", _on_time(steps.REFERRAL_KINDS), "on_time", "late"),
        Rate("handling_on_time", "按期办理率", _handling, "on_time", "late"),
        Rate("reply_on_time", "按期答复率", _on_time(steps.REPLY_KINDS), "on_time", "late"),
        Rate("important_adoption", "重要建议采纳率", cases.important_adoption, "adopted", "not_adopted"),
        Rate(
            "solved_within_3", "转办后3个工作日内解决率", cases.referral_and_reply, "solved", "not_solved", 3
        ),
        Rate(
            "solved_within_7", "转办后7个工作日内解决率", cases.referral_and_reply, "solved", "not_solved", 7
        ),
    )
}


def _received(table: str) -> Items:
    return lambda ctx: cases.received(ctx, table)


TABLES: dict[str, Table] = {
    table.name: table
    for table in (
        Table("by_stage", "收件按当前阶段", _received("by_stage"), {s.value: STAGE_LABELS[s] for s in Stage}),
        Table("by_unit", "转办按承办单位", cases.by_unit, labels_are_units=True),
        Table("by_category", "收件按类别", _received("by_category"), blank="未分类"),
        Table("by_district", "收件按办理机构（市、区）", _received("by_district"), labels_are_units=True),
        Table(
            "by_region", "收件按所在地区", _received("by_region"), blank="未标注地区", labels_are_units=True
        ),
        Table("by_channel", "收件按渠道", _received("by_channel"), dict(CHANNEL_LABELS)),
        Table("by_campaign", "收件按主动征集活动", _received("by_campaign"), blank="非主动征集"),
        Table(
            "by_outcome",
            "收件按办理结果",
            _received("by_outcome"),
            {"open": "办理中", **{o.value: OUTCOME_LABELS[o] for o in Outcome}},
        ),
        Table(
            "supervision_orders",
            "督办单",
            steps.supervision_orders,
            {"issued": "发出督办单", "answered": "督办单已答复", "answered_late": "督办单逾期答复"},
        ),
        Table(
            "objections",
            "异议与重新交办",
            steps.objections,
            {"objections": "提出异议", "rerouted": "重新交办"},
        ),
        Table(
            "extensions",
            "延期",
            steps.extensions,
            {"requested": "申请延期", "approved": "批准延期", "refused": "不予延期"},
        ),
        Table(
            "reviews",
            "审核办理意见",
            lambda ctx: steps.answers(ctx, StepKind.review),
            {"accept": "审核通过", "return": "退回重办", "joint_meeting": "召开联席会议"},
        ),
        Table(
            "ratings",
            "满意度评价",
            lambda ctx: steps.answers(ctx, StepKind.rating, unanswered="none"),
            {
                "satisfied": "满意",
                "basically_satisfied": "基本满意",
                "not_satisfied": "不满意",
                "none": "未评价",
            },
        ),
        Table(
            "dissatisfaction",
            "不满意复核",
            lambda ctx: steps.answers(ctx, StepKind.dissatisfaction_review),
            {"rehandle": "重新办理", "close": "说明理由后办结"},
        ),
        Table(
            "leader_instructions",
            "领导批示",
            cases.leader_instructions,
            {"instructed": "有批示", "no_instruction": "无批示"},
        ),
        Table(
            "implementation",
            "采纳件落实情况",
            cases.implementation,
            {"implemented": "本期已落实", "in_progress": "落实中", "not_started": "尚未报送进展"},
        ),
        Table(
            "implementation_forms",
            "采纳件落实形式（第十三条）",
            lambda ctx: cases.implementation(ctx, by_form=True),
            dict(FORM_LABELS),
        ),
    )
}

# The units table: each column drills down as ``unit_<column>`` (key: the unit's code); the items
# of the column are those of its base with this key (None: every item of the base).
UNIT_BASES: dict[str, Items] = {
    "referred": steps.referred,
    "handling": _handling,
    "open_overdue": steps.open_overdue,
    "escalated": steps.escalated,
    "orders": steps.supervision_orders,
}
UNIT_COLUMNS: dict[str, tuple[str, str | None]] = {
    "referred": ("referred", None),
    "on_time": ("handling", "on_time"),
    "late": ("handling", "late"),
    "open_overdue": ("open_overdue", None),
    "escalated": ("escalated", None),
    "orders_issued": ("orders", "issued"),
    "orders_answered": ("orders", "answered"),
    "orders_late": ("orders", "answered_late"),
}
UNIT_FIGURES = {f"unit_{column}": column for column in UNIT_COLUMNS}
BULLETIN = "bulletin"  # the bulletin list; drill-down key: a month (2026-12) or none

FIGURE_NAMES = (*RATES, *TABLES, *UNIT_FIGURES, BULLETIN)
