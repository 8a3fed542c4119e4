"""The office's cycles in the rules: when the digest of important suggestions (人民建议摘报) is compiled."""

from __future__ import annotations

from pydantic import Field, field_validator

from jianyi.rules.schema_base import RuleModel, refuse


class DigestRules(RuleModel):
    """The digest's schedule: a cron in the calendar's time zone (weekly by default, Friday 09:00);
    ``scheduled: false`` leaves it to the office to compile on demand."""

    scheduled: bool = True
    cron: str = "0 9 * * fri"

    @field_validator("cron")
    @classmethod
    def _valid_cron(cls, value: str) -> str:
        from apscheduler.triggers.cron import CronTrigger

        try:
            CronTrigger.from_crontab(value)
        except ValueError as exc:
            raise refuse(
                "cron", f"expected a five-field cron such as '0 9 * * fri', got {value!r}: {exc}"
            ) from exc
        return value


class CycleRules(RuleModel):
    digest: DigestRules = Field(default_factory=DigestRules)
