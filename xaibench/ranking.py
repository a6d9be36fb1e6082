"""Rank attribution methods per metric, with bootstrap confidence intervals and rank stability.

What is resampled: the results table holds one value per (dataset, model, seed, layer,
method, post-processor, metric, statistic, sub_key); per-sample values are not stored.
Methods are compared within a *context* (dataset, model, layer, post-processor) on one
metric statistic.  The units of resampling are the table's rows for that context: a
*block* is a (seed, sub_key) pair (a sub_key is a class, a perturbation step... or ``""``
when the metric emits one value).  Each bootstrap replicate draws seeds with replacement,
then, within each drawn seed, its sub_keys with replacement (a two-level bootstrap: seeds
carry the model-training variability, sub_keys the variability within one model); every
method's mean over the drawn blocks is computed from the *same* blocks (a paired
bootstrap) and the methods are ranked (1 = best; ties share the average rank).
The rank interval is the central ``ci`` range of a method's ranks over the replicates;
two methods whose rank intervals overlap are reported as not distinguishable.

Rank stability: for every pair of seeds, Kendall's tau between the methods' per-seed means
(:func:`scipy.stats.kendalltau`); 1 means every seed orders the methods alike.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .coords import TABLE_GROUP
from .directions import MetricDirection, MetricDirections
from .errors import XaibenchError

if TYPE_CHECKING:
    import numpy as np

CONTEXT = tuple(c for c in TABLE_GROUP if c != "attribution")
"""Methods are ranked against each other within one (dataset, model, layer, post-processor)."""


@dataclass
class MethodRank:
    """One method's standing for one metric in one context."""

    method: str
    mean: float
    """Mean of the method's values over all blocks."""
    value_ci: tuple[float, float]
    rank: float
    """Rank of ``mean`` among the methods (1 = best; ties averaged)."""
    rank_ci: tuple[float, float]
    mean_rank: float
    """Average rank over the bootstrap replicates."""
    n: int
    """Values (blocks) the method has."""
    indistinguishable: list[str] = field(default_factory=list)
    """Methods whose rank interval overlaps this one's."""


@dataclass
class Ranking:
    """Methods ranked on ``metric``/``statistic`` in one context (dataset, model, layer, post-processor)."""

    context: dict[str, str]
    metric: str
    statistic: str
    higher_is_better: bool
    methods: list[MethodRank]
    n_seeds: int
    n_blocks: int
    n_boot: int
    ci: float
    kendall_tau: float | None = None
    """Mean Kendall's tau between the per-seed orderings (None with fewer than two seeds)."""
    tau_pairs: list[tuple[int, int, float]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def groups(self) -> list[list[str]]:
        """Methods grouped where rank intervals overlap (connected groups), best group first."""
        out: list[list[str]] = []
        hi = -math.inf
        for m in sorted(self.methods, key=lambda m: (m.rank_ci[0], m.rank)):
            if out and m.rank_ci[0] <= hi:
                out[-1].append(m.method)
                hi = max(hi, m.rank_ci[1])
            else:
                out.append([m.method])
                hi = m.rank_ci[1]
        return out


# -- the computation -------------------------------------------------------------------------
def _ranks(means: np.ndarray, higher_is_better: bool) -> np.ndarray:
    """Ranks (1 = best, ties averaged) of ``means`` ``(..., M)``; NaN means get NaN ranks."""
    import numpy as np
    from scipy.stats import rankdata

    score = -means if higher_is_better else means
    ranks = rankdata(np.where(np.isnan(score), np.inf, score), axis=-1, method="average")
    return np.where(np.isnan(score), np.nan, ranks)


def rank_block_values(
    values: np.ndarray,
    seeds: np.ndarray,
    methods: list[str],
    higher_is_better: bool,
    *,
    n_boot: int = 1000,
    ci: float = 0.95,
    rng_seed: int = 0,
) -> tuple[list[MethodRank], list[tuple[int, int, float]]]:
    """Rank methods from a block x method matrix.

    ``values`` ``(B, M)``: one row per block (a (seed, sub_key) pair), NaN where a method
    has no value; ``seeds`` ``(B,)``: each block's seed.  Returns the methods in rank order
    and Kendall's tau for every pair of seeds.
    """
    import numpy as np
    from scipy.stats import kendalltau

    values = np.asarray(values, dtype=np.float64)
    seeds = np.asarray(seeds)
    with np.errstate(invalid="ignore"), _quiet():
        point = np.nanmean(values, axis=0)
    point_rank = _ranks(point, higher_is_better)
    by_seed = [np.flatnonzero(seeds == s) for s in np.unique(seeds)]
    rng = np.random.default_rng(rng_seed)
    boot_means = np.empty((n_boot, values.shape[1]))
    for i in range(n_boot):
        drawn = rng.integers(len(by_seed), size=len(by_seed))
        rows = np.concatenate([by_seed[s][rng.integers(len(by_seed[s]), size=len(by_seed[s]))] for s in drawn])
        with np.errstate(invalid="ignore"), _quiet():
            boot_means[i] = np.nanmean(values[rows], axis=0)
    boot_ranks = _ranks(boot_means, higher_is_better)
    lo_q, hi_q = 50 * (1 - ci), 50 * (1 + ci)
    with _quiet():
        rank_lo, rank_hi = np.nanpercentile(boot_ranks, [lo_q, hi_q], axis=0)
        val_lo, val_hi = np.nanpercentile(boot_means, [lo_q, hi_q], axis=0)
        mean_rank = np.nanmean(boot_ranks, axis=0)
    out = [
        MethodRank(m, float(point[j]), (float(val_lo[j]), float(val_hi[j])), float(point_rank[j]),
                   (float(rank_lo[j]), float(rank_hi[j])), float(mean_rank[j]), int(np.isfinite(values[:, j]).sum()))
        for j, m in enumerate(methods)
    ]
    for a in out:
        a.indistinguishable = [b.method for b in out if b is not a and a.rank_ci[0] <= b.rank_ci[1]
                               and b.rank_ci[0] <= a.rank_ci[1]]
    out.sort(key=lambda r: (math.inf if math.isnan(r.rank) else r.rank, r.method))

    taus: list[tuple[int, int, float]] = []
    seed_ids = list(np.unique(seeds))
    with np.errstate(invalid="ignore"), _quiet():
        per_seed = {s: np.nanmean(values[seeds == s], axis=0) for s in seed_ids}
    for i, s in enumerate(seed_ids):
        for t in seed_ids[i + 1:]:
            a, b = per_seed[s], per_seed[t]
            ok = np.isfinite(a) & np.isfinite(b)
            if ok.sum() >= 2:
                tau = kendalltau(a[ok], b[ok]).statistic
                taus.append((int(s), int(t), float(tau)))
    return out, taus


class _quiet:
    """Silence numpy's "mean of empty slice" warnings: NaN is the intended result there."""

    def __enter__(self) -> None:
        import warnings

        self._w = warnings.catch_warnings()
        self._w.__enter__()
        warnings.simplefilter("ignore", RuntimeWarning)

    def __exit__(self, *exc: Any) -> None:
        self._w.__exit__(*exc)


def rank_methods(
    table: Any,
    metrics: list[str] | None = None,
    directions: MetricDirections | Mapping[str, Any] | None = None,
    *,
    higher: bool | None = None,
    n_boot: int = 1000,
    ci: float = 0.95,
    seed: int = 0,
) -> tuple[list[Ranking], list[str]]:
    """Rank the methods of a results table; returns the rankings and notes on what was skipped.

    ``metrics``: ``"alias"`` or ``"alias.statistic"`` names (default: every metric with
    per-method rows, on its default statistic: :mod:`xaibench.directions`); ``directions``:
    per alias and statistic (a plain ``{alias: higher_is_better}`` mapping is read as every
    statistic of the alias in that direction); ``higher`` overrides every direction.
    Statistics without a direction (not scores) are not ranked.
    """
    import numpy as np

    rows = [r for r in table.to_pylist() if r["status"] == "ok" and r["attribution"] and r["metric"] != "training"
            and r["value"] is not None and math.isfinite(r["value"])]
    if not isinstance(directions, MetricDirections):
        directions = MetricDirections.from_json(directions)
    by_metric: dict[str, set[str]] = {}
    for r in rows:
        by_metric.setdefault(r["metric"], set()).add(r["statistic"])
    notes: list[str] = []
    wanted: list[tuple[str, str]] = []
    for name in metrics or sorted(by_metric):
        alias, _, stat = name.partition(".") if name not in by_metric else (name, "", "")
        if alias not in by_metric:
            known = ", ".join(sorted(by_metric)) or "none"
            raise XaibenchError(f"no per-method values of metric {alias!r} in the results (metrics: {known})")
        stats = by_metric[alias]
        if stat:
            if stat not in stats:
                raise XaibenchError(f"metric {alias!r} has no statistic {stat!r} (has: {', '.join(sorted(stats))})")
        else:
            stat = directions.default_statistic(alias, stats) or ""
            if not stat:
                notes.append(f"{alias}: several statistics ({', '.join(sorted(stats))}) and no headline; "
                             f"name one: --metric {alias}.STAT")
                continue
        wanted.append((alias, stat))

    out: list[Ranking] = []
    for alias, stat in wanted:
        direction = higher if higher is not None else directions.direction(alias, stat)
        if direction is None:
            notes.append(f"{alias}.{stat}: not a score (no direction); not ranked unless --higher or --lower")
            continue
        selected = [r for r in rows if r["metric"] == alias and r["statistic"] == stat]
        contexts: dict[tuple, list[dict]] = {}
        for r in selected:
            contexts.setdefault(tuple(r[c] for c in CONTEXT), []).append(r)
        for ctx_key, ctx_rows in sorted(contexts.items()):
            methods = sorted({r["attribution"] for r in ctx_rows})
            context = dict(zip(CONTEXT, ctx_key))
            if len(methods) < 2:
                notes.append(f"{alias}.{stat} {context_name(context)}: only {methods[0]!r}, nothing to rank")
                continue
            blocks = sorted({(r["seed"], r["sub_key"]) for r in ctx_rows})
            index = {b: i for i, b in enumerate(blocks)}
            col = {m: j for j, m in enumerate(methods)}
            values = np.full((len(blocks), len(methods)), np.nan)
            for r in ctx_rows:
                values[index[(r["seed"], r["sub_key"])], col[r["attribution"]]] = r["value"]
            seeds = np.array([b[0] for b in blocks])
            ranked, taus = rank_block_values(values, seeds, methods, bool(direction), n_boot=n_boot, ci=ci, rng_seed=seed)
            ranking = Ranking(context, alias, stat, bool(direction), ranked, len(set(seeds.tolist())), len(blocks),
                              n_boot, ci, float(np.mean([t for *_, t in taus])) if taus else None, taus)
            if len(blocks) == 1:
                ranking.notes.append("one value per method: the intervals are points, nothing is resampled")
            elif ranking.n_seeds == 1:
                ranking.notes.append("one seed: intervals reflect sub_keys only, not training variability")
            out.append(ranking)
    return out, notes


def context_name(context: dict[str, str]) -> str:
    return "/".join(f"{v}" for v in context.values() if v)


# -- metric directions ------------------------------------------------------------------------
def metric_directions(table: Any, registry: Path | None = None, catalog: Any = None) -> MetricDirections:
    """The directions and headline of each metric alias of ``table`` (:mod:`xaibench.directions`).

    Taken from the table's ``xaibench.metric_directions`` metadata when a run stored it;
    otherwise each alias is resolved to its component (the ``registry`` file's entry, else
    the table's ``xaibench.components`` metadata, else the alias itself as a component
    name) and the direction read from the component built with its params (an adapter
    such as ``quantus`` takes it from its params), or from its class.
    """
    import yaml

    from .results import table_metadata

    stored = table_metadata(table, "metric_directions")
    if stored:
        return MetricDirections.from_json(stored)
    aliases = {str(a) for a in table.column("metric").to_pylist()} - {"training", ""}
    names = dict((table_metadata(table, "components") or {}).get("metric", {}))
    specs: dict[str, Any] = {}
    if registry is not None:
        specs = dict((yaml.safe_load(Path(registry).read_text()) or {}).get("metrics") or {})
    out: dict[str, MetricDirection] = {}
    if catalog is None:
        return MetricDirections(out)
    for alias in sorted(aliases):
        spec = specs.get(alias, names.get(alias, alias))
        spec = {"component": spec} if isinstance(spec, str) else dict(spec or {})
        name, params = spec.get("component", alias), spec.get("params") or {}
        if name not in catalog.entries["metric"]:
            continue
        try:
            out[alias] = MetricDirection.of(catalog.create("metric", name, params))
        except Exception:  # params missing (no registry given) or invalid: the class's own directions
            out[alias] = MetricDirection.of(catalog.get("metric", name).cls)
    return MetricDirections(out)
