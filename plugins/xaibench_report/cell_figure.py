"""The figure attached to each attribution combination's tracked run (``unit_artifacts``)."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from .samples import SampleMemo

ARTIFACT = "figures/attribution_maps.png"
"""The same relative path in every run, so that MLflow's compare view shows the figures side by side."""
N_SAMPLES = 3

log = logging.getLogger("xaibench")
_memo = SampleMemo()


def attribution_figure(unit: dict[str, Any], cache: Any, workdir: Path, n: int = N_SAMPLES) -> dict[str, Path] | None:
    """Draw a cell's predominant-class map and mean |attribution| per class for its first ``n``
    test samples (with RGB and ground truth when the data has them) into ``workdir``.

    Returns ``{ARTIFACT: png}``, or ``None`` when the unit is not a cell or its attributions
    or data are missing (a failed stage, an entry evicted from the cache).
    """
    from xaibench.cache import CorruptEntry

    from .figures import cell_figure
    from .imagery import class_map, colorize, mean_abs_per_class

    stages = unit.get("stages") or {}
    if unit.get("kind") != "cell" or "attributions" not in stages or "data" not in stages:
        return None
    try:
        maps = cache.get(stages["attributions"]).rows("attributions")[:n]  # the first n rows, not the split
        samples = _memo.get(cache, stages["data"], n, n_classes=maps.shape[1])
    except (KeyError, CorruptEntry, OSError) as exc:
        log.debug("no attribution figure for %s: %s", unit.get("run_key"), exc)
        return None
    if maps.ndim not in (4, 5) or maps.shape[1] != len(samples.class_names):
        return None
    labels = colorize(class_map(maps, samples.size), samples.lut)
    c = unit.get("coords", {})
    title = (f"{c.get('attribution')} · {c.get('postprocessor')} — {c.get('model')} at {c.get('layer')}, "
             f"{c.get('dataset')}, seed {c.get('seed')}")
    fig = cell_figure(samples.rgb, samples.truth, labels, mean_abs_per_class(maps), samples.class_names,
                      samples.colors, title)
    path = Path(workdir) / "attribution_maps.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, format="png", facecolor="white")  # fixed layout: no tight bbox (a second draw)
    return {ARTIFACT: path}
