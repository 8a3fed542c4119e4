"""Vocabularies of the domain. English names in code; the Chinese labels are for people."""

from __future__ import annotations

from enum import StrEnum


class UnitKind(StrEnum):
    city_office = "city_office"  # 市人民建议征集办公室
    district_office = "district_office"  # 区人民建议征集办公室
    city_department = "city_department"  # 市级职能部门
    subdistrict = "subdistrict"  # 街道/镇
    contact_point = "contact_point"  # 征集联系点/工作站


# The suggestion offices: where a suggestion is handled, and the only units whose users act as office.
OFFICE_KINDS = frozenset({UnitKind.city_office, UnitKind.district_office})


class Role(StrEnum):
    office = "office"
    supervisor = "supervisor"
    department = "department"
    leader = "leader"
    admin = "admin"
    proposer = "proposer"  # owes the rating step; authenticates with tracking code + check code


class Channel(StrEnum):
    mailbox = "mailbox"  # 人民建议征集信箱
    leader_mailbox = "leader_mailbox"  # 市委/市政府领导信箱
    hotline_12345 = "hotline_12345"
    phone = "phone"  # 来电: a call to the office's own line, taken in by its staff
    letter = "letter"
    visit = "visit"
    app = "app"  # 随申办
    service_review = "service_review"  # 好差评
    station = "station"  # 征集联系点、红色信箱
    campaign = "campaign"  # 主动征集
    web = "web"  # the public submission page of jianyi itself (jianyi/web/public.py)


class ProposerKind(StrEnum):
    person = "person"
    organisation = "organisation"


class Stage(StrEnum):
    triage = "triage"
    referral = "referral"
    research = "research"
    coordination = "coordination"
    feedback = "feedback"
    implementation = "implementation"
    commendation = "commendation"
    closed = "closed"


STAGE_LABELS: dict[Stage, str] = {
    Stage.triage: "梳理研判",
    Stage.referral: "转办摘报",
    Stage.research: "调研论证",
    Stage.coordination: "协调督办",
    Stage.feedback: "沟通反馈",
    Stage.implementation: "落实转化",
    Stage.commendation: "表彰奖励",
    Stage.closed: "已办结",
}


class Outcome(StrEnum):
    redirected = "redirected"  # complaint → complaint/petition channel
    out_of_scope = "out_of_scope"
    merged = "merged"  # duplicate, handled with its original
    not_adopted = "not_adopted"
    kept_for_reference = "kept_for_reference"
    implemented = "implemented"  # adopted (or partly) and implemented
    commended = "commended"


OUTCOME_LABELS: dict[Outcome, str] = {
    Outcome.redirected: "已转投诉求决渠道办理",
    Outcome.out_of_scope: "不属于征集范围",
    Outcome.merged: "已与同类建议合并办理",
    Outcome.not_adopted: "暂不采纳",
    Outcome.kept_for_reference: "留作参考",
    Outcome.implemented: "已采纳并落实",
    Outcome.commended: "已采纳落实并获评优秀人民建议",
}


class SuggestionKind(StrEnum):
    suggestion = "suggestion"
    complaint = "complaint"
    out_of_scope = "out_of_scope"
    duplicate = "duplicate"


class Level(StrEnum):
    general = "general"
    important = "important"


class Decision(StrEnum):
    adopt = "adopt"
    partly_adopt = "partly_adopt"
    keep_for_reference = "keep_for_reference"
    not_adopt = "not_adopt"


class StepKind(StrEnum):
    triage = "triage"
    pre_report_communication = "pre_report_communication"
    leader_instruction = "leader_instruction"
    objection = "objection"
    reroute = "reroute"
    proposer_hearing = "proposer_hearing"
    co_opinion = "co_opinion"
    opinion = "opinion"
    extension_request = "extension_request"
    extension_decision = "extension_decision"
    review = "review"
    reply = "reply"
    rating = "rating"
    dissatisfaction_review = "dissatisfaction_review"
    progress = "progress"
    post_adoption_communication = "post_adoption_communication"
    commendation_result = "commendation_result"
    supervision_order = "supervision_order"  # 督办单: issued by the rules' scheduler, answered by the unit


class StepState(StrEnum):
    open = "open"  # waiting for its unit
    submitted = "submitted"  # input accepted and stored; the flow has not applied it yet
    completed = "completed"  # applied by the flow
    cancelled = "cancelled"  # no longer needed (e.g. an optional objection once the opinion is in)
    lapsed = "lapsed"  # its window closed without an answer (e.g. no rating within 10 WD)


class AssignmentRole(StrEnum):
    lead = "lead"  # 主办
    co = "co"  # 协办


class AssignmentState(StrEnum):
    active = "active"
    withdrawn = "withdrawn"  # re-routed away after an objection
    done = "done"


class CommunicationKind(StrEnum):
    acknowledgement = "acknowledgement"
    pre_report = "pre_report"  # 事前沟通
    in_progress = "in_progress"  # 事中沟通
    reply = "reply"
    rating_request = "rating_request"
    post_adoption = "post_adoption"  # 事后沟通
    commendation = "commendation"
    outcome = "outcome"


class ContactMethod(StrEnum):
    email = "email"
    phone = "phone"
    letter = "letter"
    sms = "sms"
    meeting = "meeting"
    in_person = "in_person"
    online = "online"


class CommunicationState(StrEnum):
    """A communication a rule called for (jianyi.services.communications)."""

    queued = "queued"  # the system sends it: in the outbox
    awaiting = "awaiting"  # held by a person (call, meeting, letter): waiting to be logged
    done = "done"  # logged by the office, or by the step that carries it
    skipped = "skipped"  # nothing to send it to (e.g. no e-mail address, a template that could not render)


COMMUNICATION_LABELS: dict[CommunicationKind, str] = {
    CommunicationKind.acknowledgement: "受理告知",
    CommunicationKind.pre_report: "事前沟通",
    CommunicationKind.in_progress: "事中沟通",
    CommunicationKind.reply: "答复",
    CommunicationKind.rating_request: "满意度评价邀请",
    CommunicationKind.post_adoption: "事后沟通",
    CommunicationKind.commendation: "表彰告知",
    CommunicationKind.outcome: "办结告知",
}


class OutboxChannel(StrEnum):
    email = "email"  # over SMTP (aiosmtplib)
    sms = "sms"  # over the SMS gateway's HTTP API


class OutboxState(StrEnum):
    pending = "pending"
    sending = "sending"
    sent = "sent"
    failed = "failed"  # gave up after the configured attempts; the office sees it


class ImplementationForm(StrEnum):
    """Art. 13 of the Shanghai regulation: the forms an adopted suggestion takes."""

    welfare_measure = "welfare_measure"
    work_improvement = "work_improvement"
    law_or_policy_input = "law_or_policy_input"
    npc_oversight_topic = "npc_oversight_topic"
    deputies_bill_input = "deputies_bill_input"
    decision_reference = "decision_reference"
    other = "other"
