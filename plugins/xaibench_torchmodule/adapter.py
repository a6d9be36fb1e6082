"""A user's model as a :class:`xaibench.components.SplittableModel`.

:class:`Adapted` puts what the dataset gives (``x`` ``(N, C, H, W)`` in the dataset's band order,
``aux`` ``(N, A)``) into what the model expects (its bands in its order, normalised, one
positional input per band group, ``aux`` last when it reads one) and maps its logits to the
dataset's class order.  The adaptation is plain code on buffers of :class:`Adapted` (not
modules), so the modules the rule-based methods see are the model's own.

``split(layer)`` cuts the traced graph (:mod:`.graph`), or, for a model fx cannot trace, uses
:class:`HookCut`: forward hooks that stop the pass at the layer (body) and substitute the
layer's output (head).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from .graph import Traced, cut
from .scripted import ScriptGraph


class Adaptation(nn.Module):
    """Band selection, normalisation, class order; no children (its tensors are buffers).

    ``groups``: dataset band indices of each positional input; ``mean``/``std`` ``(C_model,)``
    over the concatenated groups, or ``None``; ``classes``: model output column of each dataset
    class, or ``None`` for the same order; ``aux``: whether the model reads ``aux`` last.
    """

    def __init__(self, groups: Sequence[Sequence[int]], mean: Sequence[float] | None, std: Sequence[float] | None,
                 classes: Sequence[int] | None, aux: bool) -> None:
        super().__init__()
        self.n_inputs = len(groups)
        for i, idx in enumerate(groups):
            self.register_buffer(f"bands{i}", torch.tensor(list(idx), dtype=torch.long), persistent=False)
        sizes = [len(g) for g in groups]
        self.sizes = sizes
        self.normalise = mean is not None
        if mean is not None and std is not None:
            self.register_buffer("mean", torch.tensor(mean, dtype=torch.float32).view(1, -1, 1, 1), persistent=False)
            self.register_buffer("std", torch.tensor(std, dtype=torch.float32).view(1, -1, 1, 1), persistent=False)
        self.reorder = classes is not None
        if classes is not None:
            self.register_buffer("classes", torch.tensor(list(classes), dtype=torch.long), persistent=False)
        self.aux = aux

    def inputs(self, x: torch.Tensor, aux: torch.Tensor | None) -> tuple[torch.Tensor | None, ...]:
        """The model's positional inputs from the dataset's ``x`` and ``aux``."""
        parts = [x.index_select(1, getattr(self, f"bands{i}")) for i in range(self.n_inputs)]
        if self.normalise:
            start = 0
            for i, size in enumerate(self.sizes):
                parts[i] = (parts[i] - self.mean[:, start:start + size]) / self.std[:, start:start + size]
                start += size
        return (*parts, aux) if self.aux else tuple(parts)

    def logits(self, out: torch.Tensor) -> torch.Tensor:
        return out.index_select(1, self.classes) if self.reorder else out


class Part(nn.Module):
    """Body or head: the model's graph piece (a child, so hooks find its modules) and the
    adaptation (not a child: its owner moves it)."""

    def __init__(self, piece: nn.Module, adapt: Adaptation, is_head: bool) -> None:
        super().__init__()
        self.piece = piece
        self._adapt = (adapt,)
        self.is_head = is_head

    def forward(self, x: torch.Tensor, aux: torch.Tensor | None = None) -> torch.Tensor:
        """Body: ``x`` ``(N, C, H, W)`` -> the layer's features; head: features -> logits ``(N, K)``."""
        adapt = self._adapt[0]
        if not self.is_head:
            return self.piece(*adapt.inputs(x, aux))
        return adapt.logits(self.piece(x, aux if adapt.aux else None))


class _Stop(Exception):
    pass


class HookCut:
    """The fallback split for models fx cannot trace: forward hooks on the layer's module.

    The body runs the model until the layer and stops; the head runs the whole model on a zero
    input of ``input_shapes`` and substitutes its argument for the layer's output, so everything
    before the layer is recomputed on every head call (the cost measured in
    ``benchmarks/torchmodule_split.py``) and a skip over the layer would read the zero input:
    :meth:`TorchModuleModel.train` checks ``head(body(x)) == model(x)`` and names the layer.
    """

    def __init__(self, model: nn.Module, path: str, input_shapes: Sequence[Sequence[int]]) -> None:
        self.model, self.module = model, model.get_submodule(path)
        self.shapes = [tuple(s) for s in input_shapes]

    def after(self) -> list[nn.Module]:
        """Leaf modules first called after the layer's output (found on a zero probe): the head's
        own modules, which hook-based methods see.  The ones before it run on the zero input,
        outside the graph of the features; hooking them (Captum's DeepLift) would fail."""
        order: list[nn.Module] = []
        leaves = [m for m in self.model.modules() if not list(m.children())]
        handles = [m.register_forward_hook(lambda mod, i, o: order.append(mod)) for m in leaves]
        handles.append(self.module.register_forward_hook(lambda mod, i, o: order.append(self.module)))
        device = next(self.model.parameters(), torch.zeros(0)).device
        try:
            with torch.no_grad():
                self.model(*[torch.zeros((1, *s), device=device) for s in self.shapes])
        finally:
            for h in handles:
                h.remove()
        cut = max(i for i, m in enumerate(order) if m is self.module)
        before = set(order[:cut])
        return [m for m in dict.fromkeys(order[cut + 1:]) if m not in before]

    def body(self, *inputs: torch.Tensor | None) -> torch.Tensor:
        found: list[torch.Tensor] = []

        def stop(module, args, output):
            found.append(output)
            raise _Stop

        handle = self.module.register_forward_hook(stop)
        try:
            self.model(*inputs)
        except _Stop:
            pass
        finally:
            handle.remove()
        if not found:
            raise RuntimeError(f"the forward pass never called {type(self.module).__name__}")
        return found[0]

    def head(self, features: torch.Tensor, aux: torch.Tensor | None = None) -> torch.Tensor:
        handle = self.module.register_forward_hook(lambda module, args, output: features)
        n = features.shape[0]
        zeros = [torch.zeros((n, *s), device=features.device, dtype=features.dtype) for s in self.shapes]
        try:
            return self.model(*zeros, *([aux] if aux is not None else []))
        finally:
            handle.remove()


class _Call(nn.Module):
    """A bound function as a module whose children are the ``modules`` it runs (for hooks)."""

    def __init__(self, modules: Sequence[nn.Module], fn) -> None:
        super().__init__()
        self.runs, self._fn = nn.ModuleList(modules), fn

    def forward(self, *args):
        return self._fn(*args)


class Adapted(nn.Module):
    """A user's model explained by xaibench: ``forward(x, aux=None)`` -> logits ``(N, classes)``
    in the dataset's class order; ``split(layer)`` -> ``(body, head)`` (see
    :class:`xaibench.components.SplittableModel`).

    ``model``: the traced graph (``traced``) or the module itself (hook fallback, or a
    TorchScript module, cut by interpreting its graph, ``scripted``); ``layers``: xaibench layer
    name -> module path; ``input_shapes``: per-sample shapes of the model's image inputs (for the
    hook fallback).
    """

    def __init__(self, model: nn.Module, adapt: Adaptation, layers: dict[str, str], traced: Traced | None,
                 input_shapes: Sequence[Sequence[int]] = (), scripted: ScriptGraph | None = None) -> None:
        super().__init__()
        self.model, self.adapt = model, adapt
        self.layers = dict(layers)
        self._traced = traced
        self._scripted = scripted
        self._shapes = [tuple(s) for s in input_shapes]
        self._splits: dict[str, tuple[nn.Module, nn.Module]] = {}

    @property
    def layer_names(self) -> tuple[str, ...]:
        return ("input", *[name for name in self.layers if name != "input"])

    def _apply(self, fn, *args, **kwargs):
        # .to(device): cut pieces may hold their own references to top-level constants: cut again
        self._splits.clear()
        return super()._apply(fn, *args, **kwargs)

    @property
    def traced(self) -> bool:
        """Whether layers are cut from a graph (fx, exported, TorchScript), not with forward hooks."""
        return self._traced is not None or self._scripted is not None

    def forward(self, x: torch.Tensor, aux: torch.Tensor | None = None) -> torch.Tensor:
        return self.adapt.logits(self.model(*self.adapt.inputs(x, aux)))

    def split(self, layer: str) -> tuple[nn.Module, nn.Module]:
        if layer == "input":
            return _Identity(), self
        if layer not in self.layers:
            raise KeyError(f"the model has no layer {layer!r} (layers: {', '.join(self.layer_names)})")
        if layer not in self._splits:
            path = self.layers[layer]
            if self._traced is not None:
                passthrough = frozenset({self._traced.inputs[-1].target}) if self.adapt.aux else frozenset()
                body, head = cut(self._traced, path, passthrough)
            elif self._scripted is not None:
                body, head = self._scripted.split(path, passthrough_last=self.adapt.aux)
            else:
                hooks = HookCut(self.model, path, self._shapes)
                body, head = _Call([self.model], hooks.body), _Call(hooks.after(), hooks.head)
            self._splits[layer] = (Part(body, self.adapt, is_head=False), Part(head, self.adapt, is_head=True))
        return self._splits[layer]


class _Identity(nn.Module):
    def forward(self, x: torch.Tensor, aux: torch.Tensor | None = None) -> torch.Tensor:
        return x


