"""Where a result sits in the grid: one coordinates type for planning, results, runner, ranking, CLI and report."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace
from typing import Any

FIELDS: tuple[str, ...] = ("dataset", "model", "seed", "layer", "attribution", "postprocessor")
"""The grid's axes, in the order of the results table's columns."""

TABLE_GROUP: tuple[str, ...] = ("dataset", "model", "layer", "attribution", "postprocessor")
"""The axes summaries group by (every axis but the seed, which they average over)."""


@dataclass(frozen=True)
class Coords:
    """A point, or a partial point, of the grid, by alias (``seed`` is the grid seed).

    A model unit has ``dataset``, ``model`` and ``seed``; an attribution cell has all six,
    with ``postprocessor == ""`` when the registry declares no post-processors.  A skip may
    stop anywhere on the way (a model without the layer has no ``attribution``).
    """

    dataset: str
    model: str
    seed: int
    layer: str | None = None
    attribution: str | None = None
    postprocessor: str | None = None

    @property
    def name(self) -> str:
        """``dataset/model/seed0[/layer/attribution/postprocessor]``: the run name of a unit."""
        parts = [self.dataset, self.model, f"seed{self.seed}"]
        parts += [str(getattr(self, f)) for f in FIELDS[3:] if getattr(self, f) is not None]
        return "/".join(parts)

    def given(self) -> dict[str, Any]:
        """The coordinates that are set, by axis name (JSON-able; what the results metadata stores)."""
        return {k: v for k, v in asdict(self).items() if v is not None}

    def row(self) -> dict[str, Any]:
        """Every axis, ``None`` where unset (the columns of a results-table row)."""
        return asdict(self)

    def at(self, **axes: Any) -> Coords:
        """A copy with more (or other) axes set: ``model_coords.at(layer="deep")``."""
        return replace(self, **axes)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Coords:
        return cls(**{f.name: d.get(f.name) for f in fields(cls)})
