"""Hooks of the report plugin: the ``xaibench report`` command and a figure per tracked combination.

Only click and xaibench are imported here; matplotlib, numpy and the results are
loaded when the command runs or a figure is drawn.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from xaibench import hookimpl


@click.command("report")
@click.argument("experiment")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path),
              help="Directory for index.html and figures/ (default: reports/EXPERIMENT).")
@click.option("--results-dir", default="results", show_default=True, type=click.Path(path_type=Path),
              help="Where `xaibench run` wrote EXPERIMENT.parquet.")
@click.option("--cache", "cache", help="The stage cache, if not where the results say (for attribution maps).")
@click.option("--samples", default=4, show_default=True, type=click.IntRange(1, 32),
              help="Test samples drawn in the attribution-map grids.")
@click.option("--embed", is_flag=True, help="Also embed the images in index.html (one self-contained file).")
def report(experiment: str, out_dir: Path | None, results_dir: Path, cache: str | None, samples: int,
           embed: bool) -> None:
    """Write an HTML report of EXPERIMENT's results: similarity heatmaps, agreement tables, attribution maps."""
    from .build import build_report
    from .experiment import Experiment
    from .sections import collect_sections

    session = click.get_current_context().find_root().obj  # the command line's plugin session
    exp = Experiment.load(results_dir, experiment, cache)
    path = build_report(exp, out_dir or Path("reports") / experiment, collect_sections(session), embed=embed,
                        n_samples=samples)
    click.echo(f"wrote {path}")


@hookimpl
def register_hookspecs(register) -> None:
    from . import hookspecs

    register(hookspecs)


@hookimpl
def register_report_sections(register) -> None:
    from .sections import SECTIONS

    for s in SECTIONS:
        register(s)


@hookimpl
def register_commands(cli: click.Group) -> None:
    cli.add_command(report)


@hookimpl
def unit_artifacts(unit: dict[str, Any], cache: Any, workdir: Path) -> dict[str, Path] | None:
    """``figures/attribution_maps.png`` for every attribution cell (see :mod:`.cell_figure`)."""
    if unit.get("kind") != "cell":
        return None
    from .cell_figure import attribution_figure

    return attribution_figure(unit, cache, workdir)
