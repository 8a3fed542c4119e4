"""SpiffWorkflow running the seven-stage process, with each case saved between human steps.

Each case (one suggestion) is a ``BpmnWorkflow`` stored as JSON in one SQLite row. When someone completes
a step, a human-step engine has to do this, because the process may restart between any two steps:
load the case's JSON, deserialize it, complete the ready user task with the step's input, run the engine
to its next wait, serialize, store and commit. ``SpiffCases`` does exactly that. ``PlainCases`` does the
same steps with no engine: it loads and stores a JSON document of the same size and shape in the same
table. The difference between the two is the engine's own work.

Scripts come from the scenarios in tests/support.py, so the peer plays the steps jianyi's own
benchmarks and tests play.
"""

from __future__ import annotations

import copy
import json
import sqlite3
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.bpmn.parser import BpmnParser, BpmnValidator
from SpiffWorkflow.bpmn.serializer import BpmnWorkflowSerializer
from SpiffWorkflow.bpmn.specs.mixins.user_task import UserTask
from SpiffWorkflow.util.task import TaskState

BPMN = Path(__file__).resolve().with_name("seven_stages.bpmn")
PROCESS_ID = "seven_stages"
# The steps that open beside the main path (objection and reroute, extension request and decision) are
# not in the model (see the BPMN's header); the peer's scripts leave them out.
NOT_MODELLED = frozenset({"objection", "reroute", "extension_request", "extension_decision"})
LAPSED: dict[str, Any] = {"lapsed": True}  # a step that closes unanswered, e.g. no rating within 10 WD
# jianyi's outcome → the end events of the model that may reach it, to check the model against the scenarios.
END_EVENTS: dict[str, frozenset[str]] = {
    "redirected": frozenset({"redirected"}),
    "out_of_scope": frozenset({"out_of_scope"}),
    "merged": frozenset({"merged"}),
    "not_adopted": frozenset({"not_adopted", "closed"}),
    "kept_for_reference": frozenset({"not_adopted", "closed"}),
    "implemented": frozenset({"finished"}),
    "commended": frozenset({"finished"}),
}


@dataclass(frozen=True)
class Script:
    """One case's human steps, in order: (user task id, the input the "user" gives)."""

    name: str
    steps: tuple[tuple[str, dict[str, Any]], ...]
    skipped: tuple[str, ...] = ()  # steps of the scenario the model has no task for
    ends: frozenset[str] = frozenset()  # the end events the case may finish at (empty: not checked)


def scenario_scripts(names: Sequence[str] | None = None) -> list[Script]:
    """The scripts of tests/support.py's scenarios (all of them, or those named)."""
    support = _support()
    scripts = []
    for scenario in support.SCENARIOS:
        if names is not None and scenario.name not in names:
            continue
        steps = []
        skipped = []
        for action in scenario.actions:
            kind = str(action.kind.value)
            if kind in NOT_MODELLED:
                skipped.append(kind)
            else:
                steps.append((kind, action.payload if action.payload is not None else LAPSED))
        ends = END_EVENTS[str(scenario.outcome.value)]
        scripts.append(Script(scenario.name, tuple(steps), tuple(skipped), ends))
    return scripts


def long_script(progress_reports: int) -> Script:
    """A case adopted then reported on many times: the history grows while the process stays put.

    Same shape as bench/resume_cost.py, so its step cost can be set beside jianyi's own resume cost.
    """
    s = _support()
    head: list[tuple[str, dict[str, Any]]] = [
        ("triage", s.triage()),
        ("opinion", s.ADOPT),
        ("review", {"action": "accept"}),
        ("reply", s.REPLY),
        ("rating", {"rating": "satisfied"}),
    ]
    reports = [("progress", s.PROGRESS_HALF)] * progress_reports
    tail = [
        ("progress", s.PROGRESS_DONE),
        ("post_adoption_communication", s.MEETING),
        ("commendation_result", {"year": 2027, "selected": False}),
    ]
    return Script(
        f"long_{progress_reports}_reports", tuple(head + reports + tail), ends=END_EVENTS["implemented"]
    )


def _support() -> Any:
    # tests/ is not a package; the scenarios module is imported the way bench/resume_cost.py does it.
    tests = str(Path(__file__).resolve().parents[2] / "tests")
    if tests not in sys.path:
        sys.path.insert(0, tests)
    import support

    return support


@dataclass(frozen=True)
class StepCost:
    """One human step: wall time of each phase, CPU of the whole step, and the size stored."""

    wall: float
    cpu: float
    load: float
    engine: float  # deserialize + complete the task + run to the next wait (plain: parse the JSON)
    serialize: float
    save: float  # UPDATE + COMMIT
    size: int  # characters of the JSON stored by this step


class Store:
    """The ``cases`` table: one row per case, its JSON document and a version for optimistic locking.

    The read is outside the write transaction, and the write checks the version it read. A case is
    deserialized, run and serialized between the two, so holding SQLite's single write lock across that
    work would serialize every worker. Each worker owns its cases, so a conflict is a bug, not
    contention.
    """

    def __init__(self, path: Path | str) -> None:
        # Autocommit mode: transactions are the explicit BEGIN IMMEDIATE … COMMIT of save().
        self.db = sqlite3.connect(path, isolation_level=None, timeout=60)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute(
            "CREATE TABLE IF NOT EXISTS cases (id INTEGER PRIMARY KEY, kind TEXT NOT NULL, "
            "script TEXT NOT NULL, version INTEGER NOT NULL, doc TEXT NOT NULL)"
        )

    def insert(self, kind: str, script: str, doc: str) -> int:
        cursor = self.db.execute(
            "INSERT INTO cases (kind, script, version, doc) VALUES (?, ?, 0, ?)", (kind, script, doc)
        )
        assert cursor.lastrowid is not None
        return cursor.lastrowid

    def load(self, case_id: int) -> tuple[str, int]:
        row = self.db.execute("SELECT doc, version FROM cases WHERE id = ?", (case_id,)).fetchone()
        if row is None:
            raise KeyError(f"no case {case_id}")
        return str(row[0]), int(row[1])

    def save(self, case_id: int, version: int, doc: str) -> None:
        self.db.execute("BEGIN IMMEDIATE")
        try:
            cursor = self.db.execute(
                "UPDATE cases SET doc = ?, version = version + 1 WHERE id = ? AND version = ?",
                (doc, case_id, version),
            )
            if cursor.rowcount != 1:
                raise RuntimeError(f"case {case_id} changed under us (version {version})")
            self.db.execute("COMMIT")
        except BaseException:
            self.db.execute("ROLLBACK")
            raise

    def close(self) -> None:
        self.db.close()


class Cases(Protocol):
    """What playing scripts needs: start a case, complete its next scripted step."""

    def start(self, script: Script) -> int: ...

    def step(self, case_id: int, script: Script, index: int) -> StepCost: ...


class SpiffProcess:
    """The parsed process definition and the serializer: built once per process, shared by its cases."""

    def __init__(self) -> None:
        parser = BpmnParser(validator=BpmnValidator())  # checked against the BPMN 2.0 XSD
        parser.add_bpmn_file(str(BPMN))
        self.spec = parser.get_spec(PROCESS_ID)
        self.subprocess_specs = parser.get_subprocess_specs(PROCESS_ID)
        self.serializer = BpmnWorkflowSerializer()

    @property
    def task_count(self) -> int:
        return len(self.spec.task_specs)

    @property
    def user_task_count(self) -> int:
        return sum(isinstance(spec, UserTask) for spec in self.spec.task_specs.values())

    def new(self) -> BpmnWorkflow:
        workflow = BpmnWorkflow(self.spec, self.subprocess_specs)
        workflow.do_engine_steps()  # to the first wait: triage
        return workflow

    def advance(self, workflow: BpmnWorkflow, task_name: str, data: dict[str, Any]) -> None:
        """Complete the ready user task ``task_name`` with ``data`` and run to the next wait."""
        task = workflow.get_next_task(state=TaskState.READY, manual=True, spec_name=task_name)
        if task is None:
            ready = [t.task_spec.name for t in workflow.get_tasks(state=TaskState.READY, manual=True)]
            raise RuntimeError(f"{task_name} is not ready; ready: {ready}")
        # A copy: the scripts' payloads are shared by every case, and the engine keeps what it is given.
        task.data[task_name] = copy.deepcopy(data)
        task.run()
        workflow.do_engine_steps()

    def documents(self, script: Script) -> list[str]:
        """The JSON a case of ``script`` is stored as: after its start, then after each step."""
        workflow = self.new()
        docs = [self.serializer.serialize_json(workflow)]
        for task_name, data in script.steps:
            self.advance(workflow, task_name, data)
            docs.append(self.serializer.serialize_json(workflow))
        if not workflow.is_completed():
            raise RuntimeError(f"{script.name}: the process has not ended after the last step")
        reached = {t.task_spec.name for t in workflow.get_tasks(state=TaskState.COMPLETED)}
        if script.ends and not reached & script.ends:
            raise RuntimeError(f"{script.name}: ended at none of {sorted(script.ends)}")
        return docs

    @staticmethod
    def task_records(doc: str) -> int:
        """Task instances a stored case holds: every task run so far, plus those predicted ahead."""
        return len(json.loads(doc)["tasks"])

    def spec_share(self, doc: str) -> int:
        """Characters of a stored case that are the process definition (Spiff stores it in every case)."""
        parsed = json.loads(doc)
        return len(json.dumps(parsed.get("spec"))) + len(json.dumps(parsed.get("subprocess_specs")))


class SpiffCases:
    """Cases run by SpiffWorkflow, deserialized and serialized around every step."""

    kind = "spiff"

    def __init__(self, store: Store, process: SpiffProcess) -> None:
        self.store = store
        self.process = process

    def start(self, script: Script) -> int:
        doc = self.process.serializer.serialize_json(self.process.new())
        return self.store.insert(self.kind, script.name, doc)

    def step(self, case_id: int, script: Script, index: int) -> StepCost:
        task_name, data = script.steps[index]
        t0, c0 = time.perf_counter(), time.process_time()
        doc, version = self.store.load(case_id)
        t1 = time.perf_counter()
        workflow = self.process.serializer.deserialize_json(doc)
        self.process.advance(workflow, task_name, data)
        t2 = time.perf_counter()
        out = self.process.serializer.serialize_json(workflow)
        t3 = time.perf_counter()
        self.store.save(case_id, version, out)
        t4, c4 = time.perf_counter(), time.process_time()
        return StepCost(t4 - t0, c4 - c0, t1 - t0, t2 - t1, t3 - t2, t4 - t3, len(out))


class PlainCases:
    """The same steps with no engine: the same table, documents of Spiff's size and shape.

    A step loads the case's JSON and parses it, then writes the document Spiff stores after that step
    (captured once per script, held parsed), and commits.
    """

    kind = "plain"

    def __init__(self, store: Store, documents: dict[str, list[str]]) -> None:
        self.store = store
        self.documents = {name: [json.loads(d) for d in docs] for name, docs in documents.items()}

    def start(self, script: Script) -> int:
        return self.store.insert(self.kind, script.name, json.dumps(self.documents[script.name][0]))

    def step(self, case_id: int, script: Script, index: int) -> StepCost:
        t0, c0 = time.perf_counter(), time.process_time()
        doc, version = self.store.load(case_id)
        t1 = time.perf_counter()
        json.loads(doc)
        t2 = time.perf_counter()
        out = json.dumps(self.documents[script.name][index + 1])
        t3 = time.perf_counter()
        self.store.save(case_id, version, out)
        t4, c4 = time.perf_counter(), time.process_time()
        return StepCost(t4 - t0, c4 - c0, t1 - t0, t2 - t1, t3 - t2, t4 - t3, len(out))


@dataclass
class Played:
    """Scripts played on fresh cases: the steps' costs, with the wall and CPU of the whole run."""

    costs: list[list[StepCost]]  # per case, in step order
    wall: float
    cpu: float
    started_at: float  # time.monotonic(), comparable between the processes of one machine
    ended_at: float

    @property
    def steps(self) -> int:
        return sum(len(c) for c in self.costs)


def open_cases(cases: Cases, scripts: Sequence[Script], copies: int) -> list[tuple[int, Script]]:
    """Start ``copies`` cases of each script. Not timed: intake is not a human step."""
    return [(cases.start(script), script) for _ in range(copies) for script in scripts]


def play(cases: Cases, started: Sequence[tuple[int, Script]]) -> Played:
    """Complete the started cases' steps round-robin, as an office works through many open cases."""
    costs: list[list[StepCost]] = [[] for _ in started]
    t0, c0, m0 = time.perf_counter(), time.process_time(), time.monotonic()
    for index in range(max(len(script.steps) for _, script in started)):
        for n, (case_id, script) in enumerate(started):
            if index < len(script.steps):
                costs[n].append(cases.step(case_id, script, index))
    return Played(costs, time.perf_counter() - t0, time.process_time() - c0, m0, time.monotonic())
