"""Report sections: the registry and the built-in builders (imported here so they register)."""

from . import harmonization, leaderboard, maps, overview, problems, segmentation, similarity, studies, summary  # noqa: F401
from .registry import SECTIONS, ReportContext, SectionBuilder, active_sections, register_section

__all__ = ["SECTIONS", "ReportContext", "SectionBuilder", "active_sections", "register_section"]
