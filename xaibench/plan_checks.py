"""Registry problems only a plan shows, reported before anything runs: a layer no model has
(did-you-mean) and filters (``exclude``/``only``) that leave nothing to compute."""

from __future__ import annotations

import difflib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .config import RegistryConfig
    from .planning import Plan


def check_plan(config: RegistryConfig, plan: Plan) -> list[str]:
    """Problems only a plan shows: layers no model has, filters that select nothing."""
    where = config.lines.get
    out: list[str] = []

    def add(key: str, message: str) -> None:
        line = where((key,))
        out.append(f"{config.path}:{line}: {key}: {message}" if line else f"{config.path}: {key}: {message}")

    known: set[str] = set()
    for model in plan.components.get("model", {}).values():
        for dataset in plan.components.get("dataset", {}).values():
            try:
                known |= set(model.info(dataset.info()).layers)  # type: ignore[attr-defined]
            except Exception:  # noqa: S112 -- the plan already reported this model; no layers to offer
                continue
    for layer in config.layers:
        if known and layer not in known:
            close = difflib.get_close_matches(layer, sorted(known), n=1)
            hint = f"; did you mean {close[0]!r}?" if close else f" (layers: {', '.join(sorted(known))})"
            add("layers", f"no model has a layer {layer!r}{hint}")
    if not plan.units and not plan.skipped:
        add("exclude" if config.exclude else "only", "the filters select nothing: no combination would run")
    elif config.of("attribution") and not any(u.kind == "cell" for u in plan.units) \
            and not any(s.coords.attribution for s in plan.skipped):
        add("exclude" if config.exclude else "only", "the filters select no attribution combination")
    return out
