"""Output contracts the engine enforces on every plugin's output, whoever wrote the plugin.

A benchmark must never publish a wrong number: an attribution map that is not finite, not of the
layer's shape or larger than the registry's bound fails its own stage; a metric value that is not
a real number fails its stage; a value that is NaN or infinite is kept as a *failed* value with
its reason (a row of status ``failed`` in the table), never as ``ok``.  Every violation is a
:class:`ContractViolation` whose message is one line naming the component.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass, field
from typing import Any


class ContractViolation(ValueError):
    """A component's output broke its contract (the message is one line naming the component)."""


@dataclass
class AttributionContract:
    """What the maps of one attribution stage must be, checked chunk by chunk.

    ``spatial`` is the layer's ``(H_l, W_l)`` (``None`` when the model cannot say);
    ``max_bytes`` bounds the maps (float32) the stage stores, in total.  ``kept_positions``: the
    stage keeps only that many positions' vectors (a post-processor's train subset), so the bound
    applies to those, not to the whole split's maps computed on the way (10.7 GB of them on a
    DFC2020-sized train split, of which harmonization keeps 3 MB).
    """

    name: str
    n_classes: int
    spatial: tuple[int, int] | None
    max_bytes: int
    kept_positions: int | None = None
    seen_bytes: int = field(default=0, init=False)
    seen_positions: int = field(default=0, init=False)

    def check(self, attr: Any, rows: int) -> Any:
        """``attr`` as float32 ``(rows, classes, [D_l,] H_l, W_l)``; raise :class:`ContractViolation`."""
        import numpy as np

        who = f"attribution {self.name!r}"
        shape = getattr(attr, "shape", None)
        if shape is None or len(shape) not in (4, 5) or shape[0] != rows or shape[1] != self.n_classes:
            raise ContractViolation(f"{who} returned shape {shape}; expected (N={rows}, classes={self.n_classes}, "
                                    f"H, W) or (N, classes, D, H, W)")
        if self.spatial is not None and tuple(shape[-2:]) != tuple(self.spatial):
            raise ContractViolation(f"{who} returned maps of H x W = {shape[-2]} x {shape[-1]}; the layer has "
                                    f"{self.spatial[0]} x {self.spatial[1]}")
        if self.kept_positions is None:
            self.seen_bytes += int(np.prod(shape, dtype=np.int64)) * 4
        else:
            self.seen_positions += int(np.prod(shape[:1] + shape[-2:], dtype=np.int64))
            per_position = int(np.prod(shape[1:-2], dtype=np.int64)) * 4
            self.seen_bytes = min(self.seen_positions, self.kept_positions) * per_position
        if self.seen_bytes > self.max_bytes:
            raise ContractViolation(f"{who} returned {self.seen_bytes / 2**20:.1f} MB of maps, above the limit of "
                                    f"{self.max_bytes / 2**20:.1f} MB (limits.attribution_mb)")
        attr = np.asarray(attr)
        if not np.issubdtype(attr.dtype, np.number) or np.issubdtype(attr.dtype, np.complexfloating):
            raise ContractViolation(f"{who} returned maps of dtype {attr.dtype}; expected real numbers")
        attr = attr.astype(np.float32, copy=False)
        bad = ~np.isfinite(attr)
        if bad.any():
            kinds = sorted({"NaN" if np.isnan(v) else "inf" for v in attr[bad][:1000].tolist()})
            raise ContractViolation(f"{who} returned {int(bad.sum())} non-finite values ({', '.join(kinds)}) "
                                    f"in {attr.size}")
        return attr


def real(value: Any) -> bool:
    """True for a real number (numpy scalars included; bools, strings and None are not)."""
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def metric_values(values: Any, name: str) -> list[dict[str, Any]]:
    """``Metric.evaluate``'s result as stored: a list of dicts with ``value`` a finite float, or
    ``value`` None and ``error`` the reason (NaN or infinite).  Anything that is not a list of
    :class:`~xaibench.components.MetricValue` with real values raises :class:`ContractViolation`."""
    from dataclasses import asdict

    from .components import MetricValue

    who = f"metric {name!r}"
    if not isinstance(values, (list, tuple)):
        raise ContractViolation(f"{who} returned a {type(values).__name__}; expected a list of MetricValue")
    out = []
    for v in values:
        if not isinstance(v, MetricValue):
            raise ContractViolation(f"{who} returned a {type(v).__name__} in its list; expected MetricValue")
        stat = v.statistic + (f"[{v.sub_key}]" if v.sub_key else "")
        if not real(v.value):
            raise ContractViolation(f"{who} returned a {type(v.value).__name__} ({str(v.value)[:40]!r}) for "
                                    f"statistic {stat!r}; expected a real number")
        row = asdict(v)
        row["value"] = float(v.value)
        if not math.isfinite(row["value"]):
            row["value"], row["error"] = None, f"{who} returned {row['value']} for statistic {stat!r}"
        out.append(row)
    return out


def stored_value(v: Any, name: str) -> tuple[float | None, str | None]:
    """A cached value dict read back for the table: ``(value, None)`` when it is a finite number,
    ``(None, reason)`` otherwise (entries written before the contracts, or by hand)."""
    if not isinstance(v, dict):
        return None, f"metric {name!r}: cached value is not a record"
    if v.get("error"):
        return None, str(v["error"])
    value = v.get("value")
    if not real(value) or not math.isfinite(float(value)):
        return None, f"metric {name!r}: cached value {str(value)[:40]!r} for statistic {v.get('statistic')!r} " \
                     f"is not a finite number"
    return float(value), None
