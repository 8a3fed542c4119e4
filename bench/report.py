"""What a benchmark reports: figures with their same-run baselines, as a table, JSON and a chart."""

from __future__ import annotations

import json
import platform
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any


@dataclass
class Figure:
    """One measured figure. ``ratio`` is value ÷ baseline when a baseline was measured in this run;
    ``goal`` is the issue's target in words and ``met`` whether this run met it (None: not judged)."""

    key: str
    title: str
    value: float
    unit: str
    baseline: float | None = None
    baseline_label: str | None = None
    goal: str | None = None
    met: bool | None = None
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def ratio(self) -> float | None:
        if self.baseline in (None, 0):
            return None
        assert self.baseline is not None
        return self.value / self.baseline


def fmt(value: float | None) -> str:
    if value is None:
        return "-"
    if value == 0 or 0.01 <= abs(value) < 100_000:
        return f"{value:.3g}" if abs(value) < 1000 else f"{value:,.0f}"
    return f"{value:.3g}"


def table(figures: list[Figure]) -> str:
    rows = [("figure", "value", "unit", "baseline", "ratio", "goal", "met")]
    for f in figures:
        baseline = f"{fmt(f.baseline)} ({f.baseline_label})" if f.baseline is not None else "-"
        met = "-" if f.met is None else ("yes" if f.met else "NO")
        ratio = f"{f.ratio:.2f}×" if f.ratio is not None else "-"
        rows.append((f.title, fmt(f.value), f.unit, baseline, ratio, f.goal or "-", met))
    widths = [max(len(str(r[i])) for r in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(str(c).ljust(w) for c, w in zip(r, widths, strict=True)) for r in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def save(
    figures: list[Figure],
    out: Path,
    *,
    quick: bool = False,
    groups: dict[str, dict[str, Any]] | None = None,
) -> tuple[Path, Path | None]:
    """Write ``out``/bench-<time>.json and, when matplotlib is installed, a chart of the ratios.

    ``groups``: per group run, what the runner saw around it (seconds, the machine's steal, failed).
    """
    out.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    data = {
        "at": stamp,
        "quick": quick,
        "machine": {"python": platform.python_version(), "cores": _cores(), "platform": platform.platform()},
        "groups": groups or {},
        "figures": [asdict(f) | {"ratio": f.ratio} for f in figures],
    }
    path = out / f"bench-{stamp}.json"
    path.write_text(json.dumps(data, ensure_ascii=False, indent=2), encoding="utf-8")
    return path, _chart(figures, out / f"bench-{stamp}.png")


def _cores() -> int:
    import os

    return len(os.sched_getaffinity(0))


def _chart(figures: list[Figure], path: Path) -> Path | None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    shown = [f for f in figures if f.ratio is not None]
    if not shown:
        return None
    fig, ax = plt.subplots(figsize=(10, 0.45 * len(shown) + 1.5))
    colors = ["#2a7" if f.met else ("#c33" if f.met is False else "#888") for f in shown]
    ax.barh([f.key for f in shown], [f.ratio or 0.0 for f in shown], color=colors)
    ax.set_xscale("log")
    ax.axvline(1.0, color="black", linewidth=0.8)
    ax.set_xlabel("value ÷ same-run baseline (log scale)")
    ax.invert_yaxis()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
