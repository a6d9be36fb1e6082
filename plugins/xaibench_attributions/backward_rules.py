"""Gradients with rewritten backward rules: Guided Backprop, Deconvolution, DeepLift (rescale) and LRP-epsilon.

Captum implements these with module hooks too, but re-runs the head's forward for every
target (LRP even twice), so K classes cost K forwards.  Here the hooks are installed once,
the head runs one forward per chunk and each class is one backward pass over that graph
(:func:`engine.class_gradients`).  The rules are Captum's, so results equal Captum's one-class
calls to rounding (tests/attributions compare them); heads with modules outside the rules
written here go to Captum itself (:mod:`.captum_methods`).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from .engine import Head, class_gradients

# Elementwise nonlinearities that DeepLift's rescale rule covers (Captum's ``nonlinear``).
RESCALE = (nn.ReLU, nn.ELU, nn.LeakyReLU, nn.Sigmoid, nn.Tanh, nn.Softplus)
# Nonlinearities for which Captum's DeepLift has other rules (max pooling, softmax).
OTHER_DEEPLIFT_RULES = (nn.MaxPool1d, nn.MaxPool2d, nn.MaxPool3d, nn.Softmax)
# Modules that get the epsilon rule (Captum's defaults for LRP) ...
EPSILON_RULE = (nn.Conv2d, nn.Linear, nn.BatchNorm2d, nn.AvgPool2d, nn.AdaptiveAvgPool2d, nn.MaxPool1d,
                nn.MaxPool2d, nn.MaxPool3d)
# ... and those through which relevance flows as the plain gradient does: ReLU's gradient mask
# only zeroes positions whose relevance is already zero; the others reshape or copy.
LRP_PASS = (nn.ReLU, nn.Dropout, nn.Identity, nn.Flatten, nn.Unflatten)
# Stateless reshaping modules, which may be called several times.
_RESHAPE = (nn.Identity, nn.Flatten, nn.Unflatten)


def used_leaves(head: Head, probe: torch.Tensor, probe_aux: torch.Tensor | None) -> list[nn.Module]:
    """Leaf modules that ``head`` calls on ``probe`` (a head owning the whole network lists
    modules it never runs).  Raises if one is called twice: rules keep one state per module."""
    calls: dict[nn.Module, int] = {}
    leaves = [m for m in head.modules() if not list(m.children())] if isinstance(head, nn.Module) else []
    with _hooks(leaves, forward=lambda m, i, o: calls.__setitem__(m, calls.get(m, 0) + 1)), torch.no_grad():
        head(probe, probe_aux)
    reused = sorted({type(m).__name__ for m, c in calls.items() if c > 1 and not isinstance(m, _RESHAPE)})
    if reused:
        raise ValueError(f"backward rules need each module used once per forward; the head reuses {reused}")
    return [m for m in leaves if m in calls]


@contextlib.contextmanager
def _hooks(modules: Sequence[nn.Module], forward: Callable | None = None, backward: Callable | None = None,
           backward_pre: Callable | None = None) -> Iterator[None]:
    handles = []
    try:
        for m in modules:
            if forward is not None:
                handles.append(m.register_forward_hook(forward))
            if backward is not None:
                handles.append(m.register_full_backward_hook(backward))
            if backward_pre is not None:
                handles.append(m.register_full_backward_pre_hook(backward_pre))
        yield
    finally:
        for h in handles:
            h.remove()


def guided_gradients(head: Head, leaves: Sequence[nn.Module], feats: torch.Tensor, aux: torch.Tensor | None,
                     n_classes: int, per_class: Callable[[torch.Tensor, int], torch.Tensor],
                     deconvolution: bool) -> torch.Tensor:
    """Guided Backprop (ReLU of the masked gradient at every ReLU) or Deconvolution (ReLU of the
    incoming gradient, ignoring the forward mask) of every logit: ``(n, K, ...)`` via ``per_class``.
    ``leaves``: :func:`used_leaves` of the head."""

    def rule(module, grad_input, grad_output):
        return (F.relu(grad_output[0] if deconvolution else grad_input[0]),)

    with _hooks([m for m in leaves if isinstance(m, nn.ReLU)], backward=rule):
        return class_gradients(head, feats, aux, n_classes, per_class)


def has_other_deeplift_rules(leaves: Sequence[nn.Module]) -> bool:
    """Whether the head runs a module (max pooling, softmax) whose DeepLift rule is not written here."""
    return any(isinstance(m, OTHER_DEEPLIFT_RULES) for m in leaves)


def rescale_gradients(head: Head, leaves: Sequence[nn.Module], feats: torch.Tensor, aux: torch.Tensor | None,
                      reference: torch.Tensor, reference_aux: torch.Tensor | None, n_classes: int,
                      per_class: Callable[[torch.Tensor, int], torch.Tensor], eps: float = 1e-10) -> torch.Tensor:
    """DeepLift multipliers of every logit with respect to ``feats`` against ``reference`` (row by
    row, or one row for all): the gradient with each elementwise nonlinearity's derivative replaced
    by ``delta_out / delta_in`` (Captum's rescale rule; the plain derivative where ``|delta_in| < eps``)."""
    modules = [m for m in leaves if isinstance(m, RESCALE)]
    ref: dict[nn.Module, tuple[torch.Tensor, torch.Tensor]] = {}
    # per module: (where the plain derivative is kept, delta_out / delta_in), the same for every class
    slopes: dict[nn.Module, tuple[torch.Tensor, torch.Tensor]] = {}

    def record_reference(module, inputs, output):
        ref[module] = (inputs[0].detach(), output.detach())

    def record_slope(module, inputs, output):
        r_in, r_out = ref[module]
        delta_in, delta_out = inputs[0].detach() - r_in, output.detach() - r_out
        slopes[module] = (delta_in.abs() < eps, delta_out / delta_in)

    with _hooks(modules, forward=record_reference), torch.no_grad():
        head(reference, reference_aux)

    def rule(module, grad_input, grad_output):
        plain, slope = slopes[module]
        return (torch.where(plain, grad_input[0], grad_output[0] * slope),)

    with _hooks(modules, forward=record_slope, backward=rule):
        return class_gradients(head, feats, aux, n_classes, per_class)


def lrp_supported(leaves: Sequence[nn.Module]) -> bool:
    """Whether every module the head runs has an epsilon or pass-through rule here."""
    return all(isinstance(m, EPSILON_RULE + LRP_PASS) for m in leaves)


def branch_sums(head: Head, probe: torch.Tensor, probe_aux: torch.Tensor | None) -> int:
    """How many additions (or subtractions) in ``head``'s forward on ``probe`` combine two tensors
    that both depend on ``probe``: residual sums written in ``forward`` (a bias or a constant added
    is not one).  Read from the autograd graph, so a sum written as ``a + b``, ``torch.add`` or
    ``+=`` is found wherever it is."""
    f = probe.detach().requires_grad_(True)
    with torch.enable_grad():
        out = head(f, probe_aux)
    if out.grad_fn is None:
        return 0
    reaches: dict[object, bool] = {}
    stack: list[tuple[object, bool]] = [(out.grad_fn, False)]
    while stack:  # iterative post-order: deep nets exceed Python's recursion limit
        node, expanded = stack.pop()
        if node in reaches:
            continue
        children = [c for c, _ in node.next_functions if c is not None]
        if expanded:
            reaches[node] = getattr(node, "variable", None) is f or any(reaches[c] for c in children)
        else:
            stack.append((node, True))
            stack.extend((c, False) for c in children if c not in reaches)
    return sum(1 for node in reaches if type(node).__name__.startswith(("AddBackward", "SubBackward"))
               and sum(reaches[c] for c, _ in node.next_functions if c is not None) >= 2)


def lrp_gradients(head: Head, leaves: Sequence[nn.Module], feats: torch.Tensor, aux: torch.Tensor | None,
                  n_classes: int, per_class: Callable[[torch.Tensor, int], torch.Tensor],
                  epsilon: float) -> torch.Tensor:
    """Modified gradients whose product with ``feats`` is LRP-epsilon's relevance, for every logit.

    Captum's epsilon rule maps a module's output relevance ``R`` to ``a * J^T (R / s(y))`` at its
    input ``a`` (``y`` its output, ``s(y) = y + epsilon * sign(y)``, sign(0) = 1).  Writing
    ``R = a * g`` at every module boundary, ``g`` follows the plain backward pass except that each
    epsilon-rule module first multiplies the incoming gradient by ``y / s(y)``; the relevance of
    logit ``k`` (started at ``y_k``) at the features is then ``feats * g``.

    Residual sums and skip concatenations need no module of their own (so no canonizer, and
    zennit, which needs torchvision, is not used): at a sum ``z = a + b`` written in ``forward``
    the backward pass sends ``g_z`` to both branches, so their relevances ``a * g_z`` and
    ``b * g_z`` are ``R_z = z * g_z`` split in proportion to each branch's contribution, which is
    the published rule at sums (zennit's ``Sum`` with its ``Norm`` rule, without the stabiliser;
    relevance is conserved exactly there).  A concatenation routes each slice of ``g`` to the
    tensor it came from, and bilinear upsampling is linear without bias, where the gradient is
    LRP-0's rule.  The head must run each rule module once (:func:`used_leaves`).
    """
    factors: dict[nn.Module, torch.Tensor] = {}  # y / s(y), the same for every class

    def record(module, inputs, output):
        y = output.detach()
        sign = torch.where(y >= 0, 1.0, -1.0).to(y.dtype)
        factors[module] = y / (y + sign * epsilon)

    def rule(module, grad_output):
        return (grad_output[0] * factors[module],)

    with _hooks([m for m in leaves if isinstance(m, EPSILON_RULE)], forward=record, backward_pre=rule):
        return class_gradients(head, feats, aux, n_classes, per_class)
