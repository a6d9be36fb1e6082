"""Section builders, keyed by the metric components they read.

A section is a function ``build(ctx) -> HTML | None`` registered with
:func:`register_section`.  It is included when the experiment has any of the
metric *components* it names (none named: always), in ``order``.  Metrics that no
included section claims are listed by the summary section, so a new metric shows
up in reports before anyone writes a section for it.  Study-specific sections (a
SAR table per polarization, CSP curves...) are more builders::

    @register_section("csp", "Class-specific patterns", metrics=("csp-curve",), order=45)
    def csp(ctx: ReportContext) -> str | None:
        rows = ctx.experiment.ok_rows(ctx.experiment.aliases("metric", "csp-curve"))
        ...
"""

from __future__ import annotations

import base64
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from .. import html

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from ..experiment import Experiment


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
class SectionBuilder:
    key: str
    title: str
    build: SectionBuild
    metrics: tuple[str, ...] = ()
    """Metric component names the section presents; it is included when any is in the experiment."""
    order: int = 100

    def applies(self, experiment: Experiment) -> bool:
        return not self.metrics or any(experiment.aliases("metric", m) for m in self.metrics)


SECTIONS: dict[str, SectionBuilder] = {}


def register_section(key: str, title: str, metrics: tuple[str, ...] = (), order: int = 100
                     ) -> Callable[[SectionBuild], SectionBuild]:
    """Decorator adding a section builder (a later registration of ``key`` replaces the earlier one)."""

    def deco(build: SectionBuild) -> SectionBuild:
        SECTIONS[key] = SectionBuilder(key, title, build, tuple(metrics), order)
        return build

    return deco


def active_sections(experiment: Experiment) -> list[SectionBuilder]:
    return sorted((s for s in SECTIONS.values() if s.applies(experiment)), key=lambda s: (s.order, s.key))
