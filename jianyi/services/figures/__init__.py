"""The figures the office lives by (docs/figures.md): on-time referral, handling and reply, the
adoption of important suggestions, solved within 3 and 7 working days, counts by stage, unit,
category, district, channel, campaign and outcome, the units table, supervision, the bulletin.

``compute_figures`` answers every figure of a period and scope; ``drilldown`` the suggestions
behind any one number. Both only read.
"""

from jianyi.services.figures.catalog import FIGURE_NAMES
from jianyi.services.figures.compute import compute_figures, trend_counts
from jianyi.services.figures.drill import drilldown
from jianyi.services.figures.periods import Period, Scope, ScopeKind
from jianyi.services.figures.schemas import (
    BulletinItem,
    CountRow,
    CountTable,
    FigureSet,
    Rate,
    SuggestionRow,
    UnitRow,
)

__all__ = [
    "FIGURE_NAMES",
    "BulletinItem",
    "CountRow",
    "CountTable",
    "FigureSet",
    "Period",
    "Rate",
    "Scope",
    "ScopeKind",
    "SuggestionRow",
    "UnitRow",
    "compute_figures",
    "drilldown",
    "trend_counts",
]
