"""Long-running commands: the API, the executor, and ``up`` (the whole system on this machine)."""

from __future__ import annotations

import asyncio
import logging
import signal

import typer

from jianyi.settings import get_settings


def register(app: typer.Typer) -> None:
    app.command()(api)
    app.command()(executor)
    app.command()(migrate)
    app.command()(seed)
    from jianyi.cli.up import up

    app.command()(up)


def api() -> None:
    """Serve the HTTP API (OpenAPI at /docs)."""
    import uvicorn

    from jianyi.api.security import uvicorn_log_config

    settings = get_settings()
    uvicorn.run(
        "jianyi.api.app:create_served_app",
        factory=True,
        host=settings.host,
        port=settings.port,
        workers=settings.api_workers,
        log_level="info",
        log_config=uvicorn_log_config(),  # the access log masks check codes and tokens in URLs
    )


def executor() -> None:
    """Run the lifecycle executor: starts, wakes and runs the suggestions' flow runs; sends the outbox."""
    from jianyi.executor.runner import Executor  # imports Prefect, which configures logging its way

    # Prefect's logging setup leaves loggers outside "prefect" without a handler: give ours one.
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s | %(levelname)-7s | %(name)s - %(message)s"))
    jianyi_log = logging.getLogger("jianyi")
    jianyi_log.addHandler(handler)
    jianyi_log.setLevel(logging.INFO)
    jianyi_log.propagate = False
    # A suspended attempt is how every wait ends; Prefect's engine logs it at ERROR, which would
    # bury real errors under one false alarm per human step.
    logging.getLogger("prefect.flow_runs").addFilter(
        lambda record: "Finished in state Suspended" not in record.getMessage()
    )

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await Executor().run(stop)

    asyncio.run(main())


def migrate() -> None:
    """Bring the application database to the newest schema."""
    from jianyi.cli.common import database_errors
    from jianyi.migrate import upgrade

    with database_errors(must_exist=False):
        upgrade()
    typer.echo(f"database at the newest schema: {get_settings().resolved_database_url}")


def seed() -> None:
    """Load the unit network and the working-day calendar (idempotent)."""
    from jianyi.cli.common import database_errors
    from jianyi.db import session_scope
    from jianyi.rules.calendar import seed_from_chinese_calendar
    from jianyi.services.network import seed_network

    with database_errors(), session_scope() as session:
        created = seed_network(session)
        days = seed_from_chinese_calendar(session)
    typer.echo(f"{created} units created, {days} calendar days written")
