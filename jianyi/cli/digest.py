"""``jianyi digest``: compile the next issue of 人民建议摘报, list the issues, show one, record a
leader's instruction on an item."""

from __future__ import annotations

from datetime import date, datetime

import typer
from prefect.settings import PREFECT_API_URL

from jianyi.cli.common import TokenOption, actor, domain_errors_as_exit_codes, emit, fail, session
from jianyi.models import Digest
from jianyi.models.base import utcnow
from jianyi.services import views
from jianyi.services.cycles import digest as digests
from jianyi.services.cycles import instructions

digest_app = typer.Typer(
    help="人民建议摘报: the digest of important suggestions to the city's leaders.", no_args_is_help=True
)


@digest_app.command("compile")
def compile_(
    now: datetime | None = typer.Option(None, "--now", help="compile as of this instant (ISO 8601)"),
    local: bool = typer.Option(
        False,
        "--local",
        help="run without Prefect (also when PREFECT_API_URL is unset): no flow run, no artifact",
    ),
    token: str | None = TokenOption,
) -> None:
    """Compile the next issue from the items waiting, render it and mail it to the leaders: as a
    Prefect flow run when PREFECT_API_URL is set, else in this process. Exit 3 when no item waits."""
    with session() as db:
        who = actor(db, token)
        digests.require_office(db, who)
    at = utcnow() if now is None else now if now.tzinfo else now.astimezone()  # naive: local time
    by = who.name or who.label
    with domain_errors_as_exit_codes():
        if local or not PREFECT_API_URL.value():
            from jianyi.tasks.digest import produce

            digest_id = produce(at, by=by, actor=who)
        else:
            from jianyi.flows.digest import digest_of_important_suggestions

            digest_id = digest_of_important_suggestions(now=at.isoformat(), by=by)["digest_id"]
    if digest_id is None:
        fail("no important suggestion waits for the digest", code=3)
    with session() as db:
        emit(instructions.digest_out(db, db.get_one(Digest, digest_id)))


@digest_app.command("list")
def list_(token: str | None = TokenOption) -> None:
    """The issues, newest first."""
    with session() as db:
        emit(
            [
                instructions.digest_out(db, d, with_items=False)
                for d in digests.list_digests(db, actor=actor(db, token))
            ]
        )


@digest_app.command("show")
def show(digest_id: int = typer.Argument(...), token: str | None = TokenOption) -> None:
    """One issue with its items, where each instruction stands, and its files."""
    with session() as db:
        digest = digests.get_digest(db, actor=actor(db, token), digest_id=digest_id)
        emit(
            {
                **instructions.digest_out(db, digest).model_dump(mode="json"),
                "pdf_file": digest.pdf_path,
                "html_file": digest.html_path,
            }
        )


@digest_app.command("instruct")
def instruct(
    digest_id: int = typer.Argument(...),
    suggestion_id: int = typer.Argument(...),
    text: str | None = typer.Option(None, "--text", help="the instruction (批示); leave out with --none"),
    none: bool = typer.Option(False, "--none", help='record "no instruction"'),
    leader: str | None = typer.Option(
        None, "--leader", help="who instructed (the office, for a paper instruction)"
    ),
    on: str | None = typer.Option(None, "--on", help="the date of the instruction, YYYY-MM-DD"),
    token: str | None = TokenOption,
) -> None:
    """Record a leader's instruction on an item (or --none): completes its leader_instruction step."""
    if none == (text is not None):
        fail("give --text or --none", code=7)
    payload: dict[str, object] = {"has_instruction": not none}
    if text is not None:
        payload["text"] = text
    if leader is not None:
        payload["leader"] = leader
    if on is not None:
        try:
            payload["instructed_on"] = date.fromisoformat(on).isoformat()
        except ValueError:
            fail(f"--on: expected YYYY-MM-DD, got {on!r}", code=7)
    with session() as db:
        step = instructions.record(
            db, actor=actor(db, token), digest_id=digest_id, suggestion_id=suggestion_id, payload=payload
        )
        emit(views.step_view(db, step))
