"""dfc2020 and sen12ms: values, masks, the 8-class reduction, the >10 % rule, splits, cloudy sampling, bad files."""

from __future__ import annotations

import logging

import numpy as np
import pytest

from xaibench_eodata.errors import BadFileError, EmptyDataError, MissingDataError
from xaibench_eodata.sen12ms import DFC2020, Sen12ms
from xaibench_eodata.tables import DFC10_TO_8, LANDCOVER8

from . import writers as w

FOREST, SHRUB, GRASS, WETLAND, CROP, URBAN, BARREN, WATER = range(8)


def dfc(root, **params):
    return DFC2020(DFC2020.Params(root=str(root), **params)).load(0).collect()


def rows(bundle, split="train"):
    """id -> row index."""
    return {k: i for i, k in enumerate(bundle[f"{split}/id"])}


def test_dfc2020_values_units_and_georeferencing(dfc_root):
    b = dfc(dfc_root, modalities=["s2", "s1"])
    x = np.concatenate([b["train/x"], b["test/x"]])
    assert x.shape[1:] == (15, 256, 256) and x.dtype == np.float32
    assert np.all(x == x[:, :, :1, :1])  # fixture bands are constant
    k = np.round(x[:, 0, 0, 0] * 10000 - 1000).astype(int)  # sample index written into every DN
    assert sorted(k) == list(range(8))
    for band in range(13):  # reflectance = DN / 10000, in the 13-band L1C order
        np.testing.assert_allclose(x[:, band, 0, 0], (1000 + 100 * band + k) / 10000, rtol=1e-6)
    np.testing.assert_allclose(x[:, 13, 0, 0], (-10 - k + 25) / 25, rtol=1e-6)  # VV, [-25, 0] dB -> [0, 1]
    np.testing.assert_allclose(x[:, 14, 0, 0], np.clip((-20 - k + 25) / 25, 0, 1), rtol=1e-6, atol=1e-7)
    lat, lon = b["train/lat"], b["train/lon"]
    np.testing.assert_allclose(lon, w.CENTRE_LATLON[1], atol=1e-6)
    np.testing.assert_allclose(lat, w.CENTRE_LATLON[0], atol=2e-3)


def test_dfc2020_masks_labels_and_the_ten_percent_rule(dfc_root):
    b = dfc(dfc_root)
    r = rows(b, "test")  # the validation subset is the test split by default
    mask, labels, frac = b["test/mask"], b["test/labels"], b["test/fractions"]
    p30, p31, p32 = r["ROIs0000_validation_0_p30"], r["ROIs0000_validation_0_p31"], r["ROIs0000_validation_0_p32"]
    assert mask.dtype == np.int64 and mask.shape == (3, 256, 256)
    assert mask[p30, 0, 0] == FOREST and mask[p30, 255, 0] == WATER
    np.testing.assert_allclose(frac[p31][[GRASS, CROP]], [0.25, 0.75])
    assert labels[p31].tolist() == [0, 0, 1, 0, 1, 0, 0, 0] and b["test/label"][p31] == CROP
    # Savanna (code 3) is ignored: -1 in the mask, excluded from the shares
    assert mask[p32, 255, 255] == -1 and mask[p32, 0, 0] == URBAN
    assert frac[p32][URBAN] == 1.0 and labels[p32].sum() == 1
    with_map = dfc(dfc_root, class_map={**DFC10_TO_8, 3: "Shrubland"})
    i = rows(with_map, "test")["ROIs0000_validation_0_p32"]
    np.testing.assert_allclose(with_map["test/fractions"][i][[SHRUB, URBAN]], [0.25, 0.75])


def test_dfc2020_subsets_bands_and_polarizations(dfc_root):
    b = dfc(dfc_root, train_subsets=["validation"], test_subsets=["test"], bands=["B4", "B03", "b2"])
    assert len(b["train/id"]) == 3 and len(b["test/id"]) == 5
    x = b["train/x"][:, :, 0, 0]
    np.testing.assert_allclose(x[:, 0] - x[:, 2], 0.02, atol=1e-6)  # B4 - B2 = 200 DN
    s1 = dfc(dfc_root, modalities=["s1"], polarizations=["VH"], s1_db_range=[-30, 5])["train/x"]
    assert s1.shape[1] == 1
    k = np.arange(8)
    assert np.isclose(s1[:, 0, 0, 0][:, None], ((-20 - k + 30) / 35)[None], atol=1e-6).any(axis=1).all()
    ds = DFC2020(DFC2020.Params(root="x", modalities=["s1", "s2"], bands=["B8A"], polarizations=["VH"]))
    info = ds.info()
    assert [bd.name for bd in info.bands] == ["VH", "B8A"] and info.modalities == ("s1", "s2")
    assert info.bands[1].wavelength_nm == pytest.approx(864.7) and info.classes == LANDCOVER8
    assert {"mask", "fractions", "geo"} <= info.provides and info.extra["mask_ignore_index"] == -1


@pytest.mark.parametrize("params", [{"bands": ["B10", "B10"]}, {"modalities": []}, {"class_map": {1: "Savanna"}},
                                    {"train_subsets": ["test"], "test_subsets": ["test"]}, {"unknown": 1}])
def test_dfc2020_rejects_bad_params(params):
    with pytest.raises(ValueError):
        DFC2020.Params(root="x", **params)


@pytest.mark.parametrize(
    "kind, data, message",
    [
        ("s2", w.s2_patch(0)[:12], "has 12 bands, expected 13"),
        ("s2", w.s2_patch(0)[:, :200], "is 200x256 px, expected 256x256"),
        ("s2", w.s2_patch(0).astype(np.float32), "has dtype float32, expected uint16 or int16"),
        ("s1", w.s1_patch(0).astype(np.int16), "has dtype int16, expected float32 or float64"),
        ("dfc", w.block_mask((1, 2, 44, 4)), r"unexpected class codes \[44\]"),
        ("dfc", w.block_mask((1, 2, 3, 4)).astype(np.float32), "has dtype float32"),
    ],
)
def test_dfc2020_malformed_files_are_named(dfc_copy, kind, data, message):
    path = dfc_copy / "ROIs0000_test" / f"{kind}_0" / f"ROIs0000_test_{kind}_0_p1.tif"
    w.write_tif(path, data)
    with pytest.raises(BadFileError, match=f"{path.name}: {message}"):
        dfc(dfc_copy, modalities=["s2", "s1"])


def test_dfc2020_missing_and_empty_roots(tmp_path):
    with pytest.raises(MissingDataError, match="dfc2020 root does not exist"):
        dfc(tmp_path / "nope")
    (tmp_path / "file").write_text("")
    with pytest.raises(MissingDataError, match="is not a directory"):
        dfc(tmp_path / "file")
    (tmp_path / "empty" / "ROIs0000_validation").mkdir(parents=True)
    with pytest.raises(EmptyDataError, match="no DFC2020 patches .* found .*expected ROIs0000_validation/s2_validation"):
        dfc(tmp_path / "empty")


# ----------------------------------------------------------------------------- SEN12MS
def s12(roots, **params):
    root, cr = roots
    return Sen12ms(Sen12ms.Params(root=str(root), **params)).load(0).collect()


def test_sen12ms_igbp_reduction_and_unusable_patches(sen12ms_roots, caplog):
    with caplog.at_level(logging.INFO, logger="xaibench"):
        b = s12(sen12ms_roots, test_seasons=["summer"], val_fraction=0)
    assert sorted(b["test/id"]) == ["ROIs1868_summer_5_p10", "ROIs1868_summer_6_p11"]
    train = rows(b)
    assert "ROIs1970_fall_3_p7" not in train  # all snow/ice: dropped, counted, not a bad file
    assert b.meta["dropped"] == {"train": 1} and b.meta["n_skipped"] == 0 and "ROIs1970_fall_3_p7" in caplog.text
    f = b["train/fractions"]
    np.testing.assert_allclose(f[train["ROIs1158_spring_1_p30"]][[FOREST, GRASS, CROP, URBAN]], 0.25)  # IGBP 1, 10, 12, 13
    # woody savannas (8) and savannas (9) ignored: grassland is all that is left
    assert b["train/labels"][train["ROIs1158_spring_2_p40"]].tolist() == [0, 0, 1, 0, 0, 0, 0, 0]
    test = rows(b, "test")  # mosaic (14) -> cropland, closed shrubland (6), wetland (11)
    np.testing.assert_allclose(b["test/fractions"][test["ROIs1868_summer_5_p10"]][[CROP, SHRUB, WETLAND]], [0.5, 0.25, 0.25])


def test_sen12ms_cloudy_sampling_is_seeded_and_reports_missing_counterparts(sen12ms_roots, caplog):
    root, cr = sen12ms_roots
    never = s12(sen12ms_roots, cloudy_root=str(cr), cloudy_probability=0.0, test_seasons=["summer"])
    assert never["train/cloudy"].sum() == 0 and "clouds" not in Sen12ms(Sen12ms.Params(root="x")).info().provides
    with caplog.at_level(logging.WARNING, logger="xaibench"):
        always = s12(sen12ms_roots, cloudy_root=str(cr), cloudy_probability=1.0, test_seasons=["summer"])
    for split in ("train", "test"):
        r = rows(always, split)
        for key, i in r.items():
            has_cloudy = key in ("ROIs1158_spring_1_p30", "ROIs1868_summer_5_p10")
            assert always[f"{split}/cloudy"][i] == has_cloudy and always[f"{split}/cloudy_drawn"][i] == 1
            expected = 0.9 if has_cloudy else never[f"{split}/x"][rows(never, split)[key], 0, 0, 0]
            assert always[f"{split}/x"][i, 0, 0, 0] == pytest.approx(expected)
            assert np.array_equal(always[f"{split}/mask"][i], never[f"{split}/mask"][rows(never, split)[key]])
    assert "samples drawn cloudy have no SEN12MS-CR counterpart" in caplog.text
    assert always.meta["cloudy_missing"] == {"train": 3, "test": 1}
    half = [s12(sen12ms_roots, cloudy_root=str(cr), cloudy_probability=0.5, cloudy_seed=s, test_seasons=["summer"])["train/cloudy_drawn"]
            for s in (0, 0, 1, 2, 3)]
    assert np.array_equal(half[0], half[1]) and any(not np.array_equal(half[0], h) for h in half[2:])
    only_train = s12(sen12ms_roots, cloudy_root=str(cr), cloudy_probability=1.0, cloudy_splits=["train"], test_seasons=["summer"])
    assert only_train["test/cloudy_drawn"].sum() == 0 and only_train["train/cloudy_drawn"].all()
    with pytest.raises(ValueError, match="needs cloudy_root"):
        Sen12ms.Params(root="x", cloudy_probability=0.5)


def test_sen12ms_missing_land_cover_is_a_pair_problem(sen12ms_roots, tmp_path):
    import shutil

    root = tmp_path / "s"
    shutil.copytree(sen12ms_roots[0], root)
    (root / "ROIs1158_spring" / "lc_1" / "ROIs1158_spring_lc_1_p31.tif").unlink()
    with pytest.raises(Exception, match=r"ROIs1158_spring_s2_1_p31.tif: has no lc counterpart"):
        Sen12ms(Sen12ms.Params(root=str(root))).load(0).collect()


def test_sen12ms_hold_out_scenes_file_is_a_split_file(sen12ms_roots, tmp_path):
    """splits/SEN12MS_holdOutScenes.txt (github.com/schmitt-muc/SEN12MS) names scene folders ("ROIs1158_spring/s1_63"):
    all patches of a listed scene form the test split, the other patches train (val carved from them by scene)."""
    holdout = tmp_path / "SEN12MS_holdOutScenes.txt"
    holdout.write_text("ROIs1158_spring/s1_1\nROIs1868_summer/s1_6\nROIs1970_fall/s1_120\n")  # fall 120: not in the copy
    b = s12(sen12ms_roots, split_files={"test": str(holdout)}, val_fraction=0)
    assert sorted(b["test/id"]) == ["ROIs1158_spring_1_p30", "ROIs1158_spring_1_p31", "ROIs1868_summer_6_p11"]
    assert sorted(b["train/id"]) == ["ROIs1158_spring_2_p40", "ROIs1868_summer_5_p10", "ROIs2017_winter_9_p9"]
    assert b.meta["absent"]["count"] == 1 and b.meta["absent"]["examples"] == ["ROIs1970_fall/s1_120"]
    assert b.meta["split_rule"].startswith("split_files; train = samples no split file lists")
    with_val = s12(sen12ms_roots, split_files={"test": str(holdout)}, val_fraction=0.34)
    val_scenes = {k.rsplit("_", 1)[0] for k in with_val["val/id"]}
    assert len(val_scenes) == 1 and not val_scenes & {k.rsplit("_", 1)[0] for k in with_val["train/id"]}


def test_pre_cropped_copies_set_size(tmp_path):
    """Community copies cropped to 128 px are read with `size: 128` (or `size: null`); the published 256 is the default."""
    root = tmp_path / "DFC128"
    for k, ((subset, scene, patch), codes) in enumerate(sorted(w.DFC_PATCHES.items())):
        base = root / f"ROIs0000_{subset}"
        suffix = "validation" if subset == "validation" else "0"
        stem = f"ROIs0000_{subset}_{{kind}}_{scene}_p{patch}"
        w.write_tif(base / f"s2_{suffix}" / f"{stem.format(kind='s2')}.tif", w.s2_patch(k, 128))
        w.write_tif(base / f"s1_{suffix}" / f"{stem.format(kind='s1')}.tif", w.s1_patch(k, 128))
        w.write_tif(base / f"dfc_{suffix}" / f"{stem.format(kind='dfc')}.tif", w.block_mask(codes, 128))
    with pytest.raises(BadFileError, match="is 128x128 px, expected 256x256"):
        dfc(root)
    for size in (128, None):
        b = dfc(root, size=size, modalities=["s2", "s1"])
        assert b["train/x"].shape[1:] == (15, 128, 128) and b["test/mask"].shape[1:] == (128, 128)
    odd = next(root.rglob("ROIs0000_test_dfc_0_p1.tif"))
    w.write_tif(odd, w.block_mask((5, 1, 1, 1), 256))
    with pytest.raises(BadFileError, match=r"ROIs0000_test_dfc_0_p1.tif: is 256x256 px, the sample's other files 128x128"):
        dfc(root, size=None)
