"""``synth-weather-forecast``: EarthNet2021-like minicubes whose NDVI responds to known weather."""

from __future__ import annotations

import copy
import functools
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from pydantic import Field, field_validator, model_validator

import xaibench.components as xc
from xaibench.capabilities import FORECAST, TIME
from xaibench_eo.capabilities import CLOUDS, REGIME, WEATHER

from .bands import S2_BANDS, SPLIT_NAMES
from .base import SynthDataset
from .params import SplitParams

if TYPE_CHECKING:
    import numpy as np

RegimeName = Literal["wet-mild", "dry-hot", "cold-stable", "stormy", "temperate"]
_REGIMES: tuple[str, ...] = ("wet-mild", "dry-hot", "cold-stable", "stormy", "temperate")  # = weather.REGIME_NAMES
CHANNELS: tuple[str, ...] = ("B2", "B3", "B4", "B8A", "elevation", "cloud_mask")
_SENSITIVITY_SERIES = 100  # reference series per regime for info().extra["sensitivity"]


class ForecastParams(SplitParams):
    """Cube sizes, frames, regimes, clouds and noise."""

    n_train: int = Field(128, ge=0, description="training cubes")
    n_val: int = Field(32, ge=0, description="validation cubes")
    n_test: int = Field(32, ge=0, description="test cubes")
    patch_size: int = Field(32, ge=8, le=256, description="cube side in pixels (EarthNet2021: 128)")
    context_frames: int = Field(10, ge=1, le=100, description="frames given to the model")
    target_frames: int = Field(20, ge=1, le=100, description="frames to forecast")
    days_per_frame: int = Field(5, ge=1, le=30, description="days between frames (Sentinel-2 revisit: 5)")
    train_regimes: tuple[RegimeName, ...] | None = Field(None, description="regimes of train/val cubes; None: all")
    test_regimes: tuple[RegimeName, ...] | None = Field(None, description="regimes of test cubes; None: all")
    regime_change: float = Field(
        0.0, ge=0.0, le=1.0,
        description="chance that a train/val cube's weather switches to a newly drawn regime after its context "
                    "frames (test cubes never switch)",
    )
    train_warming: float = Field(
        0.0, ge=0.0, le=20.0,
        description="half-width (degC) of a uniform per-cube (per-spell with weather_spells) offset of train/val "
                    "cubes' temperatures (test cubes keep their regime's)",
    )
    train_rain_factor: float = Field(
        1.0, ge=1.0, le=5.0,
        description="train/val cubes' wet-day amounts are multiplied by a per-cube (per-spell with weather_spells) "
                    "factor drawn log-uniformly in [1/f, f] (test cubes keep their regime's)",
    )
    weather_spells: int = Field(
        0, ge=0, le=1000,
        description="if > 0: train/val cubes' weather is a sequence of spells of this many days (random phase), each "
                    "with its own independently drawn precipitation, temperature and pressure regimes and its own "
                    "train_warming / train_rain_factor anomaly (test cubes keep one regime)",
    )
    cloud_probability: float = Field(0.15, ge=0.0, le=1.0, description="base chance that a frame is cloudy")
    noise: float = Field(0.01, ge=0.0, le=0.5, description="std of additive reflectance noise")
    region_scale: float = Field(0.15, gt=0.0, le=1.0, description="smoothness of land-cover regions")

    @field_validator("train_regimes", "test_regimes")
    @classmethod
    def _non_empty(cls, v: tuple[str, ...] | None) -> tuple[str, ...] | None:
        if v is not None and (not v or len(set(v)) != len(v)):
            raise ValueError("needs at least one regime, without repeats")
        return v

    @model_validator(mode="after")
    def _one_way_of_changing_weather(self) -> ForecastParams:
        if self.weather_spells and self.regime_change:
            raise ValueError("weather_spells and regime_change both change the training weather: set one of them to 0")
        return self

    def regimes(self, split: str) -> tuple[int, ...]:
        names = self.test_regimes if split == "test" else self.train_regimes
        return tuple(_REGIMES.index(r) for r in (names or _REGIMES))

    @property
    def frames(self) -> int:
        return self.context_frames + self.target_frames

    @property
    def days(self) -> int:
        return self.frames * self.days_per_frame

    def observation_days(self) -> list[int]:
        """Day (0-based, in the weather series) each frame is observed: the last of its window."""
        return [(f + 1) * self.days_per_frame - 1 for f in range(self.frames)]


class SynthWeatherForecast(SynthDataset):
    """Synthetic EarthNet2021-like minicubes: forecast NDVI from context frames and daily weather.

    Each cube draws a weather regime and 60 days of hidden spin-up plus
    ``(context_frames + target_frames) * days_per_frame`` days of weather; vegetation
    vigour follows a known response (:mod:`.weather`: precipitation strongest, rising
    then declining; temperature weaker; pressure and min/max temperature none) and sets
    each pixel's NDVI (:mod:`.cubes`).  Arrays per split:

    - ``context (N, T_c, 6, S, S)`` / ``target (N, T_t, 6, S, S)`` float32: channels
      B2, B3, B4, B8A (reflectance 0-1, clouds included), elevation (normalised, static),
      cloud mask (0/1);
    - ``weather (N, T, 5)`` float32 normalised daily precipitation, sea-level pressure,
      mean, min, max temperature (``T = frames * days_per_frame``; units in ``info().extra``);
    - ``regime (N,)`` int64 (with ``weather_spells``, a train/val cube's precipitation regime on
      its last context day); ``target_ndvi (N, T_t, S, S)`` float32 noise- and cloud-free;
    - ``vigour (N, T)`` float32 daily latent vigour, ``initial_state (N, 2)`` (vigour and
      10-day mean precipitation (mm) at day 0: with :func:`.weather.vigour` they reproduce
      ``vigour`` from ``weather``); ``landcover (N, S, S)`` int64; ``ndvi_amp (N, S, S)``
      float32 (a pixel's NDVI = ``base + ndvi_amp * vigour``).

    ``info().extra["sensitivity"]`` holds the true marginal sensitivities of the mean
    target-frame vigour to each weather variable (per normalised unit, shifting the
    variable on every day), estimated on reference series of the test regimes.
    ``info().extra["csp_sensitivity"]`` holds the true response under the CSP study's protocol
    (:func:`.weather.csp_sensitivity`: the study's default shifts in physical units on every
    day, clipped to the normalised range, the context frames' vigour kept, Eq. 15 per regime
    as the weather segment, averaged over regimes), in vigour per physical unit (times a
    sample's mean ``ndvi_amp`` for NDVI): ``{group: {"sum", "per_pair"}}`` plus ``ratio``
    (precipitation / temperature of ``sum``).  Small-change derivatives (``sensitivity``)
    are not comparable with CSP's large shifts: the precipitation response saturates.
    """

    name: ClassVar[str] = "synth-weather-forecast"
    version: ClassVar[str] = "3"
    Params: ClassVar[type[ForecastParams]] = ForecastParams
    params: ForecastParams
    chunk_size: ClassVar[int] = 32

    def info(self) -> xc.DatasetInfo:
        from . import weather as w

        p = self.params
        s2 = {b.name: b for b in S2_BANDS}
        bands = (
            s2["B2"], s2["B3"], s2["B4"], s2["B8A"],
            xc.Band("elevation", 0.0, "static", "normalised 0-1"),
            xc.Band("cloud_mask", 0.0, "mask", "0/1"),
        )  # fmt: skip
        sens = copy.deepcopy(_sensitivity(p.regimes("test"), p.context_frames, p.target_frames, p.days_per_frame))
        return xc.DatasetInfo(
            name=self.name,
            task="forecast",
            classes=("ndvi",),
            bands=bands,
            modalities=("s2", "static", "mask"),
            provides=frozenset({TIME, WEATHER, CLOUDS, REGIME, FORECAST}),
            extra={
                "channels": list(CHANNELS),
                "context_frames": p.context_frames,
                "target_frames": p.target_frames,
                "days_per_frame": p.days_per_frame,
                "observation_days": p.observation_days(),
                "weather_variables": list(w.VARIABLES),
                "weather_units": dict(w.UNITS),
                "regimes": [vars(r) for r in w.REGIMES],
                "split_regimes": {s: [_REGIMES[i] for i in p.regimes(s)] for s in ("train", "val", "test")},
                "response": {
                    "vigour": "v += KAPPA * (B_P * r_P(Pbar) + B_T * r_T(T_mean) - v) daily",
                    "r_P": "(Pbar / P_OPT) * exp(1 - Pbar / P_OPT), Pbar = EMA of precipitation (mm/day), time constant TAU_P days",
                    "r_T": "exp(-((T_mean - T_OPT) / T_WIDTH)^2)",
                    "ndvi": "base + amp * v per pixel",
                    "constants": {
                        "KAPPA": w.KAPPA,
                        "B_P": w.B_P,
                        "B_T": w.B_T,
                        "P_OPT": w.P_OPT,
                        "TAU_P": w.TAU_P,
                        "T_OPT": w.T_OPT,
                        "T_WIDTH": w.T_WIDTH,
                        "SPIN_UP": w.SPIN_UP,
                    },
                },
                "sensitivity": sens,
                "csp_sensitivity": copy.deepcopy(
                    _csp_sensitivity(p.regimes("test"), p.context_frames, p.target_frames, p.days_per_frame)
                ),
                "sensitivity_rank": sorted(w.VARIABLES, key=lambda v: -sens["overall"][v]["mean_abs"]),
            },
        )

    def chunk(self, data_seed: int, split: int, start: int, n: int) -> dict[str, np.ndarray]:
        import numpy as np

        from . import cubes
        from . import weather as w
        from .fields import Stream, normal, sample_rngs
        from .params import DEFAULT_PRIORS
        from .scenes import SceneConfig, make_layout

        p = self.params
        allowed = np.array(p.regimes(SPLIT_NAMES[split]))
        weather_rngs = sample_rngs(data_seed, split, start, n, Stream.WEATHER)
        regime = np.array([allowed[rng.integers(len(allowed))] for rng in weather_rngs], dtype=np.int64)
        anomaly = self._anomaly(data_seed, split, start, n)
        if p.weather_spells and SPLIT_NAMES[split] != "test":
            physical, regime = self._spells(weather_rngs, data_seed, split, start)
        else:
            physical = w.simulate_weather(weather_rngs, regime, w.SPIN_UP + p.days, **anomaly)
        if p.regime_change > 0 and SPLIT_NAMES[split] != "test":
            # Vegetation sits near equilibrium with its regime by the end of the context, so without
            # changes of weather a forecaster learns to persist, not how vigour answers the weather.
            change = np.array([rng.random() < p.regime_change for rng in weather_rngs])
            later = np.array([allowed[rng.integers(len(allowed))] for rng in weather_rngs], dtype=np.int64)
            after = w.simulate_weather(weather_rngs, later, w.SPIN_UP + p.days, **anomaly)
            cut = w.SPIN_UP + p.context_frames * p.days_per_frame
            physical[change, cut:] = after[change, cut:]
        _, initial = w.vigour(physical[:, : w.SPIN_UP])
        physical = physical[:, w.SPIN_UP :]
        vig, _ = w.vigour(physical, initial)
        v_obs = vig[:, p.observation_days()].astype(np.float32)  # (N, F)

        cfg = SceneConfig(size=p.patch_size, region_scale=p.region_scale, noise=p.noise)
        layout = make_layout(sample_rngs(data_seed, split, start, n, Stream.SCENE), np.asarray(DEFAULT_PRIORS), cfg)
        base, amp, bright = cubes.pixel_parameters(layout)
        elevation = cubes.elevation_map(layout.rngs, p.patch_size)
        ndvi = base[:, None] + amp[:, None] * v_obs[:, :, None, None]  # (N, F, S, S)
        cube = np.empty((n, p.frames, len(CHANNELS), p.patch_size, p.patch_size), dtype=np.float32)
        cube[:, :, :4] = cubes.reflectance(ndvi, bright[:, None])
        if p.noise > 0:
            for s, rng in enumerate(layout.rngs):
                cube[s, :, :4] += np.float32(p.noise) * normal(rng, cube.shape[1:2] + (4,) + cube.shape[3:])
        wet = (physical[:, :, 0] > 0).reshape(n, p.frames, p.days_per_frame).mean(axis=2)
        clouds = cubes.cloud_masks(
            sample_rngs(data_seed, split, start, n, Stream.CLOUDS), wet, p.cloud_probability, p.patch_size
        )
        cube[:, :, :4] = np.where(clouds[:, :, None], cubes.CLOUD_BGRN[None, None, :, None, None], cube[:, :, :4])
        np.clip(cube[:, :, :4], 0.0, 1.0, out=cube[:, :, :4])
        cube[:, :, 4] = elevation[:, None]
        cube[:, :, 5] = clouds
        tc = p.context_frames
        return {
            "context": cube[:, :tc],
            "target": cube[:, tc:],
            "weather": w.to_normalised(physical),
            "regime": regime,
            "target_ndvi": ndvi[:, tc:].astype(np.float32),
            "vigour": vig.astype(np.float32),
            "initial_state": initial.astype(np.float32),
            "landcover": layout.mask,
            "ndvi_amp": amp.astype(np.float32),
        }

    def _spells(self, weather_rngs: list[np.random.Generator], data_seed: int, split: int,
                start: int) -> tuple[np.ndarray, np.ndarray]:
        """Physical weather ``(N, SPIN_UP + days, 5)`` of train/val cubes made of spells, and each
        cube's precipitation regime on its last context day ``(N,)``.

        Every ``weather_spells`` days (a random phase per cube) the precipitation, temperature
        and pressure regimes are drawn anew and independently, with a new ``train_warming`` /
        ``train_rain_factor`` anomaly.  A single regime change after the context gives a
        forecaster one response per cube to learn from, and in it rain and temperature move
        together; spells give it several, with the combinations the CSP study's shifts create
        (hot and wet, cold and dry), so its answer to them is learnt, not extrapolated.  Each
        spell's weather is simulated over the whole series with the cube's weather generator
        (continuing it) and cut out; AR(1) anomalies restart at a spell boundary.
        """
        import numpy as np

        from . import weather as w
        from .fields import Stream, sample_rngs

        p = self.params
        days, length = w.SPIN_UP + p.days, p.weather_spells
        allowed = np.array(p.regimes(SPLIT_NAMES[split]))
        count = -(-days // length) + 1  # the first spell may be cut short by the phase
        rngs = sample_rngs(data_seed, split, start, len(weather_rngs), Stream.SPELLS)
        phase = np.array([rng.integers(length) for rng in rngs])
        regimes = np.stack([allowed[rng.integers(len(allowed), size=(count, 3))] for rng in rngs])  # (N, count, 3)
        draws = np.stack([rng.uniform(-1.0, 1.0, (count, 2)) for rng in rngs])  # (N, count, 2)
        spell = (np.arange(days)[None, :] + length - phase[:, None]) // length  # (N, days): the spell of each day
        physical = np.empty((len(rngs), days, len(w.VARIABLES)))
        for j in range(count):
            part = w.simulate_weather(weather_rngs, regimes[:, j], days, p.train_warming * draws[:, j, 0],
                                      p.train_rain_factor ** draws[:, j, 1])
            physical[spell == j] = part[spell == j]
        last_context = w.SPIN_UP + p.context_frames * p.days_per_frame - 1
        return physical, regimes[np.arange(len(rngs)), spell[:, last_context], 0]

    def _anomaly(self, data_seed: int, split: int, start: int, n: int) -> dict[str, np.ndarray]:
        """Per-cube ``warming`` (degC) and ``rain_factor`` of train/val cubes (empty: none).

        Across regimes temperature, pressure and rain levels move together, so a forecaster may
        read the regime off the smooth temperature series and answer a warming as if it were
        drying.  Anomalies that move each cube's temperature and rain independently give it the
        data the CSP study assumes (independent variables, shifts within the natural range); the
        measured effect is in docs/studies.md.
        """
        import numpy as np

        from .fields import Stream, sample_rngs

        p = self.params
        if SPLIT_NAMES[split] == "test" or p.weather_spells or (p.train_warming == 0 and p.train_rain_factor == 1):
            return {}
        draws = np.array([rng.uniform(-1.0, 1.0, 2) for rng in sample_rngs(data_seed, split, start, n, Stream.ANOMALY)])
        return {"warming": p.train_warming * draws[:, 0], "rain_factor": p.train_rain_factor ** draws[:, 1]}


def _reference(regime: int, days: int) -> tuple[np.ndarray, np.ndarray]:
    """``_SENSITIVITY_SERIES`` physical weather series ``(n, days, 5)`` of a regime after the
    spin-up (fixed seeds) and the state ``(n, 2)`` at their day 0."""
    import numpy as np

    from . import weather as w

    rngs = [np.random.default_rng([20211, regime, i]) for i in range(_SENSITIVITY_SERIES)]
    phys = w.simulate_weather(rngs, np.full(len(rngs), regime), w.SPIN_UP + days)
    return phys[:, w.SPIN_UP :], w.vigour(phys[:, : w.SPIN_UP])[1]


@functools.lru_cache(maxsize=16)
def _csp_sensitivity(regimes: tuple[int, ...], context: int, target: int, days_per_frame: int) -> dict[str, Any]:
    """The world's CSP-protocol response on the reference series, regimes as segments."""
    import numpy as np

    from . import weather as w

    days = (context + target) * days_per_frame
    series = [_reference(k, days) for k in regimes]
    weather = w.to_normalised(np.concatenate([s[0] for s in series]))
    initial = np.concatenate([s[1] for s in series])
    segment = np.repeat(np.arange(len(regimes)), _SENSITIVITY_SERIES)
    target_days = np.arange(context, context + target) * days_per_frame + days_per_frame - 1
    out: dict[str, Any] = w.csp_sensitivity(weather, initial, context * days_per_frame, target_days, segment)
    out["ratio"] = out["precipitation"]["sum"] / out["temperature"]["sum"]
    out["unit"] = "vigour per physical unit (mm/day, degC, hPa); Eq. 15 sum over ordered shift pairs"
    out["shifts"] = {g: list(v) for g, v in w.CSP_SHIFTS.items()}
    return out


@functools.lru_cache(maxsize=16)
def _sensitivity(regimes: tuple[int, ...], context: int, target: int, days_per_frame: int) -> dict[str, Any]:
    """True sensitivities on ``_SENSITIVITY_SERIES`` reference series per regime (fixed seeds)."""
    import numpy as np

    from . import weather as w

    frames = context + target
    days = frames * days_per_frame
    target_days = np.arange(context, frames) * days_per_frame + days_per_frame - 1
    out: dict[str, Any] = {"unit": "vigour per normalised unit, variable shifted on all days", "per_regime": {}}
    weather, init = [], []
    for k in regimes:
        phys, state = _reference(k, days)
        init.append(state)
        weather.append(phys)
        out["per_regime"][w.REGIME_NAMES[k]] = w.sensitivities(weather[-1], init[-1], target_days)
    weather_all, init_all = np.concatenate(weather), np.concatenate(init)
    out["overall"] = w.sensitivities(weather_all, init_all, target_days)
    std = w.to_normalised(weather_all).reshape(-1, len(w.VARIABLES)).std(axis=0)
    for j, name in enumerate(w.VARIABLES):
        out["overall"][name]["per_std"] = out["overall"][name]["mean_abs"] * float(std[j])
    return out
