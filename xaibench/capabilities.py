"""Capabilities: declared tokens that datasets and models provide and components require.

A component lists what it needs in ``requires``; a dataset lists what its data carries
in ``DatasetInfo.provides`` and a model its traits in ``ModelInfo.provides``.  A
combination whose dataset and model together lack a required capability is skipped
with the reason, before anything runs.

Capabilities are constants declared once, with what they mean (in the manner of
Quantus's enums), never free strings::

    from xaibench.capabilities import MASK, Capability

    class SegmentationScore(Metric):
        requires = frozenset({MASK})

    CLOUDS = Capability("clouds", "a per-pixel cloud mask `cloud_mask` (N, H, W)")  # a plugin's own

A :class:`Capability` is a ``str`` subclass, so it survives JSON (dataset infos are
stored with their data) and equals its name.  Plugins declare domain tokens in their
own modules; the core declares the ones its built-in contracts use.
"""

from __future__ import annotations

from collections.abc import Iterable


class Capability(str):
    """A declared capability token: its ``name`` (the string itself) and ``doc``, what it promises."""

    doc: str

    def __new__(cls, name: str, doc: str) -> Capability:
        if not name or any(c.isspace() for c in name):
            raise ValueError(f"a capability name is one word, got {name!r}")
        obj = super().__new__(cls, name)
        obj.doc = doc
        return obj

    def __reduce__(self):  # pickles (process pools, Ray) keep the declaration
        return (Capability, (str(self), self.doc))


def missing(requires: Iterable[str], provides: Iterable[str]) -> list[str]:
    """Required capabilities that ``provides`` lacks, sorted."""
    return sorted(set(requires) - set(provides))


def undeclared(tokens: Iterable[str]) -> list[str]:
    """Tokens given as plain strings instead of declared :class:`Capability` constants."""
    return sorted(str(t) for t in tokens if not isinstance(t, Capability))


# -- what data carries (``DatasetInfo.provides``) ----------------------------------------------
MASK = Capability("mask", "segmentation ground truth `<split>/mask` (N, H, W) int64 class indices")
FRACTIONS = Capability("fractions", "per-class area fractions `<split>/fractions` (N, classes) float32")
AUX = Capability("aux", "an auxiliary vector per sample `<split>/aux` (N, A) float32")
GEO = Capability("geo", "the location of each sample (`lat`, `lon` or the dataset's own fields)")
REGION = Capability("region", "a region label per sample `<split>/region` (N,), for spatial generalization")
TIME = Capability("time", "a time axis in each sample (image time series)")

# -- traits of a model (``ModelInfo.provides``) --------------------------------------------------
RESIDUAL = Capability("residual", "residual sums (x + f(x)) inside the network")
SKIP_CONNECTIONS = Capability("skip-connections", "skip connections joining encoder and decoder features")
AUX_INPUT = Capability("aux-input", "the model reads the auxiliary vector `aux` beside the image")
MULTIMODAL = Capability("multimodal", "the model has one branch per modality (S2, S1...)")
RECURRENT = Capability("recurrent", "the model is recurrent over a time axis")
FORECAST = Capability("forecast", "a forecasting task: the data carries future frames / the model predicts them")
NO_MODULE_HOOKS = Capability("no-module-hooks", "the model's modules take no hooks (a TorchScript graph): methods "
                             "that rewrite backward rules through module hooks cannot run on it")

CORE: tuple[Capability, ...] = (MASK, FRACTIONS, AUX, GEO, REGION, TIME, RESIDUAL, SKIP_CONNECTIONS, AUX_INPUT,
                                MULTIMODAL, RECURRENT, FORECAST, NO_MODULE_HOOKS)
"""The capabilities the core declares (plugins declare their own beside their components)."""
