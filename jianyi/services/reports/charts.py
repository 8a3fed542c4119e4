"""The reports' charts: matplotlib drawn to SVG (its glyphs as paths, so the SVG needs no font),
embedded in the HTML and hence in the PDF.

Chinese labels need a CJK font: Debian's fonts-noto-cjk (``apt-get install fonts-noto-cjk``), found
through fontconfig; without it the labels would draw as empty boxes, so its absence is an error.
"""

from __future__ import annotations

import contextlib
import io
import subprocess
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # no display: drawing to files only

from matplotlib import font_manager
from matplotlib import pyplot as plt
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

CJK_FAMILY = "Noto Sans CJK SC"
DEBIAN_FONT = "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc"
BLUE, RED, GREY = "#1f5fa8", "#c0392b", "#8a8f98"


class MissingFont(RuntimeError):
    """The CJK font is not installed: ``apt-get install fonts-noto-cjk``."""


def cjk_font() -> str:
    """The Noto Sans CJK file: where Debian puts it, else wherever fontconfig knows it."""
    if Path(DEBIAN_FONT).is_file():
        return DEBIAN_FONT
    found = ""
    with contextlib.suppress(OSError):
        found = subprocess.run(
            ["fc-match", "-f", "%{file}", f"{CJK_FAMILY}:style=Regular"],
            capture_output=True,
            text=True,
            check=False,
        ).stdout.strip()
    if "CJK" not in found:
        raise MissingFont(f"{CJK_FAMILY} not found: apt-get install fonts-noto-cjk")
    return found


@lru_cache(maxsize=1)
def _setup() -> None:
    found = cjk_font()
    font_manager.fontManager.addfont(found)
    plt.rcParams.update(
        {
            "font.family": ["sans-serif"],
            "font.sans-serif": [CJK_FAMILY, "DejaVu Sans"],
            "axes.unicode_minus": False,  # the CJK font has no U+2212 minus
            "svg.fonttype": "path",
            "svg.hashsalt": "jianyi",  # stable ids: the same figures draw the same SVG
            "axes.spines.top": False,
            "axes.spines.right": False,
        }
    )


def _svg(fig: Figure) -> str:
    out = io.StringIO()
    fig.savefig(out, format="svg", bbox_inches="tight", metadata={"Date": None})
    plt.close(fig)
    return out.getvalue()


def bars(
    title: str,
    labels: Sequence[str],
    values: Sequence[float],
    *,
    percent: bool = False,
    limit: int = 12,
    highlight: Sequence[bool] | None = None,
) -> str:
    """Horizontal bars, the largest on top: categories, districts, units ranked."""
    _setup()
    rows = sorted(
        zip(labels, values, highlight or [False] * len(labels), strict=True),
        key=lambda row: row[1],
        reverse=True,
    )[:limit]
    rows.reverse()  # barh draws bottom-up
    fig, ax = plt.subplots(figsize=(7.0, 0.9 + 0.32 * max(len(rows), 1)))
    names = [row[0] for row in rows]
    numbers = [row[1] * (100 if percent else 1) for row in rows]
    bars_ = ax.barh(names, numbers, color=[RED if row[2] else BLUE for row in rows], height=0.6)
    ax.bar_label(bars_, labels=[f"{n:.1f}%" if percent else f"{n:g}" for n in numbers], padding=3, fontsize=8)
    if percent:
        ax.set_xlim(0, 110)
    else:
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_title(title, fontsize=10, loc="left", color="#555")
    ax.tick_params(axis="y", labelsize=8)
    ax.tick_params(axis="x", labelsize=7)
    return _svg(fig)


def trend(title: str, labels: Sequence[str], series: dict[str, Sequence[float]]) -> str:
    """Lines over the weeks, one per series (received, closed …)."""
    _setup()
    fig, ax = plt.subplots(figsize=(7.0, 2.6))
    styles = ((BLUE, "o", "-"), (RED, "s", "--"), (GREY, "^", ":"), ("#2e8b57", "d", "-."))
    for (name, values), (color, marker, line) in zip(series.items(), styles, strict=False):
        ax.plot(
            list(labels), list(values), marker=marker, markersize=4, linestyle=line, color=color, label=name
        )
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_title(title, fontsize=10, loc="left", color="#555")
    ax.tick_params(axis="x", labelsize=7, rotation=45)
    ax.tick_params(axis="y", labelsize=7)
    ax.set_ylim(bottom=0)
    if len(series) > 1:
        ax.legend(fontsize=8, frameon=False)
    return _svg(fig)
