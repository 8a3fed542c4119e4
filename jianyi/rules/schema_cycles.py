"""The office's cycles in the rules: when the digest of important suggestions (人民建议摘报) is compiled,
and the annual commendation's window, quotas and panel."""

from __future__ import annotations

from pydantic import Field, field_validator, model_validator

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


class Tier(RuleModel):
    name: str = Field(min_length=1, max_length=32)  # e.g. 一等奖
    quota: int = Field(ge=1, le=10_000)


class CommendationRules(RuleModel):
    """The annual commendation (表彰奖励): the eligibility window (from ``window_starts``, MM-DD, of the
    year before to the day before it in the cycle's year: 11-01 gives 1 November – 31 October), the
    quota, tiers and their quotas (adding up to the quota), and the reviewers drawn per cycle."""

    window_starts: str = Field(default="11-01", pattern=r"^(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$")
    quota: int = Field(default=100, ge=1, le=10_000)
    tiers: list[Tier] = Field(
        default_factory=lambda: [
            Tier(name="一等奖", quota=10),
            Tier(name="二等奖", quota=30),
            Tier(name="三等奖", quota=60),
        ],
        min_length=1,
    )
    panel_size: int = Field(default=5, ge=1, le=50)

    @model_validator(mode="after")
    def _quotas_add_up(self) -> CommendationRules:
        if sum(tier.quota for tier in self.tiers) != self.quota:
            raise refuse("quota", "the tiers' quotas must add up to the quota", key="tiers")
        return self


class CycleRules(RuleModel):
    digest: DigestRules = Field(default_factory=DigestRules)
    commendation: CommendationRules = Field(default_factory=CommendationRules)
