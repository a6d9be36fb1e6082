"""From ``torch-module`` params and a dataset to an :class:`~.adapter.Adapted` model, with the checks
that name both sides when the model and the data disagree (bands, classes, task, layers)."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch import nn

from xaibench.bundle import Bundle
from xaibench.components import DatasetInfo

from . import sources
from .adapter import Adaptation, Adapted
from .graph import CutError, cut_points, from_exported, rewrite_for_rules, trace_module
from .scripted import ScriptCutError, ScriptGraph

if TYPE_CHECKING:
    from .component import TorchModuleParams

log = logging.getLogger("xaibench.torchmodule")
_WARNED: set[str] = set()


class ModelMismatch(ValueError):
    """The model and the dataset disagree (bands, classes, task) or a layer cannot be cut."""


def _names(items) -> str:
    items = list(items)
    return ", ".join(items[:12]) + (f" (+{len(items) - 12} more)" if len(items) > 12 else "")


def band_groups(p: TorchModuleParams, info: DatasetInfo) -> list[list[int]]:
    """Dataset band indices of each model input."""
    names = [b.name for b in info.bands]
    groups = p.inputs if p.inputs is not None else [p.bands] if p.bands is not None else [names]
    out = []
    for group in groups:
        unknown = [b for b in group if b not in names]
        if unknown:
            raise ModelMismatch(f"torch-module: bands {_names(unknown)} are not in dataset {info.name}'s bands "
                                f"({_names(names)})")
        out.append([names.index(b) for b in group])
    return out


def class_order(p: TorchModuleParams, info: DatasetInfo) -> list[int] | None:
    """The model's output column of each dataset class (None: the same order)."""
    if p.classes is None:
        return None
    missing = [c for c in info.classes if c not in p.classes]
    if missing:
        raise ModelMismatch(f"torch-module: classes lacks dataset {info.name}'s classes {_names(missing)} "
                            f"(model classes: {_names(p.classes)})")
    return [p.classes.index(c) for c in info.classes]


def check_dataset(p: TorchModuleParams, info: DatasetInfo) -> None:
    """What can be checked before the model is built: bands, classes, task, normalisation length."""
    if info.task not in ("multilabel", "singlelabel"):
        raise ModelMismatch(f"torch-module explains classifiers; dataset {info.name} is a {info.task!r} task")
    if p.task is not None and p.task != info.task:
        raise ModelMismatch(f"torch-module: task is {p.task!r} but dataset {info.name} is {info.task!r}")
    groups = band_groups(p, info)
    class_order(p, info)
    n = sum(len(g) for g in groups)
    if p.normalize is not None and p.normalize.mean is not None and len(p.normalize.mean) != n:
        raise ModelMismatch(f"torch-module: normalize has {len(p.normalize.mean)} means for the model's {n} bands")


def adaptation(p: TorchModuleParams, info: DatasetInfo) -> Adaptation:
    groups = band_groups(p, info)
    n = sum(len(g) for g in groups)
    mean = std = None
    if p.normalize is not None:
        if p.normalize.mean is not None:
            mean, std = p.normalize.mean, p.normalize.std
        else:
            mean, std = [0.0] * n, [1.0 / float(p.normalize.scale or 1.0)] * n
    return Adaptation(groups, mean, std, class_order(p, info), p.aux)


def input_shapes(p: TorchModuleParams, info: DatasetInfo, data: Bundle) -> list[list[int]]:
    """Per-sample shape ``[C_i, H, W]`` of each image input of the model."""
    h, w = (int(s) for s in data.rows("train/x").shape[-2:])
    return [[len(g), h, w] for g in band_groups(p, info)]


def source_model(p: TorchModuleParams, arrays: dict[str, np.ndarray] | None) -> Any:
    """The user's model: an ``nn.Module`` (module, onnx), a :class:`~.sources.Script` or an ``ExportedProgram``."""
    if p.torchscript:
        return sources.torchscript(p.torchscript)
    if p.exported:
        return sources.exported(p.exported)
    net = sources.onnx(p.onnx) if p.onnx else sources.build(p.module or "", p.kwargs)
    if p.checkpoint and arrays is None:
        sources.load_checkpoint(net, p.checkpoint)
    if arrays is not None:
        from xaibench_zoo.checkpoint import load_into

        load_into(net, arrays, "torch-module trained state")
    return net.eval()


def stores_weights(p: TorchModuleParams) -> bool:
    """Whether the trained state holds the weights (module and onnx sources) or the file does."""
    return bool(p.module or p.onnx)


def _check_paths(names: dict[str, str], known: set[str], where: str) -> None:
    for layer, path in names.items():
        if path not in known:
            raise ModelMismatch(f"torch-module: layer {layer!r}: {where} has no module {path!r}")


def assemble(p: TorchModuleParams, raw: Any, adapt: Adaptation, shapes: list[list[int]]) -> Adapted:
    """The explained model: the graph traced and rewritten for rule-based methods, or the hook fallback."""
    if isinstance(raw, sources.Script):
        if not p.layers:  # nothing to cut: the graph is not read at all
            return Adapted(raw.module, adapt, {}, None)
        try:
            graph = ScriptGraph(raw.module, raw.function)
        except ScriptCutError as e:
            raise ModelMismatch(f"torch-module: torchscript {p.torchscript}: {e}") from None
        _check_paths(p.layers, set(graph.calls), "the TorchScript model's forward")
        return Adapted(raw.module, adapt, p.layers, None, scripted=graph)
    if isinstance(raw, torch.export.ExportedProgram):
        traced = rewrite_for_rules(from_exported(raw.module()))
        _check_paths(p.layers, {k for k, v in traced.outputs.items() if v is not None}, "the exported program")
        return Adapted(traced.module, adapt, p.layers, traced)
    net = sources.without_inplace(raw)
    if p.trace == "auto":
        try:
            traced = rewrite_for_rules(trace_module(net))
        except Exception as e:  # fx raises many kinds (TraceError, TypeError from control flow on proxies)
            key = f"{type(raw).__name__}:{e}"
            if key not in _WARNED:
                _WARNED.add(key)
                log.warning("torch-module: %s cannot be traced (%s: %s); cutting it with forward hooks (slower: "
                            "the head recomputes everything before the layer)", type(raw).__name__,
                            type(e).__name__, str(e).splitlines()[0] if str(e) else "")
        else:
            _check_paths(p.layers, set(traced.outputs), type(raw).__name__)
            return Adapted(traced.module, adapt, p.layers, traced)
    _check_paths(p.layers, {name for name, _ in net.named_modules()}, type(raw).__name__)
    return Adapted(net, adapt, p.layers, None, shapes)


def build(p: TorchModuleParams, info: DatasetInfo, arch: dict[str, Any],
          arrays: dict[str, np.ndarray] | None) -> tuple[Adapted, Any]:
    """``(explained model, the user's model it was made from)``."""
    raw = source_model(p, arrays)
    return assemble(p, raw, adaptation(p, info), arch.get("input_shapes", [])).eval(), raw


def trainable(raw: nn.Module, adapt: Adaptation) -> Adapted:
    """The user's model itself behind the adaptation (no copy), for the zoo's trainer."""
    return Adapted(raw, adapt, {}, None)


def check(model: Adapted, data: Bundle, info: DatasetInfo, n: int = 4) -> None:
    """Run a few samples: the model takes the bands, gives a logit per class, and ``head(body(x))
    == model(x)`` at every layer.  Raises one :class:`ModelMismatch` line naming what differs."""
    split = "test" if "test/x" in data else "train"
    x = torch.from_numpy(np.ascontiguousarray(np.asarray(data.rows(f"{split}/x")[:n]), dtype=np.float32))
    aux = None
    if f"{split}/aux" in data:
        aux = torch.from_numpy(np.ascontiguousarray(np.asarray(data.rows(f"{split}/aux")[:n]), dtype=np.float32))
    with torch.no_grad():
        try:
            out = model(x, aux)
        except Exception as e:
            first = str(e).splitlines()[0] if str(e) else type(e).__name__
            raise ModelMismatch(f"torch-module: the model rejects dataset {info.name}'s input {tuple(x.shape)} "
                                f"(bands as given: {sum(model.adapt.sizes)}): {first}") from None
        if out.ndim != 2 or out.shape[1] != info.n_classes:
            raise ModelMismatch(f"torch-module: the model gives {tuple(out.shape[1:])} outputs per sample, dataset "
                                f"{info.name} has {info.n_classes} classes (map them with classes: [...])")
        for layer in model.layer_names[1:]:
            try:
                body, head = model.split(layer)
                again = head(body(x, aux), aux)
            except CutError as e:
                raise ModelMismatch(f"torch-module: layer {layer!r} ({model.layers[layer]}): {e}") from None
            if not torch.allclose(again, out, rtol=1e-4, atol=1e-5):
                points = cut_points(model._traced) if model._traced is not None else \
                    model._scripted.cut_points(model.adapt.aux) if model._scripted is not None else None
                hint = "" if points is None else f" (layers that can be cut: {_names(points)})"
                raise ModelMismatch(f"torch-module: layer {layer!r} ({model.layers[layer]}): head(body(x)) differs "
                                    f"from model(x) by {float((again - out).abs().max()):.3g}: something computed "
                                    f"before the layer is used after it{hint}")
