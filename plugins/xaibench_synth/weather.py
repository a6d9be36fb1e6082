"""Daily weather from a few regimes, and the vegetation response that drives NDVI.

Weather (per sample, daily, after a hidden 60-day spin-up):

- sea-level pressure: regime mean + a per-cube offset (uniform +-``PRESSURE_OFFSET`` = 20 hPa)
  + AR(1) anomaly (lag-1 correlation 0.85, regime std); the offset has no effect on rain or
  vegetation, so the data show that pressure levels (as the CSP study's shifts change them)
  do not matter;
- precipitation: wet day with probability ``sigmoid(logit(p_wet) - 0.25 * pressure anomaly
  [hPa])`` -- low pressure brings rain, so pressure *correlates* with precipitation
  although it has no effect on vegetation --; amounts Gamma(0.8) with the regime's
  mean wet-day amount, capped at 50 mm (the top of the normalised range);
- mean temperature: regime mean + a linear trend over the cube (+-regime trend) + AR(1)
  anomaly (0.8, regime std) - 1.5 degC on wet days;
- min / max temperature: mean -+ half a diurnal range ``12 - 0.4 precip + N(0, 1)``
  (clipped to 3-18 degC).

Vegetation vigour ``v`` (0-1), daily:

- ``Pbar``: exponential moving average of precipitation over ``TAU_P`` = 10 days (soil water);
- target vigour ``B_P * r_P(Pbar) + B_T * r_T(T)`` with ``r_P(P) = (P / P_OPT) exp(1 - P / P_OPT)``
  (rises, saturates at ``P_OPT`` = 6 mm/day, then declines: waterlogging) and
  ``r_T(T) = exp(-((T - T_OPT) / T_WIDTH)^2)`` (optimum 18 degC);
- ``v`` relaxes to its target at rate ``KAPPA`` = 1/15 per day.

Pressure and min / max temperature have no effect: their true sensitivity is 0.
A pixel's NDVI is ``base + amp * v`` with class-dependent ``base, amp``.

Normalisation (EarthNet2021's): precipitation ``mm = 50 x``, pressure ``hPa = 200 x + 900``,
temperature ``degC = 50 (2 x - 1)``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

VARIABLES: tuple[str, ...] = (
    "precipitation",
    "sea_level_pressure",
    "temperature_mean",
    "temperature_min",
    "temperature_max",
)
"""Order of the last axis of the weather arrays."""

UNITS: dict[str, str] = {
    "precipitation": "mm/day = 50 x",
    "sea_level_pressure": "hPa = 200 x + 900",
    "temperature_mean": "degC = 50 (2 x - 1)",
    "temperature_min": "degC = 50 (2 x - 1)",
    "temperature_max": "degC = 50 (2 x - 1)",
}

SPIN_UP = 60
TAU_P = 10.0
P_OPT = 6.0
T_OPT = 18.0
T_WIDTH = 10.0
B_P = 0.7
B_T = 0.3
KAPPA = 1.0 / 15.0
RAIN_PER_HPA = 0.25  # drop of the wet-day logit per hPa of pressure anomaly
PRESSURE_OFFSET = 20.0  # half-width (hPa) of a per-cube uniform pressure offset without any effect


@dataclass(frozen=True)
class Regime:
    """A weather regime: wet-day probability, mean wet-day amount (mm), temperature mean, std and
    trend amplitude (degC), pressure mean and std (hPa)."""

    name: str
    p_wet: float
    wet_amount: float
    t_mean: float
    t_std: float
    t_trend: float
    p_mean: float
    p_std: float


# "stormy" rains 11 mm on 90 % of days (~10 mm/day): fewer, heavier wet days make its 5-day means so
# noisy that soft-DTW k-means splits it into sub-clusters the GoodnessScore cannot merge.
REGIMES: tuple[Regime, ...] = (
    Regime("wet-mild", 0.55, 7.0, 13.0, 2.5, 4.0, 1008.0, 7.0),
    Regime("dry-hot", 0.08, 4.0, 27.0, 3.0, 4.0, 1018.0, 4.0),
    Regime("cold-stable", 0.20, 3.0, 1.0, 3.0, 6.0, 1028.0, 5.0),
    Regime("stormy", 0.90, 11.0, 9.0, 3.0, 3.0, 996.0, 10.0),
    Regime("temperate", 0.35, 6.0, 17.0, 3.0, 6.0, 1013.0, 6.0),
)
REGIME_NAMES: tuple[str, ...] = tuple(r.name for r in REGIMES)
_REGIME_FIELD_GROUP = {"p_wet": 0, "wet_amount": 0, "t_mean": 1, "t_std": 1, "t_trend": 1, "p_mean": 2, "p_std": 2}
"""Which column of a ``(N, 3)`` regime array (precipitation, temperature, pressure) each field comes from."""


def to_normalised(physical: np.ndarray) -> np.ndarray:
    """``(..., 5)`` physical weather -> normalised x (float32; precipitation clipped to [0, 1])."""
    x = np.empty(physical.shape, dtype=np.float32)
    x[..., 0] = np.clip(physical[..., 0] / 50.0, 0.0, 1.0)
    x[..., 1] = (physical[..., 1] - 900.0) / 200.0
    x[..., 2:] = (physical[..., 2:] / 50.0 + 1.0) / 2.0
    return x


def to_physical(x: np.ndarray) -> np.ndarray:
    """Inverse of :func:`to_normalised` (float64)."""
    x = np.asarray(x, dtype=np.float64)
    out = np.empty(x.shape)
    out[..., 0] = 50.0 * x[..., 0]
    out[..., 1] = 200.0 * x[..., 1] + 900.0
    out[..., 2:] = 50.0 * (2.0 * x[..., 2:] - 1.0)
    return out


def simulate_weather(rngs: list[np.random.Generator], regime: np.ndarray, days: int,
                     warming: np.ndarray | None = None, rain_factor: np.ndarray | None = None) -> np.ndarray:
    """Physical daily weather ``(N, days, 5)`` (precip mm, pressure hPa, tmean, tmin, tmax degC).

    ``regime`` indexes :data:`REGIMES`: ``(N,)`` one regime per sample, or ``(N, 3)`` the
    regimes whose precipitation (wet-day probability and amount), temperature and pressure
    parameters a sample takes, drawn independently.  Each sample draws from its own generator.
    Optional per-sample climate anomalies: ``warming (N,)`` degC added to the temperatures,
    ``rain_factor (N,)`` multiplying the wet-day amounts (before the 50 mm cap); the random
    draws are the same with or without them.
    """
    n = len(rngs)
    eps = np.empty((n, 4, days))
    wet_u = np.empty((n, days))
    amount = np.empty((n, days))
    trend = np.empty(n)
    offset = np.empty(n)
    for s, rng in enumerate(rngs):
        eps[s] = rng.standard_normal((4, days))
        wet_u[s] = rng.random(days)
        amount[s] = rng.standard_gamma(0.8, days) / 0.8
        trend[s] = rng.uniform(-1.0, 1.0)
        offset[s] = rng.uniform(-PRESSURE_OFFSET, PRESSURE_OFFSET)
    regime = np.asarray(regime)
    by_group = np.broadcast_to(regime.reshape(n, -1), (n, 3))  # columns: precipitation, temperature, pressure
    r = {f: np.array([getattr(REGIMES[k], f) for k in by_group[:, col]]) for f, col in _REGIME_FIELD_GROUP.items()}

    def ar1(e: np.ndarray, phi: float) -> np.ndarray:
        out = np.empty_like(e)
        out[:, 0] = e[:, 0]
        for d in range(1, days):
            out[:, d] = phi * out[:, d - 1] + np.sqrt(1.0 - phi**2) * e[:, d]
        return out

    p_anom = ar1(eps[:, 0], 0.85) * r["p_std"][:, None]
    logit = np.log(r["p_wet"] / (1.0 - r["p_wet"]))[:, None] - RAIN_PER_HPA * p_anom
    wet = wet_u < 1.0 / (1.0 + np.exp(-logit))
    if rain_factor is not None:
        amount = amount * np.asarray(rain_factor, dtype=np.float64)[:, None]
    precip = np.where(wet, np.minimum(amount * r["wet_amount"][:, None], 50.0), 0.0)
    ramp = np.linspace(-0.5, 0.5, days)[None, :]
    tmean = (
        r["t_mean"][:, None] + (trend * r["t_trend"])[:, None] * 2.0 * ramp
        + ar1(eps[:, 1], 0.8) * r["t_std"][:, None] - 1.5 * wet
    )  # fmt: skip
    if warming is not None:
        tmean = tmean + np.asarray(warming, dtype=np.float64)[:, None]
    diurnal = np.clip(12.0 - 0.4 * precip + eps[:, 2], 3.0, 18.0)
    weather = np.stack(
        [precip, (r["p_mean"] + offset)[:, None] + p_anom, tmean, tmean - diurnal / 2, tmean + diurnal / 2], axis=-1
    )
    return weather


def response_precipitation(pbar: np.ndarray) -> np.ndarray:
    """``r_P``: 0 at no rain, 1 at ``P_OPT`` mm/day, declining beyond."""
    u = pbar / P_OPT
    return u * np.exp(1.0 - u)


def response_temperature(t: np.ndarray) -> np.ndarray:
    """``r_T``: 1 at ``T_OPT`` degC, Gaussian fall-off of width ``T_WIDTH``."""
    return np.exp(-(((t - T_OPT) / T_WIDTH) ** 2))


def vigour(weather: np.ndarray, initial: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Vegetation vigour driven by physical weather ``(N, D, 5)``.

    ``initial (N, 2)``: vigour and ``Pbar`` before day 0 (default: 0.5 and 0).  Returns the
    vigour after each day ``(N, D)`` and the final state ``(N, 2)``.  Only precipitation
    (column 0) and mean temperature (column 2) enter.
    """
    n, days = weather.shape[:2]
    state = np.array([[0.5, 0.0]] * n) if initial is None else np.asarray(initial, dtype=np.float64)
    v, pbar = state[:, 0].copy(), state[:, 1].copy()
    out = np.empty((n, days))
    alpha = 1.0 / TAU_P
    for d in range(days):
        pbar += alpha * (weather[:, d, 0] - pbar)
        target = B_P * response_precipitation(pbar) + B_T * response_temperature(weather[:, d, 2])
        v += KAPPA * (target - v)
        out[:, d] = v
    return out, np.stack([v, pbar], axis=1)


def sensitivities(weather: np.ndarray, initial: np.ndarray, target_days: np.ndarray, delta: float = 1e-3) -> dict:
    """Marginal sensitivities of the mean vigour over ``target_days`` to each weather variable.

    Each variable is shifted by ``+-delta`` (normalised units) on every day of
    ``weather`` (physical ``(N, D, 5)``), the others held fixed; central differences per
    sample.  Returns ``{variable: {"mean": signed mean, "mean_abs": mean |.|}}`` per
    normalised unit.  Multiply by ``amp`` for a pixel's NDVI.
    """
    scale = np.array([50.0, 200.0, 100.0, 100.0, 100.0])  # physical units per normalised unit
    out = {}
    for j, name in enumerate(VARIABLES):
        step = np.zeros(5)
        step[j] = delta * scale[j]
        hi = vigour(weather + step, initial)[0][:, target_days].mean(axis=1)
        lo = vigour(weather - step, initial)[0][:, target_days].mean(axis=1)
        d = (hi - lo) / (2 * delta)
        out[name] = {"mean": float(d.mean()), "mean_abs": float(np.abs(d).mean())}
    return out


CSP_GROUPS: dict[str, tuple[int, ...]] = {"precipitation": (0,), "temperature": (2, 3, 4), "pressure": (1,)}
"""Columns of the weather arrays shifted together by the CSP study's groups."""
CSP_SHIFTS: dict[str, tuple[float, ...]] = {
    "precipitation": (-2.0, 0.0, 2.0, 4.0, 6.0, 8.0, 10.0),  # mm/day
    "temperature": (-10.0, -5.0, 0.0, 5.0, 10.0, 15.0, 20.0),  # degC
    "pressure": (-30.0, -20.0, -10.0, 0.0, 10.0, 20.0, 30.0),  # hPa
}
"""The CSP study's default additive shifts per group (physical units)."""
SCALES = np.array([50.0, 200.0, 100.0, 100.0, 100.0])
"""Physical units per normalised unit of each variable."""


def shifted_vigour(weather: np.ndarray, initial: np.ndarray, context_days: int, target_days: np.ndarray,
                   columns: tuple[int, ...], shift: float, clip: tuple[float, float] | None = (0.0, 1.0)) -> np.ndarray:
    """Mean vigour over ``target_days`` ``(N,)`` when ``shift`` (physical units) is added to the
    weather ``columns`` on every day, as the CSP study perturbs a model's input.

    ``weather`` is normalised ``(N, D, 5)`` (the dataset's ``weather``); the shift is converted
    to normalised units and the result clipped to ``clip`` before the simulator runs, exactly as
    the study feeds the model.  The counterfactual keeps what the context frames show: the
    vigour on the last context day (``context_days - 1``) is the unshifted one, while the
    10-day rain memory ``Pbar`` (hidden, readable from the weather) follows the shifted weather.
    """
    x = np.array(weather, dtype=np.float64)
    cols = list(columns)
    x[..., cols] += shift / SCALES[cols]
    if clip is not None:
        x[..., cols] = np.clip(x[..., cols], *clip)
    _, observed = vigour(to_physical(weather)[:, :context_days], initial)
    return forecast_vigour(to_physical(x), initial, observed[:, 0], context_days, target_days)


def forecast_vigour(weather: np.ndarray, initial: np.ndarray, seen: np.ndarray, context_days: int,
                    target_days: np.ndarray) -> np.ndarray:
    """Mean vigour over ``target_days`` ``(N,)`` for physical weather ``(N, D, 5)`` when the
    vigour on the last context day is ``seen (N,)`` (what the context frames show) and the
    10-day rain memory follows ``weather`` from ``initial (N, 2)``: the counterfactual of
    :func:`shifted_vigour`, for weather that is already shifted."""
    _, memory = vigour(weather[:, :context_days], initial)
    after, _ = vigour(weather[:, context_days:], np.stack([seen, memory[:, 1]], axis=1))
    return after[:, np.asarray(target_days) - context_days].mean(axis=1)


def csp_sensitivity(weather: np.ndarray, initial: np.ndarray, context_days: int, target_days: np.ndarray,
                    segment: np.ndarray | None = None, weights: np.ndarray | None = None,
                    shifts: dict[str, tuple[float, ...]] = CSP_SHIFTS,
                    clip: tuple[float, float] | None = (0.0, 1.0)) -> dict[str, dict[str, float]]:
    """The world's true response under the CSP protocol, per group of :data:`CSP_GROUPS`.

    For each shift, :func:`shifted_vigour` times ``weights (N,)`` (e.g. a sample's mean NDVI
    amplitude, giving NDVI; default 1: vigour) is averaged per ``segment (N,)`` (default: one
    segment); Eq. 15 (sum over ordered shift pairs of ``|dR| / |dshift|``) per segment is
    averaged over segments weighted by their size.  Returns per group ``sum`` (Eq. 15) and
    ``per_pair`` (``sum`` / number of pairs: a mean slope), per physical unit of the group.
    """
    n = len(weather)
    segment = np.zeros(n, dtype=np.int64) if segment is None else np.asarray(segment)
    weights = np.ones(n) if weights is None else np.asarray(weights, dtype=np.float64)
    sizes = np.bincount(segment).astype(np.float64)
    used = sizes > 0
    out = {}
    for group, values in shifts.items():
        s = np.asarray(values, dtype=np.float64)
        resp = np.stack([
            np.bincount(segment, weights * shifted_vigour(weather, initial, context_days, target_days,
                                                          CSP_GROUPS[group], v, clip), len(sizes))[used] / sizes[used]
            for v in s
        ])
        slopes = np.abs(resp[:, None] - resp[None]) / np.where(s[:, None] == s[None], np.inf, np.abs(s[:, None] - s[None]))[..., None]
        total = float((slopes.sum(axis=(0, 1)) * sizes[used]).sum() / sizes[used].sum())
        out[group] = {"sum": total, "per_pair": total / (len(s) * (len(s) - 1))}
    return out
