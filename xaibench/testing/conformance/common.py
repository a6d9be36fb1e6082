"""Checks every component kind shares: class attributes, params, seeding helpers, array comparisons."""

from __future__ import annotations

import random
from typing import Any

import numpy as np
from pydantic import ValidationError

from ...components import KINDS, Component, Params
from .report import ConformanceReport

UNKNOWN_KEY = "xaibench_kit_unknown_key"


def describe(cls: type) -> str:
    kind = getattr(cls, "kind", "component")
    return f"{kind} {getattr(cls, 'name', '') or '?'!r} ({cls.__module__}.{cls.__qualname__})"


def check_class(cls: type, kind: str, report: ConformanceReport) -> bool:
    """The class is a subclass of the kind's base with a name, a version, a Params class and a docstring."""
    base = KINDS[kind]
    if not report.expect(isinstance(cls, type) and issubclass(cls, base), "base class",
                         f"{cls!r} is not a subclass of xaibench.components.{base.__name__}",
                         f"class MyComponent(xaibench.components.{base.__name__}): ..."):
        return False
    report.expect(isinstance(cls.name, str) and bool(cls.name), "name", "the class attribute `name` is empty",
                  'set `name = "my-method"`: it is the name used in registry.yaml')
    report.expect(isinstance(cls.version, str) and bool(cls.version), "version",
                  f"`version` must be a non-empty string, got {cls.version!r}",
                  'set `version = "1"` and bump it whenever outputs change (it is part of every cache key)')
    report.expect(isinstance(cls.Params, type) and issubclass(cls.Params, Params), "Params class",
                  "`Params` is not a subclass of xaibench.components.Params",
                  "declare `class Params(xaibench.components.Params): ...` inside the component")
    report.expect(bool(cls.describe()), "docstring", "the class has no docstring",
                  "add a docstring: its first line is what `xaibench plugins` shows")
    report.expect(isinstance(cls.requires, frozenset) and all(isinstance(t, str) for t in cls.requires), "requires",
                  f"`requires` must be a frozenset of strings, got {cls.requires!r}",
                  'e.g. `requires = frozenset({"mask"})`')
    return True


def make_instance(cls: type[Component], params: dict[str, Any] | None, report: ConformanceReport) -> Component | None:
    """Validate ``params``, check that unknown keys are rejected and that params survive the JSON
    round trip the registry and the cache make; return the component or ``None``."""
    params = dict(params or {})
    try:
        validated = cls.Params(**params)
    except ValidationError as exc:
        report.fail("params", f"Params rejected the params given to the check {params!r}: {exc.errors()[0]['msg']}",
                    "pass valid params to the check (params=...)")
        return None
    except Exception as exc:  # a validator that raises something else
        report.fail("params", f"Params(**{params!r}) raised {type(exc).__name__}: {exc}")
        return None
    report.ok("params")
    try:
        cls.Params(**params, **{UNKNOWN_KEY: 1})
        report.fail("params reject unknown keys", f"Params accepted an unknown key {UNKNOWN_KEY!r}",
                    "subclass xaibench.components.Params (model_config extra='forbid'), do not override model_config")
    except ValidationError:
        report.ok("params reject unknown keys")
    with report.step("params JSON round trip", "use JSON-able field types (str, int, float, bool, lists, dicts, "
                     "nested Params); the grid re-creates components from the JSON dump"):
        dumped = validated.model_dump(mode="json")
        again = cls.Params(**dumped)
        report.expect(again == validated, "params JSON round trip",
                      f"Params(**params.model_dump(mode='json')) != params ({again!r} vs {validated!r})",
                      "make every field JSON-able and its validator idempotent")
    try:
        component = cls(validated)
    except Exception as exc:
        report.fail("construction", f"{cls.__name__}(params) raised {type(exc).__name__}: {exc}",
                    "keep __init__ cheap and side-effect free; do heavy work in the kind's methods")
        return None
    from ...plugins import PluginSession

    # as in a grid: the catalog of the installed plugins, where it finds the components it uses by name
    component.catalog = PluginSession().catalog
    return component


def recreate(component: Component) -> Component:
    """A second instance with the same params and catalog (for determinism checks)."""
    again = type(component)(component.params)
    again.catalog = component.catalog
    return again


def perturb_global_rngs(salt: int) -> None:
    """Move python's, numpy's and (if loaded) torch's global RNGs to an unrelated state, so a
    component that draws from them instead of its seed gives a different result."""
    import sys

    random.seed(1_000_003 * salt + 7)
    np.random.seed((7919 * salt + 13) % 2**32)
    if "torch" in sys.modules:
        sys.modules["torch"].manual_seed(104_729 * salt + 17)


def cuda_available() -> bool:
    try:
        import torch
    except ImportError:
        return False
    return bool(torch.cuda.is_available())


def close(a: np.ndarray, b: np.ndarray, rtol: float = 1e-5, atol: float = 1e-6) -> bool:
    """Same shape and values up to tolerances scaled by ``b``'s magnitude; NaNs compare equal."""
    a, b = np.asarray(a), np.asarray(b)
    if a.shape != b.shape:
        return False
    scale = float(np.nanmax(np.abs(b))) if b.size and np.isfinite(b).any() else 1.0
    return bool(np.allclose(a, b, rtol=rtol, atol=atol * max(scale, 1.0), equal_nan=True))


def max_difference(a: np.ndarray, b: np.ndarray) -> float:
    with np.errstate(invalid="ignore"):
        d = np.abs(np.asarray(a, dtype=np.float64) - np.asarray(b, dtype=np.float64))
    return float(np.nanmax(d)) if d.size else 0.0


def nonfinite(a: np.ndarray) -> str:
    """``""`` when every value is finite, otherwise a count such as ``"3 NaN, 1 inf of 256"``."""
    a = np.asarray(a)
    if not np.issubdtype(a.dtype, np.floating):
        return ""
    nan, inf = int(np.isnan(a).sum()), int(np.isinf(a).sum())
    if not nan and not inf:
        return ""
    return f"{nan} NaN, {inf} inf of {a.size} values"


def snapshot(arrays: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    return {k: np.array(v, copy=True) for k, v in arrays.items()}


def mutated(before: dict[str, np.ndarray], after: dict[str, np.ndarray]) -> list[str]:
    """Names of arrays whose values changed in place."""
    return sorted(k for k, v in before.items() if k in after and not np.array_equal(v, after[k], equal_nan=True))
