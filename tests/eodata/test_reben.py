"""bigearthnet-v2 (reBEN): labels and the official split from metadata.parquet, S2 / S1 folders under their
products, reference maps as masks (19 or 8 classes), partial copies, bad copies.  Conformance, an epoch of
training and a grid with segmentation-agreement on the maps: test_conformance.py and test_models.py."""

from __future__ import annotations

import shutil

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from xaibench_eodata.errors import BadFileError, LabelError, MissingDataError, PairError
from xaibench_eodata.reben import BigEarthNetV2
from xaibench_eodata.tables import BEN19, LANDCOVER8, S2_L2A_NAMES

from . import writers as w

NAMES = sorted(w.V2_PATCHES)
SPLIT = {"train": "train", "validation": "val", "test": "test"}


def ben2(root, **params):
    return BigEarthNetV2(BigEarthNetV2.Params(root=str(root), **params)).load(0).collect()


def where(b, key):
    for s in ("train", "val", "test"):
        if f"{s}/id" in b and key in list(b[f"{s}/id"]):
            return s, list(b[f"{s}/id"]).index(key)
    raise KeyError(key)


def quadrants(mask):
    return mask[0, 0], mask[0, 119], mask[119, 0], mask[119, 119]


def test_official_split_labels_bands_and_s1_partner(ben2_root):
    b = ben2(ben2_root, modalities=["s2", "s1"])
    assert b.meta["split_rule"] == "official"  # from metadata.parquet, 'validation' read as val
    for split in ("train", "val", "test"):
        assert sorted(b[f"{split}/id"]) == sorted(k for k, v in w.V2_PATCHES.items() if SPLIT[v[1]] == split)
    assert b["train/x"].shape[1:] == (14, 120, 120)
    for k, name in enumerate(NAMES):
        split, i = where(b, name)
        x = b[f"{split}/x"][i]
        for c, band in enumerate(S2_L2A_NAMES):  # 20 / 60 px bands resampled to 120, in L2A order
            expected = w.s2_dn(w.S2_13.index(band), k) / 10000
            if band == "B2":
                np.testing.assert_allclose(x[c, 7], expected + np.arange(120) / 10000, rtol=1e-6)
            else:
                np.testing.assert_allclose(x[c], expected, rtol=1e-6)
        np.testing.assert_allclose(x[12:, 0, 0], [(-10 - k + 25) / 25, max((-20 - k + 25) / 25, 0)], atol=1e-6)
        on = [BEN19[j] for j in np.flatnonzero(b[f"{split}/labels"][i])]
        assert sorted(on) == w.v2_labels(w.V2_PATCHES[name][2])  # the metadata's labels


def test_reference_maps_are_masks_in_the_19_classes(ben2_root):
    b = ben2(ben2_root)
    for name in NAMES:
        split, i = where(b, name)
        codes = w.V2_PATCHES[name][2]
        expected = tuple(BEN19.index(w.V2_CLC19[c]) if c and w.V2_CLC19[c] else -1 for c in codes)
        assert quadrants(b[f"{split}/mask"][i]) == expected, name
        labelled = [e for e in expected if e >= 0]
        frac = b[f"{split}/fractions"][i]
        for cls in set(labelled):
            assert frac[cls] == pytest.approx(labelled.count(cls) / len(labelled))
    info = BigEarthNetV2(BigEarthNetV2.Params(root="x")).info()
    assert info.classes == BEN19 and {"mask", "fractions", "geo"} <= info.provides and info.extra["mask_ignore_index"] == -1
    assert "mask" not in BigEarthNetV2(BigEarthNetV2.Params(root="x", reference_maps=False)).info().provides


def test_landcover8_reduction_and_the_ten_percent_rule(ben2_root):
    b = ben2(ben2_root, labels="landcover-8")
    FOREST, SHRUB, GRASS, WETLAND, CROP, URBAN, BARREN, WATER = range(8)
    # docs/datasets.md's table: pastures -> grassland, agro-forestry ignored (savanna-like), intertidal -> wetland
    expected = {
        "S2A_MSIL2A_20170613T101031_N9999_R022_T33UUP_26_57": (FOREST, FOREST, SHRUB, -1),
        "S2A_MSIL2A_20170613T101031_N9999_R022_T33UUP_26_58": (URBAN, CROP, CROP, URBAN),
        "S2B_MSIL2A_20180204T094159_N9999_R036_T33VWH_53_86": (GRASS, WETLAND, WATER, URBAN),
        "S2B_MSIL2A_20170924T112109_N9999_R037_T29TNF_50_14": (WATER, WATER, BARREN, WETLAND),
        "S2A_MSIL2A_20180413T112111_N9999_R037_T29SND_82_18": (CROP, SHRUB, CROP, SHRUB),
        "S2A_MSIL2A_20171002T112111_N9999_R037_T29UNV_63_64": (FOREST, FOREST, -1, GRASS),
    }
    for name, quads in expected.items():
        split, i = where(b, name)
        assert quadrants(b[f"{split}/mask"][i]) == quads, name
    split, i = where(b, NAMES[0])  # T33UUP_26_57: forest 2/3, shrubland 1/3 of the labelled pixels
    assert b[f"{split}/labels"][i].tolist() == [1, 1, 0, 0, 0, 0, 0, 0] and b[f"{split}/label"][i] == FOREST
    assert BigEarthNetV2(BigEarthNetV2.Params(root="x", labels="landcover-8")).info().classes == LANDCOVER8
    with pytest.raises(ValueError, match="landcover-8 comes from the reference maps"):
        BigEarthNetV2.Params(root="x", labels="landcover-8", reference_maps=False)


def test_a_partial_copy_counts_absent_rows_once(ben2_root, eo_cli):
    b = ben2(ben2_root, max_bad_fraction=0)
    assert b.meta["absent"] == {"count": 2, "examples": list(w.V2_ABSENT), "source": "metadata.parquet"}
    assert w.V2_SNOWY not in [k for s in ("train", "val", "test") for k in b[f"{s}/id"]]  # not in metadata.parquet
    code, out, err = eo_cli("data", "check", "bigearthnet-v2", "--root", str(ben2_root), "-p", "modalities=[s2, s1]")
    assert code == 0, err
    assert out.count("2 ids listed in metadata.parquet are not in this copy") == 1 and w.V2_ABSENT[0] in out
    assert "no problems found" in out and "│ train │ 3 " in out and "│ val   │ 1 " in out
    row = next(line for line in out.splitlines() if line.startswith("│ 9 "))
    assert "│ B8A " in row and "<patch>_B8A.tif" in row


def _rewrite_metadata(root, **changes):
    table = pq.read_table(root / "metadata.parquet")
    rows = table.to_pylist()
    for row in rows:
        row.update(changes.get(row["patch_id"], {}))
    drop = changes.get("drop_column")
    new = pa.Table.from_pylist(rows, schema=table.schema)
    if drop:
        new = new.drop_columns([drop])
    pq.write_table(new, root / "metadata.parquet")


def test_bad_copies_fail_in_one_line_or_load_the_rest(ben2_copy):
    root, name = ben2_copy, NAMES[1]
    product = name.rsplit("_", 2)[0]
    map_path = root / "Reference_Maps" / product / name / f"{name}_reference_map.tif"
    w.write_tif(map_path, w.block_mask((112, 211, 211, 777), 120))
    with pytest.raises(BadFileError, match=rf"{name}_reference_map.tif: unexpected class codes \[777\]"):
        ben2(root)
    b = ben2(root, max_bad_fraction=0.4)  # 1 of 3 training patches skipped, the rest loads
    assert name not in list(b["train/id"]) and len(b["train/id"]) == 2 and b.meta["n_skipped"] == 1
    assert b.meta["problem_kinds"]["unreadable or malformed file"]["count"] == 1
    shutil.rmtree(map_path.parent)
    with pytest.raises(PairError, match=rf"{name}: has no reference map"):
        ben2(root)
    assert len(ben2(root, reference_maps=False)["train/id"]) == 3  # without masks the maps are not needed
    _rewrite_metadata(root, **{NAMES[0]: {"labels": ["Moon craters"]}})
    with pytest.raises(LabelError, match=rf"metadata.parquet: row of {NAMES[0]}: unknown label 'Moon craters'"):
        ben2(root, reference_maps=False)
    _rewrite_metadata(root, drop_column="split")
    with pytest.raises(LabelError, match=r"metadata.parquet: has no column split \(columns: patch_id, labels, country"):
        ben2(root)
    (root / "metadata.parquet").write_bytes(b"PAR1 not really")
    with pytest.raises(LabelError, match="metadata.parquet: cannot read Parquet"):
        ben2(root)
    (root / "metadata.parquet").unlink()
    with pytest.raises(MissingDataError, match=r"metadata.parquet: BigEarthNet v2 metadata_file .* does not exist"):
        ben2(root)
