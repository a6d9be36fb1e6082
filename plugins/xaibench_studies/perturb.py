"""CSP's perturbation step: shifts of weather variables in physical units, segment-wise NDVI
responses, marginal sensitivities and curve fits (numpy and scipy only)."""

from __future__ import annotations

import ast
import operator
import re
from collections.abc import Sequence

import numpy as np

_OPS = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv}


def _eval(node: ast.AST, x: float) -> float:
    if isinstance(node, ast.Expression):
        return _eval(node.body, x)
    if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)):
        return float(node.value)
    if isinstance(node, ast.Name) and node.id == "x":
        return x
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        return -_eval(node.operand, x)
    if isinstance(node, ast.BinOp) and type(node.op) in _OPS:
        return _OPS[type(node.op)](_eval(node.left, x), _eval(node.right, x))
    raise ValueError("not a linear expression in x")


def unit_scale(unit: str) -> float:
    """Physical units per normalised unit from a dataset's unit string such as
    ``"hPa = 200 x + 900"`` or ``"degC = 50 (2 x - 1)"`` (the slope of the linear map).

    The synthetic forecast dataset describes its normalisation only by these strings; parsing
    them with a restricted evaluator keeps the metric in step with the dataset.
    """
    if "=" not in unit:
        raise ValueError(f"cannot read a normalisation from unit {unit!r} (expected '<unit> = <expr in x>')")
    expr = unit.split("=", 1)[1]
    expr = re.sub(r"(?<=[\dx)])\s*(?=[(x])", "*", expr.strip())  # implicit products: "50 (2 x - 1)"
    tree = ast.parse(expr, mode="eval")
    slope = _eval(tree, 1.0) - _eval(tree, 0.0)
    if slope == 0:
        raise ValueError(f"unit {unit!r} maps every normalised value to the same physical value")
    return slope


def shift_weather(weather: np.ndarray, columns: Sequence[int], shift: float,
                  clip: tuple[float, float] | None) -> np.ndarray:
    """A copy of ``weather (N, T, V)`` (normalised) with ``shift`` (normalised units) added to the
    given variable columns on every day, then clipped to ``clip`` when given."""
    out = weather.copy()
    cols = list(columns)
    shifted = out[..., cols] + np.float32(shift)
    out[..., cols] = np.clip(shifted, *clip) if clip is not None else shifted
    return out


def pair_sensitivity(shifts: Sequence[float], response: np.ndarray) -> np.ndarray:
    """Eq. (15): ``sum_a sum_{b != a} |R_a - R_b| / |a - b|`` over ordered pairs of distinct shifts.

    ``response`` ``(S, ...)``: the response to each of the ``S`` shifts; returns ``(...)``.
    """
    s = np.asarray(shifts, dtype=np.float64)
    total = np.zeros(response.shape[1:])
    for a in range(len(s)):
        for b in range(len(s)):
            if a != b:
                total = total + np.abs(response[a] - response[b]) / abs(s[a] - s[b])
    return total


def weighted_mean_std(values: np.ndarray, weights: np.ndarray) -> tuple[float, float]:
    """Weighted mean and weighted standard deviation of ``values`` ``(K,)``."""
    w = np.asarray(weights, dtype=np.float64) / np.sum(weights)
    mean = float(np.sum(w * values))
    return mean, float(np.sqrt(np.sum(w * (values - mean) ** 2)))


def _gaussian(x: np.ndarray, a: float, mu: float, sigma: float, c: float) -> np.ndarray:
    return a * np.exp(-(((x - mu) / sigma) ** 2)) + c


def _exponential(x: np.ndarray, a: float, b: float, c: float) -> np.ndarray:
    return a * np.exp(b * x) + c


FIT_COEFFICIENTS: dict[str, tuple[str, ...]] = {
    "poly1": ("c0", "c1"),
    "poly2": ("c0", "c1", "c2"),
    "exponential": ("a", "b", "c"),
    "gaussian": ("a", "mu", "sigma", "c"),
}
"""Curve models fitted to ``(x, NDVI)`` points: ``poly<d>`` is ``sum_i c_i x^i``, ``exponential``
``a exp(b x) + c``, ``gaussian`` ``a exp(-((x - mu) / sigma)^2) + c``."""


def fit_curves(x: np.ndarray, y: np.ndarray) -> dict[str, tuple[dict[str, float], float]]:
    """Least-squares fits of every model in :data:`FIT_COEFFICIENTS`: name -> (coefficients, R^2).

    A non-linear fit that does not converge is left out.  ``x`` is standardised for the
    non-linear fits' starting point only; coefficients are in the units of ``x`` and ``y``.
    """
    from scipy.optimize import curve_fit

    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    ss_tot = float(np.sum((y - y.mean()) ** 2)) or 1.0
    out: dict[str, tuple[dict[str, float], float]] = {}
    for degree in (1, 2):
        if len(np.unique(x)) > degree:
            coef = np.polynomial.polynomial.polyfit(x, y, degree)
            pred = np.polynomial.polynomial.polyval(x, coef)
            names = FIT_COEFFICIENTS[f"poly{degree}"]
            out[f"poly{degree}"] = ({n: float(c) for n, c in zip(names, coef)}, 1 - float(np.sum((y - pred) ** 2)) / ss_tot)
    span = float(x.std()) or 1.0
    starts = {
        "exponential": (_exponential, (float(np.ptp(y)) or 1.0, 0.1 / span, float(y.min()))),
        "gaussian": (_gaussian, (float(np.ptp(y)) or 1.0, float(x[np.argmax(y)]), 2 * span, float(y.min()))),
    }
    for name, (fn, p0) in starts.items():
        if len(x) <= len(p0):
            continue
        try:
            coef, _ = curve_fit(fn, x, y, p0=p0, maxfev=5000)
        except (RuntimeError, ValueError):
            continue
        pred = fn(x, *coef)
        if np.all(np.isfinite(pred)):
            out[name] = (dict(zip(FIT_COEFFICIENTS[name], map(float, coef))), 1 - float(np.sum((y - pred) ** 2)) / ss_tot)
    return out


def averaged_fits(levels: np.ndarray, shifts: Sequence[float], response: np.ndarray,
                  sizes: np.ndarray) -> dict[tuple[str, str], float]:
    """Fit every curve model to each segment's points ``(levels[k] + shift, response[:, k])`` and
    average R^2 and coefficients over the segments where the fit succeeded, weighted by ``sizes``.

    Returns ``("fit_r2", model)`` and ``("fit_coef", "model:coef")`` keys.
    """
    shifts_arr = np.asarray(shifts, dtype=np.float64)
    acc: dict[str, list[tuple[float, dict[str, float], float]]] = {}
    for k in range(response.shape[1]):
        for model, (coef, r2) in fit_curves(levels[k] + shifts_arr, response[:, k]).items():
            acc.setdefault(model, []).append((float(sizes[k]), coef, r2))
    out: dict[tuple[str, str], float] = {}
    for model, fits in acc.items():
        w = np.array([f[0] for f in fits])
        w = w / w.sum()
        out[("fit_r2", model)] = float(np.sum(w * [f[2] for f in fits]))
        for name in FIT_COEFFICIENTS[model]:
            out[("fit_coef", f"{model}:{name}")] = float(np.sum(w * [f[1][name] for f in fits]))
    return out
