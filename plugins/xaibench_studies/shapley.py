"""Shapley values of players from a table of coalition values (pure numpy-free Python).

Written here rather than taken from a library: the exact formula over all subsets is a few
lines, and libraries such as shap estimate it by sampling, which SHAPE does not.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from itertools import combinations
from math import factorial

Coalition = frozenset[str]


def coalitions(players: Sequence[str]) -> list[Coalition]:
    """Every subset of ``players``, from the empty set to all of them (``2**n`` entries)."""
    return [frozenset(c) for k in range(len(players) + 1) for c in combinations(players, k)]


def shapley_values(players: Sequence[str], value: Mapping[Coalition, float], scale: float = 1.0) -> dict[str, float]:
    """Exact Shapley value of each player, divided by ``scale`` (SHAPE's ``Z_f``).

    ``phi_i = sum_{S subset of M minus i} |S|! (n - |S| - 1)! / n! * (V(S + i) - V(S)) / Z_f``.
    For two modalities this is SHAPE's Eq. (1):
    ``phi_a = [V(a, b) - V(0, b) + V(a, 0) - V(0, 0)] / (2 Z_f)``.
    """
    if scale <= 0:
        raise ValueError("scale Z_f must be > 0")
    n = len(players)
    out = {}
    for p in players:
        others = [q for q in players if q != p]
        total = 0.0
        for s in coalitions(others):
            weight = factorial(len(s)) * factorial(n - len(s) - 1) / factorial(n)
            total += weight * (value[s | {p}] - value[s])
        out[p] = total / scale
    return out


def interaction(players: Sequence[str], value: Mapping[Coalition, float], scale: float = 1.0) -> float:
    """Cross-modal interaction ``[V(all) - V(none) - sum_i (V({i}) - V(none))] / Z_f``.

    Zero for an additive game; positive when modalities help more together than alone.
    """
    none = value[frozenset()]
    solo = sum(value[frozenset({p})] - none for p in players)
    return (value[frozenset(players)] - none - solo) / scale
