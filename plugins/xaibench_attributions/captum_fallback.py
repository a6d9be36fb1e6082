"""Captum's own DeepLift, DeepLift-SHAP and LRP on the head, for heads whose modules have rules
that :mod:`.backward_rules` does not write (DeepLift through max pooling or softmax, LRP through
tanh...).  Exact but slower: the batch is repeated by class with Captum's per-row ``target``, so
each class costs its own forward.  Returned arrays as everywhere: float32 ``(N, K, H_l, W_l)``
or ``(N, K, D_l, H_l, W_l)`` with ``keep_channels``.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator

import numpy as np
import torch
from torch import nn

from .backward_rules import used_leaves
from .engine import Head, Prepared, frozen_parameters, reduce_channels, take


def pair_chunks(n: int, n_classes: int, size: int) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """(sample index, class index) pairs in sample-major order, ``size`` pairs at a time."""
    total = n * n_classes
    for s in range(0, total, size):
        flat = torch.arange(s, min(total, s + size))
        yield flat // n_classes, flat % n_classes


class HeadWithAux(nn.Module):
    """``head`` as a one-tensor-plus-extras module, for Captum's ``additional_forward_args``.

    Captum calls ``forward_func(*inputs, *additional_forward_args)``; wrapping lets the
    aux be omitted when the dataset has none, and makes a plain callable head an
    ``nn.Module`` (Captum's hook-based methods need one).
    """

    def __init__(self, head: Head) -> None:
        super().__init__()
        self.head = head

    def forward(self, feats: torch.Tensor, aux: torch.Tensor | None = None) -> torch.Tensor:
        return self.head(feats, aux)


def captum_extra(aux: torch.Tensor | None) -> tuple | None:
    """``additional_forward_args`` for Captum: ``(aux,)`` or ``None``."""
    return None if aux is None else (aux,)


def repeat_pairs(p: Prepared, samples: torch.Tensor, classes: torch.Tensor) -> tuple[
        torch.Tensor, torch.Tensor | None, torch.Tensor]:
    """Features, aux and per-row target for (sample, class) pairs, for Captum's batched targets."""
    samples = samples.to(p.device)
    return p.feats[samples], take(p.aux, samples), classes.to(p.device)


def assemble_pairs(p: Prepared, keep_channels: bool,
                   compute: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
                   rows_per_pair: int) -> np.ndarray:
    """Run ``compute(samples, classes) -> (P, D, H, W)`` over budget-sized chunks of pairs.

    Returns ``(N, K, H, W)`` or ``(N, K, D, H, W)`` float32.
    """
    n, k = p.n, p.n_classes
    d, h, w = p.feats.shape[1:]
    out = torch.zeros((n, k, d, h, w) if keep_channels else (n, k, h, w), dtype=torch.float32)
    for samples, classes in pair_chunks(n, k, p.rows_per_chunk(rows_per_pair)):
        attr = reduce_channels(compute(samples, classes).detach().float(), keep_channels).cpu()
        out[samples, classes] = attr
    return out.numpy()


def _run_pairs(p: Prepared, keep_channels: bool, method, rows_per_pair: int, **kwargs) -> np.ndarray:
    """``method.attribute`` over budget-sized chunks of (sample, class) pairs."""

    def compute(samples: torch.Tensor, classes: torch.Tensor) -> torch.Tensor:
        f, aux, target = repeat_pairs(p, samples, classes)
        with warnings.catch_warnings():
            # Captum announces the hooks it sets and removes on every call
            warnings.filterwarnings("ignore", message=r"Setting .*hooks", category=UserWarning)
            return method.attribute(f.requires_grad_(True), target=target,
                                    additional_forward_args=captum_extra(aux), **kwargs)

    with frozen_parameters(p.head):
        return assemble_pairs(p, keep_channels, compute, rows_per_pair)


def deeplift(p: Prepared, keep_channels: bool) -> np.ndarray:
    """``captum.attr.DeepLift`` from a zero baseline at the layer."""
    from captum.attr import DeepLift

    return _run_pairs(p, keep_channels, DeepLift(HeadWithAux(p.head)), rows_per_pair=2, baselines=0.0)


def deeplift_shap(p: Prepared, baselines: torch.Tensor, keep_channels: bool) -> np.ndarray:
    """``captum.attr.DeepLiftShap`` over ``baselines`` ``(B, D, H, W)``."""
    from captum.attr import DeepLiftShap

    return _run_pairs(p, keep_channels, DeepLiftShap(HeadWithAux(p.head)), rows_per_pair=2 * baselines.shape[0],
                      baselines=baselines)


class _UsedLeaves(nn.Module):
    """The head, seen by Captum's LRP as exactly the leaf modules its forward uses.

    Captum's ``LRP`` attaches a rule to every leaf module *owned* by the model; a head that
    keeps a reference to the whole network (common for ``split``) would expose the body's
    modules too, some without rules (``nn.Upsample``).  The head itself is kept out of the
    module tree; only the leaves it calls (less pure reshapes, which need no rule) are registered.
    """

    def __init__(self, head: nn.Module, probe: torch.Tensor, probe_aux: torch.Tensor | None) -> None:
        super().__init__()
        reshapes = (nn.Identity, nn.Flatten, nn.Unflatten)
        self.leaves = nn.ModuleList([m for m in used_leaves(head, probe, probe_aux) if not isinstance(m, reshapes)])
        object.__setattr__(self, "_head", head)  # not a submodule: see the class docstring

    def forward(self, feats: torch.Tensor, aux: torch.Tensor | None = None) -> torch.Tensor:
        return self._head(feats, aux)


def lrp(p: Prepared, keep_channels: bool, epsilon: float) -> np.ndarray:
    """``captum.attr.LRP`` with the epsilon rule on every module that takes one."""
    from captum.attr import LRP
    from captum.attr._core.lrp import SUPPORTED_LAYERS_WITH_RULES
    from captum.attr._utils.lrp_rules import EpsilonRule

    shim = _UsedLeaves(p.head, p.feats[:1], None if p.aux is None else p.aux[:1])
    for leaf in shim.leaves:
        if type(leaf) in SUPPORTED_LAYERS_WITH_RULES and not hasattr(leaf, "rule"):
            leaf.rule = EpsilonRule(epsilon)
    try:
        return _run_pairs(p, keep_channels, LRP(shim), rows_per_pair=2)
    except TypeError as exc:
        raise TypeError(f"LRP cannot explain this head: {exc}") from exc
    finally:
        for leaf in shim.leaves:  # Captum removes rules itself, except when it fails early
            if hasattr(leaf, "rule"):
                del leaf.rule
