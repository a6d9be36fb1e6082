"""Torch-side helpers: predicted targets, upsampling, and re-explaining inputs with a context's method.

Imported lazily by the metrics that need a model (it imports torch).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from xaibench.bundle import Bundle
from xaibench.components import AttributionMethod, AttributionRequest, DatasetInfo

from .arrays import channel_summed, select_classes
from .targets import Target, fixed_targets


def model_device(model: Any) -> torch.device:
    """Device of the model's first parameter (CPU for parameter-free or non-Module models)."""
    if isinstance(model, torch.nn.Module):
        for p in model.parameters():
            return p.device
    return torch.device("cpu")


def predict_logits(model: Any, x: np.ndarray, aux: np.ndarray | None = None, batch_size: int = 64) -> np.ndarray:
    """Logits ``(N, classes)`` of ``model`` on ``x`` ``(N, C, H, W)`` (and ``aux`` ``(N, A)``)."""
    device = model_device(model)
    out = []
    with torch.no_grad():
        for start in range(0, len(x), batch_size):
            xb = torch.as_tensor(
                np.ascontiguousarray(x[start : start + batch_size]), dtype=torch.float32, device=device
            )
            ab = None
            if aux is not None:
                ab = torch.as_tensor(
                    np.ascontiguousarray(aux[start : start + batch_size]), dtype=torch.float32, device=device
                )
            out.append(model(xb, ab).float().cpu().numpy())
    return np.concatenate(out) if out else np.zeros((0, 0), np.float32)


def resolve_targets(
    target: Target, data: Bundle, n_classes: int, load_model: Any, split: str = "test", rows: np.ndarray | None = None
) -> np.ndarray:
    """Class to explain for each sample of ``split`` (restricted to ``rows``): ``(N,)`` int64.

    See :data:`~.targets.Target`; ``load_model`` is only called for ``"predicted"``.
    """
    x = data.rows(f"{split}/x")  # only the rows asked for are read from a large split
    n = len(x) if rows is None else len(rows)
    if target == "predicted":
        aux = data.rows(f"{split}/aux") if f"{split}/aux" in data else None
        x = np.asarray(x) if rows is None else x[rows]
        aux = None if aux is None else (np.asarray(aux) if rows is None else aux[rows])
        return predict_logits(load_model(), x, aux).argmax(axis=1).astype(np.int64)
    return fixed_targets(target, n, n_classes)


def upsample(maps: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Bilinear (``align_corners=False``) resize of ``(N, k, h, w)`` maps to ``(N, k, *size)`` float32."""
    if tuple(maps.shape[-2:]) == tuple(size):
        return np.asarray(maps, dtype=np.float32)
    with torch.no_grad():
        t = torch.from_numpy(np.ascontiguousarray(maps, dtype=np.float32))
        return F.interpolate(t, size=tuple(size), mode="bilinear", align_corners=False).numpy()


def to_input_space(attributions: np.ndarray, targets: np.ndarray, x_shape: tuple[int, ...]) -> np.ndarray:
    """The targets' maps laid out like the input, as Quantus requires.

    ``attributions``: ``(N, classes, H_l, W_l)`` or ``(N, classes, D_l, H_l, W_l)``;
    ``x_shape``: ``(C, H, W)``.  Per-band maps at the input (``D_l == C``, same size)
    are kept: ``(N, C, H, W)``.  Otherwise the channel-summed map is upsampled
    bilinearly to the input size: ``(N, 1, H, W)`` (a deep layer's map is coarser;
    Quantus checks that attribution axes are input axes).
    """
    channels, size = x_shape[0], tuple(x_shape[-2:])
    if attributions.ndim == 5 and attributions.shape[2] == channels and tuple(attributions.shape[-2:]) == size:
        return np.asarray(select_classes(attributions, targets), dtype=np.float32)
    maps = select_classes(channel_summed(attributions), targets)[:, None]
    return upsample(maps, size)


def rows_bundle(data: Bundle, split: str, rows: np.ndarray, x: np.ndarray) -> Bundle:
    """``data`` with ``split``'s per-sample arrays restricted to ``rows`` and ``x`` replaced.

    Arrays of other splits are passed through untouched (a method may use training
    data, e.g. for baselines); arrays of ``split`` whose first axis is not the
    sample axis are passed through too.
    """
    prefix = f"{split}/"
    n = len(data.rows(f"{split}/x"))
    arrays = {}
    for name in data:
        arr = data.rows(name)  # lazy arrays of other splits stay lazy; only ``rows`` of ``split`` are read
        if name.startswith(prefix) and len(arr.shape) >= 1 and arr.shape[0] == n:
            arr = arr[rows]
        arrays[name] = arr
    arrays[f"{split}/x"] = np.asarray(x, dtype=np.float32)
    return Bundle(arrays, dict(data.meta))


@dataclass
class Reexplainer:
    """Explains (perturbed) copies of some test samples with the very same method, layer and seed.

    ``explain(model, x, rows, targets)``: ``x`` ``(b, C, H, W)`` replaces
    ``test/x[rows]`` (its other arrays, e.g. ``aux``, are taken from ``rows``; when
    ``rows`` has one element it is repeated to ``b``, for metrics that explain a batch
    of perturbations of one sample).  Returns the targets' maps in input space, see
    :func:`to_input_space`.

    ``fresh_draws``: every call after the first explains with its own seed, derived from ``seed``
    and the call's number (``numpy.random.SeedSequence``), so a stochastic method (SmoothGrad,
    Gradient-SHAP) draws new noise for each perturbed input, as it would for a new input; the
    result is still reproducible.  Off, every call reuses ``seed`` (common random numbers: the
    same noise for the original and the perturbed inputs, which hides the method's own variance).
    """

    method: AttributionMethod
    data: Bundle
    data_info: DatasetInfo
    layer: str
    seed: int
    split: str = "test"
    memory_budget_mb: int = 2048
    fresh_draws: bool = False
    calls: int = 0
    """Calls made so far (the next call's number)."""

    def call_seed(self) -> int:
        """The seed of the next call: ``seed`` for the first (and for every call without ``fresh_draws``)."""
        if not self.fresh_draws or self.calls == 0:
            return self.seed
        return int(np.random.SeedSequence([self.seed, self.calls]).generate_state(1)[0] % 2**31)

    def explain(self, model: Any, x: np.ndarray, rows: np.ndarray, targets: np.ndarray) -> np.ndarray:
        seed = self.call_seed()
        self.calls += 1
        rows = np.asarray(rows)
        if len(rows) != len(x):
            if len(rows) != 1:
                raise ValueError(f"cannot pair {len(x)} inputs with {len(rows)} samples")
            rows = np.repeat(rows, len(x))
        request = AttributionRequest(
            model=model,
            data=rows_bundle(self.data, self.split, rows, x),
            data_info=self.data_info,
            split=self.split,
            layer=self.layer,
            seed=seed,
            memory_budget_mb=self.memory_budget_mb,
        )
        attributions = np.asarray(self.method.attribute(request))
        return to_input_space(attributions, np.asarray(targets, dtype=np.int64).reshape(-1), tuple(x.shape[1:]))
