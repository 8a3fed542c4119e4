"""``jianyi retention``: the proposers' personal data kept only as long as it may be
(jianyi.services.personal_data)."""

from __future__ import annotations

from dataclasses import asdict
from datetime import timedelta

import typer

from jianyi.cli.common import TokenOption, actor, emit, session
from jianyi.services import personal_data
from jianyi.services.actors import EXECUTOR
from jianyi.settings import get_settings

retention_app = typer.Typer(
    help="Proposers' personal data: retention, erasure, who saw it.", no_args_is_help=True
)


@retention_app.command("run")
def run(
    dry_run: bool = typer.Option(False, "--dry-run", help="list what would be erased, change nothing"),
) -> None:
    """Erase the proposers' data of the cases closed longer ago than JIANYI_PERSONAL_DATA_RETENTION_DAYS
    (the executor does this every few hours); the cases, figures and audit stay."""
    days = get_settings().personal_data_retention_days
    if not days:
        emit({"retention_days": 0, "erased": [], "note": "retention is off (0 keeps the data)"})
        return
    with session() as db:
        erased = personal_data.run_retention(
            db, actor=EXECUTOR, older_than=timedelta(days=days), dry_run=dry_run
        )
        rows = [{**asdict(e), "closed_at": e.closed_at.isoformat() if e.closed_at else None} for e in erased]
    emit({"retention_days": days, "dry_run": dry_run, "erased": rows})


@retention_app.command("erase")
def erase(
    suggestion_id: int = typer.Argument(...),
    basis: str = typer.Option(..., "--basis", help="the proposer's request and the law that allows it"),
    token: str | None = TokenOption,
) -> None:
    """Record a proposer's erasure request and erase their data now (a closed case; the handling office)."""
    with session() as db:
        erased = personal_data.request_erasure(
            db, actor=actor(db, token), suggestion_id=suggestion_id, basis=basis
        )
        row = {**asdict(erased), "closed_at": erased.closed_at.isoformat() if erased.closed_at else None}
    emit(row)


@retention_app.command("views")
def views(suggestion_id: int = typer.Argument(...), token: str | None = TokenOption) -> None:
    """Who was shown the suggestion's proposer's data, and when (the handling office)."""
    with session() as db:
        emit(
            {
                "suggestion_id": suggestion_id,
                "entries": personal_data.views_of(db, actor=actor(db, token), suggestion_id=suggestion_id),
            }
        )
