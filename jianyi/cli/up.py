"""``jianyi up``: start the whole system on this machine, show it working, stop it all on Ctrl-C."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import httpx
import typer

from jianyi.db import session_scope
from jianyi.migrate import upgrade
from jianyi.models.enums import Role
from jianyi.rules.calendar import seed_from_chinese_calendar
from jianyi.runtime.scaleout import ScaleOut
from jianyi.runtime.system import System
from jianyi.services import auth
from jianyi.services.network import seed_network
from jianyi.settings import get_settings

# Demo officials created on first start: the city office, a supervisor, two departments, a district office.
DEMO_USERS: list[tuple[str, Role, str | None]] = [
    ("市征集办 王处长", Role.office, "city-office"),
    ("市征集办 督办 李科长", Role.supervisor, "city-office"),
    ("市交通委 赵经办", Role.department, "city-transport"),
    ("市教委 钱经办", Role.department, "city-edu"),
    ("黄浦区征集办 孙经办", Role.office, "huangpu-office"),
    ("系统管理员", Role.admin, None),
]

DEMO_SUGGESTION = {
    "title": "关于在地铁站增设无障碍电梯的建议",
    "content": (
        "问题：部分老旧地铁站出入口只有楼梯，老人和轮椅使用者出行不便。"
        "建议：结合更新改造，分批增设无障碍电梯，并在站内标识。"
    ),
    "channel": "mailbox",
    "channel_ref": "DEMO-0001",
    "proposer": {"name": "陈建议", "email": "chen@example.com"},
    "region": "huangpu-office",
}


def _demo_users(home: Path, url: str) -> dict[str, dict[str, str]]:
    """Create the demo users once; their tokens live in a 0600 file (only hashes are in the database)."""
    path = home / "demo-users.json"
    if path.exists():
        data: dict[str, dict[str, str]] = json.loads(path.read_text(encoding="utf-8"))
        return data
    users: dict[str, dict[str, str]] = {}
    with session_scope(url) as session:
        for name, role, unit in DEMO_USERS:
            _user, token = auth.create_user(session, name=name, role=role, unit_code=unit)
            users[name] = {"role": role.value, "unit": unit or "", "token": token}
    path.write_text(json.dumps(users, ensure_ascii=False, indent=2), encoding="utf-8")
    path.chmod(0o600)
    return users


def _show_demo(system: System, office_token: str) -> None:
    headers = {"Authorization": f"Bearer {office_token}"}
    response = httpx.post(
        f"{system.api_url}/api/suggestions", json=DEMO_SUGGESTION, headers=headers, timeout=10
    )
    response.raise_for_status()
    created = response.json()
    typer.echo(
        f"demo suggestion {created['tracking_code']} received (HTTP {response.status_code}); starting its flow run…"
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        view = httpx.get(
            f"{system.api_url}/api/suggestions/{created['id']}", headers=headers, timeout=10
        ).json()
        if view["open_steps"] and view["flow_run_id"]:
            steps = ", ".join(f"#{s['id']} {s['label']}" for s in view["open_steps"])
            typer.secho(
                f"  stage {view['stage_label']} ({view['stage']}), waiting for: {steps}",
                fg=typer.colors.GREEN,
            )
            typer.echo(
                f"  flow run: {system.prefect_api_url.removesuffix('/api') if system.prefect_api_url else ''}"
                f"/runs/flow-run/{view['flow_run_id']}"
            )
            return
        time.sleep(0.5)
    typer.secho(
        "  the demo suggestion did not reach its first step within 60 s; see executor.log",
        fg=typer.colors.RED,
    )


def up(
    scale_out: bool = typer.Option(
        False,
        "--scale-out",
        help="Prefect's documented multi-server layout: PostgreSQL, Redis, several Prefect API replicas "
        "behind nginx, its services in their own process; several jianyi APIs and executors",
    ),
    prefect_apis: int = typer.Option(
        2, "--prefect-apis", min=1, help="with --scale-out: Prefect API replicas"
    ),
    apis: int = typer.Option(2, "--apis", min=1, help="with --scale-out: jianyi API processes"),
    executors: int = typer.Option(2, "--executors", min=1, help="with --scale-out: jianyi executors"),
) -> None:
    """Start Prefect, the API, the executor and local SMTP and SMS sinks on 127.0.0.1; Ctrl-C stops everything."""
    settings = get_settings()
    home = settings.home.resolve()
    scale: ScaleOut | None = None
    if scale_out:
        home = home / "scale-out"  # its own PostgreSQL data, apart from the default profile's files
        scale = ScaleOut(
            home,
            prefect_apis=prefect_apis,
            apis=apis,
            executors=executors,
            port=settings.port,
            prefect_port=settings.prefect_port,
        )
        system = System(home)  # replaced by the profile's own once its services are up
    else:
        system = System(
            home,
            api_port=settings.port,
            prefect_api_url=os.environ.get("PREFECT_API_URL") or None,
            prefect_port=settings.prefect_port,
            smtp_port=settings.smtp_port,
            database_url=settings.resolved_database_url,
        )
    stopping = False
    failure: str | None = None  # why the system stopped by itself: `up` then exits non-zero

    def _stop(*_args: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, _stop)
    try:
        typer.echo(f"data directory {home}")
        if scale is not None:
            typer.echo(
                "starting PostgreSQL, Redis, "
                f"{prefect_apis} Prefect API replicas + its services process, nginx, the SMTP and SMS sinks…"
            )
            system = scale.start_services()
        else:
            typer.echo(
                "starting the SMTP and SMS sinks and the Prefect server (about 20 s on a new database)…"
            )
            system.start_services()
        upgrade(system.database_url)
        with session_scope(system.database_url) as session:
            created = seed_network(session)
            days = seed_from_chinese_calendar(session)
        if created:
            typer.echo(f"unit network seeded: {created} units")
        if days:
            typer.echo(f"working-day calendar seeded: {days} days from chinese_calendar")
        users = _demo_users(home, system.database_url)
        if scale is not None:
            scale.start_apis()
            scale.start_executors()
            watched: list[tuple[str, subprocess.Popen[bytes] | None]]
            watched = [(f"API {n}", p) for n, p in enumerate(scale.apis, 1)]
            watched += [(f"executor {n}", p) for n, p in enumerate(scale.executors, 1)]
        else:
            system.start_api()
            system.start_executor()
            watched = [("API", system.api), ("executor", system.executor)]
        typer.secho("\njianyi is up" + (" (scale-out profile)" if scale else ""), bold=True)
        typer.echo(f"  API        {system.api_url}/docs")
        typer.echo(f"  Prefect UI {(system.prefect_api_url or '').removesuffix('/api')}")
        if scale is not None:
            typer.echo(f"  processes  {', '.join(f'{k} ({v})' for k, v in scale.pids().items())}")
        typer.echo(f"  mailbox    {home / 'mail'} (every e-mail to proposers, as .eml)")
        typer.echo(f"  SMS        {system.sms.log_path} (every text message, one JSON line each)")
        typer.echo(f"  logs       {home}/*.log")
        typer.echo("  demo users (tokens also in demo-users.json):")
        for name, user in users.items():
            typer.echo(f"    {user['role']:<10} {user['unit'] or '-':<16} {name}: {user['token']}")
        office = next(
            u["token"] for u in users.values() if u["role"] == "office" and u["unit"] == "city-office"
        )
        typer.echo("")
        _show_demo(system, office)
        typer.echo(f"\ntry: JIANYI_TOKEN={office} .venv/bin/jianyi steps list\nCtrl-C stops everything.")
        while not stopping:
            for name, proc in watched:
                if proc is not None and proc.poll() is not None:
                    failure = f"the {name} exited ({proc.returncode}); see its log in {home}"
                    typer.secho(f"the {name} exited ({proc.returncode}); stopping", fg=typer.colors.RED)
                    stopping = True
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    except (RuntimeError, OSError, httpx.HTTPError) as exc:
        # A part that would not start (a port taken, Prefect failing): what went wrong, not a traceback.
        failure = str(exc).strip() or type(exc).__name__
    finally:
        typer.echo("stopping…")
        if scale is not None:
            scale.stop()
        else:
            system.stop()
    if failure is not None:
        typer.secho(f"error: jianyi stopped: {failure}", fg=typer.colors.RED, err=True)
        raise typer.Exit(1)
