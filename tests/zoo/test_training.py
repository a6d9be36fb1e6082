"""The shared trainer: determinism, schedule, early stopping, best-state restore, metrics, round trips."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from xaibench.bundle import Bundle
from xaibench_zoo.datainfo import band_groups, dataset_info, info_from_dict

from .helpers import build_model, make_data, make_info


def _train(key, data=None, seed=0, **train):
    comp = build_model(key, **{"epochs": 2, "batch_size": 8, **train})
    return comp, comp.train(data if data is not None else make_data(n=16), seed)


@pytest.mark.parametrize("key", ["resnet-18", "fusion-resnet-18", "uh-net"])
def test_same_seed_gives_bit_identical_weights(key):
    # fusion: modality dropout; all: shuffling and augmentation draw from the seed
    _, a = _train(key, seed=5)
    _, b = _train(key, seed=5)
    _, c = _train(key, seed=6)
    assert set(a.arrays) == set(b.arrays)
    assert all(np.array_equal(a[k], b[k]) for k in a.arrays)
    assert a.meta["history"][-1]["train_loss"] == b.meta["history"][-1]["train_loss"]
    assert not all(np.array_equal(a[k], c[k]) for k in a.arrays)


def test_learns_a_learnable_task_and_reports_metrics():
    data = make_data(n=64, size=16, learnable=True)
    comp, state = _train("resnet-18", data, epochs=8, lr=3e-3)
    m = state.meta["metrics"]
    assert {
        "test_accuracy",
        "test_f1_micro",
        "test_f1_macro",
        "test_loss",
        "epochs",
        "best_epoch",
        "best_val_loss",
        "seconds_per_epoch",
        "n_params",
    } <= set(m)
    assert all(isinstance(v, float) for v in m.values())
    assert m["test_f1_micro"] > 0.8, m
    history = state.meta["history"]
    assert len(history) == m["epochs"] and history[-1]["train_loss"] < history[0]["train_loss"]
    assert {"epoch", "train_loss", "val_loss", "lr", "seconds"} <= set(history[0])


def test_best_validation_state_is_the_one_returned():
    data = make_data(n=32, size=16)  # random labels: validation loss wanders, the best epoch is rarely the last
    comp, state = _train("resnet-18", data, epochs=6, lr=0.02, early_stopping=False)
    history = state.meta["history"]
    best = min(history, key=lambda h: h["val_loss"])
    assert state.meta["metrics"]["best_epoch"] == best["epoch"]
    net = comp.load(make_info(), state)
    with torch.no_grad():
        logits = net(torch.from_numpy(data["val/x"]), None)
    val_loss = torch.nn.functional.binary_cross_entropy_with_logits(logits, torch.from_numpy(data["val/labels"]))
    assert float(val_loss) == pytest.approx(best["val_loss"], rel=1e-4)


def test_early_stopping_after_patience_epochs_without_improvement():
    data = make_data(n=32, size=16)
    _, state = _train("resnet-18", data, epochs=30, lr=0.05, patience=2, lr_patience=10)
    history, m = state.meta["history"], state.meta["metrics"]
    assert len(history) < 30
    assert history[-1]["epoch"] - m["best_epoch"] == 2
    assert all(h["val_loss"] >= m["best_val_loss"] for h in history)


def test_linear_warmup_then_plateau_reduction():
    data = make_data(n=32, size=16)
    # 4 steps per epoch, 2 warm-up epochs: the rate reaches lr/2 after epoch 1, lr after epoch 2
    _, state = _train(
        "resnet-18", data, epochs=8, lr=0.01, warmup_epochs=2, lr_patience=0, lr_factor=0.5, early_stopping=False
    )
    lrs = [h["lr"] for h in state.meta["history"]]
    assert lrs[0] == pytest.approx(0.005) and lrs[1] <= 0.01
    after = lrs[1:]
    assert all(b <= a for a, b in zip(after, after[1:]))
    assert all(np.log2(0.01 / v) == pytest.approx(round(np.log2(0.01 / v))) for v in after)
    assert min(after) < 0.01  # random labels: validation loss stops improving at some point


def test_single_label_uses_cross_entropy():
    data = make_data(n=16, size=16, task="singlelabel")
    comp, state = _train("resnet-18", data)
    assert state.meta["metrics"]["test_f1_micro"] == pytest.approx(state.meta["metrics"]["test_accuracy"])
    net = comp.load(make_info("singlelabel"), state)
    assert net(torch.from_numpy(data["test/x"][:2])).shape == (2, 3)


def test_aux_models_train_with_aux_and_refuse_data_without_it():
    comp, state = _train("resnet-18-cbn")
    assert state.meta["arch"] == {"aux_dim": 4}
    net = comp.load(make_info(), state)
    assert net.uses_aux
    data = make_data(n=16)
    for split in ("train", "val", "test"):
        del data.arrays[f"{split}/aux"]
    with pytest.raises(ValueError, match="needs the auxiliary vector"):
        comp.train(data, 0)


def test_state_survives_bundle_serialisation_and_load():
    comp, state = _train("uh-net", epochs=1)
    again = Bundle.from_bytes(state.to_bytes())
    assert set(again.arrays) == set(state.arrays)
    assert all(np.array_equal(again[k], state[k]) and again[k].dtype == state[k].dtype for k in state.arrays)
    x = torch.from_numpy(make_data(n=3)["test/x"])
    a, b = comp.load(make_info(), state), comp.load(make_info(), again)
    assert not a.training
    with torch.no_grad():
        torch.testing.assert_close(a(x), b(x), rtol=0, atol=0)


def test_forecast_datasets_are_refused():
    data = make_data(n=4)
    data.meta["info"]["task"] = "forecast"
    with pytest.raises(ValueError, match="multilabel or singlelabel"):
        build_model("resnet-18").train(data, 0)


def test_dataset_info_round_trip_and_fallback():
    info = make_info()
    assert info_from_dict(dataclasses.asdict(info)) == info
    assert band_groups(info) == (("s2", "s1"), ((0, 1, 3), (2, 4)))
    data = make_data(n=4)
    del data.meta["info"]
    inferred = dataset_info(data)
    assert (inferred.task, inferred.n_bands, inferred.n_classes) == ("multilabel", 5, 3)
    assert "aux" in inferred.provides
