"""The ``xaibench`` command line (plain click, so that plugins can add commands).

Heavy libraries (torch, mlflow, pyarrow) are imported inside commands only, so
``xaibench --help`` stays fast.
"""

from __future__ import annotations

import copy
import os
import sys
from collections import Counter
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from . import __version__
from .coords import TABLE_GROUP
from .errors import XaibenchError

console = Console(stderr=True)
out = Console()

# glibc's default malloc maps and unmaps tensors above 32 MB at every operation;
# on these machines that put 50-70 % of CPU time in the kernel (docs/performance.md).
MALLOC_TUNABLES = "glibc.malloc.mmap_max=0:glibc.malloc.trim_threshold=17179869184"


def _session():
    """The plugin session made by :func:`main` for this command line (click's context object)."""
    from .progress import setup_logging

    setup_logging(console, quiet=False)
    return click.get_current_context().find_root().obj


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="xaibench")
def cli() -> None:
    """Benchmark attribution methods on Earth-observation models.

    \b
    xaibench run registry.yaml          run every combination of the grid
    xaibench validate registry.yaml     check a registry without running it
    xaibench plugins                    list plugins and their components
    xaibench results                    print or export the results table
    """


@cli.command()
def plugins() -> None:
    """List loaded plugins (and failed ones, in red) with the components they register."""
    session = _session()
    catalog = session.catalog
    table = Table(title="plugins")
    for col in ("plugin", "distribution", "version", "hooks", "components"):
        table.add_column(col)
    for info in sorted(session.plugins.values(), key=lambda i: i.name):
        comps = "\n".join(f"{k}: {', '.join(sorted(v))}" for k, v in sorted(info.components.items()))
        if info.error:
            table.add_row(f"[red]{info.name}[/red]", info.distribution or "", info.version or "",
                          "", f"[red]failed: {info.error}[/red]")
        else:
            table.add_row(info.name, info.distribution or "", info.version or "", "\n".join(info.hooks), comps)
    out.print(table)
    comps = Table(title="components by kind")
    for col in ("kind", "name", "plugin", "version", "description"):
        comps.add_column(col)
    for kind, entries in catalog.entries.items():
        for name in sorted(entries):
            e = entries[name]
            desc = e.cls.describe()
            why = _unavailable(e.cls)
            comps.add_row(kind, name, e.plugin, e.cls.version, f"[red]unavailable: {why}[/red]" if why else desc)
    out.print(comps)


def _unavailable(cls) -> str | None:
    """Why a component that can tell (``available()``, e.g. a GPU-only kNN backend) cannot run here."""
    check = getattr(cls, "available", None)
    if check is None:
        return None
    try:
        return cls().available()
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}"


@cli.command()
@click.argument("registry", type=click.Path(dir_okay=True, path_type=Path))
def validate(registry: Path) -> None:
    """Check REGISTRY without running anything; report every problem at once."""
    from .config import load_registry
    from .errors import ConfigError
    from .plan_checks import check_plan
    from .planning import build_plan

    session = _session()
    config = load_registry(registry, session.catalog)
    plan = build_plan(config, session.catalog)
    problems = check_plan(config, plan)
    tracker = session.catalog.create("tracker", config.tracking.name, config.tracking.params)
    unreachable = tracker.check()  # type: ignore[attr-defined]
    if unreachable:
        line = config.lines.get(("tracking",))
        problems.append(f"{registry}:{line}: tracking: {unreachable}" if line else f"{registry}: tracking: {unreachable}")
    if problems:
        raise ConfigError(problems)
    out.print(f"[green]{registry}: ok[/green] — {len(plan.units)} combinations, {len(plan.stages())} stages, "
              f"{len(plan.skipped)} skipped as incompatible")


@cli.command()
@click.argument("registry", type=click.Path(dir_okay=True, path_type=Path))
@click.option("--only", "only", multiple=True, metavar="KEY=VALUE",
              help="Run only combinations with KEY (dataset, model, seed, layer, attribution, postprocessor, metric) = VALUE.")
@click.option("--dry-run", is_flag=True, help="Print the plan (combinations, cached stages, skips) and stop.")
@click.option("--quiet", "-q", is_flag=True, help="No progress bars or log lines; only the final summary.")
def run(registry: Path, only: tuple[str, ...], dry_run: bool, quiet: bool) -> None:
    """Run every combination declared in REGISTRY."""
    from .config import load_registry
    from .progress import setup_logging

    session = _session()
    setup_logging(console, quiet=quiet)
    config = load_registry(registry, session.catalog, only=list(only))
    if dry_run:
        _print_plan(config, session)
        return
    from .runner import run as run_grid

    summary = run_grid(config, session, console=console, quiet=quiet)
    _print_summary(summary)
    if not summary.ok:
        sys.exit(1)


def _print_plan(config, session) -> None:
    from .cache import Cache
    from .planning import build_plan
    from .stages import STAGE_KINDS

    plan = build_plan(config, session.catalog)
    stages = plan.stages()
    cache = Cache(config.cache)
    cached = Counter(s.kind for s in stages if cache.has(s.key))
    total = Counter(s.kind for s in stages)
    kinds = Counter(u.kind for u in plan.units)
    out.print(f"[bold]{config.experiment}[/bold]: {kinds['cell']} attribution combinations, {kinds['model']} trained "
              f"models, {len(stages)} stages ({sum(cached.values())} cached, {len(stages) - sum(cached.values())} to compute)")
    table = Table("stage kind", "total", "cached", "to compute")
    for kind in STAGE_KINDS:
        if total[kind]:
            table.add_row(kind, str(total[kind]), str(cached[kind]), str(total[kind] - cached[kind]))
    out.print(table)
    skips: dict[str, list[str]] = {}
    for skip in plan.skipped:
        skips.setdefault(skip.reason, []).append(skip.coords.name)
    if skips:
        st = Table("why", "combinations", "e.g.", title=f"{sum(map(len, skips.values()))} skipped as incompatible")
        for why, names in sorted(skips.items()):
            st.add_row(why, str(len(names)), names[0])
        out.print(st)


HEADERS = {"postprocessor": "post"}


def _print_summary(summary) -> None:
    from .results import summarize

    rows = [r for r in summarize(summary.table) if not r["sub_key"]]
    stats = sorted({f"{r['metric']}.{r['statistic']}" for r in rows if r["metric"] != "training"})[:8]
    cells: dict[tuple, dict[str, str]] = {}
    for r in rows:
        name = f"{r['metric']}.{r['statistic']}"
        if name in stats:
            key = tuple(r[c] for c in TABLE_GROUP)
            cells.setdefault(key, {})[name] = f"{r['mean']:.3f}±{r['std']:.3f}"
    if cells:
        # columns that are the same on every row (one dataset, one layer) say nothing: drop them
        names = tuple(HEADERS.get(c, c) for c in TABLE_GROUP)
        keep = [i for i in range(len(names)) if len({k[i] for k in cells}) > 1] or [1]
        stats = stats[: max(2, (out.width - 14 * len(keep)) // 14)]
        table = Table(*(names[i] for i in keep), *stats, title="mean ± std across seeds")
        for key in sorted(cells):
            table.add_row(*(key[i] for i in keep), *(cells[key].get(s, "") for s in stats))
        out.print(table)
        out.print("all values: `xaibench results`, or the Parquet file below")
    out.print(f"stages: {summary.stages} total, [green]{summary.computed} computed[/green], {summary.cached} cached, "
              f"[{'red' if summary.failed else 'green'}]{len(summary.failed)} failed[/], {len(summary.blocked)} blocked")
    deferred = f", deferred to the next run: {summary.units_deferred}" if summary.units_deferred else ""
    out.print(f"combinations logged: {summary.units_logged} (already tracked: {summary.units_already_tracked}{deferred})")
    out.print(f"results: {summary.results_path} (summary {summary.summary_path})")
    for line in summary.tracking:
        out.print(line, highlight=False)
    if summary.failed:
        out.print("[red]failures:[/red]")
        for label, err in summary.failed:
            out.print(f"  [red]{label}[/red]: {err}")
    if summary.blocked:
        out.print(f"  and {len(summary.blocked)} stages that depended on them")


@cli.command()
@click.option("--experiment", "-e", help="Experiment name (default: the only one, or the newest, in --dir).")
@click.option("--dir", "results_dir", default="results", show_default=True, type=click.Path(path_type=Path))
@click.option("--format", "fmt", type=click.Choice(["table", "csv", "parquet"]), default="table", show_default=True)
@click.option("--out", "out_file", type=click.Path(path_type=Path), help="Write to this file instead of stdout.")
def results(experiment: str | None, results_dir: Path, fmt: str, out_file: Path | None) -> None:
    """Print or export the long-format results (mean ± std across seeds in table form)."""
    from .results import GROUP, read_parquet, summarize

    if experiment:
        path = results_dir / f"{experiment}.parquet"
        if not path.exists():
            known = ", ".join(p.stem for p in results_dir.glob("*.parquet")) or "none"
            raise XaibenchError(f"{path}: no results for experiment {experiment!r} (known: {known})")
    else:
        files = sorted(results_dir.glob("*.parquet"), key=lambda p: p.stat().st_mtime)
        if not files:
            raise XaibenchError(f"{results_dir}: no results yet; run `xaibench run registry.yaml` first")
        path = files[-1]
    table = read_parquet(path)
    if fmt == "parquet":
        if not out_file:
            raise XaibenchError("--format parquet needs --out FILE")
        import shutil

        shutil.copyfile(path, out_file)
    elif fmt == "csv":
        import pyarrow.csv as pacsv

        plain = table.cast(_plain_schema(table.schema))
        if out_file:
            pacsv.write_csv(plain, out_file)
        else:
            import io

            buf = io.BytesIO()
            pacsv.write_csv(plain, buf)
            sys.stdout.write(buf.getvalue().decode())
    else:
        rows = summarize(table)
        t = Table(*(HEADERS.get(c, c) for c in GROUP), "mean", "std", "n", title=f"{path.stem}: mean ± std across seeds")
        for r in rows:
            t.add_row(*(str(r[c]) for c in GROUP), f"{r['mean']:.4f}", f"{r['std']:.4f}", str(r["n"]))
        status = Counter(table.column("status").to_pylist())
        (Console(file=open(out_file, "w")) if out_file else out).print(t)
        out.print(f"rows: {table.num_rows} ({', '.join(f'{k} {v}' for k, v in sorted(status.items()))})")
    if out_file:
        console.print(f"wrote {out_file}")


def _plain_schema(schema):
    import pyarrow as pa

    return pa.schema([pa.field(f.name, f.type.value_type if pa.types.is_dictionary(f.type) else f.type) for f in schema])


def _apply_allocator_settings(argv: list[str]) -> None:
    """Re-execute once with glibc malloc tunables when running a grid (see MALLOC_TUNABLES)."""
    if not sys.platform.startswith("linux") or "GLIBC_TUNABLES" in os.environ or os.environ.get("XAIBENCH_NO_REEXEC"):
        return
    if not argv or argv[0] != "run":
        return
    env = {**os.environ, "GLIBC_TUNABLES": MALLOC_TUNABLES, "XAIBENCH_NO_REEXEC": "1"}
    os.execve(sys.executable, [sys.executable, "-m", "xaibench", *argv], env)


def main(argv: list[str] | None = None, session=None) -> None:
    """The command line.  ``session`` (a :class:`~xaibench.plugins.PluginSession`) replaces the
    one made here from the installed plugins, for calls from Python (tests, notebooks)."""
    if argv is None:  # a real command line (not a call from Python): safe to re-execute
        argv = sys.argv[1:]
        _apply_allocator_settings(argv)
    argv = list(argv)
    try:
        from .plugins import PluginSession

        session = session or PluginSession()  # the one session of this command line, passed down explicitly
        group = copy.copy(cli)  # plugins' commands join this invocation's group only
        group.commands = dict(cli.commands)
        session.add_commands(group)
        group.main(args=argv, prog_name="xaibench", standalone_mode=False, obj=session)
    except XaibenchError as exc:
        from rich.text import Text

        for line in str(exc).splitlines():
            console.print(Text.assemble(("error: ", "red"), line), highlight=False, soft_wrap=True)
        sys.exit(exc.exit_code)
    except click.exceptions.Abort:
        console.print("aborted")
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
