"""SQLAlchemy tables, one module a table; importing this package registers them all on Base.metadata."""

from jianyi.models.assignment import Assignment
from jianyi.models.audit import AuditEntry
from jianyi.models.base import Base
from jianyi.models.calendar_day import CalendarDay
from jianyi.models.calendar_year import CalendarYear
from jianyi.models.campaign import Campaign
from jianyi.models.commendation_cycle import CommendationCycle
from jianyi.models.communication import Communication
from jianyi.models.digest import Digest
from jianyi.models.digest_item import DigestItem
from jianyi.models.executor_lease import ExecutorLease, RunClaim
from jianyi.models.expert import Expert
from jianyi.models.leader_instruction import LeaderInstruction
from jianyi.models.nomination import Nomination
from jianyi.models.opinion import Opinion
from jianyi.models.outbox import OutboxMessage
from jianyi.models.planned_communication import PlannedCommunication
from jianyi.models.progress import ImplementationProgress
from jianyi.models.proposer import Proposer
from jianyi.models.report import Report
from jianyi.models.stage_entry import StageEntry
from jianyi.models.step import Step
from jianyi.models.step_timer import StepTimer, TimerState
from jianyi.models.suggestion import Suggestion
from jianyi.models.unit import Unit
from jianyi.models.user import User
from jianyi.models.web_session import WebSession

__all__ = [
    "Assignment",
    "AuditEntry",
    "Base",
    "CalendarDay",
    "CalendarYear",
    "Campaign",
    "CommendationCycle",
    "Communication",
    "Digest",
    "DigestItem",
    "ExecutorLease",
    "Expert",
    "ImplementationProgress",
    "LeaderInstruction",
    "Nomination",
    "Opinion",
    "OutboxMessage",
    "PlannedCommunication",
    "Proposer",
    "Report",
    "RunClaim",
    "StageEntry",
    "Step",
    "StepTimer",
    "Suggestion",
    "TimerState",
    "Unit",
    "User",
    "WebSession",
]
