"""The one trainer of the zoo: AdamW, warm-up, reduce-on-plateau, early stopping on validation loss.

Deterministic for a seed on a given device and thread count: the caller seeds torch before
building the network, batches are shuffled with a generator seeded from the same seed.
"""

from __future__ import annotations

import copy
import math
import os
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from xaibench.arrays import LazyArray
from xaibench.bundle import Bundle
from xaibench.progress import task as progress_task

from .params import TrainParams


def default_device() -> torch.device:
    """``$XAIBENCH_DEVICE`` if set, else CUDA when available, else CPU."""
    name = os.environ.get("XAIBENCH_DEVICE") or ("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


IN_MEMORY_BYTES = 128 * 2**20
"""A split's inputs up to this size are read whole into memory (the fastest batches); larger ones
stay in the cache's row files and each batch reads its samples (bounded memory at any size)."""


INFERENCE_BYTES = 512 * 2**20
"""Working memory of one no-grad batch (evaluation, features, predictions): a batch holds as many
samples as this holds of one sample's activations (see :func:`inference_batch`).  A fixed 64 samples
of 13 x 256 x 256 through UH-Net at width 1 held 13.5 GB; small patches keep batches of 64."""


def inference_batch(net: nn.Module, forward: Any, most: int) -> int:
    """Samples per no-grad batch: ``most`` at the most, and as many as :data:`INFERENCE_BYTES` holds
    of one sample's activations.  ``forward()`` runs one sample through (part of) ``net``; the
    outputs of ``net``'s leaf modules during that call are summed, an upper bound of what a no-grad
    forward keeps alive at once (functional ops inside a module's ``forward`` are not counted; the
    sum over every module's output more than covers them in the zoo's networks)."""
    sizes: list[int] = []

    def count(_module: nn.Module, _inputs: Any, out: Any) -> None:
        for t in out if isinstance(out, (tuple, list)) else (out,):
            if isinstance(t, torch.Tensor):
                sizes.append(t.numel() * t.element_size())

    # TorchScript modules take no hooks: a net with any keeps the given batch (as before the probe).
    if any(isinstance(m, torch.jit.ScriptModule) for m in net.modules()):
        return most
    handles = [m.register_forward_hook(count) for m in net.modules() if next(m.children(), None) is None]
    training = net.training
    try:
        net.eval()
        with torch.no_grad():
            forward()
    finally:
        net.train(training)
        for h in handles:
            h.remove()
    return int(max(1, min(most, INFERENCE_BYTES // max(1, sum(sizes)))))


class Rows:
    """Rows of an input array as tensors, from memory or, for a large split, read per batch."""

    def __init__(self, array: Any, dtype: Any = np.float32) -> None:
        if isinstance(array, LazyArray) and array.nbytes <= IN_MEMORY_BYTES:
            array = np.asarray(array)
        self.array, self.dtype = array, dtype
        self.whole = None if isinstance(array, LazyArray) else _tensor(array, dtype)
        self.shape = tuple(array.shape)

    def __len__(self) -> int:
        return self.shape[0]

    def __getitem__(self, index: Any) -> torch.Tensor:
        if self.whole is not None:
            return self.whole[index]
        if isinstance(index, torch.Tensor):
            index = index.numpy()
        return _tensor(self.array[index], self.dtype)


@dataclass
class SplitData:
    """One split's model inputs ``x`` and ``aux`` (or None) and targets ``y``, as rows of tensors.

    Classification: ``x`` ``(N, C, H, W)``, ``y`` multi-hot float ``(N, classes)`` or class
    index ``(N,)``.  Forecast: ``x`` the context ``(N, T_c * C, H, W)``, ``aux`` the weather
    ``(N, T_days * V)``, ``y`` the target frames ``(N, T_t, C, H, W)`` (cloud mask last).
    """

    x: Rows
    y: torch.Tensor
    aux: Rows | None

    @property
    def n(self) -> int:
        return len(self.x)


def _tensor(array: np.ndarray, dtype=np.float32) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(array, dtype=dtype))


def model_inputs(data: Bundle, split: str, task: str) -> tuple[Any, Any]:
    """``(x, aux)`` arrays of ``split`` as the model takes them (see :class:`SplitData`); a large
    classification split's ``x`` stays lazy (:class:`xaibench.arrays.LazyArray`)."""
    if task == "forecast":
        context, weather = data[f"{split}/context"], data[f"{split}/weather"]
        return context.reshape(context.shape[0], -1, *context.shape[-2:]), weather.reshape(weather.shape[0], -1)
    return data.rows(f"{split}/x"), (data.rows(f"{split}/aux") if f"{split}/aux" in data else None)


def split_data(data: Bundle, split: str, task: str, need_aux: bool) -> SplitData | None:
    """The rows of ``split`` (``None`` if the bundle has no such split)."""
    if f"{split}/x" not in data and f"{split}/context" not in data:
        return None
    x, aux = model_inputs(data, split, task)
    if task == "multilabel":
        y = _tensor(data[f"{split}/labels"])
    elif task == "singlelabel":
        y = _tensor(data[f"{split}/label"], np.int64)
    elif task == "forecast":
        y = _tensor(data[f"{split}/target"])
    else:
        raise ValueError(f"unknown task {task!r}")
    if aux is None and need_aux:
        raise ValueError(f"this model needs the auxiliary vector but the data has no {split}/aux")
    return SplitData(Rows(x), y, None if aux is None else Rows(aux))


REFLECTANCE_BANDS = 4
"""Forecast frames start with B2, B3, B4, B8A; the loss compares these."""


def masked_l1(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean absolute error of ``pred`` ``(N, T, B, H, W)`` over the cloud-free pixels of ``target``
    ``(N, T, C, H, W)`` (first ``B`` channels compared, cloud mask in the last channel)."""
    valid = (1.0 - target[:, :, -1:]).expand_as(pred)
    return ((pred - target[:, :, : pred.shape[2]]).abs() * valid).sum() / valid.sum().clamp_min(1.0)


def batch_loss(task: str, net: nn.Module, x: torch.Tensor, aux: torch.Tensor | None, y: torch.Tensor) -> torch.Tensor:
    """BCE-with-logits (multi-label), cross-entropy (single-label), masked L1 (forecast); batch means."""
    if task == "forecast":
        return masked_l1(net.forecast(x, aux), y)  # type: ignore[operator]
    return loss_fn(task, net(x, aux), y)


def loss_fn(task: str, logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Classification loss of ``logits`` ``(N, classes)``."""
    if task == "multilabel":
        return F.binary_cross_entropy_with_logits(logits, y)
    return F.cross_entropy(logits, y)


def _augment(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """One random element of the dihedral group (flips x 90-degree rotations) per batch."""
    k, flip = (int(v) for v in torch.randint(0, 4, (2,), generator=gen))
    if x.shape[-1] == x.shape[-2]:
        x = torch.rot90(x, k, dims=(-2, -1))
    return torch.flip(x, dims=(-1,)) if flip % 2 else x


def _batches(split: SplitData, batch_size: int, device: torch.device):
    for i in range(0, split.n, batch_size):
        aux = None if split.aux is None else split.aux[i : i + batch_size].to(device)
        yield split.x[i : i + batch_size].to(device), aux, split.y[i : i + batch_size].to(device)


def _eval_batch(task: str, net: nn.Module, split: SplitData, device: torch.device, most: int) -> int:
    """:func:`inference_batch` for whole-network batches of ``split`` (a forecaster's ``forecast``)."""
    if split.n == 0:
        return most
    x = split.x[0:1].to(device)
    aux = None if split.aux is None else split.aux[0:1].to(device)
    run = net.forecast if task == "forecast" else net  # type: ignore[operator]
    return inference_batch(net, lambda: run(x, aux), most)


@torch.no_grad()
def predict(net: nn.Module, split: SplitData, batch_size: int, device: torch.device) -> torch.Tensor:
    """``net``'s outputs ``(N, classes)`` in eval mode, on CPU."""
    net.eval()
    out = [net(x, aux).float().cpu() for x, aux, _ in _batches(split, batch_size, device)]
    return torch.cat(out) if out else torch.empty(0)


@torch.no_grad()
def mean_loss(task: str, net: nn.Module, split: SplitData, batch_size: int, device: torch.device) -> float:
    """The loss over a whole split in eval mode (sample-weighted mean of batch losses)."""
    return val_scores(task, net, split, batch_size, device)[0]


@torch.no_grad()
def val_scores(task: str, net: nn.Module, split: SplitData, batch_size: int, device: torch.device) -> tuple[float, float | None]:
    """Loss and accuracy (exact match for multi-label; ``None`` for forecasts) over a split in eval mode."""
    net.eval()
    total, correct = 0.0, 0.0
    for x, aux, y in _batches(split, batch_size, device):
        total += float(batch_loss(task, net, x, aux, y)) * len(x)
        if task == "multilabel":
            correct += float(((net(x, aux) > 0) == y.bool()).all(dim=1).sum())
        elif task != "forecast":
            correct += float((net(x, aux).argmax(1) == y).sum())
    n = max(split.n, 1)
    return total / n, (None if task == "forecast" else correct / n)


def classification_metrics(task: str, logits: torch.Tensor, y: torch.Tensor, prefix: str) -> dict[str, float]:
    """Loss, accuracy (exact match for multi-label), F1 micro and macro."""
    from sklearn.metrics import accuracy_score, f1_score

    if task == "multilabel":
        truth, pred = y.numpy().astype(bool), (logits > 0).numpy()
    else:
        truth, pred = y.numpy(), logits.argmax(1).numpy()
    return {
        f"{prefix}_loss": float(loss_fn(task, logits, y)),
        f"{prefix}_accuracy": float(accuracy_score(truth, pred)),
        f"{prefix}_f1_micro": float(f1_score(truth, pred, average="micro", zero_division=0)),
        f"{prefix}_f1_macro": float(f1_score(truth, pred, average="macro", zero_division=0)),
    }


@dataclass
class FitResult:
    """``metrics``: flat floats (test scores, epochs run, seconds per epoch); ``history``: one dict per epoch."""

    metrics: dict[str, float] = field(default_factory=dict)
    history: list[dict[str, float]] = field(default_factory=list)


def fit(net: nn.Module, data: Bundle, task: str, params: TrainParams, seed: int, need_aux: bool = False) -> FitResult:
    """Train ``net`` in place on ``train``, monitor ``val`` (``train`` if absent), score ``test``.

    ``net`` ends in eval mode on CPU holding the weights of its best validation epoch.
    """
    device = default_device()
    train = split_data(data, "train", task, need_aux)
    if train is None:
        raise ValueError(f"the data has no train split (arrays: {', '.join(sorted(data.arrays)[:8])}...)")
    val = split_data(data, "val", task, need_aux) or train

    net.to(device)
    gen = torch.Generator().manual_seed(seed)
    opt = torch.optim.AdamW(net.parameters(), lr=params.lr, weight_decay=params.weight_decay)
    plateau = torch.optim.lr_scheduler.ReduceLROnPlateau(opt, factor=params.lr_factor, patience=params.lr_patience)
    steps_per_epoch = max(1, math.ceil(train.n / params.batch_size))
    warmup_steps = params.warmup_epochs * steps_per_epoch
    eval_batch = _eval_batch(task, net, val, device, max(params.batch_size, 64))

    history: list[dict[str, float]] = []
    best_loss, best_epoch, bad_epochs = math.inf, -1, 0
    best_state = copy.deepcopy(net.state_dict())
    epoch_seconds: list[float] = []
    step = 0
    with progress_task(f"train {type(net).__name__}", params.epochs) as advance:
        for epoch in range(params.epochs):
            start = time.perf_counter()
            net.train()
            order = torch.randperm(train.n, generator=gen)
            total, seen = 0.0, 0
            for i in range(0, train.n, params.batch_size):
                idx = order[i : i + params.batch_size]
                if len(idx) < 2:  # batch norm cannot normalise a batch of one
                    continue
                if step < warmup_steps:
                    for group in opt.param_groups:
                        group["lr"] = params.lr * (step + 1) / warmup_steps
                x = train.x[idx]
                if params.augment and task != "forecast":
                    x = _augment(x, gen)
                aux = None if train.aux is None else train.aux[idx].to(device)
                loss = batch_loss(task, net, x.to(device), aux, train.y[idx].to(device))
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                total += loss.item() * len(idx)
                seen += len(idx)
                step += 1
            epoch_seconds.append(time.perf_counter() - start)
            val_loss, val_accuracy = val_scores(task, net, val, eval_batch, device)
            if epoch + 1 >= params.warmup_epochs:
                plateau.step(val_loss)
            history.append(
                {
                    "epoch": epoch + 1,
                    "train_loss": total / max(seen, 1),
                    "val_loss": val_loss,
                    **({} if val_accuracy is None else {"val_accuracy": val_accuracy}),
                    "lr": opt.param_groups[0]["lr"],
                    "seconds": epoch_seconds[-1],
                }
            )
            advance()
            if val_loss < best_loss:
                best_loss, best_epoch, bad_epochs = val_loss, epoch + 1, 0
                best_state = copy.deepcopy(net.state_dict())
            else:
                bad_epochs += 1
                if params.early_stopping and bad_epochs >= params.patience:
                    break

    net.load_state_dict(best_state)
    net.eval()
    metrics = evaluate(net, data, task, need_aux)
    net.to("cpu")
    metrics["epochs"] = float(len(history))
    metrics["seconds_per_epoch"] = float(np.mean(epoch_seconds)) if epoch_seconds else 0.0
    if best_epoch > 0:
        metrics.update(best_epoch=float(best_epoch), best_val_loss=best_loss)
    return FitResult(metrics, history)


def evaluate(net: nn.Module, data: Bundle, task: str, need_aux: bool = False) -> dict[str, float]:
    """Test-split scores of a trained ``net`` (empty when the bundle has no test split).

    Classification: see :func:`classification_metrics`.  Forecast: ``test_loss`` (masked L1
    of the reflectance), ``test_persistence_loss`` (the same for the persistence baseline, the
    last context frame repeated: a forecaster should beat it) and ``test_ndvi_rmse`` against
    the cloud-free ``test/target_ndvi``.
    """
    test = split_data(data, "test", task, need_aux)
    if test is None:
        return {}
    device = next(net.parameters()).device
    if task != "forecast":
        return classification_metrics(task, predict(net, test, _eval_batch(task, net, test, device, 64), device), test.y,
                                      "test")
    metrics = {
        "test_loss": mean_loss(task, net, test, _eval_batch(task, net, test, device, 16), device),
        "test_persistence_loss": persistence_loss(data, "test"),
    }
    if "test/target_ndvi" in data:
        with torch.no_grad():
            frames = torch.cat([net.forecast(x, aux).cpu() for x, aux, _ in _batches(test, 16, device)])  # type: ignore[operator]
        from .nets.convlstm import ndvi

        metrics["test_ndvi_rmse"] = float(((ndvi(frames) - _tensor(data["test/target_ndvi"])) ** 2).mean().sqrt())
    return metrics


def persistence_loss(data: Bundle, split: str) -> float:
    """Masked L1 (reflectance units) of the persistence forecast of ``split``: every target frame
    is the last context frame's reflectance (clouds included, as a naive forecaster sees it)."""
    context, target = _tensor(data[f"{split}/context"]), _tensor(data[f"{split}/target"])
    last = context[:, -1:, :REFLECTANCE_BANDS].expand(-1, target.shape[1], -1, -1, -1)
    return float(masked_l1(last, target))


@torch.no_grad()
def features(net: nn.Module, data: Bundle, split: str, layer: str, task: str, batch_size: int = 64) -> np.ndarray:
    """Feature map of ``split`` at ``layer``: ``(N, D_l, H_l, W_l)`` float32, no grad, in batches of
    ``batch_size`` samples at the most (fewer when their activations exceed :data:`INFERENCE_BYTES`)."""
    body, _ = net.split(layer)  # type: ignore[operator]
    x, aux = model_inputs(data, split, task)
    device = next(net.parameters()).device
    if len(x):
        def one() -> Any:
            xb = torch.as_tensor(np.asarray(x[:1], dtype=np.float32), device=device)
            ab = None if aux is None else torch.as_tensor(np.asarray(aux[:1], dtype=np.float32), device=device)
            return body(xb, ab)

        batch_size = inference_batch(net, one, batch_size)
    out = []
    for i in range(0, len(x), batch_size):
        xb = torch.as_tensor(np.asarray(x[i : i + batch_size], dtype=np.float32), device=device)
        ab = (
            None
            if aux is None
            else torch.as_tensor(np.asarray(aux[i : i + batch_size], dtype=np.float32), device=device)
        )
        out.append(body(xb, ab).float().cpu().numpy())
    return np.concatenate(out) if out else np.zeros((0,), np.float32)
