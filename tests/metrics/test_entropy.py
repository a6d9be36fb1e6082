import struct
import zlib

import numpy as np
import pytest

from xaibench_metrics.entropy import XaiEntropy, png_kb, to_uint8
from xaibench_metrics.png import encode_gray8

from .toys import ToyNet, make_ctx, toy_data


def _idat_pixels(png: bytes, height: int, width: int) -> np.ndarray:
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat = 8, b""
    while pos < len(png):
        (length,) = struct.unpack(">I", png[pos : pos + 4])
        kind, data = png[pos + 4 : pos + 8], png[pos + 8 : pos + 8 + length]
        (crc,) = struct.unpack(">I", png[pos + 8 + length : pos + 12 + length])
        assert crc == zlib.crc32(kind + data)
        if kind == b"IDAT":
            idat += data
        pos += 12 + length
    rows = np.frombuffer(zlib.decompress(idat), np.uint8).reshape(height, width + 1)
    assert (rows[:, 0] == 0).all()
    return rows[:, 1:]


def test_png_encodes_the_image_losslessly():
    image = np.random.default_rng(0).integers(0, 256, (5, 7)).astype(np.uint8)
    png = encode_gray8(image)
    assert np.array_equal(_idat_pixels(png, 5, 7), image)


def test_png_is_readable_by_pillow():
    Image = pytest.importorskip("PIL.Image")
    import io

    image = np.random.default_rng(1).integers(0, 256, (6, 4)).astype(np.uint8)
    decoded = np.asarray(Image.open(io.BytesIO(encode_gray8(image))))
    assert np.array_equal(decoded, image)


def test_normalisation_spans_0_255_and_constant_is_zero():
    u = to_uint8(np.array([[-2.0, 0.0], [1.0, 2.0]]))
    assert u.min() == 0 and u.max() == 255 and u.dtype == np.uint8
    assert not to_uint8(np.full((3, 3), 4.2)).any()


def test_constant_map_compresses_better_than_noise():
    noise = np.random.default_rng(2).normal(size=(32, 32))
    assert png_kb(np.zeros((32, 32))) < png_kb(noise)


def test_kb_mean_for_a_fixed_class():
    data, info = toy_data(n=3, size=16)
    rng = np.random.default_rng(3)
    attributions = np.zeros((3, 3, 16, 16), dtype=np.float32)
    attributions[:, 1] = rng.normal(size=(3, 16, 16))
    metric = XaiEntropy(XaiEntropy.Params(target=1))
    (value,) = metric.evaluate(make_ctx(data, info, attributions=attributions))
    assert value.statistic == "kb_mean"
    assert value.value == pytest.approx(np.mean([png_kb(a) for a in attributions[:, 1]]))
    # class 0 is constant: its maps compress to far less
    (flat,) = XaiEntropy(XaiEntropy.Params(target=0)).evaluate(make_ctx(data, info, attributions=attributions))
    assert flat.value < value.value


def test_predicted_target_uses_the_model():
    data, info = toy_data(n=4, size=8)
    model = ToyNet()
    import torch

    with torch.no_grad():
        predicted = model(torch.from_numpy(data["test/x"])).argmax(1).numpy()
    rng = np.random.default_rng(4)
    attributions = np.zeros((4, 3, 8, 8), dtype=np.float32)
    attributions[np.arange(4), predicted] = rng.normal(size=(4, 8, 8))  # noise only on the predicted class
    (value,) = XaiEntropy().evaluate(make_ctx(data, info, model=model, attributions=attributions))
    assert value.value == pytest.approx(np.mean([png_kb(attributions[i, predicted[i]]) for i in range(4)]))


def test_upsample_option_measures_at_input_size():
    data, info = toy_data(n=2, size=16)
    attributions = np.random.default_rng(5).normal(size=(2, 3, 4, 4)).astype(np.float32)
    params = dict(target=0)
    (native,) = XaiEntropy(XaiEntropy.Params(**params)).evaluate(make_ctx(data, info, attributions=attributions))
    (up,) = XaiEntropy(XaiEntropy.Params(upsample=True, **params)).evaluate(
        make_ctx(data, info, attributions=attributions)
    )
    assert up.value > native.value  # 256 pixels instead of 16
