"""The registry's ``limits``: bounds the engine enforces on every stage, whatever plugin computes it.

::

    limits:
      attribution_mb: 4096     # the maps (float32) an attribution stage stores may not exceed this
      stage_seconds: 86400     # a stage running longer fails; null lifts the limit

A component may ask for a shorter (or longer) time limit with its class attribute
``stage_seconds``; the registry's value applies otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

DEFAULT_STAGE_SECONDS = 24 * 3600.0


@dataclass(frozen=True)
class Limits:
    attribution_mb: float = 4096.0
    """Upper bound of the maps one attribution stage stores, in MB (2**20 bytes): a train subset's
    kept vectors only, when a post-processor reads a subset."""
    stage_seconds: float | None = DEFAULT_STAGE_SECONDS
    """Wall-clock seconds a stage may run before it fails (``None``: no limit)."""

    @property
    def attribution_bytes(self) -> int:
        return int(self.attribution_mb * 2**20)


def parse_limits(raw: Any, add_problem: Any) -> Limits:
    """``limits:`` of a registry; ``add_problem(path, message)`` for each bad entry."""
    if raw is None:
        return Limits()
    if not isinstance(raw, dict):
        add_problem(("limits",), f"expected a mapping such as {{stage_seconds: 3600}}, got {type(raw).__name__}")
        return Limits()
    values: dict[str, Any] = {}
    for key, value in raw.items():
        if key not in ("attribution_mb", "stage_seconds"):
            add_problem(("limits", key), "unknown key (known: attribution_mb, stage_seconds)")
            continue
        if value is None and key == "stage_seconds":
            values[key] = None
            continue
        if not isinstance(value, (int, float)) or isinstance(value, bool) or not 0 < value <= 1e9:
            add_problem(("limits", key), f"must be a positive number up to 1e9 (got {value!r})")
            continue
        values[key] = float(value)
    return Limits(**values)


def stage_seconds(limits: Limits, component: Any) -> float | None:
    """The time limit of a stage computed by ``component`` (its own ``stage_seconds`` wins)."""
    own = getattr(component, "stage_seconds", None)
    return float(own) if own else limits.stage_seconds
