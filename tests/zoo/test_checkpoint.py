"""User checkpoints: missing files, mismatched shapes, and using or fine-tuning loaded weights."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from xaibench_zoo.checkpoint import CheckpointError, read_state_dict

from .helpers import build_model, make_data, make_info


def _saved_state(tmp_path, key="resnet-18", seed=3):
    comp = build_model(key)
    torch.manual_seed(seed)
    net = comp.build(make_info(), {})
    path = tmp_path / "weights.pt"
    torch.save(net.state_dict(), path)
    return path, net.state_dict()


def test_missing_file_is_a_one_line_error(tmp_path):
    comp = build_model("resnet-18")
    comp = type(comp)(type(comp).Params(width=0.125, checkpoint=str(tmp_path / "nope.pt")))
    with pytest.raises(FileNotFoundError, match="checkpoint file not found: .*nope.pt"):
        comp.train(make_data(n=4), seed=0)


def test_shape_mismatch_names_expected_and_found_shapes(tmp_path):
    path, _ = _saved_state(tmp_path)
    # same architecture at another width: every conv has other shapes
    comp = type(build_model("resnet-18"))(type(build_model("resnet-18")).Params(width=0.25, checkpoint=str(path)))
    with pytest.raises(CheckpointError) as err:
        comp.train(make_data(n=4), seed=0)
    message = str(err.value)
    assert "\n" not in message
    assert "conv1.weight: expected (16, 5, 7, 7), found (8, 5, 7, 7)" in message
    assert "(+" in message  # the rest is counted, not listed


def test_missing_and_unexpected_keys_are_named(tmp_path):
    path, state = _saved_state(tmp_path)
    state = dict(state)
    state.pop("fc.bias")
    state["extra.weight"] = torch.zeros(1)
    torch.save({"state_dict": state}, path)  # a wrapped (Lightning-style) checkpoint is unwrapped
    comp = type(build_model("resnet-18"))(type(build_model("resnet-18")).Params(width=0.125, checkpoint=str(path)))
    with pytest.raises(CheckpointError, match=r"missing keys fc\.bias; unexpected keys extra\.weight"):
        comp.train(make_data(n=4), seed=0)


def test_not_a_state_dict(tmp_path):
    path = tmp_path / "list.pt"
    torch.save([torch.zeros(1)], path)
    with pytest.raises(CheckpointError, match="not a state dict"):
        read_state_dict(path)


def test_checkpoint_is_used_as_the_trained_weights(tmp_path):
    path, state = _saved_state(tmp_path)
    cls = type(build_model("resnet-18"))
    comp = cls(cls.Params(width=0.125, checkpoint=str(path)))
    out = comp.train(make_data(n=6), seed=0)
    assert set(out.arrays) == set(state)
    for k, v in state.items():
        np.testing.assert_array_equal(out[k], v.numpy())
    assert out.meta["metrics"]["epochs"] == 0.0
    assert 0.0 <= out.meta["metrics"]["test_f1_micro"] <= 1.0
    net = comp.load(make_info(), out)
    assert not net.training


def test_pretrained_checkpoint_is_the_starting_point(tmp_path):
    path, state = _saved_state(tmp_path, seed=7)
    cls = type(build_model("resnet-18"))
    data = make_data(n=6)
    # zero epochs: the returned weights are exactly the loaded ones, not the seed's initialisation
    frozen = cls(cls.Params(width=0.125, pretrained_checkpoint=str(path), train={"epochs": 0})).train(data, seed=0)
    np.testing.assert_array_equal(frozen["conv1.weight"], state["conv1.weight"].numpy())
    tuned = cls(cls.Params(width=0.125, pretrained_checkpoint=str(path), train={"epochs": 1, "batch_size": 3})).train(
        data, 0
    )
    assert not np.array_equal(tuned["conv1.weight"], state["conv1.weight"].numpy())


def test_checkpoint_and_pretrained_checkpoint_exclude_each_other():
    import pydantic

    cls = type(build_model("resnet-18"))
    with pytest.raises(pydantic.ValidationError, match="not both"):
        cls.Params(checkpoint="a.pt", pretrained_checkpoint="b.pt")
