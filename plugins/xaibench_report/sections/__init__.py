"""Report sections: what a section is (:mod:`.registry`) and the report plugin's own, generic ones."""

from .leaderboard import leaderboard
from .maps import maps
from .overview import overview
from .problems import problems
from .registry import ReportContext, Section, SectionBuild, active_sections, collect_sections, section
from .summary import summary

SECTIONS = (overview, maps, leaderboard, summary, problems)
"""The sections that present any experiment (the other plugins bring those of their components)."""

__all__ = ["SECTIONS", "ReportContext", "Section", "SectionBuild", "active_sections", "collect_sections", "section"]
