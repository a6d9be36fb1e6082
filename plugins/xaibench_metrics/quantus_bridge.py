"""Glue between xaibench contexts and Quantus (https://github.com/understandable-machine-intelligence-lab/Quantus).

Quantus evaluates a ``torch.nn.Module`` taking one input tensor, attributions laid
out like the input, and an ``explain_func(model, inputs, targets)``.  This module
provides those from a :class:`~xaibench.components.MetricContext`:

- :class:`QuantusModule` binds a :class:`~xaibench.components.SplittableModel` and the
  samples' auxiliary vectors into such a module;
- the explain function re-explains with the context's very method, layer and seed
  (:class:`~.explain.Reexplainer`), on the model Quantus hands it (a randomised copy
  for the randomisation metrics);
- :func:`evaluate` runs a Quantus metric over the test samples chunk by chunk.

Imported lazily (it imports torch and quantus).
"""

from __future__ import annotations

import inspect
import re
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
import torch

from xaibench.bundle import Bundle
from xaibench.components import MetricValue

from .explain import Reexplainer, model_device

Scores = list | dict


def _numpy2_compat() -> None:
    """Quantus 0.6.0 integrates curves (Pixel-Flipping, IROF, Selectivity, Region
    Perturbation) with ``np.trapz``, removed in NumPy 2.4.  All of them go through
    ``quantus.helpers.utils.calculate_auc``; point that one helper at
    ``np.trapezoid`` (same signature) rather than adding ``trapz`` back to numpy."""
    import quantus.helpers.utils as qutils

    if hasattr(np, "trapz") or getattr(qutils.calculate_auc, "_xaibench", False):
        return

    def calculate_auc(values: Any, dx: int = 1, batched: bool = False) -> Any:
        return np.trapezoid(np.array(values), dx=dx, axis=1 if batched else -1)

    calculate_auc._xaibench = True  # type: ignore[attr-defined]
    qutils.calculate_auc = calculate_auc


_numpy2_compat()


class QuantusModule(torch.nn.Module):
    """``forward(x) -> logits`` over a model called as ``model(x, aux)``.

    ``aux`` ``(b, A)`` belongs to the ``b`` samples being evaluated; a batch of another
    size is accepted only when ``b == 1`` (perturbations of one sample), else it would
    pair inputs with the wrong vectors.
    """

    def __init__(self, inner: Any, aux: np.ndarray | None = None) -> None:
        super().__init__()
        self.inner = inner  # registered as a submodule when it is one, so MPRT randomises it
        device = model_device(inner)
        self.register_buffer("aux", None if aux is None else torch.as_tensor(aux, dtype=torch.float32, device=device))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        aux = self.aux
        if aux is not None and aux.shape[0] != x.shape[0]:
            if aux.shape[0] != 1:
                raise ValueError(f"cannot pair {x.shape[0]} inputs with {aux.shape[0]} auxiliary vectors")
            aux = aux.expand(x.shape[0], -1)
        return self.inner(x, aux)


def make_explain_func(reexplainer: Reexplainer, rows: np.ndarray) -> Callable[..., np.ndarray]:
    """Quantus ``explain_func`` for the test samples ``rows``."""

    def explain(model: Any, inputs: Any, targets: Any, **_: Any) -> np.ndarray:
        inner = model.inner if isinstance(model, QuantusModule) else model
        if isinstance(inputs, torch.Tensor):
            inputs = inputs.detach().cpu().numpy()
        if isinstance(targets, torch.Tensor):
            targets = targets.detach().cpu().numpy()
        inputs = np.asarray(inputs, dtype=np.float32)
        targets = np.broadcast_to(np.asarray(targets, dtype=np.int64).reshape(-1), (len(inputs),))
        return reexplainer.explain(inner, inputs, rows, targets)

    return explain


def uniform_noise(rng: np.random.Generator) -> Callable[..., np.ndarray]:
    """Quantus ``perturb_func`` adding noise ~ U(-lower_bound, lower_bound) (or U(lower, upper)).

    Same contract as ``quantus.functions.perturb_func.batch_uniform_noise``, which
    draws from numpy's global random state; this one draws from ``rng`` so results
    depend only on our seed and leave the global state alone.
    """

    def perturb(
        arr: np.ndarray, indices: np.ndarray, lower_bound: float = 0.02, upper_bound: float | None = None, **_: Any
    ) -> np.ndarray:
        low, high = (-lower_bound, lower_bound) if upper_bound is None else (lower_bound, upper_bound)
        noise = rng.uniform(low, high, size=arr.shape)
        out = arr.copy()
        r = np.arange(arr.shape[0])[:, None]
        out[r, indices] = (arr + noise)[r, indices]
        return out

    return perturb


@contextmanager
def seeded(seed: int) -> Iterator[None]:
    """Seed numpy's global and torch's CPU random state (Quantus draws from both); restore them after."""
    state = np.random.get_state()
    np.random.seed(seed % 2**32)
    try:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            yield
    finally:
        np.random.set_state(state)


def _norm(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower())


def resolve_metric(name: str) -> type:
    """The Quantus metric class called ``name``: a class name (``"MaxSensitivity"``)
    or a display name (``"Max-Sensitivity"``), case and punctuation ignored."""
    import quantus
    from quantus.metrics.base import Metric as QuantusMetric

    classes = {
        n: o
        for n, o in vars(quantus).items()
        if inspect.isclass(o) and issubclass(o, QuantusMetric) and o is not QuantusMetric
    }
    if name in classes:
        return classes[name]
    key = _norm(name)
    matches = {n: o for n, o in classes.items() if _norm(n) == key}
    if not matches:
        matches = {n: o for n, o in classes.items() if _norm(getattr(o, "name", "")) == key}
    if len(matches) == 1:
        return next(iter(matches.values()))
    if matches:
        raise ValueError(f"Quantus metric {name!r} is ambiguous: use one of {sorted(matches)}")
    raise ValueError(f"unknown Quantus metric {name!r}; known: {', '.join(sorted(classes))}")


def resolve_functions(params: dict[str, Any]) -> dict[str, Any]:
    """Replace string values of ``*_func`` keys by the function of that name in
    ``quantus.functions`` (``"correlation_spearman"``) or numpy (``"mean"``), so that
    a YAML registry can choose them."""
    import importlib
    import pkgutil

    import quantus.functions as qf

    modules = [importlib.import_module(f"quantus.functions.{m.name}") for m in pkgutil.iter_modules(qf.__path__)]
    out = dict(params)
    for key, value in params.items():
        if not (key.endswith("_func") and isinstance(value, str)):
            continue
        name = value.removeprefix("np.").removeprefix("numpy.")
        found = next((getattr(m, value) for m in modules if callable(getattr(m, value, None))), None)
        if found is None and callable(getattr(np, name, None)):
            found = getattr(np, name)
        if found is None:
            raise ValueError(f"{key}={value!r}: no such function in quantus.functions or numpy")
        out[key] = found
    return out


def _merge(total: Scores | None, part: Any) -> Scores:
    if isinstance(part, dict):
        total = total if isinstance(total, dict) else {}
        for k, v in part.items():
            # Layer names are seen through QuantusModule: drop its attribute name.
            key = str(k).removeprefix("inner.")
            total.setdefault(key, []).extend(v if isinstance(v, (list, np.ndarray)) else [v])
        return total
    total = total if isinstance(total, list) else []
    total.extend(list(part))
    return total


# Quantus's sanity checks on attributions (quantus.helpers.asserts.assert_attributions)
# reject a whole batch whose maps are all zero, all one, constant or all negative.
# Such maps can be legitimate (an all-negative map for a sample); they are scored NaN
# one sample at a time instead of failing the batch.
_REJECTIONS = ("all equal to zero", "all equal to one", "uniformly distributed", "all be less than zero")


def _rejected(error: AssertionError) -> bool:
    return any(text in str(error) for text in _REJECTIONS)


def evaluate(
    metric: Any,
    *,
    model: Any,
    data: Bundle,
    targets: np.ndarray,
    reexplainer: Reexplainer,
    given: np.ndarray | None,
    s_batch: np.ndarray | None,
    chunk_size: int,
    call_params: dict[str, Any] | None = None,
    split: str = "test",
) -> tuple[Scores, int]:
    """Run a constructed Quantus ``metric`` on the first ``len(targets)`` samples of ``split``.

    ``given``: attributions in input space ``(n, C|1, H, W)`` handed to Quantus as
    ``a_batch``, or ``None`` to let Quantus explain the originals with the same
    explain function as the perturbed inputs.  ``s_batch``: ``(n, 1, H, W)`` masks
    for localisation metrics.  Samples go ``chunk_size`` at a time, each chunk one
    Quantus call with its own auxiliary vectors bound to the model.

    Returns the per-sample scores (a list, or a dict of lists for metrics that score
    several things per sample, e.g. MPRT per randomised layer) and the number of
    samples whose attributions Quantus rejected (scored NaN, see ``_REJECTIONS``).
    """
    x = data.rows(f"{split}/x")  # each chunk reads its rows only
    aux = data.rows(f"{split}/aux") if f"{split}/aux" in data else None
    device = str(model_device(model))

    def run(rows: np.ndarray) -> Any:
        wrapped = QuantusModule(model, None if aux is None else aux[rows]).eval()
        return metric(
            model=wrapped,
            x_batch=np.asarray(x[rows], dtype=np.float32),
            y_batch=targets[rows],
            a_batch=None if given is None else given[rows],
            s_batch=None if s_batch is None else s_batch[rows],
            channel_first=True,
            explain_func=make_explain_func(reexplainer, rows),
            explain_func_kwargs={},
            device=device,
            batch_size=len(rows),
            **(call_params or {}),
        )

    total: Scores | None = None
    rejected = 0
    for start in range(0, len(targets), chunk_size):
        chunk = np.arange(start, min(start + chunk_size, len(targets)))
        try:
            total = _merge(total, run(chunk))
            continue
        except AssertionError as error:
            if not _rejected(error):
                raise
        for row in chunk:
            try:
                total = _merge(total, run(np.array([row])))
            except AssertionError as error:
                if not _rejected(error):
                    raise
                rejected += 1
                if not isinstance(total, dict):
                    total = _merge(total, [float("nan")])
    return (total if total is not None else []), rejected


def summarise(scores: Scores, rejected: int = 0) -> list[MetricValue]:
    """``mean`` and ``std`` over samples (NaN-aware) of per-sample scores, and
    ``rejected``: the number of samples Quantus refused (see :func:`evaluate`).

    Curve-valued scores (one array per sample) are averaged over all their values;
    ask Quantus for one number per sample where it offers it
    (``return_auc_per_sample=True`` for Pixel-Flipping).  Dict scores give one pair
    of rows per key, ``sub_key`` = key.
    """

    def stats(values: Any, sub_key: str = "") -> list[MetricValue]:
        with warnings.catch_warnings():  # all-NaN slices: NaN is the intended answer
            warnings.simplefilter("ignore", RuntimeWarning)
            arr = np.asarray([np.nanmean(np.asarray(v, dtype=np.float64)) for v in values], dtype=np.float64)
            mean = float(np.nanmean(arr)) if arr.size else float("nan")
            std = float(np.nanstd(arr)) if arr.size else float("nan")
        return [MetricValue("mean", mean, sub_key), MetricValue("std", std, sub_key)]

    rows = [MetricValue("rejected", float(rejected))]
    if isinstance(scores, dict):
        return rows + [v for key, values in scores.items() for v in stats(values, key)]
    return rows + stats(scores)
