"""The benchmark runner completes and reports every figure (a smoke run: no timing is judged here)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_runner_prints_and_saves_every_figure_of_a_quick_run(tmp_path: Path) -> None:
    run = subprocess.run(
        [sys.executable, "-m", "bench.run", "--only", "spiff", "--quick", "--out", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    [saved] = tmp_path.glob("bench-*.json")
    figures = json.loads(saved.read_text(encoding="utf-8"))["figures"]
    assert figures and all(f["value"] is not None and f["baseline"] for f in figures)
    table = run.stdout.split("== all figures", 1)[1]
    assert all(f["title"] in table for f in figures)
    assert list(tmp_path.glob("bench-*.png"))  # the chart
