"""``jianyi supervision``: run the rules' sweep by hand (the executor runs it on a schedule)."""

from __future__ import annotations

from datetime import datetime

import typer

from jianyi.cli.common import emit, fail

supervision_app = typer.Typer(
    help="Supervision (督办): reminders, supervision orders, escalation.", no_args_is_help=True
)


@supervision_app.command("sweep")
def sweep(
    now: str | None = typer.Option(
        None, "--now", help="sweep as of this instant (ISO 8601 with offset); default: the present"
    ),
) -> None:
    """Fire every due rung once and remind the offices of overdue communications (safe to run
    beside the executor: nothing fires twice)."""
    from jianyi.executor.sweeps import sweep_once

    at = None
    if now is not None:
        try:
            at = datetime.fromisoformat(now)
        except ValueError:
            fail(f"--now: not an ISO 8601 instant: {now!r}", code=7)
        if at.tzinfo is None:
            fail("--now: give the offset, e.g. 2026-12-01T09:00:00+08:00", code=7)
    result = sweep_once(at)
    emit({"fired": [f.__dict__ for f in result.fired], "reminded": [r.__dict__ for r in result.reminded]})
