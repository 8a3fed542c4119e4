"""``jianyi rules``: check a rules directory before it is put in force; list what conditions may use."""

from __future__ import annotations

from datetime import date, datetime, time
from pathlib import Path
from typing import NoReturn

import typer

from jianyi.cli.common import EXIT_CODES, TokenOption
from jianyi.models.unit_seed import NetworkFileError
from jianyi.rules.calendar import SHANGHAI
from jianyi.rules.conditions import VARIABLES
from jianyi.rules.loader import RuleError, configured_rules_dir, load_rules, seed_unit_kinds
from jianyi.rules.schema import Profile, RuleSet
from jianyi.services.backtest import BacktestReport, Counts

rules_app = typer.Typer(
    help="Declarative rules: deadlines, supervision ladders, communications, routing.", no_args_is_help=True
)

EXIT_INVALID = EXIT_CODES[422]  # 7: the same code as any other invalid input


def _profile_state(profile: Profile) -> str:
    if profile.active.office:
        return "on for the whole office"
    if profile.active.campaigns:
        return "on for campaigns " + ", ".join(profile.active.campaigns)
    return "off"


def _summary(directory: Path, rules: RuleSet) -> list[str]:
    files = sorted(path.name for path in directory.glob("*.yaml"))
    lines = [f"rules OK: {directory} ({len(files)} files: {', '.join(files)})"]
    lines.append(f"  calendar: {rules.calendar.time_zone}, cut-off {rules.calendar.cutoff:%H:%M}")
    for section, count in rules.counts().items():
        lines.append(f"  {section}: {count}")
    lines.extend(f"  profile {profile.id}: {_profile_state(profile)}" for profile in rules.profiles)
    return lines


def _refuse(directory: Path, exc: RuleError) -> NoReturn:
    """Exit 7 with every problem on its own line (file:line: rule key: what was expected)."""
    count = len(exc.problems)
    typer.secho(
        f"error: {count} problem{'s' if count != 1 else ''} in {directory}", fg=typer.colors.RED, err=True
    )
    for problem in exc.problems:
        typer.echo(f"  {problem}", err=True)
    raise typer.Exit(EXIT_INVALID) from exc


@rules_app.command("check")
def check(
    directory: Path | None = typer.Argument(
        None, help="the rules directory (default: JIANYI_RULES_DIR, else the packaged defaults)"
    ),
    units: Path | None = typer.Option(
        None,
        "--units",
        help="network seed file whose unit codes routing may name (default: the packaged one)",
    ),
    no_units: bool = typer.Option(False, "--no-units", help="do not check unit codes"),
) -> None:
    """Load every *.yaml of DIR as the running system would: exit 0 with a summary, or 7 with
    every problem on its own line (file:line: rule key: what was expected)."""
    directory = directory or configured_rules_dir()
    try:
        kinds = None if no_units else seed_unit_kinds(units)
    except NetworkFileError as exc:
        typer.secho(f"error: {exc}", fg=typer.colors.RED, err=True)
        raise typer.Exit(1) from exc
    try:
        rules = load_rules(directory, units=kinds)
    except RuleError as exc:
        _refuse(directory, exc)
    for line in _summary(directory, rules):
        typer.echo(line)


@rules_app.command("variables")
def variables() -> None:
    """The variables a rule's condition (CEL) may use, with their types."""
    width = max(len(name) for name in VARIABLES)
    for name, kind in VARIABLES.items():
        typer.echo(f"{name:<{width}}  {kind}")


@rules_app.command("explain")
def explain_command(
    suggestion_id: int = typer.Argument(..., help="the suggestion's id"),
    token: str | None = TokenOption,
) -> None:
    """Which rules apply to a suggestion now: deadlines, what has fired and what will fire when."""
    from jianyi.cli.common import actor, emit, session
    from jianyi.services import views
    from jianyi.services.explain import explain

    with session() as db:
        who = actor(db, token)
        views.suggestion_view(db, actor=who, suggestion_id=suggestion_id)  # the same visibility as `show`
        emit(explain(db, suggestion_id=suggestion_id))


def _instant(value: str, option: str) -> datetime:
    """A date (00:00 in Shanghai, where the office counts its days) or an ISO datetime (naive: Shanghai)."""
    try:
        if len(value) == 10:
            return datetime.combine(date.fromisoformat(value), time(0), tzinfo=SHANGHAI)
        parsed = datetime.fromisoformat(value)
    except ValueError as exc:
        raise typer.BadParameter(
            f"expected a date (2026-11-01) or an ISO datetime, got {value!r}", param_hint=option
        ) from exc
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=SHANGHAI)


_BUCKET_HEADINGS = {
    "would_fire": "应触发而未触发 Would fire, did not",
    "would_not_fire": "已触发而不会触发 Fired, would not",
    "moved": "触发时间不同 Fired at another instant (≥ 1 h)",
    "deadline": "期限变化 Deadline changed",
}


def _local(instant: datetime | None) -> str:
    return instant.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M") if instant is not None else "—"


def _table(report: BacktestReport, directory: Path) -> list[str]:
    until = _local(report.until) if report.until is not None else f"now {_local(report.as_of)}"
    lines = [
        f"回放 Backtest of {directory}: {report.steps} steps opened {_local(report.since)} – {until}"
        f" (Asia/Shanghai); {report.differences} differences"
    ]
    for bucket, heading in _BUCKET_HEADINGS.items():
        counts: Counts = getattr(report, bucket)
        lines.append(f"{heading}: {counts.total}")
        for title, column in (("督办级 Rung", counts.by_rung), ("承办单位 Unit", counts.by_unit)):
            lines.extend(f"  {title:<14} {key:<28} {n:>5}" for key, n in column.items())
    if report.examples:
        lines.append("示例 Examples")
        lines.append(
            f"  {'跟踪码 Tracking':<22} {'步骤 Step':>9}  {'类型 Kind':<16} {'单位 Unit':<16} 变化 Change"
        )
        for d in report.examples:
            what = (
                f"{d.ladder}#{d.rung}"
                if d.ladder is not None
                else f"{d.actual_working_days}→{d.replay_working_days} WD"
            )
            lines.append(
                f"  {d.tracking_code:<22} {d.step_id:>9}  {d.kind:<16} {d.unit:<16} {d.bucket}: {what}"
                f" {_local(d.actual_at)} → {_local(d.replay_at)}"
            )
    return lines


@rules_app.command("backtest")
def backtest_command(
    directory: Path = typer.Option(
        ..., "--rules", help="the other rules directory to replay the history under"
    ),
    since: str = typer.Option(
        ..., "--since", help="steps opened from (date: 00:00 Asia/Shanghai, or ISO datetime)"
    ),
    until: str | None = typer.Option(None, "--until", help="steps opened before (default: now)"),
    examples: int = typer.Option(10, "--examples", min=0, help="how many differing steps to show"),
    as_json: bool = typer.Option(False, "--json", help="the report as JSON"),
) -> None:
    """Replay the history in the database under other rules and print what would have fired
    differently (counts by rule and unit, and the first examples)."""
    from jianyi.cli.common import emit, session
    from jianyi.services.backtest import backtest

    start, end = _instant(since, "--since"), _instant(until, "--until") if until else None
    try:
        rules = load_rules(directory)
    except RuleError as exc:
        _refuse(directory, exc)
    with session() as db:
        report = backtest(db, rules=rules, since=start, until=end, examples=examples)
    if as_json:
        emit(report)
    else:
        for line in _table(report, directory):
            typer.echo(line)
