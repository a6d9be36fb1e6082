"""opensarurban (SAR categories, VV/VH pairing, units) and earthnet2021 (minicubes as synth-weather-forecast)."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from xaibench_eodata.earthnet import EarthNet2021
from xaibench_eodata.errors import BadFileError, EmptyDataError, PairError
from xaibench_eodata.opensarurban import OpenSARUrban
from xaibench_eodata.tables import EARTHNET_UNITS, OPENSARURBAN_CLASSES

from . import writers as w


def osu(root, **params):
    return OpenSARUrban(OpenSARUrban.Params(root=str(root), **params)).load(0).collect()


def all_of(b, field):
    return np.concatenate([b[f"{s}/{field}"] for s in ("train", "val", "test") if f"{s}/{field}" in b])


def test_opensarurban_folders_labels_and_intensity_to_db(osu_root):
    b = osu(osu_root)
    x, label, ids = all_of(b, "x"), all_of(b, "label"), all_of(b, "id")
    assert x.shape == (30, 2, 100, 100) and sorted(np.bincount(label)) == [3] * 10
    for xi, c, key in zip(x, label, ids):
        assert key.startswith(OPENSARURBAN_CLASSES[c] + "/")
        np.testing.assert_allclose(xi[:, 0, 0], [(-10 - c + 25) / 25, max((-20 - c + 25) / 25, 0)], atol=1e-5)
    vh = osu(osu_root, polarizations=["VH"], s1_db_range=[-40, 0])
    np.testing.assert_allclose(all_of(vh, "x")[:, 0, 0, 0], (-20 - all_of(vh, "label") + 40) / 40, atol=1e-5)
    info = OpenSARUrban(OpenSARUrban.Params(root="x")).info()
    assert info.task == "singlelabel" and [bd.name for bd in info.bands] == ["VV", "VH"] and info.modalities == ("s1",)


def test_opensarurban_suffix_layout_and_quantized_images(tmp_path):
    classes = ("A", "B")
    w.make_opensarurban(tmp_path / "o", classes, per_class=5, layout="suffix", dtype="uint8")
    b = osu(tmp_path / "o", classes=classes, test_fraction=0.2, val_fraction=0)
    expected = np.repeat(((100 + all_of(b, "label")) / 255)[:, None], 2, axis=1)
    np.testing.assert_allclose(all_of(b, "x")[:, :, 5, 5], expected, rtol=1e-6)
    w.make_opensarurban(tmp_path / "f", classes, per_class=5, layout="suffix")  # float32 intensities
    with pytest.raises(BadFileError, match="has dtype float32; units 'quantized' expects an 8/16-bit integer image"):
        osu(tmp_path / "f", classes=classes, units="quantized", test_fraction=0.2)


def test_opensarurban_bad_copies(osu_root, tmp_path):
    root = tmp_path / "o"
    shutil.copytree(osu_root, root)
    (root / "Railway" / "VH" / "Railway_0001.tif").unlink()
    with pytest.raises(PairError, match="Railway_0001.tif: has no VH counterpart"):
        osu(root)
    assert len(all_of(osu(root, polarizations=["VV"]), "id")) == 30  # VV alone needs no pair
    w.write_tif(root / "Railway" / "VH" / "Railway_0001.tif", np.ones((90, 100), np.float32))
    with pytest.raises(BadFileError, match="is 90x100 px, expected 100x100"):
        osu(root)
    w.write_tif(root / "Railway" / "VH" / "Railway_0001.tif", -np.ones((100, 100), np.float32))
    with pytest.raises(BadFileError, match="has negative values"):
        osu(root)
    assert osu(root, units="db", max_bad_fraction=0).meta["n_skipped"] == 0
    shutil.rmtree(root / "Airport")
    (root / "Harbour").mkdir()
    with pytest.raises(EmptyDataError, match=r"has no category folder Airport \(found: .*Harbour.*\); set `classes`"):
        osu(root)


# ----------------------------------------------------------------------------- EarthNet2021
def earthnet(root, **params):
    return EarthNet2021(EarthNet2021.Params(root=str(root), size=16, **params)).load(0).collect()


def test_earthnet_arrays_match_synth_weather_forecast(earthnet_root):
    from xaibench_synth.forecast import SynthWeatherForecast

    real_ds = EarthNet2021(EarthNet2021.Params(root=str(earthnet_root), size=16))
    synth_ds = SynthWeatherForecast(SynthWeatherForecast.Params(n_train=2, n_val=1, n_test=1, patch_size=16))
    real, synth = real_ds.load(0).collect(), synth_ds.load(0).collect()
    for field in ("context", "target", "weather"):
        assert real[f"train/{field}"].shape[1:] == synth[f"train/{field}"].shape[1:], field
        assert real[f"train/{field}"].dtype == synth[f"train/{field}"].dtype
    ri, si = real_ds.info(), synth_ds.info()
    assert [(b.name, b.modality) for b in ri.bands] == [(b.name, b.modality) for b in si.bands]
    for key in ("channels", "context_frames", "target_frames", "days_per_frame", "weather_variables", "observation_days"):
        assert ri.extra[key] == si.extra[key], key
    assert ri.extra["weather_units"] == si.extra["weather_units"] == EARTHNET_UNITS
    assert ri.task == "forecast" and {"forecast", "weather"} <= ri.provides


def test_earthnet_values_frames_mask_elevation_and_weather(earthnet_root):
    b = earthnet(earthnet_root)
    t = np.arange(30)
    for split, offset in (("train", 0), ("test", 100)):
        for key, ctx, tgt, weather in zip(b[f"{split}/id"], b[f"{split}/context"], b[f"{split}/target"], b[f"{split}/weather"]):
            k = int(key.split("_")[3]) + offset  # the fixture writes k into the cube name
            frames = np.concatenate([ctx, tgt])  # (30, 6, 16, 16)
            for c in range(4):
                np.testing.assert_allclose(frames[:, c, 5, 5], 0.1 + 0.01 * c + 0.001 * t + k / 1000, atol=1e-3)
            np.testing.assert_allclose(frames[:, 4], 0.3 + k / 100, atol=1e-3)  # elevation, every frame
            assert frames[1::2, 5, 0].min() == 1 and frames[::2, 5].max() == 0 and frames[:, 5, 1:].max() == 0
            for v in range(5):
                np.testing.assert_allclose(weather[:, v], 0.1 * (v + 1) + np.arange(150) / 10000, atol=1e-3)
    assert len(b["test/id"]) == 3 and b["test/context"].shape[1] == 10 and b["test/target"].shape[1] == 20
    cropped = earthnet(earthnet_root, crop=8)
    assert cropped["train/context"].shape[-2:] == (8, 8) and cropped["train/context"][:, :, 5].max() == 0


def test_earthnet_weather_pooling_nan_and_shorter_frames(tmp_path):
    root = tmp_path / "en"
    cube = w.earthnet_cube(0, 30, 16)
    cube["mesodynamic"][:] = 0
    cube["mesodynamic"][39:41, 39:41] = 1.0
    cube["highresdynamic"][3, 4, 2, 0] = np.nan
    for k in range(4):
        path = root / "train" / f"T{k}" / f"cube{k}.npz"  # one tile each: random splits keep tiles whole
        path.parent.mkdir(parents=True, exist_ok=True)
        np.savez_compressed(path, **cube)
    b = earthnet(root, test_track=None, test_fraction=0.25, val_fraction=0)
    assert np.all(b["train/weather"] == 1.0)
    assert np.allclose(earthnet(root, test_track=None, test_fraction=0.25, weather_pool="mean")["train/weather"], 4 / 6400)
    ctx = b["train/context"][0, 0]
    assert ctx[2, 3, 4] == 0 and ctx[5, 3, 4] == 1 and ctx[5, 3, 5] == 0  # NaN reflectance -> 0, masked
    short = earthnet(root, test_track=None, test_fraction=0.25, context_frames=5, target_frames=5)
    assert short["train/context"].shape[1] == 5 and short["train/weather"].shape[1] == 50
    with pytest.raises(BadFileError, match="highresdynamic has 30 frames, 40 needed"):
        earthnet(root, test_track=None, test_fraction=0.25, context_frames=20, target_frames=20)


def test_earthnet_bad_cubes(earthnet_root, tmp_path):
    root = tmp_path / "en"
    shutil.copytree(earthnet_root, root)
    target = next((root / "iid_test_split" / "target").rglob("*.npz"))
    target.unlink()
    with pytest.raises(PairError, match=r"context_.*\.npz: has no target_ counterpart"):
        earthnet(root)
    cube = next((root / "train").rglob("*.npz"))
    w.corrupt(cube, 0.5)
    with pytest.raises(BadFileError, match=f"{cube.name}: cannot read NPZ"):
        earthnet(root, test_track=None)
    arrays = w.earthnet_cube(0, 30, 16)
    del arrays["mesodynamic"]
    np.savez_compressed(cube, **arrays)
    with pytest.raises(BadFileError, match="lacks array mesodynamic"):
        earthnet(root, test_track=None)
    np.savez_compressed(cube, **w.earthnet_cube(0, 30, 32))
    with pytest.raises(BadFileError, match=r"highresdynamic has shape \(32, 32, 7, 30\), expected \(16, 16, >=5, T\)"):
        earthnet(root, test_track=None)
    np.savez_compressed(cube, **dict(w.earthnet_cube(0, 30, 16), highresstatic=np.zeros((16, 16, 1), np.int16)))
    with pytest.raises(BadFileError, match="highresstatic has dtype int16, expected floats"):
        earthnet(root, test_track=None)
    with pytest.raises(EmptyDataError, match="no EarthNet2021 training cubes"):
        (tmp_path / "empty" / "train").mkdir(parents=True)
        earthnet(tmp_path / "empty", test_track=None)
