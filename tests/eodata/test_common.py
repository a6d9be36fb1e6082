"""The shared machinery: splits, order and caps, split files, the bad-file policy, the plugin and `xaibench data`."""

from __future__ import annotations

import logging
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from xaibench_eodata.base import Record
from xaibench_eodata.errors import BadFileError, EmptyDataError, MissingDataError, PairError
from xaibench_eodata.loading import ordered, random_split, read_id_list
from xaibench_eodata.sen12ms import DFC2020

from . import writers as w

PLUGINS = str(Path(__file__).resolve().parents[2] / "plugins")


def dfc(root, **params):
    return DFC2020(DFC2020.Params(root=str(root), **params))


# ------------------------------------------------------------------ splitting
def _records(n_groups=20, per_group=3, strata=("a", "b")):
    return [
        Record(key=f"{g}-{i}", group=f"g{g}", stratum=strata[g % len(strata)])
        for g in range(n_groups)
        for i in range(per_group)
    ]


def test_random_split_keeps_groups_whole_and_strata_balanced():
    recs = _records()
    out = random_split(recs, {"test": 0.2, "val": 0.1}, seed=3)
    assert sorted(r.key for s in out.values() for r in s) == sorted(r.key for r in recs)
    where = {r.group: s for s, rs in out.items() for r in rs}
    assert all(where[r.group] == s for s, rs in out.items() for r in rs)  # a group never straddles splits
    for stratum in ("a", "b"):  # 10 groups per stratum: 2 test, 1 val, 7 train
        groups = {s: {r.group for r in rs if r.stratum == stratum} for s, rs in out.items()}
        assert (len(groups["test"]), len(groups["val"]), len(groups["train"])) == (2, 1, 7)


def test_random_split_is_deterministic_and_order_free():
    recs = _records()
    a = random_split(recs, {"test": 0.2}, seed=1)
    b = random_split(list(reversed(recs)), {"test": 0.2}, seed=1)
    c = random_split(recs, {"test": 0.2}, seed=2)
    keys = lambda o: {s: sorted(r.key for r in rs) for s, rs in o.items()}  # noqa: E731
    assert keys(a) == keys(b) and keys(a) != keys(c)


def test_order_is_a_seeded_permutation_so_caps_take_prefixes():
    recs = _records(10, 1)
    assert [r.key for r in ordered(recs, 0, "train")] == [r.key for r in ordered(list(reversed(recs)), 0, "train")]
    assert [r.key for r in ordered(recs, 0, "train")] != [r.key for r in ordered(recs, 0, "test")]


def test_read_id_list_takes_the_first_column_and_skips_a_header(tmp_path):
    f = tmp_path / "train.csv"
    f.write_text("patch_id,other\nA,1\n\nB,2\nA,3\n")
    assert read_id_list(f) == ["A", "B"]
    (tmp_path / "plain.csv").write_text("S2A_x\nS2A_y\n")
    assert read_id_list(tmp_path / "plain.csv") == ["S2A_x", "S2A_y"]
    with pytest.raises(MissingDataError, match="split file does not exist"):
        read_id_list(tmp_path / "nope.csv")
    (tmp_path / "empty.csv").write_text("\n")
    with pytest.raises(EmptyDataError, match="empty.csv: split file lists no sample"):
        read_id_list(tmp_path / "empty.csv")


def test_caps_take_a_prefix_and_growing_them_appends(dfc_root):
    small = dfc(dfc_root, max_train=2, max_test=1).load(0).collect()
    big = dfc(dfc_root, max_train=4, max_test=2).load(0).collect()
    assert list(big["train/id"][:2]) == list(small["train/id"])
    np.testing.assert_array_equal(big["train/x"][:2], small["train/x"])
    assert len(small["test/id"]) == 1 and len(big["test/id"]) == 2


def test_loading_twice_gives_identical_arrays_and_ignores_the_grid_seed(dfc_root):
    a, b = dfc(dfc_root).load(0).collect(), dfc(dfc_root).load(7).collect()
    assert a.arrays.keys() == b.arrays.keys()
    assert all(np.array_equal(a[k], b[k]) for k in a.arrays)
    assert dfc(dfc_root).varies_with_seed() is False


def test_split_files_pick_samples_and_count_absent_ids(dfc_root, tmp_path, caplog):
    (tmp_path / "train.csv").write_text("ROIs0000_test_0_p0\nROIs0000_test_s2_0_p1.tif\nROIs0000_test_1_p2\n")
    (tmp_path / "test.csv").write_text("ROIs0000_validation_0_p30\nROIs0000_validation_9_p99\n")
    files = {"train": str(tmp_path / "train.csv"), "test": str(tmp_path / "test.csv")}
    with caplog.at_level(logging.WARNING, logger="xaibench"):
        b = dfc(dfc_root, split_files=files, max_bad_fraction=0).load(0).collect()  # an absent id is not a bad sample
    assert sorted(b["train/id"]) == ["ROIs0000_test_0_p0", "ROIs0000_test_0_p1", "ROIs0000_test_1_p2"]
    assert list(b["test/id"]) == ["ROIs0000_validation_0_p30"] and "val/id" not in b
    assert b.meta["unlisted"] == 8 - 4 and b.meta["n_skipped"] == 0
    assert b.meta["absent"]["count"] == 1 and b.meta["absent"]["examples"] == ["ROIs0000_validation_9_p99"]
    assert caplog.text.count("ROIs0000_validation_9_p99") == 1  # named once, in one line
    (tmp_path / "other.csv").write_text("ROIs9999_nowhere_1_p1\nROIs9999_nowhere_1_p2\n")
    with pytest.raises(EmptyDataError, match=r"split 'train' is empty .*3 ids listed in split files .*ROIs9999_nowhere_1_p1"):
        dfc(dfc_root, split_files={"train": str(tmp_path / "other.csv"), "test": str(tmp_path / "test.csv")}).load(0).collect()
    (tmp_path / "test.csv").write_text("ROIs0000_test_0_p0\n")
    with pytest.raises(BadFileError, match="also listed for split 'train'"):
        dfc(dfc_root, split_files=files).load(0).collect()


def test_empty_train_or_test_split_is_an_error(dfc_root):
    with pytest.raises(EmptyDataError, match="split 'test' is empty"):
        dfc(dfc_root, test_subsets=[], test_fraction=0.0).load(0).collect()


# ------------------------------------------------------------------ bad-file policy
def test_a_few_bad_files_are_skipped_with_a_warning_naming_each(dfc_copy, caplog):
    bad = dfc_copy / "ROIs0000_test" / "s2_0" / "ROIs0000_test_s2_0_p1.tif"
    w.corrupt(bad, 0.6)
    with pytest.raises(BadFileError, match=r"ROIs0000_test_s2_0_p1.tif: cannot read raster"):
        dfc(dfc_copy).load(0).collect()  # 1 of 5 training samples: above the default 1 %
    with caplog.at_level(logging.WARNING, logger="xaibench"):
        b = dfc(dfc_copy, max_bad_fraction=0.25).load(0).collect()
    assert "ROIs0000_test_0_p1" not in list(b["train/id"]) and len(b["train/id"]) == 4
    assert b.meta["n_skipped"] == 1 and b.meta["skipped"][0]["path"] == str(bad)
    assert f"skipped {bad}" in caplog.text and "skipped 1 bad samples" in caplog.text


def test_too_many_bad_files_fail_with_the_first_and_the_count(dfc_copy):
    for p in (0, 1):
        w.corrupt(dfc_copy / "ROIs0000_test" / "s2_0" / f"ROIs0000_test_s2_0_p{p}.tif")
    with pytest.raises(BadFileError, match=r"and 1 more bad samples among 5 read in split 'train'; max_bad_fraction=0.25"):
        dfc(dfc_copy, max_bad_fraction=0.25).load(0).collect()


def test_a_cap_reads_past_bad_files_to_fill_itself(dfc_copy):
    full = dfc(dfc_copy).load(0).collect()
    first = full["train/id"][0]
    _, subset, scene, patch = first.split("_")
    w.corrupt(dfc_copy / f"ROIs0000_{subset}" / "s2_0" / f"ROIs0000_{subset}_s2_{scene}_{patch}.tif")
    b = dfc(dfc_copy, max_train=2, max_bad_fraction=0.5).load(0).collect()
    assert list(b["train/id"]) == list(full["train/id"][1:3])


def test_missing_pairs_are_index_problems(dfc_copy):
    (dfc_copy / "ROIs0000_test" / "dfc_0" / "ROIs0000_test_dfc_0_p1.tif").unlink()
    with pytest.raises(PairError, match=r"s2_0/ROIs0000_test_s2_0_p1.tif: has no dfc counterpart"):
        dfc(dfc_copy).load(0).collect()
    assert len(dfc(dfc_copy, max_bad_fraction=0.2).load(0).collect()["train/id"]) == 4


# ------------------------------------------------------------------ plugin and commands
def test_plugin_import_is_light():
    code = "import sys, xaibench_eodata.plugin; print(sorted(m for m in ('numpy', 'rasterio', 'torch') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env={"PYTHONPATH": PLUGINS},
                         check=True).stdout  # fmt: skip
    assert out.strip() == "[]"


def test_plugin_registers_the_loaders(eo_session):
    names = set(eo_session.catalog.names("dataset"))
    assert {"dfc2020", "bigearthnet", "ben-ge", "eurosat", "opensarurban", "sen12ms", "earthnet2021"} <= names
    assert {"register_datasets", "register_commands"} <= set(eo_session.plugins["eodata"].hooks)


def test_data_check_summarises_a_copy(eo_cli, dfc_root):
    code, out, err = eo_cli("data", "check", "dfc2020", "--root", str(dfc_root), "-p", "modalities=[s2, s1]")
    assert code == 0, err
    assert "samples per split" in out and "no problems found" in out
    assert "│ train │ 5" in out and "│ test  │ 3" in out
    assert "Urban/Built-up" in out and "VH" in out and "B8A" in out  # class table and band statistics
    row = next(line for line in out.splitlines() if line.startswith("│ 1 "))
    assert "│ B1 " in row and "0.1" in row  # DN 1000-1007 / 10000
    row9 = next(line for line in out.splitlines() if line.startswith("│ 9 "))
    assert "│ B8A " in row9 and "band 9 of 13" in row9  # SEN12MS / DFC2020 files: B8A is their 9th band


def test_data_check_lists_every_problem_and_exits_1(eo_cli, dfc_copy):
    w.corrupt(dfc_copy / "ROIs0000_test" / "s2_0" / "ROIs0000_test_s2_0_p0.tif")
    (dfc_copy / "ROIs0000_validation" / "dfc_validation" / "ROIs0000_validation_dfc_0_p31.tif").unlink()
    code, out, _ = eo_cli("data", "check", "dfc2020", "--root", str(dfc_copy), "--max-per-split", "100")
    assert code == 1
    assert "2 problems" in out and "ROIs0000_test_s2_0_p0.tif" in out and "no dfc counterpart" in out


def test_data_check_on_a_forecast_dataset(eo_cli, earthnet_root):
    code, out, err = eo_cli("data", "check", "earthnet2021", "--root", str(earthnet_root), "-p", "size=16")
    assert code == 0, err
    assert "samples per class" not in out and "cloud_mask" in out and "elevation" in out


def test_data_check_errors_are_one_line(eo_cli, tmp_path):
    code, _, err = eo_cli("data", "check", "dfc2020", "--root", str(tmp_path / "missing"))
    assert code == 2 and err.count("error:") == 1 and "dfc2020 root does not exist" in err
    code, _, err = eo_cli("data", "check", "dfc2020", "--root", str(tmp_path), "-p", "bands=[B99]")
    assert code == 2 and "bands" in err
    code, _, err = eo_cli("data", "check", "synth-landcover", "--root", str(tmp_path))
    assert code == 1 and "not a loader of files on disk" in err
    code, out, _ = eo_cli("data", "list")
    assert code == 0 and "earthnet2021" in out and "ROIs0000_validation" in out


def test_many_bad_files_are_summarised_by_kind_not_listed(eurosat_root, tmp_path, eo_cli, caplog):
    import shutil

    from xaibench_eodata.eurosat import EuroSAT
    from xaibench_eodata.loading import WARN_EACH, load_dataset

    root = tmp_path / "e"
    shutil.copytree(eurosat_root, root)
    tifs = sorted(root.rglob("*.tif"))
    for f in tifs[:25]:
        w.corrupt(f)
    with caplog.at_level(logging.WARNING, logger="xaibench"):
        b = load_dataset(EuroSAT(EuroSAT.Params(root=str(root), max_bad_fraction=1.0)), strict_splits=False).collect()
    assert b.meta["n_skipped"] == 25 and b.meta["problem_kinds"]["unreadable or malformed file"]["count"] == 25
    assert caplog.text.count("cannot read raster") == WARN_EACH and "skipped 5 more bad samples (not named" in caplog.text
    code, out, _ = eo_cli("data", "check", "eurosat", "--root", str(root))
    assert code == 1 and "25 problems" in out and "unreadable or malformed file: 25, first 5:" in out
    assert out.count("cannot read raster") == 5  # the first examples, not every file


# ------------------------------------------------------------------ streaming
def test_a_real_loader_streams_its_images_through_the_cache(dfc_root, tmp_path, monkeypatch):
    """Images are read a batch at a time as the cache writes them (never stacked whole): the
    stored entry holds them as lazy rows, equal to a whole load; small fields and the meta arrive
    once the last split is read."""
    from xaibench.arrays import LazyArray
    from xaibench.cache import Cache
    from xaibench_eodata import loading

    whole = dfc(dfc_root).load(0).collect()
    sizes = []
    real = loading.read_batches

    def spy(*args, **kwargs):
        for ids, arrays in real(*args, **kwargs):
            sizes.append(len(ids))
            yield ids, arrays

    monkeypatch.setattr(loading, "read_batches", spy)
    ds = dfc(dfc_root, workers=1)  # batches of 16 x workers samples
    pending = ds.load(0)
    assert pending.streams and "counts" not in pending.meta and not sizes  # nothing read yet
    stored = Cache(tmp_path / "cache").put("k", pending)
    assert isinstance(stored.arrays.raw("train/x"), LazyArray) and not isinstance(stored.arrays.raw("train/label"), LazyArray)
    n = sum(len(whole[f"{split}/id"]) for split in ("train", "val", "test") if f"{split}/id" in whole)
    assert max(sizes) <= 16 and sum(sizes) == n
    assert stored.meta["counts"] == whole.meta["counts"]
    for name in whole.arrays:
        np.testing.assert_array_equal(np.asarray(stored[name]), whole[name], err_msg=name)
    reread = Cache(tmp_path / "cache").get("k")
    np.testing.assert_array_equal(np.asarray(reread["test/x"]), whole["test/x"])
