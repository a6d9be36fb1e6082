"""Assemble the report: run every applicable section builder, write ``index.html`` and its figures."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING

from . import html
from .experiment import Experiment

if TYPE_CHECKING:
    from .sections import Section

log = logging.getLogger("xaibench")


def build_report(experiment: Experiment, out_dir: Path, sections: list[Section], *, embed: bool = False,
                 n_samples: int = 4) -> Path:
    """Write ``out_dir/index.html`` and ``out_dir/figures/*.png`` from the ``sections`` that apply
    (:func:`~xaibench_report.sections.collect_sections` gathers a session's); return the HTML file's path.

    A section that raises is replaced by a note naming the error (and a warning is
    logged), so one broken builder does not cost the rest of the report.
    """
    from .sections import ReportContext, active_sections

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    builders = active_sections(experiment, sections)
    ctx = ReportContext(experiment, out_dir, embed=embed, n_samples=n_samples,
                        claimed={m for b in builders for m in b.metrics})
    rendered = []
    for builder in builders:
        try:
            body = builder.build(ctx)
        except Exception as exc:
            log.warning("report section %r failed: %s: %s", builder.key, type(exc).__name__, exc)
            body = html.paragraph(f"This section failed: {type(exc).__name__}: {exc}", note=True)
        if body:
            rendered.append((builder.key, builder.title, body))
    intro = html.paragraph(f"xaibench report of experiment {experiment.name!r} ({experiment.path.name}).", note=True)
    path = out_dir / "index.html"
    path.write_text(html.page(f"xaibench: {experiment.name}", rendered, intro), encoding="utf-8")
    return path
