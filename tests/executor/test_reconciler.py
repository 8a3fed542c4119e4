"""What the reconciler calls a disagreement between a case and its flow run (each state Prefect
may report), without a server: the running-system test is tests/e2e/test_reconciler_e2e.py."""

from __future__ import annotations

from uuid import uuid4

import pytest
from prefect.client.schemas.objects import FlowRun
from prefect.states import (
    Cancelled,
    Completed,
    Crashed,
    Failed,
    Pending,
    Running,
    Scheduled,
    State,
    Suspended,
)

from jianyi.executor.reconciler import problem_of
from jianyi.services.reconcile import PROBLEMS, Candidate

WAITING = Candidate(suggestion_id=1, flow_run_id=str(uuid4()), wait_key="w3", has_open_step=True)
NO_STEP = Candidate(suggestion_id=1, flow_run_id=WAITING.flow_run_id, wait_key="w3", has_open_step=False)


def _run(state: State) -> FlowRun:
    return FlowRun(flow_id=uuid4(), state=state)


@pytest.mark.parametrize(
    ("candidate", "state", "problem"),
    [
        (WAITING, None, "run_missing"),
        (WAITING, Completed(), "finished_while_open"),
        (WAITING, Failed(), "failed"),
        (WAITING, Crashed(), "failed"),
        (WAITING, Suspended(pause_key="w2"), "stale_key"),
        (WAITING, Suspended(pause_key="w3"), None),
        (NO_STEP, Suspended(pause_key="w3"), "no_open_step"),
        (WAITING, Scheduled(), None),
        (WAITING, Pending(), None),
        (WAITING, Running(), None),
        (WAITING, Cancelled(), None),  # a person's hold: `jianyi runs resume`
    ],
)
def test_each_state_of_the_run_is_judged(
    candidate: Candidate, state: State | None, problem: str | None
) -> None:
    assert problem_of(candidate, _run(state) if state is not None else None) == problem
    assert problem is None or problem in PROBLEMS
