"""The content-addressed cache and the Bundle format."""

from __future__ import annotations

import numpy as np
import pytest

from xaibench.bundle import Bundle
from xaibench.cache import Cache, CorruptEntry
from xaibench.hashing import stable_hash
from xaibench.stages import Stage


def sample() -> Bundle:
    rng = np.random.default_rng(0)
    return Bundle({"train/x": rng.random((3, 2, 4, 4), dtype=np.float32), "train/label": np.arange(3),
                   "flags": np.array([True, False]), "half": np.ones(5, np.float16),
                   "scalar": np.array(7, np.int64)}, {"note": "é", "n": [1, 2]})


def test_bundle_roundtrip_keeps_dtypes_shapes_and_meta():
    b = sample()
    c = Bundle.from_bytes(b.to_bytes())
    assert c.meta == b.meta
    for k, v in b.arrays.items():
        assert c[k].dtype == v.dtype and c[k].shape == v.shape and np.array_equal(c[k], v)
    assert set(c.split("train")) == {"x", "label"}


def test_bundle_rejects_object_arrays_and_names_missing_arrays():
    with pytest.raises(TypeError, match="dtype object"):
        Bundle({"o": np.array([{}], dtype=object)}).to_bytes()
    with pytest.raises(KeyError, match="has: flags, half, scalar, train/label, train/x"):
        sample()["test/x"]


def test_put_get_and_sidecar_meta(tmp_path):
    cache = Cache(tmp_path)
    cache.put("abc123", sample())
    assert cache.has("abc123") and cache.valid("abc123")
    assert cache.meta("abc123") == {"note": "é", "n": [1, 2]}
    assert np.array_equal(cache.get("abc123")["train/label"], np.arange(3))
    assert not list(tmp_path.rglob("*.tmp"))  # no temporary files left behind


@pytest.mark.parametrize("damage", ["flip", "truncate", "empty"])
def test_corrupted_or_torn_entries_are_never_used(tmp_path, damage):
    cache = Cache(tmp_path)
    cache.put("k1", sample())
    path = cache.path("k1")
    raw = bytearray(path.read_bytes())
    if damage == "flip":
        raw[len(raw) // 2] ^= 0x01
    elif damage == "truncate":
        raw = raw[: len(raw) // 2]
    else:
        raw = bytearray()
    path.write_bytes(bytes(raw))
    with pytest.raises(CorruptEntry):
        cache.get("k1")
    assert not cache.has("k1")  # discarded, so it is recomputed


def test_missing_entry_is_a_key_error(tmp_path):
    with pytest.raises(KeyError):
        Cache(tmp_path).get("nope")


def test_interrupted_write_leaves_no_entry(tmp_path, monkeypatch):
    cache = Cache(tmp_path)

    def boom(*a, **k):
        raise KeyboardInterrupt

    monkeypatch.setattr("os.replace", boom)
    with pytest.raises(KeyboardInterrupt):
        cache.put("k2", sample())
    assert not cache.has("k2") and not list(tmp_path.rglob("*.tmp"))


def test_stage_keys_depend_on_spec_and_inputs_only():
    a = Stage("data", {"dataset": {"name": "d", "params": {"n": 1}}, "seed": 0}, label="x")
    b = Stage("data", {"seed": 0, "dataset": {"params": {"n": 1}, "name": "d"}}, label="y")
    assert a.key == b.key  # key order and labels do not matter
    c = Stage("data", {"dataset": {"name": "d", "params": {"n": 2}}, "seed": 0})
    assert c.key != a.key
    t1, t2 = Stage("train", {"seed": 0}, {"data": a}), Stage("train", {"seed": 0}, {"data": c})
    assert t1.key != t2.key
    assert stable_hash({"a": 1.0}) == stable_hash({"a": 1.0}) != stable_hash({"a": 1})


def test_object_store_cache_through_fsspec():
    """The same cache on an fsspec URL (here the in-memory filesystem; s3:// works the same way)."""
    cache = Cache("memory://xaibench-test-cache")
    cache.put("k3", sample())
    assert cache.has("k3") and cache.meta("k3")["note"] == "é"
    assert np.array_equal(cache.get("k3")["train/label"], np.arange(3))
    import fsspec

    fs = fsspec.filesystem("memory")
    raw = bytearray(fs.cat_file(cache.path("k3")))
    raw[-1] ^= 0xFF
    fs.pipe_file(cache.path("k3"), bytes(raw))
    with pytest.raises(CorruptEntry):
        cache.get("k3")
    assert not cache.has("k3")
