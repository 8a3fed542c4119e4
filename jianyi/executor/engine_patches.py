"""Two adjustments to Prefect's flow engine for running many attempts in one long-lived process.

Prefect 3.8.8 (pinned in constraints.txt) assumes one flow run per process, as a worker runs it:

- ``observe_flow_run_suspension``: for every attempt of a deployment's run, the engine starts a
  thread with its own event loop, subscribes it to the server's event stream (so that someone else
  can suspend the run mid-flight), blocks the caller until the subscription is ready, and joins the
  thread for up to 2 s when the attempt ends. In our executor that blocks the one event loop every
  attempt shares, and costs the server a websocket per attempt. Our runs only ever suspend
  themselves, at the end of an attempt of a few hundred milliseconds, so the observer has nothing to
  observe.
- ``capture_sigterm``: while an attempt runs, the engine turns SIGTERM into a crash of that run. Here
  SIGTERM means "stop the executor gracefully": its own handler stops taking work and lets attempts
  under way reach their suspend. A hard kill is still recovered (``Executor._keep_alive``).

Both are replaced in this process only (the executor), never in the API or in workers.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import prefect.flow_engine as flow_engine


@contextmanager
def _no_suspension_observer(*_args: Any, **_kwargs: Any) -> Iterator[None]:
    yield


@contextmanager
def _keep_process_sigterm_handler() -> Iterator[None]:
    yield


def apply() -> None:
    flow_engine.observe_flow_run_suspension = _no_suspension_observer
    flow_engine.capture_sigterm = _keep_process_sigterm_handler
