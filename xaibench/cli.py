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


FORMAT = click.option("--format", "fmt", type=click.Choice(["table", "json", "csv"]), default="table",
                      show_default=True, help="json and csv print the same rows as the table, whole.")


@cli.command()
@FORMAT
def plugins(fmt: str) -> None:
    """List loaded plugins (and failed ones, in red) with the components they register."""
    from .output import component_rows, names_table, plugin_rows, to_csv, to_json

    session = _session()
    plugin_list, components = plugin_rows(session), component_rows(session)
    if fmt == "json":
        click.echo(to_json({"plugins": plugin_list, "components": components}))
        return
    if fmt == "csv":
        click.echo(to_csv(components), nl=False)
        return
    # component names are listed whole in the tables by kind below; here only how many of each
    rows = [[f"[red]{i['plugin']}[/red]", f"{i['distribution']} {i['version']}".strip(), "",
             f"[red]failed: {i['error']}[/red]"] if i["error"] else
            [i["plugin"], f"{i['distribution']} {i['version']}".strip(), "\n".join(i["hooks"]),
             "\n".join(f"{len(v)} {k}" for k, v in i["components"].items())]
            for i in plugin_list]
    out.print(names_table(["plugin", "package", "hooks", "components"], rows, {"plugin", "hooks"}, title="plugins"))
    for kind in dict.fromkeys(c["kind"] for c in components):
        rows = [[c["name"], c["plugin"], c["version"],
                 f"[red]unavailable: {c['unavailable']}[/red]" if c["unavailable"] else c["description"]]
                for c in components if c["kind"] == kind]
        out.print(names_table(["name", "plugin", "version", "description"], rows, {"name", "plugin"},
                              title=f"{kind} components"))


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
@FORMAT
def run(registry: Path, only: tuple[str, ...], dry_run: bool, quiet: bool, fmt: str) -> None:
    """Run every combination declared in REGISTRY."""
    from .config import load_registry
    from .progress import setup_logging

    session = _session()
    setup_logging(console, quiet=quiet)
    config = load_registry(registry, session.catalog, only=list(only))
    if dry_run:
        _print_plan(config, session)
        return
    from .interrupts import stop_on_signals
    from .runner import run as run_grid
    from .supervisor import JOURNAL_ENV, CrashJournal

    journal = CrashJournal(os.environ[JOURNAL_ENV]) if os.environ.get(JOURNAL_ENV) else None  # set by supervise()
    with stop_on_signals():  # SIGTERM/SIGINT: a clean, resumable stop (xaibench.interrupts)
        summary = run_grid(config, session, console=console, quiet=quiet, journal=journal)
    if summary.interrupted is not None:
        done = summary.cached + summary.computed
        console.print(f"interrupted by {summary.interrupted.name}: {done} of {summary.stages} stages done "
                      f"({summary.computed} computed now), {summary.units_logged} combinations logged; "
                      f"`xaibench run {registry}` resumes from there", highlight=False, soft_wrap=True)
        sys.exit(summary.interrupted.exit_code)
    _print_summary(summary, fmt)
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


def _print_summary(summary, fmt: str = "table") -> None:
    from .output import headline_summary, names_table, to_csv, to_json
    from .results import summarize

    columns, cells = headline_summary(summary.table, summarize(summary.table))
    if fmt != "table":
        rows = [{**dict(zip(TABLE_GROUP, key)), "metric": r["metric"], "statistic": r["statistic"], "mean": r["mean"],
                 "std": r["std"], "n": r["n"]} for key, row in sorted(cells.items()) for r in row.values()]
        click.echo(to_json(rows) if fmt == "json" else to_csv(rows), nl=fmt == "json")
        return
    if cells:
        # columns that are the same on every row (one dataset, one layer) say nothing: drop them
        names = tuple(HEADERS.get(c, c) for c in TABLE_GROUP)
        keep = [i for i in range(len(names)) if len({k[i] for k in cells}) > 1] or [1]
        body = [[*(str(key[i] or "") for i in keep),
                 *(f"{cells[key][c]['mean']:.3f}±{cells[key][c]['std']:.3f}" if c in cells[key] else "" for c in columns)]
                for key in sorted(cells)]
        out.print(names_table([*(names[i] for i in keep), *columns], body, whole={names[i] for i in keep},
                              title="mean ± std across seeds (each metric's headline statistic)"))
        out.print("all values: `xaibench results`, or the Parquet file below")
    out.print(f"stages: {summary.stages} total, [green]{summary.computed} computed[/green], {summary.cached} cached, "
              f"[{'red' if summary.failed else 'green'}]{len(summary.failed)} failed[/], {len(summary.blocked)} blocked")
    deferred = f", deferred to the next run: {summary.units_deferred}" if summary.units_deferred else ""
    out.print(f"combinations logged: {summary.units_logged} (already tracked: {summary.units_already_tracked}{deferred})")
    out.print(f"results: {summary.results_path} (summary {summary.summary_path})")
    for line in summary.tracking:
        out.print(line, highlight=False, soft_wrap=True)
    if summary.failed:
        out.print("[red]failures:[/red]")
        for label, err in summary.failed:
            out.print(f"  [red]{label}[/red]: {err}")
    if summary.blocked:
        out.print(f"  and {len(summary.blocked)} stages that depended on them")


@cli.command()
@click.option("--experiment", "-e", help="Experiment name (default: the only one, or the newest, in --dir).")
@click.option("--dir", "results_dir", default="results", show_default=True, type=click.Path(path_type=Path))
@click.option("--format", "fmt", type=click.Choice(["table", "json", "csv", "parquet"]), default="table",
              show_default=True, help="table: mean ± std across seeds; json, csv, parquet: the long-format rows.")
@click.option("--out", "out_file", type=click.Path(path_type=Path), help="Write to this file instead of stdout.")
@click.option("--where", "where", multiple=True, metavar="COLUMN=VALUE",
              help="Only rows with COLUMN (dataset, model, seed, layer, attribution, postprocessor, status...) = VALUE.")
@click.option("--metric", "-m", "metrics", multiple=True, metavar="ALIAS[.STATISTIC]", help="Only this metric.")
def results(experiment: str | None, results_dir: Path, fmt: str, out_file: Path | None, where: tuple[str, ...],
            metrics: tuple[str, ...]) -> None:
    """Print or export the long-format results (mean ± std across seeds in table form)."""
    from .output import filter_results, names_table, to_json
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
    table = filter_results(read_parquet(path), list(where), list(metrics))
    if fmt == "parquet":
        if not out_file:
            raise XaibenchError("--format parquet needs --out FILE")
        from .results import write_parquet

        write_parquet(table, out_file)
    elif fmt == "json":
        text = to_json(table.cast(_plain_schema(table.schema)).to_pylist())
        if out_file:
            out_file.write_text(text + "\n")
        else:
            click.echo(text)
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
        # a column with one value on every row goes to the title, so the others keep their names whole
        shared = [c for c in GROUP if c not in ("metric", "statistic") and len({r[c] for r in rows}) == 1]
        columns = [c for c in GROUP if c not in shared]
        where = " · ".join(str(rows[0][c]) for c in shared if rows[0][c]) if rows else ""
        t = names_table([*(HEADERS.get(c, c) for c in columns), "mean ± std", "n"],
                        [[*(str(r[c] or "") for c in columns), f"{r['mean']:.4g} ± {r['std']:.2g}", str(r["n"])]
                         for r in rows], whole={HEADERS.get(c, c) for c in columns if c != "sub_key"} | {"mean ± std"},
                        title=f"{path.stem}{': ' + where if where else ''} — mean ± std across seeds")
        status = Counter(table.column("status").to_pylist())
        (Console(file=open(out_file, "w")) if out_file else out).print(t)
        out.print(f"rows: {table.num_rows} ({', '.join(f'{k} {v}' for k, v in sorted(status.items()))})")
    if out_file:
        console.print(f"wrote {out_file}")


def _plain_schema(schema):
    import pyarrow as pa

    return pa.schema([pa.field(f.name, f.type.value_type if pa.types.is_dictionary(f.type) else f.type) for f in schema])


def _supervise(argv: list[str]) -> None:
    """Run a grid in a supervised child process (``xaibench.supervisor``: a plugin's crash fails its
    stage, not the run), with glibc malloc tunables (see MALLOC_TUNABLES); exits with its code."""
    if os.name != "posix" or os.environ.get("XAIBENCH_NO_REEXEC") or not argv or argv[0] != "run":
        return
    from .supervisor import supervise

    env = {**os.environ, "XAIBENCH_NO_REEXEC": "1"}
    if sys.platform.startswith("linux"):
        env.setdefault("GLIBC_TUNABLES", MALLOC_TUNABLES)
    sys.exit(supervise([sys.executable, "-m", "xaibench", *argv], env, lambda line: console.print(
        line, highlight=False, soft_wrap=True, markup=False)))


def main(argv: list[str] | None = None, session=None) -> None:
    """The command line.  ``session`` (a :class:`~xaibench.plugins.PluginSession`) replaces the
    one made here from the installed plugins, for calls from Python (tests, notebooks)."""
    if argv is None:  # a real command line (not a call from Python): safe to run a child
        argv = sys.argv[1:]
        _supervise(argv)
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
    except KeyboardInterrupt as exc:  # a signal outside a grid's own clean stop (xaibench.interrupts)
        from .interrupts import Interrupted

        stop = exc if isinstance(exc, Interrupted) else Interrupted()
        console.print(f"interrupted by {stop.name}")
        sys.exit(stop.exit_code)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
