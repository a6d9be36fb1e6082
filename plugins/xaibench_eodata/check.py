"""``xaibench data check DATASET --root PATH``: validate a copy and summarise it with rich."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import click


def _parse_params(pairs: tuple[str, ...]) -> dict[str, Any]:
    import yaml

    from xaibench.errors import XaibenchError

    out: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise XaibenchError(f"--param {pair!r}: expected KEY=VALUE (VALUE in YAML: 3, [s2, s1], null)")
        out[key.strip()] = yaml.safe_load(value)
    return out


def _catalog():
    """The command line's plugin session's catalog (the click context's object)."""
    return click.get_current_context().find_root().obj.catalog


def _create(name: str, params: dict[str, Any]):
    from pydantic import ValidationError

    from xaibench.catalog import describe_validation_error
    from xaibench.errors import ConfigError, XaibenchError

    from .base import RealDataset

    catalog = _catalog()
    try:
        entry = catalog.get("dataset", name)
    except KeyError as exc:
        raise XaibenchError(str(exc.args[0])) from None
    if not issubclass(entry.cls, RealDataset):
        real = sorted(n for n, e in catalog.entries["dataset"].items() if issubclass(e.cls, RealDataset))
        raise XaibenchError(f"{name!r} is not a loader of files on disk (these are: {', '.join(real)})")
    try:
        return entry.cls(entry.cls.Params(**params))
    except ValidationError as exc:
        raise ConfigError([f"{name}: params.{loc}: {msg}" for loc, msg in describe_validation_error(exc, entry.cls.Params)]) from None


def summarise(ds, bundle) -> dict[str, Any]:
    """Samples per split, class frequencies and band statistics of a loaded bundle (plain data)."""
    import numpy as np

    info = ds.info()
    meta = bundle.meta
    splits = [s for s in ("train", "val", "test") if f"{s}/id" in bundle]
    classes: dict[str, dict[str, int]] = {}
    for s in splits:
        if f"{s}/labels" in bundle:
            counts = bundle[f"{s}/labels"].sum(axis=0)
        elif f"{s}/label" in bundle:
            counts = np.bincount(bundle[f"{s}/label"], minlength=info.n_classes)
        else:
            continue
        classes[s] = {c: int(n) for c, n in zip(info.classes, counts)}
    bands: list[dict[str, Any]] = []
    key = "context" if info.task == "forecast" else "x"  # forecasts: per channel over every frame
    arrays = [bundle[f"{s}/{key}"] for s in splits if f"{s}/{key}" in bundle]
    sources = list(info.extra.get("band_source") or [])
    if arrays:
        axis_c = 1 if key == "x" else 2
        names = [b.name for b in info.bands]
        for c, name in enumerate(names):
            vals = np.concatenate([np.take(a, c, axis=axis_c).ravel() for a in arrays]).astype(np.float64)
            bands.append({"band": name, "source": sources[c] if c < len(sources) else "",
                          "mean": vals.mean(), "std": vals.std(), "min": vals.min(), "max": vals.max(),
                          "nan": int(np.isnan(vals).sum())})  # fmt: skip
    return {
        "counts": {s: int(meta["counts"].get(s, 0)) for s in ("train", "val", "test")},
        "dropped": dict(meta.get("dropped", {})),
        "split_rule": meta.get("split_rule", ""),
        "unlisted": int(meta.get("unlisted", 0)),
        "absent": dict(meta.get("absent") or {}),
        "classes": classes,
        "bands": bands,
        "problem_kinds": dict(meta.get("problem_kinds", {})),
        "n_problems": int(meta.get("n_skipped", 0)),
    }


def print_summary(console, name: str, root: str, summary: dict[str, Any]) -> None:
    """Rich tables: samples per split, per class, band statistics (with where each band is read
    from), then problems grouped by kind, a count and the first examples each: a copy with
    10^5 bad files prints a few lines, not 10^5."""
    from rich.table import Table
    from rich.text import Text

    console.print(Text.assemble((f"{name}", "bold"), f" at {root} (split: {summary['split_rule']})"))
    t = Table("split", "samples", "dropped (unusable)", title="samples per split")
    for s, n in summary["counts"].items():
        t.add_row(s, str(n), str(summary["dropped"].get(s, 0)))
    console.print(t)
    absent = summary["absent"]
    if absent:
        console.print(Text(f"{absent['count']} ids listed in {absent['source']} are not in this copy (left out, "
                           f"not problems), e.g. {', '.join(absent['examples'])}"))  # fmt: skip
    if summary["unlisted"]:
        console.print(Text(f"{summary['unlisted']} samples of the copy are in no split file (not loaded)"))
    if summary["classes"]:
        splits = list(summary["classes"])
        t = Table("class", *splits, title="samples per class")
        for c in next(iter(summary["classes"].values())):
            t.add_row(c, *(str(summary["classes"][s][c]) for s in splits))
        console.print(t)
    if summary["bands"]:
        with_source = any(b["source"] for b in summary["bands"])
        head = ("channel", "band", *(("read from",) if with_source else ()), "mean", "std", "min", "max", "NaN")
        t = Table(*head, title="band statistics (all splits; x as loaded)")
        for c, b in enumerate(summary["bands"], start=1):
            t.add_row(str(c), b["band"], *((b["source"],) if with_source else ()), f"{b['mean']:.4g}",
                      f"{b['std']:.4g}", f"{b['min']:.4g}", f"{b['max']:.4g}", str(b["nan"]))  # fmt: skip
        console.print(t)
    n = summary["n_problems"]
    if n:  # plain lines, not a table: long paths stay whole and searchable
        console.print(Text(f"{n} problem{'s' if n > 1 else ''} (the samples are skipped), by kind:", style="bold red"))
        for kind, k in summary["problem_kinds"].items():
            console.print(Text(f"  {kind}: {k['count']}, first {len(k['examples'])}:"), soft_wrap=True)
            for example in k["examples"]:
                console.print(Text(f"    {example}"), soft_wrap=True)
    else:
        console.print("[green]no problems found[/green]")


def data_group() -> click.Group:
    @click.group(name="data")
    def data() -> None:
        """Inspect users' copies of the real Earth-observation datasets."""

    @data.command(name="list")
    def list_() -> None:
        """The dataset loaders that read files, with the layout each expects."""
        from rich.table import Table

        import xaibench.cli as cli_mod

        from .base import RealDataset

        t = Table("dataset", "plugin", "expects", title="loaders of files on disk")
        for name, e in sorted(_catalog().entries["dataset"].items()):
            if issubclass(e.cls, RealDataset):
                t.add_row(name, e.plugin, e.cls.layout)
        cli_mod.out.print(t)

    @data.command()
    @click.argument("dataset")
    @click.option("--root", required=True, type=click.Path(path_type=Path), help="The copy's directory.")
    @click.option("--param", "-p", "params", multiple=True, metavar="KEY=VALUE",
                  help="Another loader param (YAML value), e.g. -p metadata_csv=meta.csv -p 'modalities=[s2, s1]'.")  # fmt: skip
    @click.option("--max-per-split", type=click.IntRange(min=1), help="Read at most this many samples per split.")
    def check(dataset: str, root: Path, params: tuple[str, ...], max_per_split: int | None) -> None:
        """Validate a copy of DATASET: samples per split, class frequencies, band statistics, problems.

        Bad files are counted by kind with their first examples (none is fatal here); ids that
        split files or the layout's metadata list but the copy lacks are counted apart, as they
        are no problem.  Exits with 1 when problems were found.
        """
        import sys

        import xaibench.cli as cli_mod

        from .loading import load_dataset

        values = {"root": str(root), **_parse_params(params), "max_bad_fraction": 1.0}
        if max_per_split:
            values |= {"max_train": max_per_split, "max_val": max_per_split, "max_test": max_per_split}
        ds = _create(dataset, values)
        logger = logging.getLogger("xaibench")
        level = logger.level
        logger.setLevel(logging.ERROR)  # the problems are tabulated below instead of logged one by one
        try:
            bundle = load_dataset(ds, strict_splits=False).collect()
        finally:
            logger.setLevel(level)
        summary = summarise(ds, bundle)
        print_summary(cli_mod.out, dataset, str(root), summary)
        if summary["n_problems"]:
            sys.exit(1)

    return data
