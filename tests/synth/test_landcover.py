"""synth-landcover: determinism, shapes, targets, class statistics, spectra and textures."""

from __future__ import annotations

import numpy as np
import pydantic
import pytest

from xaibench_synth import plugin
from xaibench_synth.bands import BARREN, CROPLAND, FOREST, GRASSLAND, SHRUBLAND, URBAN, WATER, WETLAND
from xaibench_synth.landcover import SynthLandcover
from xaibench_synth.params import DEFAULT_PRIORS

from .helpers import highpass_energy, interior, mean_spectrum

B2, B4, B5, B7, B8, B10, B11, B12 = 1, 3, 4, 6, 7, 10, 11, 12


def make(**params) -> SynthLandcover:
    params = {"n_train": 6, "n_val": 2, "n_test": 3, **params}
    return SynthLandcover(SynthLandcover.Params(**params))


@pytest.fixture(scope="module")
def big():
    """400 noise-free training patches (about one second to generate)."""
    return make(n_train=400, n_val=0, n_test=0, noise=0.0).load(0).split("train")


def test_registered_by_the_plugin():
    got = []
    plugin.register_datasets(lambda cls, name=None: got.append(cls))
    assert SynthLandcover in got


def test_same_seed_same_bytes_and_grid_seed_ignored_by_default():
    a, b, c = make().load(0), make().load(0), make().load(7)
    assert sorted(a.arrays) == sorted(b.arrays)
    for name in a:
        assert a[name].tobytes() == b[name].tobytes(), name
        assert a[name].tobytes() == c[name].tobytes(), name  # data_seed decides, not the grid seed


def test_data_seed_and_grid_seed_mixing_change_the_data():
    base = make().load(0)["train/x"]
    assert not np.array_equal(base, make(data_seed=1).load(0)["train/x"])
    mixed = make(vary_with_grid_seed=True)
    assert not np.array_equal(mixed.load(0)["train/x"], mixed.load(1)["train/x"])
    assert np.array_equal(mixed.load(3)["train/x"], mixed.load(3)["train/x"])


def test_a_sample_does_not_depend_on_the_split_size_and_splits_differ():
    small, large = make(n_train=3).load(0), make(n_train=140).load(0)  # 140 spans two generation chunks
    np.testing.assert_allclose(small["train/x"], large["train/x"][:3], atol=1e-6)
    assert np.array_equal(small["train/mask"], large["train/mask"][:3])
    assert not np.array_equal(small["train/mask"][0], small["test/mask"][0])


@pytest.mark.parametrize("size", [64, 120, 256])
def test_shapes_dtypes_and_range(size):
    data = make(n_train=2, n_val=1, n_test=0, patch_size=size).load(0)
    assert data["train/x"].shape == (2, 13, size, size) and data["train/x"].dtype == np.float32
    assert data["train/mask"].shape == (2, size, size) and data["train/mask"].dtype == np.int64
    assert data["train/labels"].shape == (2, 8) and data["train/labels"].dtype == np.float32
    assert data["train/label"].shape == (2,) and data["train/label"].dtype == np.int64
    assert data["val/x"].shape == (1, 13, size, size)
    assert data["test/x"].shape == (0, 13, size, size)
    x = data["train/x"]
    assert x.min() >= 0.0 and x.max() <= 1.0 and np.isfinite(x).all()


def test_info_describes_13_bands_and_8_classes():
    info = make().info()
    assert info.task == "multilabel" and info.n_classes == 8 and info.n_bands == 13
    assert [b.name for b in info.bands][:4] == ["B1", "B2", "B3", "B4"] and info.bands[8].name == "B8A"
    wavelengths = [b.wavelength_nm for b in info.bands]
    assert wavelengths == sorted(wavelengths)
    assert {b.modality for b in info.bands} == {"s2"} and "mask" in info.provides


def test_labels_follow_the_ten_percent_rule(big):
    mask, labels, label = big["mask"], big["labels"], big["label"]
    frac = np.stack([(mask == c).mean(axis=(1, 2)) for c in range(8)], axis=1)
    np.testing.assert_array_equal(labels, (frac > 0.1).astype(np.float32))
    np.testing.assert_array_equal(label, frac.argmax(axis=1))
    assert labels.sum(axis=1).min() >= 1  # the dominant class always passes 10 %
    np.testing.assert_allclose(big["fractions"], frac, atol=1e-6)


def test_label_threshold_param_is_used():
    data = make(n_train=40, n_val=0, n_test=0, label_threshold=0.3).load(0)
    frac = data["train/fractions"]
    np.testing.assert_array_equal(data["train/labels"], (frac > 0.3).astype(np.float32))


def test_class_areas_follow_the_priors(big):
    area = big["fractions"].mean(axis=0)
    presence = big["labels"].mean(axis=0)
    priors = np.array(DEFAULT_PRIORS) / sum(DEFAULT_PRIORS)
    assert (presence > 0.05).all()  # every class appears as a label
    assert np.all(area > priors / 1.6) and np.all(area < priors * 1.6), (area, priors)
    assert area[FOREST] > area[WETLAND] * 2
    n_labels = big["labels"].sum(axis=1)
    assert 1.8 < n_labels.mean() < 3.2 and n_labels.max() <= 4


def test_class_priors_param_shifts_areas():
    priors = [1.0] * 7 + [20.0]  # mostly water
    data = make(n_train=100, n_val=0, n_test=0, class_priors=priors).load(0)
    area = data["train/fractions"].mean(axis=0)
    assert area.argmax() == WATER and area[WATER] > 0.4


def test_spectral_signatures(big):
    x, mask = big["x"], big["mask"]
    spec = {c: mean_spectrum(x, interior(mask, c)) for c in range(8)}
    veg = [FOREST, GRASSLAND, CROPLAND]
    for c in veg:  # red edge: red absorption, steep rise to the NIR plateau
        assert spec[c][B8] > 3 * spec[c][B4] and spec[c][B4] < spec[c][B5] < spec[c][B7] <= spec[c][B8] * 1.05
        assert spec[c][B8] > spec[c][B11] > spec[c][B12]
    assert spec[WATER][B8] < 0.05 < 0.2 < min(spec[c][B8] for c in veg)
    assert spec[WATER][B11] < 0.03 and spec[WATER][B2] > spec[WATER][B8]
    soil = spec[BARREN]  # bare soil rises from blue into SWIR
    assert soil[B2] < soil[B4] < soil[B8] < soil[B11]
    urban = spec[URBAN][[B2, 2, B4, B5, 5, B7, B8]]  # bright and flat across VNIR
    assert urban.max() / urban.min() < 1.8 and urban.mean() > 0.1
    assert spec[URBAN][B4] > spec[FOREST][B4] * 2
    assert spec[SHRUBLAND][B8] < spec[GRASSLAND][B8] and spec[SHRUBLAND][B11] > spec[GRASSLAND][B11]
    assert spec[WETLAND][B8] < spec[GRASSLAND][B8] and spec[WETLAND][B8] > spec[WATER][B8]
    for c in range(8):  # the cirrus band sees no surface
        assert spec[c][B10] < 0.02


def test_cropland_shares_grassland_spectrum_but_not_its_texture(big):
    x, mask = big["x"], big["mask"]
    crop, grass = interior(mask, CROPLAND), interior(mask, GRASSLAND)
    s_crop, s_grass = mean_spectrum(x, crop), mean_spectrum(x, grass)
    np.testing.assert_allclose(s_crop, s_grass, rtol=0.06)
    e_crop, e_grass = highpass_energy(x[:, B8], crop), highpass_energy(x[:, B8], grass)
    assert e_crop > 10 * e_grass, (e_crop, e_grass)
    assert highpass_energy(x[:, B8], interior(mask, URBAN)) > 10 * highpass_energy(x[:, B8], interior(mask, WATER))


def test_sensor_noise_level():
    clean = make(n_train=4, n_val=0, n_test=0, noise=0.0).load(0)["train/x"]
    noisy = make(n_train=4, n_val=0, n_test=0, noise=0.02).load(0)["train/x"]
    inside = (clean > 0.05) & (clean < 0.95)  # unclipped
    assert abs(float((noisy - clean)[inside].std()) - 0.02) < 0.002


def test_boundaries_mix_spectra():
    from xaibench_synth.fields import Stream, sample_rngs
    from xaibench_synth.scenes import SceneConfig, make_layout

    def max_weight(width: float) -> tuple[np.ndarray, np.ndarray]:
        cfg = SceneConfig(boundary_width=width)
        layout = make_layout(sample_rngs(0, 0, 0, 30, Stream.SCENE), np.ones(8) / 8, cfg)
        edge = np.zeros(layout.mask.shape, dtype=bool)
        edge[:, :, 1:] |= layout.mask[:, :, 1:] != layout.mask[:, :, :-1]
        return layout.weights.max(axis=1), edge

    wide, edge = max_weight(4.0)
    assert np.median(wide[edge]) < 0.8  # boundary pixels are mixtures
    assert np.median(wide[~edge]) > 0.95  # most pixels are pure
    sharp, _ = max_weight(0.0)
    assert np.median(sharp[edge]) > np.median(wide[edge])


def test_params_are_validated():
    with pytest.raises(pydantic.ValidationError):
        SynthLandcover.Params(class_priors=[1.0, 2.0])
    with pytest.raises(pydantic.ValidationError):
        SynthLandcover.Params(min_classes=3, max_classes=2)
    with pytest.raises(pydantic.ValidationError):
        SynthLandcover.Params(n_trian=5)


def test_write_npz(tmp_path):
    ds = make(n_train=2, n_val=0, n_test=1)
    path = ds.write(tmp_path / "lc")
    with np.load(path) as stored:
        np.testing.assert_array_equal(stored["train/x"], ds.load(0)["train/x"])
    assert path.with_suffix(".json").exists()
