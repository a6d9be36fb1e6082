"""synth-landcover is learnable: a small CNN reaches test F1-micro >= 0.85 in about 1.5 min of CPU."""

from __future__ import annotations

import pytest

from xaibench_synth.landcover import SynthLandcover


def small_cnn(bands: int, classes: int, width: int = 32):
    import torch.nn as nn

    def block(i: int, o: int) -> list:
        return [nn.Conv2d(i, o, 3, padding=1), nn.BatchNorm2d(o), nn.ReLU(), nn.MaxPool2d(2)]

    return nn.Sequential(
        *block(bands, width), *block(width, 2 * width), *block(2 * width, 2 * width),
        nn.Conv2d(2 * width, 4 * width, 3, padding=1), nn.ReLU(),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4 * width, classes),
    )  # fmt: skip


def f1_micro(pred, target) -> float:
    tp = float((pred * target).sum())
    return 2 * tp / float(pred.sum() + target.sum())


@pytest.mark.training
def test_small_cnn_reaches_f1_micro_085():
    torch = pytest.importorskip("torch")
    torch.set_num_threads(2)
    torch.manual_seed(0)
    data = SynthLandcover(SynthLandcover.Params(n_train=512, n_val=0, n_test=512)).load(0)
    x, y = torch.tensor(data["train/x"]), torch.tensor(data["train/labels"])
    net = small_cnn(13, 8)
    epochs, batch = 8, 32
    opt = torch.optim.AdamW(net.parameters(), 3e-3)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, 3e-3, total_steps=epochs * ((len(x) + batch - 1) // batch))
    loss_fn = torch.nn.BCEWithLogitsLoss()
    shuffle = torch.Generator().manual_seed(0)
    for _ in range(epochs):
        net.train()
        perm = torch.randperm(len(x), generator=shuffle)
        for i in range(0, len(x), batch):
            idx = perm[i : i + batch]
            opt.zero_grad()
            loss_fn(net(x[idx]), y[idx]).backward()
            opt.step()
            sched.step()
    net.eval()
    with torch.no_grad():
        pred = (net(torch.tensor(data["test/x"])) > 0).float()
    score = f1_micro(pred, torch.tensor(data["test/labels"]))
    assert score >= 0.85, score
