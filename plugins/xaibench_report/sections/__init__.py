"""Report sections: the registry and the built-in builders (imported here so they register)."""

from . import (  # noqa: F401
    harmonization,
    heatmaps,
    leaderboard,
    maps,
    methods_table,
    overview,
    problems,
    segmentation,
    similarity,
    studies,
    summary,
)
from .registry import SECTIONS, ReportContext, SectionBuilder, active_sections, register_section

__all__ = ["SECTIONS", "ReportContext", "SectionBuilder", "active_sections", "register_section"]
