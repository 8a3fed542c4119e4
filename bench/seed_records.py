"""What answered steps leave on record, for ``bench.seed_volume``: opinions, progress reports and
leaders' instructions, shaped as ``jianyi.services.lifecycle.records`` writes them.

The figures read these (adoption of important items, implementation, instructions); without them a
benchmark of the figures would time queries over empty tables.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Protocol

from jianyi.models.enums import ImplementationForm

RECORD_TABLES = ("opinions", "implementation_progress", "leader_instructions")
FORMS = [form.value for form in ImplementationForm]


class Rows(Protocol):
    """The seeder's row sink (``_Cases``): adds a row of a table, every column named."""

    def _add(self, table: str, **values: Any) -> int: ...


def opinion(
    rows: Rows, *, suggestion: int, unit: int, step: int, lead: bool, adopted: bool, at: datetime, ts: Any
) -> None:
    if lead:
        rows._add(
            "opinions", suggestion_id=suggestion, unit_id=unit, step_id=step, is_lead=True,
            decision="adopt" if adopted else "not_adopt", reasons="经调研论证，意见如下。",
            measures="优化管理和服务。" if adopted else None,
            planned_completion=(at + timedelta(days=90)).date().isoformat() if adopted else None,
            consultation=None, created_at=ts(at),
        )  # fmt: skip
    else:
        rows._add(
            "opinions", suggestion_id=suggestion, unit_id=unit, step_id=step, is_lead=False, decision=None,
            reasons="协办意见：同意。", measures=None, planned_completion=None, consultation=None, created_at=ts(at),
        )  # fmt: skip


def progress(
    rows: Rows, *, suggestion: int, unit: int, step: int, n: int, last: bool, at: datetime, ts: Any
) -> None:
    rows._add(
        "implementation_progress", suggestion_id=suggestion, unit_id=unit, step_id=step,
        percent=100 if last else min(90, 25 * n), milestone=f"第{n}次进展：按计划推进。",
        form=FORMS[(suggestion + n) % len(FORMS)], evidence=None, implemented=last, reported_at=ts(at),
    )  # fmt: skip


def instruction(rows: Rows, *, suggestion: int, step: int, given: bool, at: datetime, ts: Any) -> None:
    rows._add(
        "leader_instructions", suggestion_id=suggestion, step_id=step, leader="市领导" if given else None,
        instructed_on=at.date().isoformat() if given else None, text="请相关部门认真研究。" if given else None,
        has_instruction=given, recorded_at=ts(at),
    )  # fmt: skip
