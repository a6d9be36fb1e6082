"""``csp``: the Cluster-Segregate-Perturb analysis of a weather-driven vegetation forecaster."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar, Literal

from pydantic import Field, model_validator

import xaibench.components as xc
from xaibench.capabilities import FORECAST
from xaibench_eo.capabilities import WEATHER

if TYPE_CHECKING:
    import numpy as np

DEFAULT_GROUPS: dict[str, tuple[str, ...]] = {
    "precipitation": ("precipitation",),
    "temperature": ("temperature_mean", "temperature_min", "temperature_max"),
    "pressure": ("sea_level_pressure",),
}
DEFAULT_SHIFTS: dict[str, tuple[float, ...]] = {
    "precipitation": (-2.0, 0.0, 2.0, 4.0, 6.0, 8.0, 10.0),  # mm (per day)
    "temperature": (-10.0, -5.0, 0.0, 5.0, 10.0, 15.0, 20.0),  # degC
    "pressure": (-30.0, -20.0, -10.0, 0.0, 10.0, 20.0, 30.0),  # hPa
}


class Csp(xc.Metric):
    """CSP (Cluster-Segregate-Perturb): marginal sensitivity of the forecast NDVI to the weather.

    1. *Cluster*: each weather variable's daily series (spatially averaged when it has
       spatial axes, then averaged over ``resample_days``-day windows) is clustered with
       tslearn's soft-DTW ``TimeSeriesKMeans`` for every K in ``k_min..k_max``; the K with
       the highest ``GoodnessScore = interCentroidScore / intraClusterScore`` (DTW
       threshold ``threshold``) is kept.
    2. *Segregate*: samples sharing the tuple of cluster indices form a weather segment.
    3. *Perturb*: each group of variables is shifted by each value of ``shifts[group]``
       (physical units, added on every day, converted through the dataset's normalisation,
       then clipped to ``clip``), one group at a time; the model's mean forecast NDVI is
       averaged per segment.

    Statistics (units: NDVI per physical unit of the group, e.g. per mm):
    ``sensitivity`` / ``sensitivity_std`` (sub_key group: Eq. 15 per segment, sum over ordered
    shift pairs of ``|dNDVI| / |dshift|``, then mean and spread over segments weighted by
    their size), ``sensitivity_per_pair`` (the same divided by the number of pairs: a mean
    slope), ``relative_sensitivity`` (divided by the smallest group's), ``ndvi`` (sub_key
    ``<group><shift>``: mean NDVI under that shift), ``fit_r2`` / ``fit_coef`` (sub_keys
    ``<group>:<model>[:<coef>]``: curves fitted to each segment's (mean value + shift, NDVI)
    points, R^2 and coefficients averaged over segments weighted by size), ``k`` / ``goodness`` (sub_key variable), ``segments`` (count).
    """

    name: ClassVar[str] = "csp"
    version: ClassVar[str] = "1"
    scope: ClassVar[xc.Scope] = "model"
    higher_is_better: ClassVar[bool | None] = None
    requires: ClassVar[frozenset[str]] = frozenset({FORECAST, WEATHER})

    class Params(xc.Params):
        split: Literal["train", "val", "test"] = Field("test", description="samples analysed")
        max_samples: int | None = Field(None, ge=2, description="analyse only the first samples of the split")
        cluster_variables: tuple[str, ...] | None = Field(None, description="variables clustered; None: all")
        k_min: int = Field(2, ge=2, description="fewest clusters tried")
        k_max: int = Field(15, ge=2, description="most clusters tried (capped at samples - 1)")
        threshold: float = Field(0.4, gt=0.0, description="lambda: centroids closer in DTW are 'similar'")
        resample_days: int | None = Field(None, ge=1, description="days averaged per series step; None: days per frame")
        max_iter: int = Field(10, ge=1, description="k-means iterations")
        gamma: float = Field(1.0, gt=0.0, description="soft-DTW smoothing")
        groups: dict[str, tuple[str, ...]] = Field(DEFAULT_GROUPS, description="shifted together, by group name")
        shifts: dict[str, tuple[float, ...]] = Field(DEFAULT_SHIFTS, description="additive shifts per group (physical)")
        scales: dict[str, float] | None = Field(None, description="physical units per normalised unit; None: from the data")
        clip: tuple[float, float] | None = Field((0.0, 1.0), description="range of shifted normalised values")
        batch_size: int = Field(16, ge=1, description="samples per prediction batch")

        @model_validator(mode="after")
        def _check(self) -> Csp.Params:
            if self.k_max < self.k_min:
                raise ValueError("k_max must be >= k_min")
            missing = set(self.shifts) - set(self.groups)
            if missing:
                raise ValueError(f"shifts for unknown groups {sorted(missing)} (groups: {sorted(self.groups)})")
            for group, values in self.shifts.items():
                if len(set(values)) < 2:
                    raise ValueError(f"group {group!r} needs at least two distinct shifts")
            return self

    def incompatibility(self, model_info: xc.ModelInfo, layer: str | None) -> str | None:
        return None if FORECAST in model_info.provides else "the model is not a forecaster (no 'forecast')"

    def evaluate(self, ctx: xc.MetricContext) -> list[xc.MetricValue]:
        import numpy as np

        from .clustering import cluster_series, resample, segments
        from .perturb import averaged_fits, pair_sensitivity, shift_weather, weighted_mean_std
        from .scoring import predict

        p = self.params
        extra = ctx.data_info.extra
        names = list(extra["weather_variables"])
        weather, context = self._inputs(ctx)
        scales = self._scales(names, extra)
        out: list[xc.MetricValue] = []

        # 1-2. cluster each variable's series, segments = tuples of cluster indices
        step = p.resample_days or int(extra.get("days_per_frame", 1))
        labels = {}
        for var in p.cluster_variables or names:
            series = resample(weather[..., names.index(var)], step)
            c = cluster_series(series, range(p.k_min, p.k_max + 1), p.threshold, ctx.seed, p.max_iter, p.gamma)
            labels[var] = c.labels
            out += [xc.MetricValue("k", float(c.k), sub_key=var), xc.MetricValue("goodness", c.goodness, sub_key=var)]
        segment, tuples = segments(labels)
        sizes = np.bincount(segment, minlength=len(tuples)).astype(np.float64)
        out.append(xc.MetricValue("segments", float(len(tuples))))

        # 3. perturb one group at a time; NDVI per segment and shift
        model = ctx.load_model()
        x = context.reshape(context.shape[0], -1, *context.shape[-2:])
        sens: dict[str, float] = {}
        for group, shifts in p.shifts.items():
            cols = [names.index(v) for v in p.groups[group]]
            scale = scales[p.groups[group][0]]
            seg_ndvi = np.empty((len(shifts), len(tuples)))
            for i, delta in enumerate(shifts):
                shifted = shift_weather(weather, cols, delta / scale, p.clip)
                ndvi = predict(model, x, shifted.reshape(len(shifted), -1), p.batch_size)[:, 0].astype(np.float64)
                seg_ndvi[i] = np.bincount(segment, weights=ndvi, minlength=len(tuples)) / sizes
                out.append(xc.MetricValue("ndvi", float(ndvi.mean()), sub_key=f"{group}{delta:+g}"))
            per_segment = pair_sensitivity(shifts, seg_ndvi)
            mean, std = weighted_mean_std(per_segment, sizes)
            pairs = len(shifts) * (len(shifts) - 1)
            sens[group] = mean
            out += [
                xc.MetricValue("sensitivity", mean, sub_key=group),
                xc.MetricValue("sensitivity_std", std, sub_key=group),
                xc.MetricValue("sensitivity_per_pair", mean / pairs, sub_key=group),
            ]
            # Eq. (17-18): per segment, points (mean physical value of the group's first variable + shift, NDVI)
            physical = weather[..., cols[0]].reshape(len(weather), -1).mean(axis=1) * scale
            seg_level = np.bincount(segment, weights=physical, minlength=len(tuples)) / sizes
            for key, value in averaged_fits(seg_level, shifts, seg_ndvi, sizes).items():
                statistic, sub = key
                out.append(xc.MetricValue(statistic, value, sub_key=f"{group}:{sub}"))
        smallest = min((v for v in sens.values() if v > 0), default=0.0)
        if smallest > 0:
            out += [xc.MetricValue("relative_sensitivity", v / smallest, sub_key=g) for g, v in sens.items()]
        return out

    def _inputs(self, ctx: xc.MetricContext) -> tuple[np.ndarray, np.ndarray]:
        """``weather (N, T, V)`` (spatial axes averaged away) and ``context (N, T_c, C, H, W)``."""
        p = self.params
        weather, context = ctx.data[f"{p.split}/weather"], ctx.data[f"{p.split}/context"]
        if weather.ndim > 3:  # (N, T, V, H, W) cubes: the paper's spatial average
            weather = weather.mean(axis=tuple(range(3, weather.ndim)))
        n = p.max_samples or len(weather)
        return weather[:n].astype("float32"), context[:n]

    def _scales(self, names: list[str], extra: dict) -> dict[str, float]:
        from .perturb import unit_scale

        if self.params.scales is not None:
            scales = dict(self.params.scales)
        else:
            units = extra.get("weather_units", {})
            scales = {v: unit_scale(units[v]) for v in names if v in units}
        needed = {v for group in self.params.shifts for v in self.params.groups[group]}
        unknown = needed - set(names)
        if unknown:
            raise ValueError(f"the data has no weather variables {sorted(unknown)} (has: {', '.join(names)})")
        missing = needed - set(scales)
        if missing:
            raise ValueError(f"no physical scale for {sorted(missing)}: set the 'scales' param")
        return scales
