"""synth-bioclim: locations, bioclimatic vector, prior shift by region, spectral shift with climate."""

from __future__ import annotations

import numpy as np
import pydantic
import pytest

from xaibench_synth import plugin
from xaibench_synth.bands import BARREN, FOREST, GRASSLAND, WETLAND
from xaibench_synth.bioclim import SynthBioclim
from xaibench_synth.climate import AUX_NAMES, REGION_NAMES, REGIONS, World, bioclim, climate_at

from .helpers import interior

ARID, BOREAL = REGION_NAMES.index("arid"), REGION_NAMES.index("boreal")


def make(**params) -> SynthBioclim:
    params = {"n_train": 8, "n_val": 2, "n_test": 4, **params}
    return SynthBioclim(SynthBioclim.Params(**params))


@pytest.fixture(scope="module")
def big():
    """500 noise-free patches (about 2 s)."""
    return make(n_train=500, n_val=0, n_test=0, noise=0.0).load(0).split("train")


def test_registered_and_described():
    got = []
    plugin.register_datasets(lambda cls, name=None: got.append(cls))
    assert SynthBioclim in got
    info = make().info()
    assert {"aux", "region", "geo", "mask"} <= info.provides
    assert info.extra["aux_names"] == list(AUX_NAMES) and len(AUX_NAMES) == 20
    assert info.extra["regions"] == list(REGION_NAMES) and len(REGION_NAMES) == 5


def test_arrays_shapes_ranges_and_determinism():
    data = make().load(0)
    assert data["train/x"].shape == (8, 13, 64, 64)
    aux = data["train/aux"]
    assert aux.shape == (8, 20) and aux.dtype == np.float32 and aux.min() >= 0 and aux.max() <= 1
    assert data["train/region"].dtype == np.int64 and data["train/lat"].shape == (8,)
    again = make().load(5)
    for name in data:
        assert data[name].tobytes() == again[name].tobytes(), name
    assert not np.array_equal(make(data_seed=1).load(0)["train/aux"], aux)


def test_locations_lie_in_their_region_and_split_regions_are_respected():
    data = make(n_train=30, n_test=30, train_regions=["boreal", "arid"], test_regions=["tropical"]).load(0)
    assert set(np.unique(data["train/region"])) == {BOREAL, ARID}
    assert set(np.unique(data["val/region"])) <= {BOREAL, ARID}
    assert set(np.unique(data["test/region"])) == {REGION_NAMES.index("tropical")}
    for split in ("train", "test"):
        for r, lat, lon in zip(data[f"{split}/region"], data[f"{split}/lat"], data[f"{split}/lon"]):
            (la0, la1), (lo0, lo1) = REGIONS[REGION_NAMES[r]]
            assert la0 <= lat <= la1 and lo0 <= lon <= lo1


def test_bioclim_variables_are_consistent():
    rng = np.random.default_rng(0)
    lat, lon = rng.uniform(-5, 68, 400), rng.uniform(-10, 40, 400)
    bio = bioclim(climate_at(World.draw(rng), lat, lon))
    b = {i + 1: bio[:, i] for i in range(19)}
    np.testing.assert_allclose(b[7], b[5] - b[6])
    np.testing.assert_allclose(b[3], 100 * b[2] / b[7])
    assert np.all(b[5] >= b[10]) and np.all(b[10] >= b[1]) and np.all(b[1] >= b[11]) and np.all(b[11] >= b[6])
    assert np.all(b[12] >= b[16]) and np.all(b[16] >= b[17]) and np.all(b[16] >= b[13]) and np.all(b[13] >= b[14])
    assert np.all(b[8] <= b[10] + 1e-9) and np.all(b[9] >= b[11] - 1e-9)
    # it is colder and more seasonal towards the pole, wet at the equator, dry in the subtropics
    assert np.corrcoef(np.abs(lat), b[1])[0, 1] < -0.8 and np.corrcoef(np.abs(lat), b[4])[0, 1] > 0.9
    assert np.median(b[12][np.abs(lat) < 5]) > 3 * np.median(b[12][(np.abs(lat) > 18) & (np.abs(lat) < 28)])


def test_elevation_cools_the_climate():
    world = World.draw(np.random.default_rng(1))
    lat, lon = np.full(2000, 50.0), np.linspace(-10, 40, 2000)
    bio = bioclim(climate_at(world, lat, lon))
    high = bio[:, 19] > np.percentile(bio[:, 19], 80)
    low = bio[:, 19] < np.percentile(bio[:, 19], 20)
    assert bio[high, 0].mean() < bio[low, 0].mean() - 2


def test_class_priors_differ_by_region(big):
    area, region = big["fractions"], big["region"]
    boreal, arid = area[region == BOREAL].mean(axis=0), area[region == ARID].mean(axis=0)
    assert boreal[FOREST] > 4 * arid[FOREST] and boreal[WETLAND] > 4 * arid[WETLAND]
    assert arid[BARREN] > 4 * boreal[BARREN]
    # without prior shift the regions share the class distribution (up to sampling noise)
    flat = make(n_train=1000, n_val=0, n_test=0, patch_size=32, prior_shift=0.0).load(0)
    a, r = flat["train/fractions"], flat["train/region"]
    tv = 0.5 * np.abs(a[r == BOREAL].mean(axis=0) - a[r == ARID].mean(axis=0)).sum()
    assert tv < 0.1 < 0.3 < 0.5 * np.abs(boreal - arid).sum()


def _grass_ndvi(data: dict) -> tuple[np.ndarray, np.ndarray]:
    """Mean NDVI of grassland interior pixels per patch (patches with enough of them) and log BIO12."""
    x, inside = data["x"], interior(data["mask"], GRASSLAND)
    ndvi = (x[:, 7] - x[:, 3]) / (x[:, 7] + x[:, 3])
    keep = inside.sum(axis=(1, 2)) > 30
    per_patch = np.array([ndvi[i][inside[i]].mean() for i in np.nonzero(keep)[0]])
    return per_patch, np.log(data["aux_physical"][keep, 11])


def test_vegetation_spectra_shift_with_climate(big):
    ndvi, log_p = _grass_ndvi(big)
    assert np.corrcoef(ndvi, log_p)[0, 1] > 0.6  # greener where it rains more
    dry, wet = ndvi[log_p < np.percentile(log_p, 25)], ndvi[log_p > np.percentile(log_p, 75)]
    assert wet.mean() > dry.mean() + 0.15
    unshifted = make(n_train=300, n_val=0, n_test=0, noise=0.0, climate_shift=0.0).load(0).split("train")
    ndvi0, log_p0 = _grass_ndvi(unshifted)
    assert abs(np.corrcoef(ndvi0, log_p0)[0, 1]) < 0.3


def test_the_vector_helps_to_classify_pixels():
    from sklearn.ensemble import RandomForestClassifier

    data = make(n_train=200, n_val=0, n_test=0).load(0).split("train")
    rng = np.random.default_rng(0)
    spectra, aux, cls = [], [], []
    for c in range(8):
        n, y, x = np.nonzero(interior(data["mask"], c, margin=2))
        pick = rng.choice(len(n), min(600, len(n)), replace=False)
        spectra.append(data["x"][n[pick], :, y[pick], x[pick]])
        aux.append(data["aux"][n[pick]])
        cls.append(np.full(len(pick), c))
    spec, aux, cls = np.concatenate(spectra), np.concatenate(aux), np.concatenate(cls)
    order = rng.permutation(len(cls))
    train, test = order[: len(order) // 2], order[len(order) // 2 :]

    def accuracy(features: np.ndarray) -> float:
        clf = RandomForestClassifier(50, random_state=0, n_jobs=1).fit(features[train], cls[train])
        return clf.score(features[test], cls[test])

    assert accuracy(np.hstack([spec, aux])) > accuracy(spec) + 0.04  # measured: 0.87 -> 0.95


def test_params_are_validated():
    with pytest.raises(pydantic.ValidationError):
        SynthBioclim.Params(train_regions=["atlantis"])
    with pytest.raises(pydantic.ValidationError):
        SynthBioclim.Params(test_regions=[])
    with pytest.raises(pydantic.ValidationError):
        SynthBioclim.Params(prior_shift=2.0)
