"""A synthetic climate: regions, smooth climate fields, monthly normals and the 19 BIO variables.

Model (all temperatures in degC, precipitation in mm):

- five biogeographic regions, each a latitude/longitude box (:data:`REGIONS`);
- four smooth "world" fields of (lat, lon) shared by all samples of a ``data_seed``
  (random Fourier features with a Gaussian covariance of 6 degrees): elevation, and
  anomalies of temperature, precipitation and diurnal range;
- elevation ``z = clip(400 exp(0.7 F_z), 0, 4000)`` m (log-normal: lowlands to mountains);
- annual mean temperature ``27 - 0.5 max(|lat| - 15, 0) + 2 F_T - 6.5 z / 1000`` (lapse
  rate), seasonal half-range ``1 + 0.22 |lat|`` (warmest month in July in the north,
  January in the south), diurnal range ``8 + 6 (1 - humidity) + F_D``;
- annual precipitation ``400 exp(1.6 g(lat / 10) - 1.3 g((|lat| - 23) / 7) + 0.6 g((|lat| - 52) / 10)
  + 0.35 F_P)`` with ``g(u) = exp(-u^2)``: wet tropics, dry subtropics, wet mid-latitudes;
  its monthly share follows a cosine of amplitude ``0.25 + 0.6 g((|lat| - 36) / 6) +
  0.5 g((|lat| - 12) / 6)`` whose peak moves from summer (monsoons, continental summers)
  to winter around 38 degrees (Mediterranean): phase ``pi g((|lat| - 38) / 6)``;
- per-sample micro-climate noise: +-0.5 degC, 10 % precipitation (``LOCATION`` stream).

The 19 BIO variables are computed from the monthly normals with WorldClim's definitions
(quarters are the 12 circular 3-month windows; BIO15 is the coefficient of variation
of ``prec + 1``, as in ``dismo::biovars``).  With elevation they form the 20-value vector,
normalised to [0, 1] by the fixed ranges in :data:`AUX_RANGES`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

REGIONS: dict[str, tuple[tuple[float, float], tuple[float, float]]] = {
    "boreal": ((58.0, 68.0), (10.0, 40.0)),
    "temperate": ((45.0, 56.0), (-5.0, 20.0)),
    "mediterranean": ((35.0, 44.0), (-8.0, 25.0)),
    "arid": ((15.0, 30.0), (-10.0, 30.0)),
    "tropical": ((-5.0, 8.0), (10.0, 40.0)),
}
"""Region -> ((lat_min, lat_max), (lon_min, lon_max)) in degrees."""

REGION_NAMES: tuple[str, ...] = tuple(REGIONS)

AUX_NAMES: tuple[str, ...] = tuple(f"BIO{i}" for i in range(1, 20)) + ("elevation",)

AUX_UNITS: tuple[str, ...] = (
    "degC", "degC", "%", "degC*100", "degC", "degC", "degC", "degC", "degC", "degC", "degC",
    "mm", "mm", "mm", "%", "mm", "mm", "mm", "mm", "m",
)  # fmt: skip

AUX_RANGES: np.ndarray = np.array(
    [
        [-25, 32], [2, 22], [10, 100], [0, 1800], [-10, 48], [-50, 28], [5, 60],
        [-45, 38], [-45, 38], [-45, 38], [-45, 38],
        [0, 4000], [0, 700], [0, 250], [0, 150], [0, 1800], [0, 700], [0, 1800], [0, 1800],
        [0, 4000],
    ],
    dtype=np.float64,
)  # fmt: skip
"""(20, 2) physical range of each aux variable mapped linearly to [0, 1] (values outside are clipped)."""

_LENGTH_DEG = 6.0
_N_FEATURES = 64


@dataclass(frozen=True)
class World:
    """Random Fourier features of the four world fields: ``freq (4, K, 2)`` rad/deg, ``phase (4, K)``."""

    freq: np.ndarray
    phase: np.ndarray

    @classmethod
    def draw(cls, rng: np.random.Generator) -> World:
        return cls(rng.normal(0.0, 1.0 / _LENGTH_DEG, (4, _N_FEATURES, 2)), rng.uniform(0, 2 * np.pi, (4, _N_FEATURES)))

    def fields(self, lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
        """``(4, N)`` unit-variance smooth fields (elevation, temperature, precipitation, diurnal) at the points."""
        pts = np.stack([lat, lon], axis=-1)  # (N, 2)
        arg = np.einsum("fkd,nd->fkn", self.freq, pts) + self.phase[:, :, None]
        return np.sqrt(2.0 / _N_FEATURES) * np.cos(arg).sum(axis=1)


@dataclass
class Climate:
    """Monthly normals of ``N`` sites: ``tavg, tmin, tmax, prec`` ``(N, 12)``, ``elevation (N,)``."""

    tavg: np.ndarray
    tmin: np.ndarray
    tmax: np.ndarray
    prec: np.ndarray
    elevation: np.ndarray


def _g(u: np.ndarray) -> np.ndarray:
    return np.exp(-(u**2))


def climate_at(world: World, lat: np.ndarray, lon: np.ndarray, micro: np.ndarray | None = None) -> Climate:
    """Monthly normals at ``(lat, lon)`` ``(N,)``; ``micro (N, 2)`` standard normals for the
    micro-climate noise (temperature, precipitation), or none."""
    f_z, f_t, f_p, f_d = world.fields(lat, lon)
    micro = np.zeros((len(lat), 2)) if micro is None else micro
    alat = np.abs(lat)
    z = np.clip(400.0 * np.exp(0.7 * f_z), 0.0, 4000.0)
    t_mean = 27.0 - 0.5 * np.maximum(alat - 15.0, 0.0) + 2.0 * f_t - 6.5 * z / 1000.0 + 0.5 * micro[:, 0]
    amplitude = 1.0 + 0.22 * alat
    log_p = np.log(400.0) + 1.6 * _g(lat / 10.0) - 1.3 * _g((alat - 23.0) / 7.0) + 0.6 * _g((alat - 52.0) / 10.0)
    annual_p = np.exp(log_p + 0.35 * f_p + 0.1 * micro[:, 1])
    humidity = np.clip((np.log(annual_p) - np.log(100.0)) / (np.log(2500.0) - np.log(100.0)), 0.0, 1.0)
    diurnal = np.clip(8.0 + 6.0 * (1.0 - humidity) + f_d, 3.0, 20.0)

    month = np.arange(12)[None, :] + 0.5  # mid-month, 0 = January
    summer = np.where(lat >= 0, 6.5, 0.5)[:, None]  # mid-July / mid-January
    season = np.cos(2 * np.pi * (month - summer) / 12.0)  # +1 in the warmest month
    tavg = t_mean[:, None] + amplitude[:, None] * season
    winter_wet = _g((alat - 38.0) / 6.0)[:, None]
    strength = (0.25 + 0.6 * _g((alat - 36.0) / 6.0) + 0.5 * _g((alat - 12.0) / 6.0))[:, None]
    # the wettest month moves from mid-summer (winter_wet = 0) through autumn to mid-winter (1)
    share = 1.0 + np.clip(strength, 0.0, 0.95) * np.cos(2 * np.pi * (month - summer) / 12.0 + np.pi * winter_wet)
    prec = annual_p[:, None] * share / share.sum(axis=1, keepdims=True)
    half = diurnal[:, None] / 2.0
    return Climate(tavg=tavg, tmin=tavg - half, tmax=tavg + half, prec=prec, elevation=z)


def _quarters(monthly: np.ndarray) -> np.ndarray:
    """``(N, 12)`` -> sums over the 12 circular 3-month windows ``(N, 12)``."""
    return monthly + np.roll(monthly, -1, axis=1) + np.roll(monthly, -2, axis=1)


def bioclim(c: Climate) -> np.ndarray:
    """The 19 WorldClim BIO variables plus elevation, in physical units: ``(N, 20)`` float64."""
    n = len(c.tavg)
    rows = np.arange(n)
    tq = _quarters(c.tavg) / 3.0
    pq = _quarters(c.prec)
    bio = np.empty((n, 20))
    bio[:, 0] = c.tavg.mean(axis=1)
    bio[:, 1] = (c.tmax - c.tmin).mean(axis=1)
    bio[:, 4] = c.tmax.max(axis=1)
    bio[:, 5] = c.tmin.min(axis=1)
    bio[:, 6] = bio[:, 4] - bio[:, 5]
    bio[:, 2] = 100.0 * bio[:, 1] / bio[:, 6]
    bio[:, 3] = 100.0 * c.tavg.std(axis=1, ddof=1)
    bio[:, 7] = tq[rows, pq.argmax(axis=1)]
    bio[:, 8] = tq[rows, pq.argmin(axis=1)]
    bio[:, 9] = tq.max(axis=1)
    bio[:, 10] = tq.min(axis=1)
    bio[:, 11] = c.prec.sum(axis=1)
    bio[:, 12] = c.prec.max(axis=1)
    bio[:, 13] = c.prec.min(axis=1)
    p1 = c.prec + 1.0
    bio[:, 14] = 100.0 * p1.std(axis=1, ddof=1) / p1.mean(axis=1)
    bio[:, 15] = pq.max(axis=1)
    bio[:, 16] = pq.min(axis=1)
    bio[:, 17] = pq[rows, tq.argmax(axis=1)]
    bio[:, 18] = pq[rows, tq.argmin(axis=1)]
    bio[:, 19] = c.elevation
    return bio


def normalise(bio: np.ndarray) -> np.ndarray:
    """Physical ``(N, 20)`` -> [0, 1] float32 by :data:`AUX_RANGES` (clipped)."""
    lo, hi = AUX_RANGES[:, 0], AUX_RANGES[:, 1]
    return np.clip((bio - lo) / (hi - lo), 0.0, 1.0).astype(np.float32)
