"""``jianyi commendation``: the annual commendation (表彰奖励): the expert pool, a year's cycle, its
panel, scores, approval, publication and public list."""

from __future__ import annotations

from datetime import datetime

import typer
from prefect.settings import PREFECT_API_URL

from jianyi.cli.common import TokenOption, actor, domain_errors_as_exit_codes, emit, session
from jianyi.models.base import utcnow
from jianyi.services.cycles import commendation

commendation_app = typer.Typer(help="表彰奖励: the annual commendation cycle.", no_args_is_help=True)


def _at(now: datetime | None) -> datetime:
    return utcnow() if now is None else now if now.tzinfo else now.astimezone()


@commendation_app.command("expert-add")
def expert_add(
    name: str = typer.Argument(...),
    unit: str | None = typer.Option(None, "--unit"),
    user: int | None = typer.Option(None, "--user", help="their account's id: they score in their own name"),
    token: str | None = TokenOption,
) -> None:
    """Add a reviewer to the pool (``--unit``: where they work, for conflicts)."""
    with session() as db:
        expert = commendation.add_expert(db, actor=actor(db, token), name=name, unit=unit, user_id=user)
        emit({"id": expert.id, "name": expert.name})


@commendation_app.command("open")
def open_(
    year: int = typer.Argument(...),
    now: datetime | None = typer.Option(None, "--now"),
    token: str | None = TokenOption,
) -> None:
    """Open the year's cycle: the items implemented in its window are nominated."""
    with session() as db:
        emit(
            commendation.view(
                db, commendation.open_cycle(db, actor=actor(db, token), year=year, now=_at(now))
            )
        )


@commendation_app.command("nominate")
def nominate(
    year: int = typer.Argument(...),
    suggestion_id: int = typer.Argument(...),
    now: datetime | None = typer.Option(None, "--now"),
    token: str | None = TokenOption,
) -> None:
    """Nominate an adopted or partly adopted item by hand (it must be implemented: waiting at its
    commendation_result step)."""
    with session() as db:
        item = commendation.nominate_item(
            db, actor=actor(db, token), year=year, suggestion_id=suggestion_id, now=_at(now)
        )
        emit({"suggestion_id": item.suggestion_id, "source": item.source, "year": year})


@commendation_app.command("draw")
def draw(
    year: int = typer.Argument(...),
    seed: str | None = typer.Option(None, "--seed"),
    token: str | None = TokenOption,
) -> None:
    """Draw the panel (reproducible with --seed)."""
    with session() as db:
        emit(commendation.view(db, commendation.draw_panel(db, actor=actor(db, token), year=year, seed=seed)))


@commendation_app.command("score")
def score(
    year: int = typer.Argument(...),
    expert_id: int = typer.Argument(...),
    suggestion_id: int = typer.Argument(...),
    value: int = typer.Argument(...),
    token: str | None = TokenOption,
) -> None:
    """Record a reviewer's score (0–100) of an item."""
    with session() as db:
        item = commendation.score(
            db,
            actor=actor(db, token),
            year=year,
            expert_id=expert_id,
            suggestion_id=suggestion_id,
            value=value,
        )
        emit({"suggestion_id": item.suggestion_id, "scores": item.scores})


@commendation_app.command("approve")
def approve(
    year: int = typer.Argument(...),
    now: datetime | None = typer.Option(None, "--now"),
    token: str | None = TokenOption,
) -> None:
    """The head of the city office approves the ranking."""
    with session() as db:
        emit(commendation.view(db, commendation.approve(db, actor=actor(db, token), year=year, now=_at(now))))


@commendation_app.command("publish")
def publish(
    year: int = typer.Argument(...),
    now: datetime | None = typer.Option(None, "--now"),
    local: bool = typer.Option(False, "--local", help="without Prefect"),
    token: str | None = TokenOption,
) -> None:
    """Complete every nominated item's step with the result (a Prefect flow run when PREFECT_API_URL
    is set); the cases' runs then tell the proposers and close them."""
    with session() as db:
        commendation.require_office(db, actor(db, token))
    at = _at(now)
    with domain_errors_as_exit_codes():
        if local or not PREFECT_API_URL.value():
            from jianyi.flows.commendation import publish_result

            publish_result(year, at)
        else:
            from jianyi.flows.commendation import commendation_publication

            commendation_publication(year=year, now=at.isoformat())
    with session() as db:
        emit(commendation.view(db, commendation.get_cycle(db, year=year)))


@commendation_app.command("show")
def show(
    year: int = typer.Argument(...),
    public: bool = typer.Option(False, "--public"),
    token: str | None = TokenOption,
) -> None:
    """The cycle; --public: its public list as anyone sees it."""
    with session() as db:
        cycle = commendation.get_cycle(db, year=year)
        if public:
            emit({"year": year, "commended": commendation.public_list(db, cycle)})
        else:
            commendation.require_office(db, actor(db, token))
            emit(commendation.view(db, cycle))
