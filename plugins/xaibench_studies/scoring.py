"""Predictions of a trained classifier and the performance measures the studies use.

Imports torch and sklearn: import this module inside a metric's ``evaluate`` only.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from xaibench.bundle import Bundle


def model_device(model: Any) -> torch.device:
    """The device of ``model``'s first parameter (CPU for a parameter-free callable)."""
    params = getattr(model, "parameters", None)
    first = next(iter(params()), None) if callable(params) else None
    return first.device if first is not None else torch.device("cpu")


@torch.no_grad()
def predict(model: Any, x: np.ndarray, aux: np.ndarray | None = None, batch_size: int = 64) -> np.ndarray:
    """Logits ``(N, classes)`` float32 of ``model(x, aux)`` for ``x`` ``(N, C, H, W)``, in batches."""
    device = model_device(model)
    out = []
    for i in range(0, len(x), batch_size):
        xb = torch.from_numpy(np.ascontiguousarray(x[i : i + batch_size], dtype=np.float32)).to(device)
        ab = None
        if aux is not None:
            ab = torch.from_numpy(np.ascontiguousarray(aux[i : i + batch_size], dtype=np.float32)).to(device)
        out.append(model(xb, ab).float().cpu().numpy())
    return np.concatenate(out) if out else np.empty((0, 0), dtype=np.float32)


def targets(data: Bundle, split: str, task: str) -> np.ndarray:
    """Ground truth of ``split``: multi-hot bool ``(N, classes)`` or class index ``(N,)``."""
    if task == "multilabel":
        return data[f"{split}/labels"].astype(bool)
    if task == "singlelabel":
        return data[f"{split}/label"].astype(np.int64)
    raise ValueError(f"needs a classification dataset (multilabel or singlelabel), not task {task!r}")


def decisions(logits: np.ndarray, task: str) -> np.ndarray:
    """Predicted labels: ``logits > 0`` (multi-label) or the arg-max class (single-label)."""
    return logits > 0 if task == "multilabel" else logits.argmax(axis=1)


def performance(truth: np.ndarray, pred: np.ndarray, measure: str) -> float:
    """Accuracy (exact match for multi-label), or F1 / F2 with micro or macro averaging, in [0, 1]."""
    from sklearn.metrics import accuracy_score, fbeta_score

    if measure == "accuracy":
        return float(accuracy_score(truth, pred))
    name, average = measure.split("_")
    beta = {"f1": 1.0, "f2": 2.0}[name]
    return float(fbeta_score(truth, pred, beta=beta, average=average, zero_division=0))


def model_aux(data: Bundle, split: str, uses_aux: bool) -> np.ndarray | None:
    """``split``'s auxiliary vector when the model takes one, else ``None``."""
    return data.arrays.get(f"{split}/aux") if uses_aux else None
