"""Full-width parameter counts at DFC2020 shapes (13 bands, 8 classes) vs the harmonization paper's Table 3.

Networks are built on the meta device: shapes only, no memory for the 134 M VGG weights.
"""

from __future__ import annotations

import pytest
import torch

from xaibench.components import Band, DatasetInfo

DFC2020 = DatasetInfo(
    name="dfc2020",
    task="multilabel",
    classes=tuple(f"c{i}" for i in range(8)),
    bands=tuple(Band(f"B{i}", modality="s2") for i in range(13)),
)


@pytest.mark.parametrize(
    ("name", "params", "millions", "tolerance"),
    [
        ("vgg-16", {"batch_norm": False}, 134.3, 0.02),
        ("vgg-16", {}, 134.3, 0.02),
        ("resnet-18", {}, 11.2, 0.02),
        ("uh-net", {}, 19.0, 0.10),
    ],
)
def test_full_width_parameter_count_matches_table_3(name, params, millions, tolerance):
    from xaibench_zoo.components import MODELS

    cls = next(m for m in MODELS if m.name == name)
    comp = cls(cls.Params(width=1.0, **params))
    with torch.device("meta"):
        net = comp.build(DFC2020, {})
    count = sum(p.numel() for p in net.parameters()) / 1e6
    assert abs(count - millions) <= tolerance * millions, f"{name}: {count:.2f} M vs {millions} M"


def test_width_scales_parameters_and_defaults_are_small():
    from xaibench_zoo.components import ResNet18Model, UHNetModel, VGG16Model

    for cls in (UHNetModel, ResNet18Model, VGG16Model):
        with torch.device("meta"):
            full = cls(cls.Params(width=1.0)).build(DFC2020, {})
            default = cls().build(DFC2020, {})
        ratio = sum(p.numel() for p in default.parameters()) / sum(p.numel() for p in full.parameters())
        assert ratio < 0.1, f"{cls.name} default width keeps {ratio:.0%} of the parameters"
