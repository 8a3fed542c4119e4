"""The benchmark groups, in the order the runner runs them (cheap first), with what each measures."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Group:
    measures: str
    baseline: str


# Group name → its module in bench/figures (same name) and what docs/performance.md says of it.
GROUPS: dict[str, Group] = {
    "sweep": Group(
        "the escalation sweep over 1,000,000 open steps (SQLite, PostgreSQL)",
        "a Python loop over every open step",
    ),
    "board": Group(
        "the supervision board's queries over 350,000 suggestions, p95",
        "the same queries over 35,000",
    ),
    "figures": Group(
        "every figure of a whole year, and the annual report's PDF, over 350,000 suggestions",
        "the same over 35,000",
    ),
    "web": Group(
        "the officials' pages (workbench, step, board, tracking) with 20 officials browsing while "
        "opinions are completed, 350,000 suggestions (PostgreSQL), p95",
        "the JSON API for the same data, in the same run",
    ),
    "intake": Group(
        "bursts of intakes at 50/s: p95, and the backlog of flow-run starts draining",
        "one intake at rest",
    ),
    "throughput": Group(
        "human steps completed end to end per second, p95, CPU per step by process",
        "the same lifecycle run the standard Prefect way, one process per resumed run",
    ),
    "resume": Group(
        "the 20th–29th resumes of one suggestion: wall time, executor and Prefect CPU",
        "1st resumes of other suggestions, each taken right after one of those "
        "(a machine slowing down mid-run slows both)",
    ),
    "idle": Group(
        "the Prefect server and the executor with 100,000 suspended suggestions; "
        "Prefect DB per finished suggestion",
        "1 suspended; before retention",
    ),
    "spiff": Group(
        "SpiffWorkflow running the same seven stages, persisted per step",
        "plain JSON load/store",
    ),
}
