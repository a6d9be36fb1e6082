"""The plugin authors' kit on the command line: ``xaibench rank`` and ``xaibench new-plugin``.

A built-in plugin like any other (entry point ``kit``): the commands come in through
``register_commands``.  The computations live in :mod:`xaibench.ranking` and
:mod:`xaibench.scaffold`.
"""

from __future__ import annotations

import math
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from . import hookimpl
from .errors import XaibenchError
from .ranking import context_name

if TYPE_CHECKING:
    from .ranking import Ranking


@hookimpl
def register_commands(cli: click.Group) -> None:
    from .scaffold import new_plugin

    cli.add_command(rank)
    cli.add_command(new_plugin)


def _fmt(x: float, digits: int = 4) -> str:
    return "nan" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.{digits}g}"


def print_rankings(rankings: list[Ranking], notes: list[str], console: Any) -> None:
    """The rankings as rich tables, one per metric statistic and context."""
    from rich.table import Table

    for r in rankings:
        arrow = "higher is better" if r.higher_is_better else "lower is better"
        t = Table("rank", "method", f"rank {r.ci:.0%} CI", "mean", f"mean {r.ci:.0%} CI", "n", "not distinguishable from",
                  title=f"{r.metric}.{r.statistic} ({arrow}) — {context_name(r.context)}")
        for m in r.methods:
            t.add_row(_fmt(m.rank, 3), m.method, f"[{_fmt(m.rank_ci[0], 3)}, {_fmt(m.rank_ci[1], 3)}]", _fmt(m.mean),
                      f"[{_fmt(m.value_ci[0])}, {_fmt(m.value_ci[1])}]", str(m.n), ", ".join(m.indistinguishable) or "—")
        console.print(t)
        tau = (f"Kendall's tau between seeds {_fmt(r.kendall_tau, 3)} (mean of {len(r.tau_pairs)} seed pairs)"
               if r.kendall_tau is not None else "rank stability: needs two seeds")
        groups = " > ".join("{" + ", ".join(g) + "}" if len(g) > 1 else g[0] for g in r.groups())
        console.print(f"  {r.n_seeds} seeds, {r.n_blocks} blocks (seed x sub_key), {r.n_boot} bootstrap replicates; {tau}")
        console.print(f"  order: {groups}")
        for note in r.notes:
            console.print(f"  note: {note}")
    for note in notes:
        console.print(f"[yellow]skipped[/yellow] {note}")


def csv_rows(rankings: list[Ranking]) -> list[dict[str, Any]]:
    """One flat row per (ranking, method), in rank order."""
    return [{**r.context, "metric": r.metric, "statistic": r.statistic, "higher_is_better": r.higher_is_better,
             "rank": m.rank, "method": m.method, "rank_lo": m.rank_ci[0], "rank_hi": m.rank_ci[1], "mean": m.mean,
             "mean_lo": m.value_ci[0], "mean_hi": m.value_ci[1], "n": m.n,
             "indistinguishable": " ".join(m.indistinguishable)}
            for r in rankings for m in r.methods]


@click.command("rank")
@click.argument("experiment")
@click.option("--metric", "-m", "metrics", multiple=True, metavar="ALIAS[.STATISTIC]",
              help="Metric to rank on (repeatable); default: every metric with per-method values.")
@click.option("--results-dir", default="results", show_default=True, type=click.Path(path_type=Path),
              help="Where `xaibench run` wrote <EXPERIMENT>.parquet.")
@click.option("--n-boot", default=1000, show_default=True, type=click.IntRange(min=1), help="Bootstrap replicates.")
@click.option("--ci", default=0.95, show_default=True, type=click.FloatRange(0, 1, min_open=True, max_open=True),
              help="Coverage of the intervals.")
@click.option("--higher/--lower", "higher", default=None,
              help="Override the direction (default: the metric's, per statistic; statistics that are not scores "
                   "are ranked only with this).")
@click.option("--registry", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="The registry that produced the results (to find each metric alias's component and direction).")
@click.option("--seed", default=0, show_default=True, help="Seed of the bootstrap.")
@click.option("--format", "fmt", type=click.Choice(["table", "json", "csv"]), default="table", show_default=True,
              help="json: every ranking with its intervals and notes; csv: one row per (ranking, method).")
def rank(experiment: str, metrics: tuple[str, ...], results_dir: Path, n_boot: int, ci: float, higher: bool | None,
         registry: Path | None, seed: int, fmt: str) -> None:
    """Rank the attribution methods of EXPERIMENT per metric, with bootstrap confidence intervals.

    Each metric is ranked on its default statistic (its declared headline, else ``value``
    or ``mean``, else its only score: docs/metrics.md) unless --metric ALIAS.STATISTIC
    names one, in that statistic's own direction.

    Within each (dataset, model, layer, post-processor), methods are ranked on the mean of
    their values; seeds and, within seeds, sub_keys (classes, steps) are resampled (a
    two-level paired bootstrap), giving each method a rank interval.  Methods whose
    intervals overlap are not distinguishable.  Rank stability is Kendall's tau between
    the orderings of different seeds.
    """
    from rich.console import Console

    from .ranking import metric_directions, rank_methods
    from .results import read_parquet

    path = Path(experiment) if experiment.endswith(".parquet") else results_dir / f"{experiment}.parquet"
    if not path.exists():
        known = ", ".join(sorted(p.stem for p in results_dir.glob("*.parquet"))) or "none"
        raise XaibenchError(f"{path}: no results for experiment {experiment!r} (known in {results_dir}: {known})")
    table = read_parquet(path)
    directions: dict[str, bool | None] = {}
    if higher is None:
        session = click.get_current_context().find_root().obj  # the command line's plugin session
        directions = metric_directions(table, registry, session.catalog if session is not None else None)
    rankings, notes = rank_methods(table, list(metrics) or None, directions, higher=higher, n_boot=n_boot, ci=ci,
                                   seed=seed)
    if fmt == "json":
        from .output import to_json

        click.echo(to_json({"rankings": [asdict(r) | {"groups": r.groups()} for r in rankings], "notes": notes}))
        return
    if fmt == "csv":
        from .output import to_csv

        click.echo(to_csv(csv_rows(rankings)), nl=False)
        return
    console = Console()
    if not rankings:
        console.print("nothing to rank")
    print_rankings(rankings, notes, console)
