"""The digest of important suggestions (人民建议摘报), step 2 of the seven-step method: one flow run
compiles the next issue (第N期) from the items waiting for a leader's instruction → renders it (HTML,
PDF) → mails it to the leaders → a markdown artifact on the run. No item waiting: no issue.

jianyi's executor registers the deployment ``digest-of-important-suggestions/weekly`` and triggers it
on the rules' cron (``cycles.digest`` in the rules, jianyi/executor/cycles.py); deployments/prefect.yaml
has it with a Prefect schedule, for the standard way. The office compiles one on demand too
(``jianyi digest compile``, ``POST /api/digests``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from prefect import flow, get_run_logger
from prefect.artifacts import create_markdown_artifact
from prefect.context import FlowRunContext

from jianyi.db import read_scope
from jianyi.models import Digest
from jianyi.models.base import utcnow
from jianyi.services.cycles.digest import items_of, title_of
from jianyi.settings import get_settings
from jianyi.tasks.digest import compile_task, mail_task, render_task

FLOW_NAME = "digest-of-important-suggestions"


def _cell(value: object) -> str:
    return str(value).replace("|", "\\|").replace("\n", " ")


def summary(digest_id: int) -> str:
    """The artifact: the issue's items (no personal data) and where to download it."""
    with read_scope() as session:
        digest = session.get_one(Digest, digest_id)
        link = f"{get_settings().resolved_public_url}/api/digests/{digest.id}"
        lines = [
            f"# {title_of(digest.number)}",
            "",
            f"[PDF]({link}.pdf) · [HTML]({link}.html)",
            "",
            "| # | 编号 | 标题 | 区 |",
            "|---:|---|---|---|",
        ]
        for item in items_of(session, digest.id):
            e = item.entry
            lines.append(
                f"| {item.position} | {_cell(e['tracking_code'])} | {_cell(e['title'])} | {_cell(e['district'] or '—')} |"
            )
        return "\n".join(lines) + "\n"


@flow(name=FLOW_NAME, persist_result=False, log_prints=False)
def digest_of_important_suggestions(now: str | None = None, by: str = "schedule") -> dict[str, Any]:
    """Compile, render and mail the next issue; ``now`` (ISO 8601) is the compilation's instant."""
    at = datetime.fromisoformat(now) if now else utcnow()
    context = FlowRunContext.get()
    run_id = str(context.flow_run.id) if context and context.flow_run else None
    digest_id = compile_task(at.isoformat(), by, flow_run_id=run_id)
    if digest_id is None:
        get_run_logger().info("no important suggestion waits for the digest")
        return {"digest_id": None, "mails_queued": 0}
    files = render_task(digest_id)
    queued = mail_task(digest_id, at.isoformat())
    with read_scope() as session:
        number = session.get_one(Digest, digest_id).number
    create_markdown_artifact(
        markdown=summary(digest_id), key=f"digest-{number}", description=title_of(number)
    )
    get_run_logger().info("digest no. %d compiled, %d mail(s) queued", number, queued)
    return {"digest_id": digest_id, "number": number, **files, "mails_queued": queued}
