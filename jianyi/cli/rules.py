"""``jianyi rules``: check a rules directory before it is put in force; list what conditions may use."""

from __future__ import annotations

from pathlib import Path

import typer

from jianyi.cli.common import EXIT_CODES, TokenOption
from jianyi.rules.conditions import VARIABLES
from jianyi.rules.loader import RuleError, configured_rules_dir, load_rules, seed_unit_kinds
from jianyi.rules.schema import Profile, RuleSet
from jianyi.services.network import NetworkFileError

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
        count = len(exc.problems)
        typer.secho(
            f"error: {count} problem{'s' if count != 1 else ''} in {directory}", fg=typer.colors.RED, err=True
        )
        for problem in exc.problems:
            typer.echo(f"  {problem}", err=True)
        raise typer.Exit(EXIT_INVALID) from exc
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
