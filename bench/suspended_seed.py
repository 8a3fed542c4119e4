"""Many genuinely suspended suggestions, fast: one made the normal way, then copied N times in SQL.

Creating a suspended run through the executor costs ~0.15 s here, so 100,000 would take hours. Instead
``make_template`` starts the whole system, takes in one suggestion and waits until its flow run is
Suspended at triage, its acknowledgement sent. ``clone`` then copies that case, with the Prefect
server stopped (the executor and the API may run on): in the application database every row of the
suggestion (proposer, suggestion, open triage step, its timers, stage entry, audit, planned
communication, sent outbox message) with fresh ids and plausible payloads (bench/generate.py),
through SQLAlchemy Core; in the Prefect server's SQLite database every row of its flow run (run,
states, input schema, task run and its states, logs, events and their resources) with fresh UUIDs,
same flow and deployment. The copies are what Prefect wrote for a real suspended run, so the server
and the executor see N suggestions waiting exactly as ours do.
"""

from __future__ import annotations

import json
import re
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import Enum
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import Column, ColumnElement, Integer, MetaData, Table, Text, func, insert, select, true

from bench.generate import suggestions as generated
from jianyi.db import make_engine, session_scope
from jianyi.migrate import upgrade
from jianyi.models.base import Base
from jianyi.models.enums import Channel, Role
from jianyi.rules.calendar import seed_from_chinese_calendar
from jianyi.runtime.system import System
from jianyi.services import auth
from jianyi.services.network import seed_network

# The officials of tests/support.py's scenarios, by the names its scripts use.
OFFICIALS = {
    "office": ("市征集办 王处长", Role.office, "city-office"),
    "transport": ("市交通委 赵经办", Role.department, "city-transport"),
    "edu": ("市教委 钱经办", Role.department, "city-edu"),
    "housing": ("市房管局 孙经办", Role.department, "city-housing"),
}
UUID_RE = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # intake's tracking-code alphabet
# The Prefect tables that hold a flow run, parents before children.
RUN_TABLES = ["flow_run", "flow_run_state", "flow_run_input", "task_run", "task_run_state", "log"]
EVENT_TABLES = ["events", "event_resources"]


def clone_id(template_id: str, k: int) -> str:
    """Clone k's copy of a template UUID: its random last 48 bits replaced by k, so one rule maps every
    id (and every reference to it, in any column or JSON) the same way, in Python as in SQL."""
    return f"{template_id[:24]}{k:012x}"


# --- the system and the template run ------------------------------------------------------------


@dataclass
class Office:
    """A started system and its officials' tokens."""

    system: System
    tokens: dict[str, str]
    http: httpx.Client

    def headers(self, who: str = "office") -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[who]}"}


def start(home: Path, *, extra_env: dict[str, str] | None = None) -> Office:
    """The whole system as ``jianyi up`` starts it, in ``home``, with the scenarios' officials."""
    # No periodic reports: their catch-up at the executor's start would render PDFs mid-measurement.
    system = System(
        home, prefect_ui=False, extra_env={"JIANYI_REPORTS_SCHEDULED": "false", **(extra_env or {})}
    )
    system.start_services()
    upgrade(system.database_url)
    tokens = {}
    with session_scope(system.database_url) as session:
        seed_network(session)
        seed_from_chinese_calendar(session)
        for key, (name, role, unit) in OFFICIALS.items():
            tokens[key] = auth.create_user(session, name=name, role=role, unit_code=unit)[1]
    system.start_executor()  # first: it starts up while start_api() waits for the API to answer
    system.start_api()
    return Office(system, tokens, httpx.Client(base_url=system.api_url, timeout=30))


def wait_until(what: Callable[[], Any], timeout: float, message: str) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = what()
        if value:
            return value
        time.sleep(0.2)
    raise TimeoutError(f"timed out after {timeout:.0f} s: {message}")


def flow_run_state(office: Office, flow_run_id: str) -> str:
    assert office.system.prefect_api_url is not None
    state = httpx.get(f"{office.system.prefect_api_url}/flow_runs/{flow_run_id}", timeout=10).json()["state"]
    return str(state["type"])


@dataclass(frozen=True)
class Template:
    suggestion_id: int
    flow_run_id: str


def make_template(office: Office, data: dict[str, Any], timeout: float = 120) -> Template:
    """Take in one suggestion; return once its run is Suspended at triage and its acknowledgement sent."""
    created = office.http.post("/api/suggestions", json=data, headers=office.headers())
    created.raise_for_status()
    sid = int(created.json()["id"])

    def suspended() -> str | None:
        view = office.http.get(f"/api/suggestions/{sid}", headers=office.headers()).json()
        run_id = view["flow_run_id"]
        sent = all(c["delivery"] == "sent" for c in view["communications"] if not c["manual"])
        if run_id and sent and view["open_steps"] and flow_run_state(office, run_id) == "PAUSED":
            return str(run_id)
        return None

    run_id = wait_until(suspended, timeout, f"suggestion {sid} suspended at triage")
    return Template(sid, run_id)


# --- the application database ---------------------------------------------------------------------


@dataclass(frozen=True)
class Clone:
    k: int  # 1..N: the clone's number, which its Prefect ids carry
    suggestion_id: int
    step_id: int
    flow_run_id: str
    run_name: str


# What differs from clone to clone in the application database: a column of the values table each.
_VALUES = Table(
    "idle_clone_values",
    MetaData(),
    Column("k", Integer, primary_key=True),
    *(Column(name, Text) for name in ("code", "check_code", "run_id", "comm", "title", "content")),
    *(Column(name, Text) for name in ("channel", "channel_ref", "name", "phone", "email")),
    prefixes=["TEMPORARY"],
)


def _case_tables() -> list[Table]:
    """The tables that hold one case: proposers, suggestions and every table keyed by suggestion_id."""
    tables = Base.metadata.sorted_tables  # parents first, so foreign keys hold while inserting
    return [t for t in tables if t.name in ("proposers", "suggestions") or "suggestion_id" in t.c]


def _text(value: Any) -> str:
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False)
    return value if isinstance(value, str) and not isinstance(value, Enum) else ""


def clone_cases(database_url: str, template: Template, n: int) -> list[Clone]:
    """N copies of the template's case, each with its own proposer, codes and payload.

    One ``INSERT … SELECT`` (SQLAlchemy Core) per template row, joined with a temporary table of the
    clones' values: every copy is made by the database, with the template's columns, and only ids,
    references and the case's own texts replaced. Each statement commits on its own, so a running
    executor waits for the write lock a second or two at a time, never past its busy timeout. Written
    for the bench's SQLite database.
    """
    engine = make_engine(database_url)
    tables = _case_tables()
    names = {t.name: t for t in tables}
    clones: list[Clone] = []
    with engine.connect() as conn:
        cases = names["suggestions"]
        suggestion = conn.execute(select(cases).where(cases.c.id == template.suggestion_id)).mappings().one()
        rows: dict[str, list[Any]] = {}
        base: dict[str, int] = {}
        for table in tables:
            if table.name == "proposers":
                key = table.c.id == suggestion["proposer_id"]
            else:
                key = (
                    table.c.id if table.name == "suggestions" else table.c.suggestion_id
                ) == template.suggestion_id
            rows[table.name] = list(conn.execute(select(table).where(key).order_by(table.c.id)).mappings())
            base[table.name] = (conn.scalar(select(func.max(table.c.id))) or 0) + 1
        assert all(r["state"] == "sent" for r in rows["outbox_messages"]), (
            "clone a case whose messages are sent"
        )
        proposer = rows["proposers"][0]
        step_index = next(j for j, r in enumerate(rows["steps"]) if r["state"] == "open")
        stamp = f"JY{datetime.now(UTC):%y%m}"
        values = []
        # Codes and channel references from the new suggestion ids: unique even if a database is cloned twice.
        for k, item in enumerate(generated(n, seed=11, prefix=f"idle{base['suggestions']}"), start=1):
            sid = base["suggestions"] + k - 1
            code = stamp + "".join(_ALPHABET[(sid >> (5 * i)) & 31] for i in reversed(range(8)))
            person = item.data["proposer"]
            values.append(
                {
                    "k": k, "code": code, "check_code": f"{k % 10**6:06d}",
                    "run_id": clone_id(template.flow_run_id, k), "comm": f"comm:{sid}:",
                    "title": item.data["title"], "content": item.data["content"],
                    "channel": Channel(item.data["channel"]).name, "channel_ref": item.data["channel_ref"],
                    "name": person["name"], "phone": person["phone"],
                    "email": person.get("email") or f"p{k}@example.com",
                }
            )  # fmt: skip
            clone_step = base["steps"] + (k - 1) * len(rows["steps"]) + step_index
            name = f"{code} {item.data['title'][:40]}"
            clones.append(Clone(k, sid, clone_step, clone_id(template.flow_run_id, k), name))
        conn.rollback()  # end the reading transaction: each write below is its own
        _VALUES.create(conn)  # a temporary table: this connection's, across its transactions
        conn.execute(insert(_VALUES), values)
        conn.commit()
        v = _VALUES.c
        # Texts of the template's case, and the column of the values table each becomes in a copy.
        texts = [
            (suggestion["tracking_code"], v.code), (suggestion["check_code"], v.check_code),
            (template.flow_run_id, v.run_id), (f"comm:{template.suggestion_id}:", v.comm),
            (suggestion["title"], v.title), (proposer["name"], v.name),
            (proposer["email"], v.email), (proposer["phone"], v.phone),
        ]  # fmt: skip
        overrides = {
            "suggestions": {"title": v.title, "content": v.content, "channel": v.channel, "channel_ref": v.channel_ref,
                            "flow_run_id": v.run_id, "tracking_code": v.code, "check_code": v.check_code},
            "proposers": {"name": v.name, "phone": v.phone, "email": v.email},
        }  # fmt: skip

        def nth(table: str, j: int) -> ColumnElement[Any]:
            """The id of the copy of the table's j-th template row: clones take consecutive blocks."""
            return base[table] + j + (v.k - 1) * len(rows[table])

        for table in tables:
            t = table.alias("t")
            for j, row in enumerate(rows[table.name]):
                exprs: list[ColumnElement[Any]] = []
                for column in table.c:
                    value = row[column.name]
                    expr: ColumnElement[Any] = t.c[column.name]
                    # A reference into the case follows the copy; one to a unit or a user stays.
                    into = [
                        fk.column.table.name for fk in column.foreign_keys if fk.column.table.name in rows
                    ]
                    if column.name == "id":
                        expr = nth(table.name, j)
                    elif into and value is not None:
                        expr = nth(into[0], [r["id"] for r in rows[into[0]]].index(value))
                    elif column.name in overrides.get(table.name, {}):
                        expr = overrides[table.name][column.name]
                    else:
                        for old, new in texts:
                            if old and old in _text(value):
                                expr = func.replace(expr, old, new)
                    exprs.append(expr.label(column.name))
                query = select(*exprs).select_from(t.join(_VALUES, true())).where(t.c.id == row["id"])
                conn.execute(insert(table).from_select([c.name for c in table.c], query))
                conn.commit()
        _VALUES.drop(conn)
        conn.commit()
    engine.dispose()
    return clones


# --- the Prefect database -------------------------------------------------------------------------


def _template_rows(db: sqlite3.Connection, run_id: str) -> dict[str, list[sqlite3.Row]]:
    """The run's rows, table by table: run, states, input, task runs and theirs, logs, events."""
    found: dict[str, list[sqlite3.Row]] = {}

    def take(table: str, where: str, args: list[Any]) -> list[Any]:
        found[table] = db.execute(f'SELECT rowid AS rowid_, * FROM "{table}" WHERE {where}', args).fetchall()
        return [r["id"] for r in found[table]]

    take("flow_run", "id = ?", [run_id])
    for table in ("flow_run_state", "flow_run_input", "log"):
        take(table, "flow_run_id = ?", [run_id])
    task_ids = take("task_run", "flow_run_id = ?", [run_id])
    take("task_run_state", f"task_run_id IN ({','.join('?' * len(task_ids))})", task_ids)
    # The run's events: those whose resource or related resources name the run or one of its task runs.
    named = " OR ".join(["instr(resource_id || related, ?) > 0"] * (1 + len(task_ids)))
    event_ids = take("events", named, [run_id, *task_ids])
    take("event_resources", f"event_id IN ({','.join('?' * len(event_ids))})", event_ids)
    return found


def clone_runs(prefect_db: Path, template: Template, clones: list[Clone]) -> dict[str, int]:
    """Copy the template's flow run once per clone into the (stopped) server's SQLite database.

    One ``INSERT … SELECT`` per template row joined with a temporary table of the clones' values. Every
    UUID of the run's rows that the flow or deployment does not own maps through ``clone_id``, wherever
    it appears (ids, references, JSON), so the copies reference each other as the template's rows do.
    Indexes of the written tables are dropped first and rebuilt after: building an index once is far
    faster than maintaining it through millions of inserts. Returns the rows written per table.
    """
    db = sqlite3.connect(prefect_db, isolation_level=None)
    db.row_factory = sqlite3.Row
    # A bulk load into a stopped server's database: no journal, a big cache for the index sorts. WAL
    # (the server's mode) is restored at the end.
    db.execute("PRAGMA journal_mode=DELETE")
    db.execute("PRAGMA journal_mode=OFF")
    db.execute("PRAGMA synchronous=OFF")
    db.execute("PRAGMA cache_size=-512000")
    db.execute("PRAGMA temp_store=MEMORY")
    found = _template_rows(db, template.flow_run_id)
    tables = RUN_TABLES + EVENT_TABLES

    def uuids(rows: list[sqlite3.Row]) -> set[str]:
        return {m for row in rows for m in UUID_RE.findall(str(tuple(row)))}

    shared = uuids(db.execute("SELECT * FROM flow").fetchall()) | uuids(
        db.execute("SELECT * FROM deployment").fetchall()
    )
    own = set().union(*(uuids(found[t]) for t in tables)) - shared
    assert len({i[:24] for i in own}) == len(own), "two template ids share a prefix: clone_id would collide"
    run = found["flow_run"][0]
    name, params = str(run["name"]), json.loads(run["parameters"])
    step = next((m[1] for r in found["log"] if (m := re.search(r" #(\d+) \(key", r["message"]))), None)
    texts = [  # the run's texts, longest first, and the column of the values table each becomes
        (json.dumps(name)[1:-1], "name_json"),  # as events hold it, \u-escaped
        (name, "name"),
        (run["parameters"], "params"),
        (f":suggestion-{params['suggestion_id']}", "idem"),
        *([(f" #{step} (", "step")] if step else []),
    ]
    texts.sort(key=lambda t: -len(t[0]))
    db.execute("CREATE TEMP TABLE clone (k INTEGER PRIMARY KEY, kx, name, name_json, params, idem, step)")
    db.executemany(
        "INSERT INTO clone VALUES (?, ?, ?, ?, ?, ?, ?)",
        (
            (c.k, f"{c.k:012x}", c.run_name, json.dumps(c.run_name)[1:-1],
             json.dumps({"suggestion_id": c.suggestion_id}), f":suggestion-{c.suggestion_id}", f" #{c.step_id} (")
            for c in clones
        ),
    )  # fmt: skip
    marks = ",".join("?" * len(tables))
    indexes = db.execute(
        f"SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL AND tbl_name IN ({marks})",
        tables,
    ).fetchall()
    db.execute("BEGIN")
    for index in indexes:
        db.execute(f'DROP INDEX "{index["name"]}"')
    for table in tables:
        for row in found[table]:
            columns = [c for c in row.keys() if c != "rowid_"]  # noqa: SIM118 - a Row iterates its values
            exprs: list[str] = []
            args: list[str] = []
            for column in columns:
                expr, value = f't."{column}"', row[column]
                if isinstance(value, str):
                    for old, key in texts:
                        if old in value:
                            expr, args = f"replace({expr}, ?, c.{key})", [*args, old]
                    for uid in sorted(own.intersection(UUID_RE.findall(value))):
                        expr, args = f"replace({expr}, ?, ? || c.kx)", [*args, uid, uid[:24]]
                exprs.append(expr)
            quoted = ", ".join(f'"{c}"' for c in columns)
            select_ = f'SELECT {", ".join(exprs)} FROM "{table}" AS t, clone AS c WHERE t.rowid = ?'
            db.execute(f'INSERT INTO "{table}" ({quoted}) {select_}', [*args, row["rowid_"]])
    for index in indexes:
        db.execute(index["sql"])
    db.execute("COMMIT")
    if db.execute("SELECT 1 FROM sqlite_master WHERE name = 'sqlite_stat1'").fetchone():
        db.execute("ANALYZE")  # the server had planner statistics: keep them true to the new volume
    db.execute("DROP TABLE clone")
    db.execute("PRAGMA journal_mode=WAL")
    db.close()
    return {t: len(found[t]) * len(clones) for t in tables}


def clone(database_url: str, prefect_db: Path, template: Template, n: int) -> dict[str, Any]:
    """N copies of the template, in both databases (the Prefect server stopped); what was written, and how fast."""
    started = time.monotonic()
    clones = clone_cases(database_url, template, n)
    app_seconds = time.monotonic() - started
    written = clone_runs(prefect_db, template, clones)
    return {
        "how": "SQL copies (INSERT … SELECT) of one real suspended run and its case, bench/suspended_seed.py",
        "clones": n,
        "app_db_seconds": round(app_seconds, 1),
        "prefect_db_seconds": round(time.monotonic() - started - app_seconds, 1),
        "prefect_rows_per_run": {t: rows // max(n, 1) for t, rows in written.items()},
    }
