"""eurosat: class folders, georeferenced centres, bioclimatic vectors from a CSV or WorldClim rasters, region splits."""

from __future__ import annotations

import logging
import shutil

import numpy as np
import pytest

from xaibench_eodata.errors import BadFileError, EmptyDataError, LabelError, MissingDataError
from xaibench_eodata.eurosat import EuroSAT
from xaibench_eodata.tables import EUROSAT_CLASSES

from . import writers as w


def eurosat(root, **params):
    return EuroSAT(EuroSAT.Params(root=str(root), **params)).load(0).collect()


def stacked(b, field):
    return np.concatenate([b[f"{s}/{field}"] for s in ("train", "val", "test") if f"{s}/{field}" in b])


def test_classes_labels_values_and_centres(eurosat_root):
    b = eurosat(eurosat_root)
    ids, label, x = stacked(b, "id"), stacked(b, "label"), stacked(b, "x")
    assert len(ids) == 30 and x.shape[1:] == (13, 64, 64)
    names = [bd.name for bd in EuroSAT(EuroSAT.Params(root="x")).info().bands]
    assert names == ["B1", "B2", "B3", "B4", "B5", "B6", "B7", "B8", "B8A", "B9", "B10", "B11", "B12"]
    for key, c, xi, lat, lon, onehot in zip(ids, label, x, stacked(b, "lat"), stacked(b, "lon"), stacked(b, "labels")):
        cls, i = key.rsplit("_", 1)
        assert EUROSAT_CLASSES[c] == cls and onehot.argmax() == c and onehot.sum() == 1
        expected = [w.eurosat_dn("B8A" if n == "B8A" else f"B{int(n[1:]):02d}", c) / 10000 for n in names]
        np.testing.assert_allclose(xi[:, 0, 0], expected, rtol=1e-6)
        np.testing.assert_allclose((lat, lon), w.eurosat_centre(c, int(i)), atol=1e-5)  # from the UTM GeoTIFF
    # random splits are stratified by class: each class has 3 images -> round(0.6) = 1 in test
    assert np.bincount(b["test/label"], minlength=10).tolist() == [1] * 10
    info = EuroSAT(EuroSAT.Params(root="x")).info()
    assert info.task == "singlelabel" and info.classes == EUROSAT_CLASSES and info.provides == {"geo"}


def test_b8a_is_band_13_of_the_published_files(eurosat_root, eo_cli):
    """The published EuroSAT_MS GeoTIFFs store B01..B12 then B8A (phelber/EuroSAT#7, torchgeo#2458 fixed by
    torchgeo PR #2480, ServiceNow/geo-bench#28); the fixture writes each band's wavelength (nm) as its DN, so a
    channel read from the wrong file band shows another band's wavelength."""
    info = EuroSAT(EuroSAT.Params(root="x")).info()
    x = eurosat(eurosat_root, classes=["AnnualCrop"], test_fraction=0.4)["train/x"]  # class 0: DN = wavelength
    for ch, band in enumerate(info.bands):  # every channel holds its own band: DN == its central wavelength
        assert abs(x[0, ch, 0, 0] * 10000 - band.wavelength_nm) < 1.0, (ch, band.name, x[0, ch, 0, 0] * 10000)
    b8a = eurosat(eurosat_root, bands=["B8A"], classes=["AnnualCrop"], test_fraction=0.4)
    np.testing.assert_allclose(b8a["train/x"][:, 0], 865 / 10000, rtol=1e-6)  # file band 13
    b9 = eurosat(eurosat_root, bands=["B09"], classes=["AnnualCrop"], test_fraction=0.4)
    np.testing.assert_allclose(b9["train/x"][:, 0], 945 / 10000, rtol=1e-6)  # file band 9
    assert EuroSAT(EuroSAT.Params(root="x", bands=["B8A", "B9"])).info().extra["band_source"] == ["band 13 of 13",
                                                                                                  "band 9 of 13"]
    code, out, err = eo_cli("data", "check", "eurosat", "--root", str(eurosat_root), "-p", "classes=[AnnualCrop, Forest]")
    assert code == 0, err
    row = next(line for line in out.splitlines() if line.startswith("│ 9 "))
    assert "│ B8A " in row and "band 13 of 13" in row and "│ 0.0865 " in row  # min: DN 865 / 10000 (AnnualCrop)


def test_a_subset_of_class_folders(eurosat_root, tmp_path):
    root = tmp_path / "two"
    w.make_eurosat(root, classes=("Forest", "River"))
    b = eurosat(root, classes=["River", "Forest"], test_fraction=0.34)
    assert set(stacked(b, "label")) == {0, 1} and b["train/labels"].shape[1] == 2
    assert all(k.startswith("River") for k, c in zip(stacked(b, "id"), stacked(b, "label")) if c == 0)
    assert EuroSAT(EuroSAT.Params(root="x", classes=["River", "Forest"])).info().classes == ("River", "Forest")
    with pytest.raises(EmptyDataError, match=r"has no class folder AnnualCrop, .*SeaLake \(found: Forest, River\); set `classes`"):
        eurosat(root)
    with pytest.raises(ValueError, match="classes must be among"):
        EuroSAT.Params(root="x", classes=["Desert"])


def test_csv_vectors_regions_and_region_split(eurosat_root):
    csv = str(eurosat_root / "eurosat_meta.csv")
    b = eurosat(eurosat_root, aux="csv", metadata_csv=csv, test_regions=["alpine"], val_fraction=0)
    assert b.meta["regions"] == ["alpine", "atlantic", "continental"] and b.meta["aux_names"] == [
        "worldclim_bio_1", "worldclim_bio_2", "worldclim_bio_10"]  # fmt: skip
    assert set(b["test/region"]) == {0} and set(b["train/region"]) == {1, 2}
    assert all(k.endswith("_1") for k in b["test/id"])  # image i has region (i - 1) % 3
    for split in ("train", "test"):
        for key, phys in zip(b[f"{split}/id"], b[f"{split}/aux_physical"]):
            cls, i = key.rsplit("_", 1)
            c = EUROSAT_CLASSES.index(cls)
            np.testing.assert_allclose(phys, [10 + c, 20 + int(i), c * int(i)])
    lo, hi = b["train/aux_physical"].min(0), b["train/aux_physical"].max(0)
    np.testing.assert_allclose(b["train/aux"], (b["train/aux_physical"] - lo) / (hi - lo), rtol=1e-6)
    assert b["train/aux"].min() == 0 and b["train/aux"].max() == 1
    assert b["test/aux"][:, 1].max() < 0  # test images (i = 1) lie below the training range of BIO2: not clipped
    train_only = eurosat(eurosat_root, metadata_csv=csv, train_regions=["atlantic"], test_regions=["alpine"])
    assert set(stacked(train_only, "region")) == {0, 1} and "train/aux" not in train_only
    info = EuroSAT(EuroSAT.Params(root="x", aux="csv", metadata_csv=csv)).info()
    assert {"aux", "region", "geo"} <= info.provides


def test_worldclim_sampling_nearest_and_no_data(eurosat_root, tmp_path, caplog):
    wc = w.make_worldclim(tmp_path / "wc", ocean=(44, 3))  # the cell of AnnualCrop_1 (44.8 N, 3.55 E)
    b = eurosat(eurosat_root, aux="worldclim", worldclim_dir=str(wc), nodata_search_px=0, max_bad_fraction=0.05)
    assert "AnnualCrop_1" not in stacked(b, "id") and b.meta["n_skipped"] == 1
    lat, lon, phys = stacked(b, "lat"), stacked(b, "lon"), stacked(b, "aux_physical")
    assert phys.shape[1] == 20 and b.meta["aux_names"][-1] == "elevation"
    for la, lo, row in zip(lat, lon, phys):
        np.testing.assert_allclose(row, [w.worldclim_value(v, la, lo) for v in range(1, 21)], rtol=1e-6)
    with caplog.at_level(logging.WARNING, logger="xaibench"):
        near = eurosat(eurosat_root, aux="worldclim", worldclim_dir=str(wc), nodata_search_px=1)
    assert "AnnualCrop_1" in stacked(near, "id") and not np.isnan(stacked(near, "aux_physical")).any()
    with pytest.raises(BadFileError, match="no valid pixel within 0 px of AnnualCrop_1"):
        eurosat(eurosat_root, aux="worldclim", worldclim_dir=str(wc), nodata_search_px=0)
    (wc / "wc2.1_10m_bio_7.tif").unlink()
    with pytest.raises(MissingDataError, match=r"lacks WorldClim 2.1 BIO rasters \[7\]"):
        eurosat(eurosat_root, aux="worldclim", worldclim_dir=str(wc))


def test_eurosat_bad_inputs(eurosat_root, tmp_path):
    root = tmp_path / "e"
    shutil.copytree(eurosat_root, root)
    csv = root / "eurosat_meta.csv"
    text = csv.read_text()
    csv.write_text(text.replace("Forest_2.tif,Forest,11,22", "Forest_2.tif,Forest,eleven,22"))
    with pytest.raises(LabelError, match="row of Forest_2: non-numeric value"):
        eurosat(root, aux="csv", metadata_csv=str(csv))
    csv.write_text("\n".join(line for line in text.splitlines() if not line.startswith("River_3")))
    with pytest.raises(LabelError, match="River_3.tif: has no row in"):
        eurosat(root, aux="csv", metadata_csv=str(csv))
    csv.write_text(text.replace("biogeographic_region", "zone"))
    with pytest.raises(LabelError, match="has no biogeographic region column"):
        eurosat(root, metadata_csv=str(csv))
    csv.write_text(text + "broken,row\n")
    with pytest.raises(LabelError, match="row 32 has 2 fields, the header 6"):
        eurosat(root, metadata_csv=str(csv))
    w.write_tif(root / w.EUROSAT_DIR / "Highway" / "Highway_2.tif", w.s2_patch(0, 64)[:3])
    with pytest.raises(BadFileError, match="Highway_2.tif: has 3 bands, expected 13"):
        eurosat(root)
    shutil.rmtree(root / w.EUROSAT_DIR / "SeaLake")
    with pytest.raises(EmptyDataError, match="has no class folder SeaLake"):
        eurosat(root)
    with pytest.raises(ValueError, match="aux: csv needs metadata_csv"):
        EuroSAT.Params(root="x", aux="csv")
