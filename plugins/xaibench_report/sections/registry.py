"""Report sections: what one is, where they come from, which are included.

A section is a function ``build(ctx) -> HTML | None`` made a :class:`Section` with the
:func:`section` decorator, and handed to the report by a plugin through the
``register_report_sections(register)`` hook (:mod:`xaibench_report.hookspecs`).  Each plugin
ships the sections of its own components: the metrics plugin its similarity heatmaps and
agreement tables, the studies plugin its SHAPE and CSP tables.  A section is included when
the experiment has any of the metric *components* it names (none named: always), in
``order``.  Metrics that no included section claims are listed by the summary section, so a
new metric shows up in reports before anyone writes a section for it::

    from xaibench import hookimpl

    @section("csp", "Class-specific patterns", metrics=("csp-curve",), order=45)
    def csp(ctx):
        rows = ctx.experiment.ok_rows(ctx.experiment.aliases("metric", "csp-curve"))
        ...

    @hookimpl(optionalhook=True)  # loads whether or not the report plugin is installed
    def register_report_sections(register):
        register(csp)
"""

from __future__ import annotations

import base64
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from .. import html

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from xaibench.plugins import PluginSession

    from ..experiment import Experiment

log = logging.getLogger("xaibench")


@dataclass
class ReportContext:
    """What a section builder gets: the experiment and a place to put figures."""

    experiment: Experiment
    out_dir: Path
    embed: bool = False
    """Embed images as data URIs as well (one self-contained file)."""
    n_samples: int = 4
    """Test samples drawn in map grids."""
    claimed: set[str] = field(default_factory=set)
    """Metric components some included section presents."""
    images: list[Path] = field(default_factory=list)

    def figure(self, fig: Figure, name: str, alt: str, caption: str | None = None, dpi: int = 100) -> str:
        """Save ``fig`` as ``figures/<name>.png`` beside the report and return its ``<figure>`` HTML."""
        from ..figures import save

        stem = re.sub(r"[^A-Za-z0-9_.-]+", "_", name).strip("_") or "figure"
        path = self.out_dir / "figures" / f"{stem}.png"
        k = 2
        while path in self.images:
            path = self.out_dir / "figures" / f"{stem}-{k}.png"
            k += 1
        save(fig, path, dpi=dpi)
        self.images.append(path)
        src = path.relative_to(self.out_dir).as_posix()
        if self.embed:
            src = "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode()
        return html.figure(src, alt, caption)


SectionBuild = Callable[[ReportContext], "str | None"]


@dataclass(frozen=True)
class Section:
    """A part of the report: ``key`` (its HTML id), ``title``, the function that builds it."""

    key: str
    title: str
    build: SectionBuild
    metrics: tuple[str, ...] = ()
    """Metric component names the section presents; it is included when any is in the experiment."""
    order: int = 100

    def applies(self, experiment: Experiment) -> bool:
        return not self.metrics or any(experiment.aliases("metric", m) for m in self.metrics)

    def __call__(self, ctx: ReportContext) -> str | None:
        return self.build(ctx)


def section(key: str, title: str, metrics: tuple[str, ...] = (), order: int = 100
            ) -> Callable[[SectionBuild], Section]:
    """Decorator making a build function a :class:`Section`."""

    def deco(build: SectionBuild) -> Section:
        return Section(key, title, build, tuple(metrics), order)

    return deco


def collect_sections(session: PluginSession) -> list[Section]:
    """Every section the session's plugins register (``register_report_sections``); a later
    plugin's section with the same key replaces the earlier one, with a warning."""
    found: dict[str, Section] = {}

    def register(s: Section) -> None:
        if not isinstance(s, Section):
            raise TypeError(f"register_report_sections: expected a Section (use @section), got {s!r}")
        if s.key in found:
            log.warning("report section %r registered twice; the later one is used", s.key)
        found[s.key] = s

    for impl in session.pm.hook.register_report_sections.get_hookimpls():
        try:
            impl.function(register=register)
        except Exception as exc:
            log.warning("plugin %r: register_report_sections failed: %s: %s", impl.plugin_name,
                        type(exc).__name__, exc)
    return list(found.values())


def active_sections(experiment: Experiment, sections: list[Section]) -> list[Section]:
    return sorted((s for s in sections if s.applies(experiment)), key=lambda s: (s.order, s.key))
