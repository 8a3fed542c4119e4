"""docs/performance.md is written from result files: a section per group, merged, quick runs left out.

Run as the runner is (``python -m bench.run --write-docs-only``): ``bench`` is not an installed package.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
GROUPS = ["sweep", "board", "intake", "throughput", "resume", "idle", "spiff"]


def _figure(key: str, title: str, value: float, unit: str, **more: Any) -> dict[str, Any]:
    """One figure as bench.report.save writes it (asdict(Figure) plus its ratio)."""
    figure: dict[str, Any] = {
        "key": key, "title": title, "value": value, "unit": unit, "baseline": None,
        "baseline_label": None, "goal": None, "met": None, "details": {},
    } | more  # fmt: skip
    figure["ratio"] = value / figure["baseline"] if figure["baseline"] else None
    return figure


THROUGHPUT = [
    _figure(
        "throughput.steps_per_s", "human steps completed end to end", 12.0, "steps/s",
        baseline=0.2, baseline_label="standard Prefect, process per attempt",
        goal="≥ 10/s and ≥ 10× the standard way", met=True, details={"backend": "sqlite"},
    ),
    _figure(
        "throughput.cpu_per_step", "CPU per human step, all processes", 0.125, "CPU-s",
        baseline=8.0, baseline_label="standard", goal="≤ 0.2 CPU-s", met=True,
    ),
    _figure("throughput.cpu_api", "  of which API | SQLite", 0.02, "CPU-s"),
]  # fmt: skip
INTAKE = [
    _figure(
        "intake.burst_p95", "intake latency in 50/s bursts, p95", 250.0, "ms", baseline=15.0,
        baseline_label="one intake at rest", goal="≥ 50/s with p95 ≤ 200 ms", met=False,
    ),
]  # fmt: skip


def _save(results: Path, at: str, figures: list[dict[str, Any]], **more: Any) -> None:
    """A result file shaped as bench.report.save writes it."""
    results.mkdir(parents=True, exist_ok=True)
    data = {
        "at": at,
        "quick": False,
        "machine": {"python": "3.11.9", "cores": 2, "platform": "Linux-test"},
        "groups": {},
        "figures": figures,
    } | more
    (results / f"bench-{at}.json").write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")


def _write_docs(results: Path, page: Path) -> str:
    run = subprocess.run(
        [sys.executable, "-m", "bench.run", "--write-docs-only", "--out", str(results), "--docs", str(page)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    return run.stdout


def _sections(page: Path) -> dict[str, str]:
    text = page.read_text(encoding="utf-8")
    marks = re.finditer(r"<!-- group: (\w+) at=(\w+) file=\S* -->(.*?)<!-- end group -->", text, re.S)
    return {m[1]: m[2] + m[3] for m in marks}


def test_a_result_becomes_its_groups_section_and_the_others_say_not_measured(tmp_path: Path) -> None:
    page, results = tmp_path / "performance.md", tmp_path / "results"
    steal = {"throughput": {"seconds": 420.0, "steal_s": 3.25, "failed": False}}
    _save(results, "20260501T120000Z", THROUGHPUT, groups=steal)

    assert "throughput updated" in _write_docs(results, page)

    text = page.read_text(encoding="utf-8")
    assert "Measured 2026-05-01 12:00 UTC on 2 cores, Linux-test, Python 3.11.9" in text
    assert "steal while it ran: 3.2 CPU-s in 420 s" in text
    assert "backend sqlite" in text and "result `bench-20260501T120000Z.json`" in text
    assert (
        "| human steps completed end to end | 12 steps/s | 0.2 (standard Prefect, process per attempt) "
        "| 60.00× | ≥ 10/s and ≥ 10× the standard way | yes |"
    ) in text
    assert "| of which API \\| SQLite | 0.02 CPU-s | - | - | - | - |" in text
    assert "each core carries about 8.0 steps/s" in text  # 1 ÷ 0.125 CPU-s
    assert "| `throughput` |" in text and "[2026-05-01 12:00 UTC](#throughput)" in text
    for other in set(GROUPS) - {"throughput"}:
        assert f'Not measured since this page became generated: `make bench ARGS="--only {other}"`' in text


def test_a_later_run_of_another_group_keeps_the_first_groups_section(tmp_path: Path) -> None:
    page = tmp_path / "performance.md"
    _save(tmp_path / "first", "20260501T120000Z", THROUGHPUT)
    _write_docs(tmp_path / "first", page)
    before = _sections(page)["throughput"]

    _save(tmp_path / "second", "20260502T080000Z", INTAKE)  # the first result file is gone meanwhile
    assert "intake updated" in _write_docs(tmp_path / "second", page)

    sections = _sections(page)
    assert sections["throughput"] == before
    assert "**no**" in sections["intake"] and "steal not recorded" in sections["intake"]


def test_quick_and_older_results_do_not_replace_a_section(tmp_path: Path) -> None:
    page = tmp_path / "performance.md"
    _save(tmp_path / "first", "20260501T120000Z", THROUGHPUT)
    _write_docs(tmp_path / "first", page)

    _save(tmp_path / "later", "20260401T120000Z", THROUGHPUT[:1])  # older
    _save(tmp_path / "later", "20260601T120000Z", THROUGHPUT[:1], quick=True)
    assert "no group updated" in _write_docs(tmp_path / "later", page)

    assert _sections(page)["throughput"].startswith("20260501T120000Z")
