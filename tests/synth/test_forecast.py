"""synth-weather-forecast: cube layout, weather regimes, and the known NDVI response to weather."""

from __future__ import annotations

import numpy as np
import pydantic
import pytest

from xaibench_synth import plugin
from xaibench_synth import weather as w
from xaibench_synth.forecast import CHANNELS, SynthWeatherForecast

PRECIP, PRESSURE, TMEAN, TMIN, TMAX = range(5)


def make(**params) -> SynthWeatherForecast:
    params = {"n_train": 6, "n_val": 2, "n_test": 4, "patch_size": 16, **params}
    return SynthWeatherForecast(SynthWeatherForecast.Params(**params))


@pytest.fixture(scope="module")
def clean():
    """200 noise- and cloud-free cubes of 16 px (about 1 s)."""
    return make(n_train=200, n_val=0, n_test=0, noise=0.0, cloud_probability=0.0).load(0).split("train")


def test_registered_and_described():
    got = []
    plugin.register_datasets(lambda cls, name=None: got.append(cls))
    assert SynthWeatherForecast in got
    info = make().info()
    assert info.task == "forecast"
    assert [b.name for b in info.bands] == list(CHANNELS) == ["B2", "B3", "B4", "B8A", "elevation", "cloud_mask"]
    assert info.extra["weather_variables"] == list(w.VARIABLES)
    assert info.extra["weather_units"]["precipitation"] == "mm/day = 50 x"
    assert info.extra["sensitivity_rank"][:2] == ["precipitation", "temperature_mean"]
    overall = info.extra["sensitivity"]["overall"]
    assert overall["sea_level_pressure"]["mean_abs"] == 0.0 == overall["temperature_max"]["mean_abs"]
    assert overall["precipitation"]["per_std"] > 3 * overall["temperature_mean"]["per_std"] > 0


def test_shapes_dtypes_and_determinism():
    ds = make(context_frames=4, target_frames=6, days_per_frame=3)
    data = ds.load(0)
    assert data["train/context"].shape == (6, 4, 6, 16, 16) and data["train/context"].dtype == np.float32
    assert data["train/target"].shape == (6, 6, 6, 16, 16)
    assert data["train/weather"].shape == (6, 30, 5) and data["train/weather"].dtype == np.float32
    assert data["train/target_ndvi"].shape == (6, 6, 16, 16) and data["train/vigour"].shape == (6, 30)
    assert data["train/regime"].dtype == np.int64 and data["train/landcover"].shape == (6, 16, 16)
    refl = data["train/context"][:, :, :4]
    assert refl.min() >= 0 and refl.max() <= 1
    assert set(np.unique(data["train/context"][:, :, 5])) <= {0.0, 1.0}
    elevation = data["train/context"][:, :, 4]
    assert np.array_equal(elevation, np.repeat(elevation[:, :1], 4, axis=1))  # static
    again = ds.load(3)
    for name in data:
        assert data[name].tobytes() == again[name].tobytes(), name
    assert not np.array_equal(make(data_seed=2).load(0)["train/weather"], make().load(0)["train/weather"])
    small = make(patch_size=8).load(0)  # the smallest cubes (examples/csp.yaml trains on many of them)
    assert small["test/context"].shape == (4, 10, 6, 8, 8) and len(np.unique(small["test/landcover"])) > 1
    np.testing.assert_array_equal(small["test/weather"], make().load(0)["test/weather"])  # weather is per cube


def test_unit_conversions_round_trip_and_match_earthnet():
    phys = np.array([[10.0, 1013.0, 15.0, 8.0, 22.0]])
    x = w.to_normalised(phys)
    np.testing.assert_allclose(x[0], [0.2, 0.565, 0.65, 0.58, 0.72], atol=1e-6)
    np.testing.assert_allclose(w.to_physical(x), phys, atol=1e-4)


def test_regimes_have_distinct_weather(clean):
    phys = w.to_physical(clean["weather"])
    regime = clean["regime"]
    assert set(np.unique(regime)) == set(range(len(w.REGIMES)))
    by = {name: phys[regime == k] for k, name in enumerate(w.REGIME_NAMES)}
    precip = {k: v[..., PRECIP].mean() for k, v in by.items()}
    temp = {k: v[..., TMEAN].mean() for k, v in by.items()}
    assert precip["dry-hot"] < precip["cold-stable"] < precip["temperate"] < precip["wet-mild"] < precip["stormy"]
    assert temp["cold-stable"] < temp["stormy"] < temp["wet-mild"] < temp["dry-hot"]
    assert by["stormy"][..., PRESSURE].mean() < by["cold-stable"][..., PRESSURE].mean() - 20
    assert np.all(phys[..., TMIN] <= phys[..., TMEAN]) and np.all(phys[..., TMEAN] <= phys[..., TMAX])
    # low pressure brings rain: a correlated variable with no effect on vegetation
    assert np.corrcoef(phys[..., PRECIP].ravel(), phys[..., PRESSURE].ravel())[0, 1] < -0.2


def test_split_regimes_are_respected():
    data = make(n_train=20, n_test=20, train_regimes=["dry-hot"], test_regimes=["stormy", "wet-mild"]).load(0)
    assert set(np.unique(data["train/regime"])) == {w.REGIME_NAMES.index("dry-hot")}
    assert set(np.unique(data["test/regime"])) == {w.REGIME_NAMES.index("stormy"), w.REGIME_NAMES.index("wet-mild")}


def test_regime_change_switches_train_weather_after_the_context_only():
    kw = {"n_train": 30, "n_val": 0, "n_test": 6, "train_regimes": ["dry-hot", "stormy"]}
    same, changed = make(**kw).load(0), make(**kw, regime_change=1.0).load(0)
    cut = make().params.context_frames * make().params.days_per_frame
    np.testing.assert_array_equal(same["train/weather"][:, :cut], changed["train/weather"][:, :cut])
    np.testing.assert_array_equal(same["train/context"], changed["train/context"])
    np.testing.assert_array_equal(same["test/weather"], changed["test/weather"])  # test cubes never switch
    rain_after = changed["train/weather"][:, cut:, PRECIP].mean(axis=1) * 50.0
    rain_before = same["train/weather"][:, cut:, PRECIP].mean(axis=1) * 50.0
    assert (np.abs(rain_after - rain_before) > 3.0).sum() >= 5  # dry-hot <-> stormy switches
    vig, _ = w.vigour(w.to_physical(changed["train/weather"]), changed["train/initial_state"])
    np.testing.assert_allclose(vig, changed["train/vigour"], atol=1e-4)  # vegetation follows the new weather


def test_training_anomalies_warm_and_scale_rain_per_train_cube_only():
    kw = {"n_train": 40, "n_val": 4, "n_test": 6}
    same, varied = make(**kw).load(0), make(**kw, train_warming=8.0, train_rain_factor=2.0).load(0)
    a, b = w.to_physical(same["train/weather"]), w.to_physical(varied["train/weather"])
    warming = (b[..., TMEAN] - a[..., TMEAN]).mean(axis=1)
    np.testing.assert_allclose(b[..., TMEAN] - a[..., TMEAN], np.repeat(warming[:, None], a.shape[1], 1), atol=1e-3)
    assert np.abs(warming).max() <= 8.0 and np.abs(warming).max() > 4.0 and warming.std() > 2.0
    wet = (a[..., PRECIP] > 0.5) & (a[..., PRECIP] < 20.0)  # away from the 50 mm cap
    np.testing.assert_array_equal(a[..., PRECIP] > 0, b[..., PRECIP] > 0)  # the same wet days
    factor = np.array([np.median(b[i, wet[i], PRECIP] / a[i, wet[i], PRECIP]) for i in range(len(a)) if wet[i].any()])
    assert 0.5 - 1e-3 <= factor.min() and factor.max() <= 2.0 + 1e-3 and factor.min() < 0.75 and factor.max() > 1.4
    np.testing.assert_allclose(b[..., PRESSURE], a[..., PRESSURE], atol=1e-3)  # pressure untouched
    np.testing.assert_array_equal(same["test/weather"], varied["test/weather"])  # test cubes keep their regime's
    vig, _ = w.vigour(b, varied["train/initial_state"])
    np.testing.assert_allclose(vig, varied["train/vigour"], atol=1e-4)  # vegetation follows the varied weather


def test_regimes_per_variable_take_rain_temperature_and_pressure_from_their_own_regime():
    def rngs():
        return [np.random.default_rng([5, i]) for i in range(200)]

    one = w.simulate_weather(rngs(), np.full(200, 3), 120)
    np.testing.assert_array_equal(w.simulate_weather(rngs(), np.full((200, 3), 3), 120), one)
    dry, stormy, cold = (w.REGIME_NAMES.index(r) for r in ("dry-hot", "stormy", "cold-stable"))
    mixed = w.simulate_weather(rngs(), np.tile([dry, stormy, cold], (200, 1)), 120)
    assert (mixed[..., PRECIP] > 0).mean() < 0.15  # dry-hot's 8 % wet days, not stormy's 90 %
    assert abs(mixed[..., TMEAN].mean() - 9.0) < 1.5  # stormy's 9 degC, not dry-hot's 27
    assert abs(mixed[..., PRESSURE].mean() - 1028.0) < 3.0  # cold-stable's 1028 hPa


def test_weather_spells_draw_regimes_per_variable_anew_in_train_cubes_only():
    kw = {"n_train": 60, "n_val": 4, "n_test": 6}
    one, spells = make(**kw).load(0), make(**kw, weather_spells=25, train_warming=5.0).load(0)
    np.testing.assert_array_equal(one["test/weather"], spells["test/weather"])  # test cubes keep one regime
    np.testing.assert_array_equal(one["test/context"], spells["test/context"])

    def windows(data):  # 25-day means (N * 6,) of precipitation, pressure, temperature; T's spread within cubes
        phys = w.to_physical(data["train/weather"])[:, :150].reshape(60, 6, 25, 5).mean(axis=2)
        spread = phys[..., TMEAN].std(axis=1).mean()
        return phys[..., PRECIP].ravel(), phys[..., PRESSURE].ravel(), phys[..., TMEAN].ravel(), spread

    (p1, q1, t1, spread1), (p2, q2, t2, spread2) = windows(one), windows(spells)
    assert np.corrcoef(p1, q1)[0, 1] < -0.5  # within a regime low pressure brings rain...
    assert np.corrcoef(p2, q2)[0, 1] > -0.2  # ...across independently drawn spells pressure no longer tells the rain
    assert ((t1 > 22) & (p1 > 5)).sum() == 0  # no regime is hot and wet
    assert ((t2 > 22) & (p2 > 5)).sum() >= 5  # spells are
    assert spread2 > 2 * spread1
    vig, _ = w.vigour(w.to_physical(spells["train/weather"]), spells["train/initial_state"])
    np.testing.assert_allclose(vig, spells["train/vigour"], atol=1e-4)  # vegetation follows the spells
    with pytest.raises(pydantic.ValidationError, match="set one of them to 0"):
        make(weather_spells=25, regime_change=0.5)


def test_stored_vigour_and_ndvi_are_reproducible_from_the_weather(clean):
    vig, _ = w.vigour(w.to_physical(clean["weather"]), clean["initial_state"])
    np.testing.assert_allclose(vig, clean["vigour"], atol=1e-4)
    target = clean["target"]
    ndvi = (target[:, :, 3] - target[:, :, 2]) / (target[:, :, 3] + target[:, :, 2])
    np.testing.assert_allclose(ndvi, clean["target_ndvi"], atol=1e-4)
    obs = np.array(make().params.observation_days())[make().params.context_frames :]
    land = clean["ndvi_amp"] > 0.3
    change = clean["target_ndvi"][:, -1] - clean["target_ndvi"][:, 0]
    expected = clean["ndvi_amp"] * (clean["vigour"][:, obs[-1]] - clean["vigour"][:, obs[0]])[:, None, None]
    np.testing.assert_allclose(change[land], expected[land], atol=1e-4)


def test_response_curves_have_the_documented_shapes():
    p = np.linspace(0, 30, 301)
    r = w.response_precipitation(p)
    peak = p[r.argmax()]
    assert abs(peak - w.P_OPT) < 0.2 and np.all(np.diff(r[p < peak]) > 0) and np.all(np.diff(r[p > peak + 0.1]) < 0)
    assert r[-1] < 0.5 * r.max()  # declines well beyond the optimum
    t = np.linspace(-10, 40, 501)
    assert abs(t[w.response_temperature(t).argmax()] - w.T_OPT) < 0.2


def test_ndvi_response_ranking_measured_on_generated_data(clean):
    """Shift each weather variable of the generated cubes and re-run the vegetation model."""
    params = make().params
    target_days = np.array(params.observation_days())[params.context_frames :]
    sens = w.sensitivities(w.to_physical(clean["weather"]), clean["initial_state"], target_days)
    mag = {k: v["mean_abs"] for k, v in sens.items()}
    assert mag["precipitation"] > 2 * mag["temperature_mean"] > 0
    assert mag["sea_level_pressure"] == mag["temperature_min"] == mag["temperature_max"] == 0.0
    reference = make().info().extra["sensitivity"]["overall"]
    for name in ("precipitation", "temperature_mean"):
        assert 0.5 < mag[name] / reference[name]["mean_abs"] < 2.0
    # direction: more rain greens dry cubes; stormy cubes are past the optimum
    by_regime = {}
    for k, name in enumerate(w.REGIME_NAMES):
        sel = clean["regime"] == k
        by_regime[name] = w.sensitivities(
            w.to_physical(clean["weather"][sel]), clean["initial_state"][sel], target_days
        )["precipitation"]["mean"]
    assert by_regime["dry-hot"] > 5 and by_regime["stormy"] < 0 < by_regime["temperate"]


def ndvi_of(frame: np.ndarray) -> np.ndarray:
    """NDVI of a frame ``(6, H, W)`` (channels B2, B3, B4, B8A, ...)."""
    return (frame[3] - frame[2]) / (frame[3] + frame[2])


def test_rain_greens_dry_cubes_in_the_data_alone(clean):
    """Without the simulator: in the dry regime, cubes with more rain end greener."""
    vegetated = (clean["ndvi_amp"] > 0.3).sum(axis=(1, 2)) > 20
    dry = (clean["regime"] == w.REGIME_NAMES.index("dry-hot")) & vegetated
    params = make().params
    tc_end = params.observation_days()[params.context_frames - 1]
    rain = clean["weather"][dry, tc_end:, PRECIP].sum(axis=1)
    land = clean["ndvi_amp"][dry] > 0.3
    final = np.array([clean["target_ndvi"][i, -1][m].mean() for i, m in zip(np.nonzero(dry)[0], land)])
    start = np.array([ndvi_of(clean["context"][i, -1])[m].mean() for i, m in zip(np.nonzero(dry)[0], land)])
    residual = final - np.polyval(np.polyfit(start, final, 1), start)  # remove what the last context frame predicts
    assert np.corrcoef(rain, residual)[0, 1] > 0.4


def test_clouds_follow_probability_and_rain():
    cloudy = make(n_train=60, n_val=0, n_test=0, cloud_probability=0.4).load(0)
    frames = np.concatenate([cloudy["train/context"], cloudy["train/target"]], axis=1)
    mask = frames[:, :, 5]
    has_cloud = mask.reshape(*mask.shape[:2], -1).max(axis=2) > 0
    assert 0.15 < has_cloud.mean() < 0.6
    assert frames[:, :, 3][mask == 1].mean() > 0.45  # bright where masked
    wet = (cloudy["train/weather"][..., PRECIP] > 0).reshape(60, -1, 5).mean(axis=2)
    assert has_cloud[wet > 0.5].mean() > has_cloud[wet == 0].mean() + 0.1
    clear = make(cloud_probability=0.0).load(0)
    assert clear["train/context"][:, :, 5].max() == 0 and clear["train/target"][:, :, 5].max() == 0


def test_params_are_validated():
    with pytest.raises(pydantic.ValidationError):
        SynthWeatherForecast.Params(train_regimes=["monsoon"])
    with pytest.raises(pydantic.ValidationError):
        SynthWeatherForecast.Params(context_frames=0)


def test_csp_truth_follows_the_study_protocol(clean):
    """``extra["csp_sensitivity"]``: the world's response to the CSP study's shifts (Eq. 15)."""
    params = make().params
    obs = np.array(params.observation_days())
    context_days, target_days = params.context_frames * params.days_per_frame, obs[params.context_frames :]
    unshifted = w.shifted_vigour(clean["weather"], clean["initial_state"], context_days, target_days, (0,), 0.0)
    np.testing.assert_allclose(unshifted, clean["vigour"][:, target_days].mean(axis=1), atol=1e-5)
    # the context frames' vigour is kept: a shift moves only the days after the context
    wetter = w.shifted_vigour(clean["weather"], clean["initial_state"], context_days, target_days, (0,), 4.0)
    assert np.abs(wetter - unshifted).mean() > 0.02

    truth = make().info().extra["csp_sensitivity"]
    assert truth["precipitation"]["sum"] > 2 * truth["temperature"]["sum"] > 0 == truth["pressure"]["sum"]
    assert truth["ratio"] == pytest.approx(truth["precipitation"]["sum"] / truth["temperature"]["sum"])
    segment = clean["regime"]
    measured = w.csp_sensitivity(clean["weather"], clean["initial_state"], context_days, target_days, segment)
    for group in ("precipitation", "temperature"):  # the reference series agree with generated cubes
        assert 0.67 < measured[group]["sum"] / truth[group]["sum"] < 1.5
    line = w.csp_sensitivity(clean["weather"][:4], clean["initial_state"][:4], context_days, target_days,
                             shifts={"precipitation": (0.0, 1.0)})["precipitation"]
    assert line["sum"] == pytest.approx(2 * line["per_pair"])
