"""Bounded memory: row arrays written chunk by chunk and read lazily; a grid streamed in small
chunks gives the table of one computed whole."""

from __future__ import annotations

import glob
import pickle

import numpy as np
import pytest

from xaibench.arrays import CorruptRows, LazyArray, RowStream, iter_chunks, seeded_subset
from xaibench.bundle import Bundle
from xaibench.cache import Cache


def _stream(arrays: dict[str, np.ndarray], sizes: list[int]) -> RowStream:
    """``arrays`` cut into chunks of the given sizes, in turn (uneven on purpose)."""
    def chunks():
        start, i = 0, 0
        n = len(next(iter(arrays.values())))
        while start < n:
            step = sizes[i % len(sizes)]
            yield {k: v[start:start + step] for k, v in arrays.items()}
            start, i = start + step, i + 1
    return RowStream(chunks(), {k: v[:0] for k, v in arrays.items()}, prefix="train")


@pytest.fixture
def stored(tmp_path):
    rng = np.random.default_rng(0)
    arrays = {"x": rng.random((53, 3, 7, 5), dtype=np.float32), "label": rng.integers(0, 9, 53),
              "id": np.array([f"s{i}" for i in range(53)])}
    cache = Cache(tmp_path / "cache")
    bundle = cache.put("ab" + "0" * 22, Bundle({"w": np.ones(3)}, {"k": 1}, [_stream(arrays, [1, 11, 4])]))
    return cache, bundle, arrays


def test_rows_round_trip_every_way_of_reading(stored):
    cache, bundle, arrays = stored
    for b in (bundle, cache.get("ab" + "0" * 22)):
        lazy = b.rows("train/x")
        assert isinstance(lazy, LazyArray) and lazy.shape == (53, 3, 7, 5) and lazy.dtype == np.float32
        np.testing.assert_array_equal(b["train/x"], arrays["x"])
        np.testing.assert_array_equal(lazy[7:40], arrays["x"][7:40])
        np.testing.assert_array_equal(lazy[[52, 0, 9, 9]], arrays["x"][[52, 0, 9, 9]])
        np.testing.assert_array_equal(lazy[-1], arrays["x"][-1])
        np.testing.assert_array_equal(lazy[3:9, 1], arrays["x"][3:9, 1])
        np.testing.assert_array_equal(np.concatenate([c for _, c in iter_chunks(lazy, 10)]), arrays["x"])
        np.testing.assert_array_equal(b["train/label"], arrays["label"])
        assert list(b["train/id"]) == list(arrays["id"])
        assert b["w"].tolist() == [1, 1, 1] and b.meta == {"k": 1}
    again = pickle.loads(pickle.dumps(bundle.rows("train/x")))  # what a worker receives
    np.testing.assert_array_equal(again[5:6], arrays["x"][5:6])


def test_asking_whether_a_lazy_array_is_there_reads_none_of_it(tmp_path, monkeypatch):
    # Mapping's default ``in`` reads the value: it read a whole train split per chunk of a stage
    import xaibench.arrays
    from xaibench.arrays import RowsFile

    monkeypatch.setattr(xaibench.arrays, "BATCH_BYTES", 1024)  # about two rows a batch
    x = np.random.default_rng(0).random((40, 3, 7, 5), dtype=np.float32)
    bundle = Cache(tmp_path / "c").put("cd" + "0" * 22, Bundle(streams=[_stream({"x": x, "label": np.arange(40)}, [9])]))
    reads = []
    original = RowsFile.batch
    monkeypatch.setattr(RowsFile, "batch", lambda self, i: reads.append(i) or original(self, i))
    assert "train/x" in bundle and "train/x" in bundle.arrays and "train/aux" not in bundle
    assert reads == []
    np.testing.assert_array_equal(bundle.view("train", 0, 2).rows("train/x"), x[:2])
    assert set(reads) == {0}


def test_a_bundle_used_outside_the_cache_reads_its_streams(stored):
    _, _, arrays = stored
    b = Bundle(meta={"m": 1}, streams=[_stream(arrays, [5])])
    np.testing.assert_array_equal(b["train/x"], arrays["x"])
    assert sorted(b) == ["train/id", "train/label", "train/x"] and not b.streams


def test_a_corrupted_batch_is_detected_and_the_entry_discarded(stored):
    cache, _, arrays = stored
    key = "ab" + "0" * 22
    (path,) = glob.glob(str(cache.root / "ab" / f"{key}.rows*.arrow"))
    data = bytearray(open(path, "rb").read())
    data[len(data) // 2] ^= 0xFF
    open(path, "wb").write(bytes(data))
    with pytest.raises(CorruptRows, match="checksum") as err:
        np.asarray(cache.get(key).rows("train/x"))
    assert err.value.key == key
    cache.discard(key)
    assert not cache.has(key) and not glob.glob(str(cache.root / "ab" / f"{key}.rows*"))


def test_a_stream_that_raises_leaves_no_entry(tmp_path):
    cache = Cache(tmp_path)

    def chunks():
        yield {"x": np.zeros((2, 3))}
        raise RuntimeError("generator failed")

    with pytest.raises(RuntimeError, match="generator failed"):
        cache.put("cd" + "1" * 22, Bundle(streams=[RowStream(chunks())]))
    assert not cache.has("cd" + "1" * 22) and not list(tmp_path.rglob("*.arrow"))


def test_seeded_subset_is_harmonizations_draw():
    from xaibench_postprocess.ops import sample_subset

    assert sample_subset is seeded_subset
    s = seeded_subset(1000, 50, 3)
    assert len(s) == 50 and (np.diff(s) > 0).all() and (seeded_subset(1000, 50, 3) == s).all()


def test_synthetic_samples_do_not_depend_on_the_chunk_size():
    from xaibench.plugins import PluginSession

    catalog = PluginSession(disabled=set()).catalog
    ds = catalog.create("dataset", "synth-landcover", {"n_train": 13, "n_val": 2, "n_test": 5, "patch_size": 16})
    whole = ds.load(0)["train/x"]
    type(ds).chunk_size, saved = 3, type(ds).chunk_size
    try:
        small = ds.load(0)["train/x"]
    finally:
        type(ds).chunk_size = saved
    np.testing.assert_array_equal(whole, small)



@pytest.mark.parametrize("name", ["synth-landcover", "synth-sar-optical", "synth-bioclim", "synth-weather-forecast"])
def test_every_synthetic_world_streams_the_samples_it_generates_whole(name):
    """The stream (one sample, then chunks of at most 64 MB) equals the split generated whole."""
    from xaibench.plugins import PluginSession
    from xaibench_synth.generate import generate_split

    ds = PluginSession(disabled=set()).catalog.create("dataset", name, {})
    data_seed, streamed = ds.params.effective_seed(0), ds.load(0)
    for split, n in ds.params.split_sizes().items():
        whole = generate_split(lambda code, start, k: ds.chunk(data_seed, code, start, k), split, n, type(ds).chunk_size)
        assert whole
        for field, array in whole.items():
            np.testing.assert_array_equal(streamed[f"{split}/{field}"], array, err_msg=f"{name} {split}/{field}")


GRID = """\
experiment: stream
seeds: [0]
layers: [input, deep]
memory_budget_mb: BUDGET
datasets:
  lc: {component: synth-landcover, params: {n_train: 24, n_val: 8, n_test: 10, patch_size: 32}}
models:
  uhnet: {component: uh-net, params: {width: 0.0625, train: {epochs: 1, batch_size: 8}}}
attributions:
  gxf: gradients-x-features
  gradcam: grad-cam
  gshap: {component: gradient-shap, params: {n_samples: 3, n_baselines: 4}}
postprocessors:
  none: none
  harmonize: {component: harmonize, params: {k: 5, max_train_vectors: 300}}
metrics:
  pearson: pearson-similarity
  seg: segmentation-agreement
  entropy: xai-entropy
  ovh: original-vs-harmonized
"""


def test_a_grid_streamed_in_small_chunks_equals_the_whole_computation(run_registry, monkeypatch):
    """1 MB of budget: every stage works a few samples at a time, the trainer reads its batches
    from the row files, harmonization keeps 300 train positions: the table is the same."""
    import yaml

    from xaibench_zoo import training

    whole = run_registry(yaml.safe_load(GRID.replace("BUDGET", "2048")))
    monkeypatch.setattr(training, "IN_MEMORY_BYTES", 0)
    streamed = run_registry({**yaml.safe_load(GRID.replace("BUDGET", "1")), "cache": "cache-streamed",
                             "results": "results-streamed"})

    def values(table):
        return {(r["layer"], r["attribution"], r["postprocessor"], r["metric"], r["statistic"], r["sub_key"]): r["value"]
                for r in table.to_pylist() if r["status"] == "ok" and "seconds" not in r["statistic"]}

    a, b = values(whole), values(streamed)
    assert a.keys() == b.keys() and len(a) > 50
    for k in a:
        assert b[k] == pytest.approx(a[k], rel=1e-6, abs=1e-6), k


def test_the_dfc2020_sized_cell_of_the_benchmarks_plans(session):
    """``benchmarks/dfc2020_cell.yaml`` (run by hand, hours on 2 cores; docs/streaming.md) stays a valid
    registry of the sizes the issue names: 5,128 train and 986 test patches of 13 x 256 x 256."""
    from pathlib import Path

    from xaibench.config import load_registry
    from xaibench.planning import build_plan

    path = Path(__file__).resolve().parents[1] / "benchmarks" / "dfc2020_cell.yaml"
    config = load_registry(path, session.catalog)
    (dataset,) = config.components["dataset"].values()
    assert (dataset.params["n_train"], dataset.params["n_test"], dataset.params["patch_size"]) == (5128, 986, 256)
    assert config.components["postprocessor"]["harmonize"].params["max_train_vectors"] == 100_000
    assert sum(u.kind == "cell" for u in build_plan(config, session.catalog).units) == 1


def test_the_attribution_bound_counts_the_train_positions_kept_not_the_maps_computed():
    from xaibench.contracts import AttributionContract, ContractViolation

    maps = np.zeros((3, 2, 4, 4), np.float32)  # 384 bytes a chunk
    subset = AttributionContract("m", 2, (4, 4), max_bytes=1000, kept_positions=100)
    for _ in range(20):
        subset.check(maps, 3)
    assert subset.seen_bytes == 100 * 2 * 4  # 100 kept positions of 2 classes, float32
    whole = AttributionContract("m", 2, (4, 4), max_bytes=1000)
    whole.check(maps, 3)
    whole.check(maps, 3)
    with pytest.raises(ContractViolation, match=r"limits\.attribution_mb"):  # 1,152 bytes of maps
        whole.check(maps, 3)
    big = AttributionContract("m", 2, (4, 4), max_bytes=1000, kept_positions=200)
    with pytest.raises(ContractViolation, match=r"limits\.attribution_mb"):
        for _ in range(20):
            big.check(maps, 3)


def test_a_train_split_larger_than_the_attribution_bound_is_harmonized_when_its_kept_vectors_fit(run_registry):
    """The train maps (786 KB at the input) exceed the 0.5 MB bound, the 300 kept vectors (9.6 KB)
    do not: the stage is stored and harmonized (at DFC2020 size: 10.7 GB computed, 3 MB kept)."""
    table = run_registry({
        "experiment": "bound", "seeds": [0], "layers": ["input"], "limits": {"attribution_mb": 0.5},
        "datasets": {"lc": {"component": "synth-landcover",
                            "params": {"n_train": 24, "n_val": 8, "n_test": 10, "patch_size": 32}}},
        "models": {"uhnet": {"component": "uh-net", "params": {"width": 0.0625, "train": {"epochs": 1, "batch_size": 8}}}},
        "attributions": {"gxf": "gradients-x-features"},
        "postprocessors": {"harmonize": {"component": "harmonize", "params": {"k": 5, "max_train_vectors": 300}}},
        "metrics": {"seg": "segmentation-agreement"},
    })
    rows = table.to_pylist()
    assert rows and all(r["status"] == "ok" for r in rows)


def test_harmonizations_neighbours_count_in_the_memory_of_a_postprocess_chunk(run_registry, monkeypatch):
    """Its neighbours (k per test position) are read with each chunk of test maps, so the chunk is
    sized for both: at k = 100 on 256-px patches they are twelve times the maps."""
    from xaibench.stages.inputs import StageInputs

    asked: list[list[tuple[int, ...]]] = []
    original = StageInputs.chunk_rows

    def recording(self, *arrays):
        asked.append([tuple(a.shape) for a in arrays])
        return original(self, *arrays)

    monkeypatch.setattr(StageInputs, "chunk_rows", recording)
    run_registry({
        "experiment": "nb", "seeds": [0], "layers": ["deep"], "memory_budget_mb": 1,
        "datasets": {"lc": {"component": "synth-landcover",
                            "params": {"n_train": 12, "n_val": 4, "n_test": 6, "patch_size": 16}}},
        "models": {"uhnet": {"component": "uh-net", "params": {"width": 0.0625, "train": {"epochs": 1, "batch_size": 4}}}},
        "attributions": {"gxf": "gradients-x-features"},
        "postprocessors": {"harmonize": {"component": "harmonize", "params": {"k": 5, "max_train_vectors": 200}}},
        "metrics": {"seg": "segmentation-agreement"},
    })
    assert [(6, 8, 16, 16), (6, 256, 5)] in asked


def test_logging_a_cell_reads_only_the_test_samples_its_figure_draws(run_registry, monkeypatch, whole_reads):
    """Recording a combination (its values, the report plugin's figure of its first 3 test samples)
    reads no split whole, and the entries it opens hold their maps and test arrays as row files (the
    identity post-processor's output was one in-memory array: 2 GB of the DFC2020-sized cell, then
    decoded whole to draw 3 samples)."""
    from xaibench.testing import MemoryTracker

    registry = {
        "experiment": "log", "seeds": [0], "layers": ["deep"],
        "datasets": {"lc": {"component": "synth-landcover",
                            "params": {"n_train": 12, "n_val": 4, "n_test": 40, "patch_size": 32}}},
        "models": {"uhnet": {"component": "uh-net", "params": {"width": 0.0625, "train": {"epochs": 1, "batch_size": 4}}}},
        "attributions": {"gxf": "gradients-x-features"},
        "postprocessors": {"none": "none",
                           "harmonize": {"component": "harmonize", "params": {"k": 3, "max_train_vectors": 200}}},
        "metrics": {"seg": "segmentation-agreement"},
    }
    run_registry(registry)
    whole_reads.clear()
    in_memory: list[tuple[str, tuple[int, ...]]] = []
    get = Cache.get

    def opened(self, key):
        bundle = get(self, key)
        in_memory.extend((name, np.shape(bundle.arrays.raw(name))) for name in bundle
                     if (name == "attributions" or name.startswith("test/"))
                     and not isinstance(bundle.arrays.raw(name), LazyArray))
        return bundle

    monkeypatch.setattr(Cache, "get", opened)
    run_registry(registry)  # every stage cached: only the records are made again
    cells = [r for r in MemoryTracker.records if "figures/attribution_maps.png" in r.artifacts]
    assert len(cells) == 2  # none and harmonize, each with its figure
    assert whole_reads == [] and in_memory == []
