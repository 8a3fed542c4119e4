"""``jianyi figures``: the figures the office lives by (docs/figures.md), shown or exported."""

from __future__ import annotations

from pathlib import Path

import typer

from jianyi.cli.common import TokenOption, actor, emit, fail, session
from jianyi.models.base import utcnow
from jianyi.services.figures import FigureSet, Period, Scope, compute_figures, drilldown
from jianyi.services.figures.access import default_scope
from jianyi.services.figures.export import figures_file, suggestions_file

figures_app = typer.Typer(
    help="Figures (统计): on-time rates, adoption, counts, units, bulletin.", no_args_is_help=True
)

PeriodOption = typer.Option(..., "--period", help="2026-W49, 2026-12, 2026-Q4, 2026-H2 or 2026")
ScopeOption = typer.Option(
    None,
    "--scope",
    help="city, office:CODE, unit:CODE, category:…, channel:…, campaign:…, region:CODE; "
    "repeated, the suggestions every one takes in",
)


def _percent(value: float | None) -> str:
    return "—" if value is None else f"{value:.1%}"


def _print(figures: FigureSet) -> None:
    typer.echo(f"{figures.period.label}  {figures.scope}  (截至 {figures.as_of:%Y-%m-%d %H:%M} UTC)")
    for rate in figures.rates:
        typer.echo(
            f"  {rate.label_zh:<16} {_percent(rate.value):>7}  {rate.numerator}/{rate.denominator}  [{rate.name}]"
        )
    for table in figures.tables:
        rows = [f"{row.label} {row.count}" for row in table.rows if row.count]
        typer.echo(f"  {table.label_zh} [{table.name}]: " + ("；".join(rows) if rows else "无"))
    if figures.units:
        typer.echo("  单位 unit: 转办 按期 逾期 超期未办 最长超期工作日 提级 督办单(发/答/逾期)")
        for u in figures.units:
            typer.echo(
                f"    {u.unit} {u.name}: {u.referred} {u.on_time} {u.late} {u.open_overdue} "
                f"{u.max_working_days_overdue} {u.escalated} {u.orders_issued}/{u.orders_answered}/{u.orders_late}"
            )
    for item in figures.bulletin:
        typer.echo(f"  通报 {item.tracking_code} {item.title} {' '.join(item.months)} {' '.join(item.units)}")


@figures_app.command("show")
def show(
    period: str = PeriodOption,
    scope: list[str] | None = ScopeOption,
    as_json: bool = typer.Option(False, "--json", help="the whole figure set as JSON"),
    token: str | None = TokenOption,
) -> None:
    """Every figure of a period and scope."""
    with session() as db:
        who = actor(db, token)
        figures = compute_figures(
            db,
            actor=who,
            period=Period.parse(period),
            scope=Scope.parse_all(scope or []) or default_scope(db, who),
            now=utcnow(),
        )
    if as_json:
        emit(figures)
    else:
        _print(figures)


@figures_app.command("export")
def export(
    period: str = PeriodOption,
    scope: list[str] | None = ScopeOption,
    figure: str | None = typer.Option(
        None, "--figure", help="a figure's name: export its suggestions instead"
    ),
    key: str | None = typer.Option(None, "--key", help="with --figure: the key within it"),
    fmt: str = typer.Option("xlsx", "--format", help="xlsx or csv (UTF-8 with a BOM)"),
    out: Path = typer.Option(..., "--out", "-o", help="the file to write"),
    token: str | None = TokenOption,
) -> None:
    """Write the figures, or the suggestions behind one figure, as XLSX or CSV."""
    if fmt not in ("csv", "xlsx"):
        fail(f"--format: expected csv or xlsx, not {fmt!r}", code=7)
    with session() as db:
        who = actor(db, token)
        parsed, where = Period.parse(period), Scope.parse_all(scope or []) or default_scope(db, who)
        if figure is None:
            content = figures_file(
                compute_figures(db, actor=who, period=parsed, scope=where, now=utcnow()), fmt
            )
        else:
            rows = drilldown(db, actor=who, period=parsed, scope=where, figure=figure, key=key, now=utcnow())
            content = suggestions_file(
                rows, fmt, title=f"{parsed.label} {figure}" + (f" {key}" if key else "")
            )
    out.write_bytes(content)
    typer.echo(f"{out} ({len(content)} bytes)", err=True)
