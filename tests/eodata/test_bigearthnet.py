"""bigearthnet and ben-ge: per-band GeoTIFFs resampled to 120x120, CORINE -> 19 labels, S1 pairing, WorldCover masks."""

from __future__ import annotations

import json
import logging

import numpy as np
import pytest

from xaibench_eodata.bigearthnet import BenGe, BigEarthNet
from xaibench_eodata.errors import BadFileError, LabelError, MissingDataError, PairError
from xaibench_eodata.tables import BEN19, S2_L2A_NAMES

from . import writers as w

NAMES = sorted(w.BEN_PATCHES)
UNLABELLED = "S2A_MSIL2A_20171002T112112_63_64"  # only "Intertidal flats"


def ben(s2, s1=None, **params):
    return BigEarthNet(BigEarthNet.Params(root=str(s2), s1_root=None if s1 is None else str(s1), **params)).load(0).collect()


def all_rows(b):
    """id -> (split, row)."""
    return {k: (s, i) for s in ("train", "val", "test") if f"{s}/id" in b for i, k in enumerate(b[f"{s}/id"])}


def get(b, field, key):
    split, i = all_rows(b)[key]
    return b[f"{split}/{field}"][i]


def test_bands_are_resampled_to_120_in_l2a_order_with_reflectance(ben_roots):
    b = ben(ben_roots[0], val_fraction=0, test_fraction=0.4)
    assert b["train/x"].shape[1:] == (12, 120, 120)
    for name in NAMES:
        if name == UNLABELLED:
            continue
        x, k = get(b, "x", name), NAMES.index(name)
        for c, band in enumerate(S2_L2A_NAMES):
            expected = w.s2_dn(w.S2_13.index(band), k) / 10000
            if band == "B2":  # the x gradient of B02 survives, unflipped
                np.testing.assert_allclose(x[c, 7], expected + np.arange(120) / 10000, rtol=1e-6)
            else:  # 20x20 / 60x60 constant bands resampled bilinearly stay constant
                np.testing.assert_allclose(x[c], expected, rtol=1e-6)
    np.testing.assert_allclose(b["train/lon"], 9.0, atol=1e-6)


def test_corine_labels_map_to_the_19_classes_and_unlabelled_patches_drop(ben_roots, caplog):
    with caplog.at_level(logging.INFO, logger="xaibench"):
        b = ben(ben_roots[0], val_fraction=0, test_fraction=0.4)
    assert UNLABELLED not in all_rows(b) and sum(b.meta["dropped"].values()) == 1 and "Intertidal flats" in caplog.text
    on = lambda key: [BEN19[j] for j in np.flatnonzero(get(b, "labels", key))]  # noqa: E731
    assert on("S2A_MSIL2A_20170613T101031_0_45") == ["Coniferous forest", "Mixed forest", "Transitional woodland, shrub"]
    assert on("S2A_MSIL2A_20170613T101031_0_46") == ["Urban fabric", "Arable land"]
    assert on("S2B_MSIL2A_20180204T94160_53_86") == ["Pastures", "Inland wetlands", "Inland waters"]
    assert on("S2A_MSIL2A_20180413T95032_82_18") == ["Permanent crops", "Moors, heathland and sclerophyllous vegetation"]
    kept = ben(ben_roots[0], val_fraction=0, test_fraction=0.4, drop_unlabelled=False)
    assert get(kept, "labels", UNLABELLED).sum() == 0


def test_s1_pairs_through_the_metadata_and_scales_db(ben_roots):
    s2, s1 = ben_roots
    b = ben(s2, s1, modalities=["s2", "s1"], val_fraction=0, test_fraction=0.4)
    for name in all_rows(b):
        x, k = get(b, "x", name), NAMES.index(name)
        np.testing.assert_allclose(x[12:, 0, 0], [(-10 - k + 25) / 25, max((-20 - k + 25) / 25, 0)], atol=1e-6)
    only = ben(s2, s1, modalities=["s1"], polarizations=["VH"], val_fraction=0, test_fraction=0.4)
    assert only["train/x"].shape[1:] == (1, 120, 120) and set(all_rows(only)) == set(all_rows(b))
    assert BigEarthNet(BigEarthNet.Params(root="x", s1_root="y", modalities=["s1"])).info().bands[0].modality == "s1"
    with pytest.raises(ValueError, match="need s1_root"):
        BigEarthNet.Params(root="x", modalities=["s1", "s2"])
    alone = ben(s1, modalities=["s1"], val_fraction=0, test_fraction=0.4)  # root is the S1 copy itself
    assert set(all_rows(alone)) == set(all_rows(only))


def test_official_split_files_and_exclusions(ben_roots, tmp_path):
    (tmp_path / "train.csv").write_text("\n".join(NAMES[:3]) + "\n")
    (tmp_path / "test.csv").write_text("\n".join(NAMES[3:5]) + "\n")
    (tmp_path / "snow.csv").write_text(NAMES[0] + "\n")
    b = ben(ben_roots[0], split_files={"train": str(tmp_path / "train.csv"), "test": str(tmp_path / "test.csv")},
            exclude_files=[str(tmp_path / "snow.csv")])  # fmt: skip
    assert list(b["train/id"]) == [NAMES[1]]  # NAMES[0] excluded, NAMES[2] has no 19-class label
    assert sorted(b["test/id"]) == sorted(NAMES[3:5])


def test_bigearthnet_bad_inputs(ben_copy):
    s2, s1 = ben_copy
    name = NAMES[1]
    folder = s2 / name
    (folder / f"{name}_labels_metadata.json").write_text("{not json")
    with pytest.raises(LabelError, match=f"{name}_labels_metadata.json: cannot parse JSON"):
        ben(s2)
    (folder / f"{name}_labels_metadata.json").write_text(json.dumps({"labels": ["Moon craters"]}))
    with pytest.raises(LabelError, match="unknown label 'Moon craters'"):
        ben(s2)
    (folder / f"{name}_labels_metadata.json").write_text(json.dumps({"tags": []}))
    with pytest.raises(LabelError, match="has no 'labels' list"):
        ben(s2)
    w.write_ben_s2(s2, name, ["Pastures"], 1)
    w.write_tif(folder / f"{name}_B05.tif", np.zeros((120, 120), np.uint16))
    with pytest.raises(BadFileError, match=f"{name}_B05.tif: is 120x120 px, expected 60x60"):
        ben(s2)
    (folder / f"{name}_B05.tif").unlink()
    with pytest.raises(MissingDataError, match=f"{name}_B05.tif: file does not exist"):
        ben(s2)
    w.write_ben_s2(s2, name, ["Pastures"], 1)
    s1_name = w.BEN_PATCHES[name][0]
    (s1 / s1_name / f"{s1_name}_labels_metadata.json").write_text(json.dumps({"labels": []}))
    with pytest.raises(LabelError, match="has no 'corresponding_s2_patch'"):
        ben(s2, s1, modalities=["s2", "s1"])
    import shutil

    shutil.rmtree(s1 / s1_name)
    with pytest.raises(PairError, match=f"{name}: has no Sentinel-1 counterpart under s1_root"):
        ben(s2, s1, modalities=["s2", "s1"])
    b = ben(s2, s1, modalities=["s2", "s1"], max_bad_fraction=0.2, test_fraction=0.4, val_fraction=0)
    assert name not in all_rows(b) and b.meta["n_skipped"] == 1


# ----------------------------------------------------------------------------- ben-ge
def benge(root, **params):
    return BenGe(BenGe.Params(root=str(root), val_fraction=0, test_fraction=0.4, **params)).load(0).collect()


def test_benge_worldcover_mask_labels_and_metadata(benge_root):
    b = benge(benge_root, modalities=["s2", "s1"])
    assert b["train/x"].shape[1:] == (14, 120, 120)
    assert set(all_rows(b)) == set(NAMES)  # worldcover labels: even the CORINE-unlabelled patch has a map
    FOREST, SHRUB, GRASS, WETLAND, CROP, URBAN, BARREN, WATER = range(8)
    m = get(b, "mask", "S2A_MSIL2A_20180413T95032_82_18")  # moss, cropland / shrubland, snow
    assert (m[0, 0], m[0, 119], m[119, 0], m[119, 119]) == (GRASS, CROP, SHRUB, -1)
    np.testing.assert_allclose(get(b, "fractions", "S2A_MSIL2A_20180413T95032_82_18")[[GRASS, CROP, SHRUB]], 1 / 3, rtol=1e-6)
    np.testing.assert_allclose(get(b, "fractions", "S2B_MSIL2A_20180204T94160_53_86")[[GRASS, WETLAND, WATER]], [0.25, 0.5, 0.25])
    assert get(b, "labels", "S2A_MSIL2A_20170613T101031_0_46").tolist() == [0, 0, 0, 0, 1, 1, 0, 0]
    assert np.array_equal(get(b, "mask", NAMES[0]), get(b, "landcover", NAMES[0]))
    k = NAMES.index("S2A_MSIL2A_20170613T101031_0_46")
    assert get(b, "lat", NAMES[k]) == 50 + k and get(b, "lon", NAMES[k]) == 10 + k  # from ben-ge_meta.csv
    info = BenGe(BenGe.Params(root="x")).info()
    assert "mask" in info.provides and len(info.classes) == 8


def test_benge_bigearthnet_labels_keep_the_map_apart(benge_root):
    b = benge(benge_root, labels="bigearthnet-19")
    assert b["train/labels"].shape[1] == 19 and "train/mask" not in b and "train/landcover" in b
    info = BenGe(BenGe.Params(root="x", labels="bigearthnet-19")).info()
    assert "mask" not in info.provides and info.classes == BEN19


def test_benge_unknown_worldcover_code_and_missing_patch(benge_root, tmp_path):
    import shutil

    root = tmp_path / "bg"
    shutil.copytree(benge_root, root)
    name = NAMES[2]
    w.write_tif(root / "esaworldcover" / f"{name}_esaworldcover.tif", w.block_mask((10, 10, 10, 33), 120).astype(np.uint8))
    with pytest.raises(BadFileError, match=r"unexpected class codes \[33\]"):
        benge(root)
    w.write_tif(root / "esaworldcover" / f"{name}_esaworldcover.tif", w.block_mask((10, 10, 10, 10), 120).astype(np.uint8))
    shutil.rmtree(root / "sentinel-2" / name)
    with pytest.raises(PairError, match=f"{name}_esaworldcover.tif: has no BigEarthNet-S2 patch folder"):
        benge(root)


def test_official_split_files_on_a_partial_copy(ben_roots, tmp_path, eo_cli):
    """The official 19-class split files list 519,284 patches as "S2 name,S1 name" lines without a header
    (BigEarthNet-MM_19-classes_models splits/*.csv, as torchgeo reads them); a copy holding a handful of
    them loads, and the ids it lacks are counted and named once, never as bad samples."""
    absent = [f"S2A_MSIL2A_20171208T093351_{i // 100}_{i % 100}" for i in range(20000)]
    s1 = "S1B_IW_GRDH_1SDV_20171208T165020_33VWH_0_0"
    files = {}
    for split, names in (("train", NAMES[:3] + absent[:12000]), ("val", absent[12000:15000]),
                         ("test", NAMES[3:5] + absent[15000:])):  # fmt: skip
        files[split] = tmp_path / f"{split}.csv"
        files[split].write_text("".join(f"{n},{s1}\n" for n in names))
    params = {"split_files": {k: str(v) for k, v in files.items()}, "max_bad_fraction": 0}
    b = ben(ben_roots[0], **params)
    assert sorted(b["train/id"]) == sorted(n for n in NAMES[:3] if n != UNLABELLED) and sorted(b["test/id"]) == NAMES[3:5]
    assert b.meta["absent"]["count"] == 20000 and b.meta["absent"]["examples"][0] == absent[0] and b.meta["n_skipped"] == 0
    args = ["data", "check", "bigearthnet", "--root", str(ben_roots[0]), "-p",
            "split_files={" + ", ".join(f"{k}: {v}" for k, v in files.items()) + "}"]  # fmt: skip
    code, out, err = eo_cli(*args)
    assert code == 0, err
    assert out.count("20000 ids listed in split files (train.csv, val.csv, test.csv) are not in this copy") == 1
    assert absent[0] in out and absent[10] not in out and len(out.splitlines()) < 80  # a summary, not 20,000 lines
