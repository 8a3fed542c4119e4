"""Fault injection for crash tests: halt an attempt at a named point so a test can kill the process there.

Off unless JIANYI_FAULT_POINT names a point. At that point the process writes a marker file (the
test's signal to kill it) and sleeps; a process restarted after the kill finds the marker and goes on,
so each point fires once per suggestion.
"""

from __future__ import annotations

import os
import time
from pathlib import Path


def halt_at(point: str, suggestion_id: int) -> None:
    if os.environ.get("JIANYI_FAULT_POINT") != point:
        return
    directory = Path(os.environ.get("JIANYI_FAULT_DIR", "."))
    marker = directory / f"{point}-{suggestion_id}"
    if marker.exists():
        return
    directory.mkdir(parents=True, exist_ok=True)
    marker.write_text(str(os.getpid()))
    time.sleep(float(os.environ.get("JIANYI_FAULT_SECONDS", "60")))
