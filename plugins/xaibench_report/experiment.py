"""One experiment's results table, read for reporting: rows, aliases by component, seeds, cache.

Sections find metrics by the *component name* recorded in the table's metadata
(``segmentation-agreement``), never by the alias a registry happened to choose.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from xaibench.errors import XaibenchError

CONTEXT = ("dataset", "model", "layer")
"""The coordinates a figure or table is drawn for (one model at one layer)."""


@dataclass(frozen=True)
class Stat:
    """Mean and sample standard deviation (``ddof=1``; 0 for one value) of ``n`` finite values."""

    mean: float
    std: float
    n: int

    def format(self, digits: int = 3, integer: bool = False) -> str:
        """``0.812 ± 0.013`` (no ``±`` for one value); ``integer``: without decimals (counts)."""
        fmt = "{:.0f}" if integer else "{:.1f}" if abs(self.mean) >= 1000 else f"{{:.{digits}f}}"
        text = fmt.format(self.mean)
        return f"{text} ± {fmt.format(self.std)}" if self.n > 1 else text


def is_count(values: Iterable[float | None]) -> bool:
    """Whole numbers, not all 0 or 1 (so a score of exactly 0 or 1 keeps its decimals): parameter counts, epochs."""
    vals = [v for v in values if v is not None and math.isfinite(v)]
    return bool(vals) and all(v == int(v) for v in vals) and any(abs(v) > 1 for v in vals)


def stat(values: Iterable[float | None]) -> Stat | None:
    """:class:`Stat` of the finite values, ``None`` when there are none."""
    vals = [float(v) for v in values if v is not None and math.isfinite(v)]
    if not vals:
        return None
    mean = sum(vals) / len(vals)
    std = math.sqrt(sum((v - mean) ** 2 for v in vals) / (len(vals) - 1)) if len(vals) > 1 else 0.0
    return Stat(mean, std, len(vals))


def paired_difference(a: dict[int, float], b: dict[int, float]) -> Stat | None:
    """``b - a`` per seed present in both (so that seed-to-seed variation cancels), as a :class:`Stat`."""
    return stat(b[s] - a[s] for s in sorted(set(a) & set(b)))


class Experiment:
    """The rows and ``xaibench.*`` metadata of ``results/<experiment>.parquet``."""

    def __init__(self, table: Any, path: Path, cache_root: str | Path | None = None) -> None:
        from xaibench.results import table_metadata

        self.path = Path(path)
        self.rows: list[dict[str, Any]] = table.to_pylist()
        self.name: str = self.rows[0]["experiment"] if self.rows else self.path.stem
        self.units: list[dict[str, Any]] = table_metadata(table, "units") or []
        self.components: dict[str, dict[str, str]] = table_metadata(table, "components") or {}
        recorded = table_metadata(table, "cache")
        self.cache_location = cache_root if cache_root is not None else _resolve_cache(recorded, self.path.parent)
        self.cache_problem = None if self.cache_location is not None else (
            f"the cache recorded in the results ({recorded!r}) was not found; pass --cache" if recorded
            else "the results do not record their cache")
        self._cache = None

    @classmethod
    def load(cls, results_dir: Path, name: str, cache_root: str | Path | None = None) -> Experiment:
        from xaibench.results import read_parquet

        path = Path(results_dir) / f"{name}.parquet"
        if not path.exists():
            known = ", ".join(sorted(p.stem for p in Path(results_dir).glob("*.parquet"))) or "none"
            raise XaibenchError(f"{path}: no results for experiment {name!r} (known in {results_dir}: {known})")
        return cls(read_parquet(path), path, cache_root)

    # -- the cache -----------------------------------------------------------
    @property
    def cache(self):
        """The stage cache (:class:`xaibench.cache.Cache`), or ``None`` when it cannot be found."""
        if self._cache is None and self.cache_location is not None:
            from xaibench.cache import Cache

            self._cache = Cache(self.cache_location)
        return self._cache

    # -- components ------------------------------------------------------------
    def aliases(self, kind: str, component: str) -> list[str]:
        """Aliases of ``kind`` (``"metric"``) whose component is ``component``, in registry order."""
        named = self.components.get(kind, {})
        return [a for a in self.order(kind) if named.get(a) == component]

    def component(self, kind: str, alias: str) -> str | None:
        return self.components.get(kind, {}).get(alias)

    def order(self, kind: str) -> list[str]:
        """Aliases of ``kind`` in the order the plan lists them (the registry's), then any others sorted."""
        seen: dict[str, None] = {}
        for u in self.units:
            alias = u["coords"].get(kind)
            if alias is not None:
                seen.setdefault(str(alias), None)
        rest = sorted(set(self.components.get(kind, {})) - set(seen))
        return [*seen, *rest]

    def postprocessor_roles(self) -> tuple[str | None, list[str]]:
        """``(reference, others)``: the post-processor that leaves maps "original", and the rest.

        The reference is the one ``original-vs-harmonized`` compared against, else the
        alias of the identity component ``none``, else the first one.
        """
        order = self.order("postprocessor")
        ovh = set(self.aliases("metric", "original-vs-harmonized"))
        refs = [r["postprocessor"] for r in self.rows if r["metric"] in ovh and r["status"] == "ok"]
        identity = self.aliases("postprocessor", "none")
        ref = refs[0] if refs else identity[0] if identity else order[0] if order else None
        return ref, [p for p in order if p != ref]

    # -- rows ------------------------------------------------------------------
    def ok_rows(self, metrics: Iterable[str], statistic: str | None = None) -> list[dict[str, Any]]:
        wanted = set(metrics)
        return [r for r in self.rows if r["metric"] in wanted and r["status"] == "ok"
                and (statistic is None or r["statistic"] == statistic)]

    def contexts(self, rows: Iterable[dict[str, Any]]) -> list[tuple[str, str, str]]:
        """Distinct (dataset, model, layer) of ``rows`` in registry order."""
        found = {tuple(r[c] for c in CONTEXT) for r in rows}
        rank = {kind: {a: i for i, a in enumerate(self.order(kind))} for kind in CONTEXT}
        return sorted(found, key=lambda c: tuple((rank[k].get(v, len(rank[k])), v) for k, v in zip(CONTEXT, c)))

    def ordered(self, kind: str, aliases: Iterable[str]) -> list[str]:
        present = set(aliases)
        order = self.order(kind)
        return [a for a in order if a in present] + sorted(present - set(order))

    def first_seed_cells(self) -> list[tuple[tuple[str, str, str], int, list[dict[str, Any]]]]:
        """``((dataset, model, layer), seed, cells)`` per context in registry order: the unit
        entries with attributions of the context's first seed, by method then post-processor
        (the reference post-processor first)."""
        cells = [u for u in self.units if u["kind"] == "cell" and "attributions" in u.get("stages", {})]
        ref, variants = self.postprocessor_roles()
        pp_rank = {p: i for i, p in enumerate([ref, *variants])}
        out = []
        found = {tuple(u["coords"][c] for c in CONTEXT) for u in cells}
        for context in self.contexts([dict(zip(CONTEXT, c)) for c in found]):
            group = [u for u in cells if tuple(u["coords"][c] for c in CONTEXT) == context]
            seed = min(u["coords"]["seed"] for u in group)
            group = [u for u in group if u["coords"]["seed"] == seed]
            methods = self.ordered("attribution", {u["coords"]["attribution"] for u in group})
            group.sort(key=lambda u: (methods.index(u["coords"]["attribution"]),
                                      pp_rank.get(u["coords"]["postprocessor"], len(pp_rank)),
                                      u["coords"]["postprocessor"]))
            out.append((context, seed, group))
        return out

    def seeds(self) -> list[int]:
        return sorted({r["seed"] for r in self.rows if r["seed"] is not None})


def by_seed(rows: Iterable[dict[str, Any]], *keys: str) -> dict[tuple, dict[int, float]]:
    """``{(row[k] for k in keys): {seed: value}}`` of the given rows."""
    out: dict[tuple, dict[int, float]] = {}
    for r in rows:
        out.setdefault(tuple(r[k] for k in keys), {})[r["seed"]] = r["value"]
    return out


def _resolve_cache(recorded: str | None, results_dir: Path) -> str | Path | None:
    """The recorded cache location; a relative path is tried from the working directory, then
    from the directory that holds the results directory (where ``xaibench run`` ran)."""
    if not recorded:
        return None
    if "://" in recorded:
        return recorded
    path = Path(recorded)
    candidates = [path] if path.is_absolute() else [Path.cwd() / path, results_dir.resolve().parent / path]
    return next((c for c in candidates if c.is_dir()), None)
