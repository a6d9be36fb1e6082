"""ROAD's noisy linear imputation (Rong et al. 2022, "A Consistent and Efficient Evaluation Strategy
for Attribution Methods", their ``NoisyLinearImputer``, also Quantus' ``noisy_linear_imputation``).

Each removed position takes the weighted mean of its 8 neighbours (weight 1/6 for the 4 direct
ones, 1/12 for the diagonal ones, renormalised at the border), removed neighbours being unknowns
themselves: one sparse linear system per mask, shared by every channel (one right-hand side per
channel), then Gaussian noise of std ``noise`` is added to the imputed values.  Written here
rather than called from Quantus: Quantus' version takes one image and flat indices and builds
its matrix element by element; this one builds it with vectorised index arithmetic.
"""

from __future__ import annotations

import numpy as np
from scipy.sparse import csc_matrix
from scipy.sparse.linalg import spsolve

OFFSETS = ((1, 1, 1 / 12), (0, 1, 1 / 6), (-1, 1, 1 / 12), (1, -1, 1 / 12), (0, -1, 1 / 6), (-1, -1, 1 / 12),
           (1, 0, 1 / 6), (-1, 0, 1 / 6))
"""(row offset, column offset, weight), in Quantus' order."""


def impute(values: np.ndarray, removed: np.ndarray, noise: float = 0.0,
           rng: np.random.Generator | None = None) -> np.ndarray:
    """``values`` ``(D, H, W)`` with the positions where ``removed`` ``(H * W,)`` is true imputed.

    Returns a float64 copy; ``noise > 0`` needs ``rng``.
    """
    d, h, w = values.shape
    flat = values.reshape(d, -1).astype(np.float64)
    idx = np.flatnonzero(removed)
    out = flat.copy()
    if len(idx) == 0:
        return out.reshape(d, h, w)
    var = np.full(h * w, -1)
    var[idx] = np.arange(len(idx))
    r, c = idx // w, idx % w
    diag = np.ones(len(idx))
    rhs = np.zeros((len(idx), d))
    rows, cols, data = [], [], []
    for dr, dc, weight in OFFSETS:
        rr, cc = r + dr, c + dc
        valid = (rr >= 0) & (cc >= 0) & (rr < h) & (cc < w)
        diag[~valid] -= weight
        eq = np.flatnonzero(valid)
        nb = rr[valid] * w + cc[valid]
        known = var[nb] < 0
        rhs[eq[known]] -= weight * flat[:, nb[known]].T
        rows.append(eq[~known])
        cols.append(var[nb[~known]])
        data.append(np.full(int((~known).sum()), weight))
    n = len(idx)
    rows.append(np.arange(n))
    cols.append(np.arange(n))
    data.append(-diag)
    matrix = csc_matrix((np.concatenate(data), (np.concatenate(rows), np.concatenate(cols))), shape=(n, n))
    solved = spsolve(matrix, rhs)
    solved = np.asarray(solved).reshape(n, d).T
    if noise > 0:
        if rng is None:
            raise ValueError("noisy imputation needs a random generator")
        solved = solved + noise * rng.standard_normal(solved.shape)
    out[:, idx] = solved
    return out.reshape(d, h, w)
