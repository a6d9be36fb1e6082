"""Deletion / insertion curves drawn with matplotlib: the report's figure per model and layer, and
the figure of one cell attached to its tracked run (the ``unit_artifacts`` hook).  Light at import."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from matplotlib.figure import Figure

CURVES = ("deletion_curve", "insertion_curve")
COMPONENT = "deletion-insertion"
"""The metric whose values carry the curves (``DeletionInsertion.name``)."""

Curve = tuple[list[float], list[float]]
"""(removed or inserted share of positions in [0, 1], mean score of the explained class)."""

log = logging.getLogger("xaibench")


def curves_figure(curves: dict[str, dict[tuple[str, str], Curve]], title: str) -> Figure:
    """One panel per statistic of :data:`CURVES`; ``curves[statistic]`` maps (method,
    post-processor) to its curve."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(9, 3.4), layout="constrained")
    axes = fig.subplots(1, len(CURVES), squeeze=False)[0]
    for ax, statistic in zip(axes, CURVES):
        for (method, pp), (xs, ys) in curves.get(statistic, {}).items():
            ax.plot(xs, ys, label=method if pp in ("", "none", None) else f"{method} · {pp}", linewidth=1.2)
        ax.set_title(statistic.replace("_curve", ""), fontsize=9)
        ax.set_xlabel("share of positions removed" if statistic == "deletion_curve" else "share of positions inserted",
                      fontsize=8)
        ax.set_ylabel("score of the explained class", fontsize=8)
    axes[-1].legend(fontsize=7, loc="center left", bbox_to_anchor=(1.02, 0.5))
    fig.suptitle(title, fontsize=10)
    return fig


def cell_curves(values: Iterable[dict[str, Any]]) -> dict[str, Curve]:
    """``{statistic: curve}`` of a deletion-insertion stage's stored values (``statistic``,
    ``sub_key`` = the share as text, ``value``), points sorted by share, non-finite ones dropped."""
    points: dict[str, list[tuple[float, float]]] = {}
    for v in values:
        if v.get("statistic") in CURVES and v.get("sub_key") and v.get("value") is not None and v["value"] == v["value"]:
            points.setdefault(v["statistic"], []).append((float(v["sub_key"]), float(v["value"])))
    return {s: ([x for x, _ in sorted(p)], [y for _, y in sorted(p)]) for s, p in points.items()}


def unit_curve_figures(unit: dict[str, Any], cache: Any, workdir: Path) -> dict[str, Path] | None:
    """``{figures/faithfulness_<alias>.png: file}`` for each deletion-insertion metric of an
    attribution cell whose values are in the cache (a failed metric has none and draws nothing)."""
    from xaibench.cache import CorruptEntry

    if unit.get("kind") != "cell":
        return None
    c = unit.get("coords") or {}
    out: dict[str, Path] = {}
    for alias, metric in (unit.get("metrics") or {}).items():
        if metric.get("component") != COMPONENT:
            continue
        try:
            values = cache.meta(metric["stage"]).get("values", [])
        except (KeyError, CorruptEntry, OSError) as exc:
            log.debug("no faithfulness figure for %s, %s: %s", unit.get("run_key"), alias, exc)
            continue
        curves = cell_curves(v for v in values if v.get("attribution") in (None, c.get("attribution"))
                             and v.get("postprocessor") in (None, c.get("postprocessor")))
        if not curves:
            continue
        key = (str(c.get("attribution")), str(c.get("postprocessor") or ""))
        title = (f"{alias}: {c.get('attribution')} · {c.get('postprocessor')} — {c.get('model')} at "
                 f"{c.get('layer')}, {c.get('dataset')}, seed {c.get('seed')}")
        fig = curves_figure({s: {key: curve} for s, curve in curves.items()}, title)
        path = Path(workdir) / f"faithfulness_{alias}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path, format="png", facecolor="white")
        out[f"figures/faithfulness_{alias}.png"] = path
    return out or None
