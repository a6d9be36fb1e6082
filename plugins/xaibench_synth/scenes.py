"""Land-cover scenes: class layout, rendering of any per-class signature, optical finish.

Generative model of one patch (all draws from the sample's ``SCENE`` stream):

1. draw the number of classes ``k`` uniformly in ``[min_classes, max_classes]`` and pick
   ``k`` distinct classes with probability proportional to the class priors (Gumbel top-k);
2. give each picked class a smooth Gaussian random field (Gaussian-filtered white noise
   of std ``region_scale * size`` pixels, unit variance); the mask is the argmax of the
   fields, and the soft membership of each class is the softmax of the fields at a
   temperature giving boundaries ``boundary_width`` pixels wide (10-90 % transition):
   boundary pixels mix the spectra of the classes on both sides;
3. each class is rendered as ``m * ((1 - f) * primary + f * secondary)`` with its own
   texture (:mod:`.textures`), blended by the soft membership;
4. optical only: a per-patch gain (illumination), Rayleigh-like haze, additive Gaussian
   sensor noise, clipping to [0, 1].
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from . import spectra
from .fields import coarse_grid, normal, smooth_fields
from .textures import TABLE_SIZE, texture

if TYPE_CHECKING:
    from .clouds import Clouds

N_CLASSES = 8


@dataclass(frozen=True)
class SceneConfig:
    """Knobs of the scene model (see the module docstring)."""

    size: int = 64
    region_scale: float = 0.15
    boundary_width: float = 2.0
    min_classes: int = 1
    max_classes: int = 4
    noise: float = 0.01
    illumination_jitter: float = 0.08
    haze: float = 0.02
    spectral_jitter: float = 0.06
    vigour_jitter: float = 0.12


@dataclass
class Layout:
    """Class layout of ``N`` patches with ``K = max_classes`` slots each.

    - ``slot_class (N, K)`` int64: class of each slot, ``-1`` if unused;
    - ``weights (N, K, H, W)`` float32: soft membership, sums to 1 over slots;
    - ``mask (N, H, W)`` int64: class of the largest membership;
    - ``noise (N, K, 2, H, W)`` float32 white noise and ``table (N, K, T)`` uniforms for textures;
    - ``brightness, vigour (N, K)``: per-slot spectral jitter factors (about 1);
    - ``gain, haze (N,)``: per-patch illumination gain and haze level (reflectance);
    - ``rngs``: the per-sample generators, positioned after the layout draws.
    """

    slot_class: np.ndarray
    weights: np.ndarray
    mask: np.ndarray
    noise: np.ndarray
    table: np.ndarray
    brightness: np.ndarray
    vigour: np.ndarray
    gain: np.ndarray
    haze: np.ndarray
    rngs: list[np.random.Generator]

    @property
    def n(self) -> int:
        return len(self.slot_class)

    def class_factor(self, per_slot: np.ndarray, fill: float = 1.0) -> np.ndarray:
        """Scatter a per-slot value ``(N, K)`` to per-class ``(N, 8)`` (``fill`` for absent classes)."""
        out = np.full((self.n, N_CLASSES), fill, dtype=np.float32)
        rows, slots = np.nonzero(self.slot_class >= 0)
        out[rows, self.slot_class[rows, slots]] = per_slot[rows, slots]
        return out


def _around_one(u: np.ndarray, width: float) -> np.ndarray:
    """Uniforms ``u`` in [0, 1) -> uniform factors in ``[1 - width, 1 + width)``."""
    return 1.0 + width * (2.0 * u - 1.0)


def make_layout(rngs: list[np.random.Generator], priors: np.ndarray, cfg: SceneConfig) -> Layout:
    """Draw the layout of ``len(rngs)`` patches; ``priors (N, 8)`` or ``(8,)`` class weights > 0."""
    n, k, size = len(rngs), cfg.max_classes, cfg.size
    sigma = cfg.region_scale * size
    grid = coarse_grid(size, sigma)
    priors = np.broadcast_to(np.asarray(priors, dtype=np.float64), (n, N_CLASSES))

    slot_class = np.full((n, k), -1, dtype=np.int64)
    # unused slots keep zeros: only the drawn classes consume random numbers
    white = np.zeros((n, k, grid, grid), dtype=np.float32)
    noise = np.zeros((n, k, 2, size, size), dtype=np.float32)
    table = np.empty((n, k, TABLE_SIZE), dtype=np.float32)
    jitter = np.empty((n, k, 2))
    glob = np.empty((n, 2))
    for s, rng in enumerate(rngs):
        count = int(rng.integers(cfg.min_classes, cfg.max_classes + 1))
        keys = np.log(priors[s]) + rng.gumbel(size=N_CLASSES)
        slot_class[s, :count] = np.argsort(-keys)[:count]
        white[s, :count] = normal(rng, (count, grid, grid))
        noise[s, :count] = normal(rng, (count, 2, size, size))
        table[s] = rng.random((k, TABLE_SIZE), dtype=np.float32)
        jitter[s] = rng.random((k, 2))
        glob[s] = rng.random(2)

    fields = smooth_fields(white, sigma, size)
    del white
    used = slot_class >= 0
    fields[~used] = -1e4
    # The difference of two unit-variance fields of smoothness sigma changes by ~1/sigma per
    # pixel across their boundary, and a logistic's 10-90 % width is 4.4 T in field units.
    temperature = max(cfg.boundary_width, 1e-3) / (4.4 * sigma)
    logits = fields / np.float32(temperature)
    logits -= logits.max(axis=1, keepdims=True)
    weights = np.exp(logits)
    weights /= weights.sum(axis=1, keepdims=True)
    best = np.argmax(fields, axis=1)
    mask = np.take_along_axis(slot_class, best.reshape(n, -1), axis=1).reshape(n, size, size)

    return Layout(
        slot_class=slot_class,
        weights=weights.astype(np.float32, copy=False),
        mask=mask,
        noise=noise,
        table=table,
        brightness=_around_one(jitter[..., 0], cfg.spectral_jitter).astype(np.float32),
        vigour=_around_one(jitter[..., 1], cfg.vigour_jitter).astype(np.float32),
        gain=_around_one(glob[:, 0], cfg.illumination_jitter).astype(np.float32),
        haze=(cfg.haze * glob[:, 1]).astype(np.float32),
        rngs=list(rngs),
    )


def render(layout: Layout, primary: np.ndarray, secondary: np.ndarray) -> np.ndarray:
    """Render per-class signatures over the layout.

    ``primary``, ``secondary``: ``(N, 8, C)`` (or ``(8, C)``) signature of each class and of
    what it mixes in.  Returns ``(N, C, H, W)`` float32 in the signatures' units (linear:
    reflectance, or backscatter intensity).
    """
    n, size = layout.n, layout.mask.shape[-1]
    c = primary.shape[-1]
    primary = np.broadcast_to(primary, (n, N_CLASSES, c))
    secondary = np.broadcast_to(secondary, (n, N_CLASSES, c))
    out = np.zeros((n, c, size, size), dtype=np.float32)
    for cls in range(N_CLASSES):
        rows, slots = np.nonzero(layout.slot_class == cls)
        if len(rows) == 0:
            continue
        m, f = texture(cls, layout.noise[rows, slots], layout.table[rows, slots])
        wm = layout.weights[rows, slots] * m  # (M, H, W)
        p = primary[rows, cls][:, :, None, None]
        d = (secondary[rows, cls] - primary[rows, cls])[:, :, None, None]
        # rows are distinct within a class (a class fills at most one slot per patch).
        out[rows] += wm[:, None] * (p + f[:, None] * d)
    return out


def optical_signatures(layout: Layout, base: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Per-patch optical signatures with the layout's jitter: primary and secondary ``(N, 8, 13)``.

    ``base`` ``(8, 13)`` or ``(N, 8, 13)`` defaults to :data:`.spectra.OPTICAL`.  Each slot's
    spectrum is scaled by its brightness factor, and its red edge / NIR by its vigour
    factor in proportion to how vegetated the class is.
    """
    base = spectra.OPTICAL if base is None else base
    base = np.broadcast_to(base, (layout.n, N_CLASSES, 13))
    bright = layout.class_factor(layout.brightness)[:, :, None]
    vigour = layout.class_factor(layout.vigour)[:, :, None]
    veg = spectra.VEGETATION_WEIGHT[None, :, None] * spectra.NIR_BANDS[None, None, :]
    scale = bright * (1.0 + (vigour - 1.0) * veg)
    return base * scale, base[:, spectra.SECONDARY_CLASS] * scale


def finish_optical(layout: Layout, surface: np.ndarray, cfg: SceneConfig, clouds: Clouds | None = None) -> np.ndarray:
    """Top-of-atmosphere-like reflectance from surface reflectance ``(N, 13, H, W)``, in place.

    ``gain * surface + haze * HAZE``, then ``clouds`` blended over it (if any), then
    ``noise * N(0, 1)`` drawn from each sample's scene stream after the layout, clipped
    to [0, 1].
    """
    surface *= layout.gain[:, None, None, None]
    surface += (layout.haze[:, None] * spectra.HAZE[None, :])[:, :, None, None]
    if clouds is not None:
        clouds.apply(surface)
    if cfg.noise > 0:
        for s, rng in enumerate(layout.rngs):
            surface[s] += np.float32(cfg.noise) * normal(rng, surface.shape[1:])
    return np.clip(surface, 0.0, 1.0, out=surface)


def class_fractions(mask: np.ndarray) -> np.ndarray:
    """Area fraction of each class: ``(N, 8)`` float32 from a mask ``(N, H, W)``."""
    n = len(mask)
    flat = mask.reshape(n, -1)
    counts = np.zeros((n, N_CLASSES), dtype=np.int64)
    for cls in range(N_CLASSES):
        counts[:, cls] = (flat == cls).sum(axis=1)
    return (counts / flat.shape[1]).astype(np.float32)


def scene_fields(layout: Layout, threshold: float) -> dict[str, np.ndarray]:
    """The target fields of a layout: ``mask (N, H, W)``, ``fractions (N, 8)``, ``labels (N, 8)``
    multi-hot (area > ``threshold``) and ``label (N,)`` (largest area)."""
    frac = class_fractions(layout.mask)
    return {
        "labels": (frac > threshold).astype(np.float32),
        "label": frac.argmax(axis=1).astype(np.int64),
        "mask": layout.mask,
        "fractions": frac,
    }
