"""synth-sar-optical: same scenes as synth-landcover, SAR backscatter, clouds per split."""

from __future__ import annotations

import numpy as np
import pydantic
import pytest

from xaibench_synth import plugin
from xaibench_synth.bands import FOREST, GRASSLAND, URBAN, WATER
from xaibench_synth.landcover import SynthLandcover
from xaibench_synth.sar import scale_db, unscale_db
from xaibench_synth.sar_optical import SynthSarOptical

from .helpers import interior


def make(**params) -> SynthSarOptical:
    params = {"n_train": 8, "n_val": 2, "n_test": 8, **params}
    return SynthSarOptical(SynthSarOptical.Params(**params))


def test_registered_by_the_plugin():
    got = []
    plugin.register_datasets(lambda cls, name=None: got.append(cls))
    assert SynthSarOptical in got


def test_same_scenes_and_optical_bands_as_landcover_without_clouds():
    lc = SynthLandcover(SynthLandcover.Params(n_train=8, n_val=2, n_test=8)).load(0)
    so = make().load(0)
    for split in ("train", "val", "test"):
        assert np.array_equal(lc[f"{split}/mask"], so[f"{split}/mask"])
        assert np.array_equal(lc[f"{split}/labels"], so[f"{split}/labels"])
        assert np.array_equal(lc[f"{split}/x"], so[f"{split}/x"][:, :13])
        assert not so[f"{split}/cloud_mask"].any()


def test_bands_and_info_follow_modalities_and_polarizations():
    info = make().info()
    assert [b.name for b in info.bands][-2:] == ["VV", "VH"] and info.n_bands == 15
    assert [b.modality for b in info.bands].count("s1") == 2 and info.modalities == ("s2", "s1")
    assert make().load(0)["train/x"].shape == (8, 15, 64, 64)

    sar_only = make(modalities=["s1"])
    assert sar_only.info().n_bands == 2 and "clouds" not in sar_only.info().provides
    data = sar_only.load(0)
    assert data["train/x"].shape == (8, 2, 64, 64) and "train/cloud_mask" not in data
    np.testing.assert_array_equal(data["train/x"], make().load(0)["train/x"][:, 13:])

    vv = make(modalities=["s1"], polarizations=["VV"])
    assert [b.name for b in vv.info().bands] == ["VV"]
    np.testing.assert_array_equal(vv.load(0)["train/x"][:, 0], data["train/x"][:, 0])

    flipped = make(modalities=["s1", "s2"], polarizations=["VH", "VV"])
    assert [b.name for b in flipped.info().bands][:2] == ["VH", "VV"]
    np.testing.assert_array_equal(flipped.load(0)["train/x"][:, 2:], make().load(0)["train/x"][:, :13])


def test_cloud_fraction_matches_the_parameter_per_split():
    data = make(n_train=40, n_val=0, n_test=40, train_cloud_fraction=0.3, test_cloud_fraction=[0.0, 0.6]).load(0)
    train, test = data["train/cloud_mask"], data["test/cloud_mask"]
    assert train.dtype == np.uint8 and set(np.unique(train)) <= {0, 1}
    np.testing.assert_allclose(train.mean(axis=(1, 2)), 0.3, atol=1 / 4096)  # fixed fraction: exact per patch
    per_patch = test.mean(axis=(1, 2))
    assert per_patch.min() >= 0.0 and per_patch.max() <= 0.6 + 1 / 4096
    assert abs(per_patch.mean() - 0.3) < 0.08 and per_patch.std() > 0.1  # uniform on [0, 0.6]
    np.testing.assert_allclose(data["test/cloud_fraction"], per_patch)


def test_val_clouds_default_to_train_and_info_reports_them():
    ds = make(train_cloud_fraction=[0.1, 0.2])
    assert ds.info().extra["cloud_fraction"] == {"train": [0.1, 0.2], "val": [0.1, 0.2], "test": [0.0, 0.0]}
    frac = ds.load(0)["val/cloud_fraction"]
    assert ((frac >= 0.1 - 1e-3) & (frac <= 0.2 + 1e-3)).all()


def test_clouds_are_bright_and_flat_and_leave_sar_untouched():
    clear = make(noise=0.0).load(0)
    cloudy = make(noise=0.0, train_cloud_fraction=0.5).load(0)
    np.testing.assert_array_equal(clear["train/x"][:, 13:], cloudy["train/x"][:, 13:])  # SAR untouched
    np.testing.assert_array_equal(clear["train/mask"], cloudy["train/mask"])
    cm = cloudy["train/cloud_mask"].astype(bool)
    x, x0 = cloudy["train/x"], clear["train/x"]
    visible = x[:, [1, 2, 3, 7]].transpose(1, 0, 2, 3)[:, cm]  # B2 B3 B4 B8 under clouds
    assert visible.mean() > 0.3 and np.median(visible.max(0) / visible.min(0)) < 1.3
    assert x[:, 10][cm].mean() > 0.08 > x0[:, 10][cm].mean()  # the cirrus band sees clouds only
    unchanged = (x[:, :13] == x0[:, :13]).all(axis=1)
    assert not unchanged[cm].any() and unchanged[~cm].mean() > 0.8  # only a thin transparent rim outside the mask


def test_sar_class_means_and_speckle():
    data = make(n_train=60, n_val=0, n_test=0, modalities=["s1"]).load(0)
    db = unscale_db(data["train/x"])
    mask = data["train/mask"]
    vv = {c: db[:, 0][interior(mask, c)] for c in (FOREST, GRASSLAND, URBAN, WATER)}
    means = {c: 10 * np.log10(np.mean(10 ** (v / 10))) for c, v in vv.items()}  # mean in linear power
    assert means[URBAN] > means[FOREST] > means[GRASSLAND] > means[WATER] + 6
    assert abs(means[WATER] - (-21.0)) < 1.5
    vh = db[:, 1][interior(mask, FOREST)]
    assert 10 * np.log10(np.mean(10 ** (vh / 10))) < means[FOREST] - 3  # cross-pol weaker than co-pol
    # speckle: Gamma(L) intensity has a coefficient of variation 1/sqrt(L) (texture adds a little)
    water = 10 ** (vv[WATER] / 10)
    assert 0.45 < water.std() / water.mean() < 0.65


def test_looks_control_speckle_strength():
    def cv(looks: float) -> float:
        data = make(n_train=20, n_val=0, n_test=0, modalities=["s1"], looks=looks).load(0)
        lin = 10 ** (unscale_db(data["train/x"][:, 0])[interior(data["train/mask"], WATER)] / 10)
        return float(lin.std() / lin.mean())

    assert cv(1.0) > 1.5 * cv(16.0)


def test_db_scaling_round_trip():
    db = np.array([-40.0, -30.0, -12.5, 5.0, 9.0], dtype=np.float32)
    x = scale_db(db)
    np.testing.assert_allclose(x, [0.0, 0.0, 0.5, 1.0, 1.0])
    np.testing.assert_allclose(unscale_db(x)[1:4], db[1:4], atol=1e-5)


def test_params_are_validated():
    for bad in (
        {"modalities": []},
        {"modalities": ["s2", "s2"]},
        {"polarizations": ["HH"]},
        {"train_cloud_fraction": 1.5},
        {"test_cloud_fraction": [0.5, 0.2]},
    ):
        with pytest.raises(pydantic.ValidationError):
            SynthSarOptical.Params(**bad)
