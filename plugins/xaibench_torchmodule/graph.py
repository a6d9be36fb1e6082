"""A model as a torch.fx graph: traced, rewritten for rule-based methods, cut at a module's output.

Two ways in: :func:`trace_module` traces a Python ``nn.Module`` with ``torch.fx`` and notes the
output node of every module call; :func:`from_exported` takes the graph of a ``torch.export``
program, whose nodes carry the module stack they were called from.  Either way a layer is a
module path (``"encoder.block3"``) whose output is one node.

:func:`rewrite_for_rules` makes the graph safe for the methods that hook modules (Guided
Backprop, Deconvolution, DeepLift, LRP): functional ReLU/sigmoid/tanh/max-pooling calls become modules of
their own, in-place operations become out-of-place ones, and an activation module called at two
places gets one copy per call (the rules keep one state per module).

:func:`cut` builds the body (the model's inputs -> the layer's output) and the head (the layer's
output, ``aux`` -> the model's output) as two ``GraphModule``\\ s sharing the model's submodules.
"""

from __future__ import annotations

import copy
import operator
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import fx, nn


class CutError(ValueError):
    """The model cannot be cut at the requested layer (unknown, called twice, skipped over)."""


@dataclass
class Traced:
    """``module``: the whole model as a ``GraphModule``; ``outputs``: module path -> its output node
    (``None`` for a module called more than once or whose output is not one node)."""

    module: fx.GraphModule
    outputs: dict[str, fx.Node | None]

    @property
    def inputs(self) -> list[fx.Node]:
        return [n for n in self.module.graph.nodes if n.op == "placeholder"]


class _RecordingTracer(fx.Tracer):
    """fx's tracer, noting the output proxy of every module call, leaf or not."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: dict[str, list[object]] = {}

    def call_module(self, m, forward, args, kwargs):
        out = super().call_module(m, forward, args, kwargs)
        self.calls.setdefault(self.path_of_module(m), []).append(out)
        return out


def trace_module(model: nn.Module) -> Traced:
    """``model`` traced with ``torch.fx`` (raises ``torch.fx`` errors for untraceable control flow)."""
    tracer = _RecordingTracer()
    graph = tracer.trace(model)
    gm = fx.GraphModule(model, graph, type(model).__name__)
    outputs: dict[str, fx.Node | None] = {}
    for path, results in tracer.calls.items():
        only = len(results) == 1 and isinstance(results[0], fx.Proxy)
        outputs[path] = results[0].node if only else None  # type: ignore[union-attr]
    return Traced(gm, outputs)


def from_exported(gm: fx.GraphModule) -> Traced:
    """The module of an ``ExportedProgram`` (``ep.module()``); layers from the nodes' module stacks."""
    graph = fx.Graph()
    env: dict[fx.Node, fx.Node] = {}
    for node in gm.graph.nodes:  # drop the pytree codegen and the guard call: plain positional inputs
        if node.op == "call_module" and node.target == "_guards_fn":
            continue
        if node.op == "output":
            out = node.args[0]
            if isinstance(out, (tuple, list)) and len(out) == 1:
                out = out[0]
            graph.output(fx.map_arg(out, lambda n: env[n]))
            continue
        env[node] = graph.node_copy(node, lambda n: env[n])
    module = fx.GraphModule(gm, graph, "Exported")
    scopes: dict[str, dict[str, list[fx.Node]]] = {}  # path -> call key -> nodes
    for node in module.graph.nodes:
        for key, value in (node.meta.get("nn_module_stack") or {}).items():
            path = value[0] if isinstance(value, tuple) else str(value)
            if path:
                scopes.setdefault(path, {}).setdefault(key, []).append(node)
    outputs: dict[str, fx.Node | None] = {}
    for path, calls in scopes.items():
        if len(calls) != 1:
            outputs[path] = None
            continue
        (nodes,) = calls.values()
        inside = set(nodes)
        leaving = [n for n in nodes if any(u not in inside for u in n.users)]
        outputs[path] = leaving[0] if len(leaving) == 1 else None
    return Traced(module, outputs)


# -- rewriting ------------------------------------------------------------------------------------
_ACTIVATIONS: dict[object, type[nn.Module]] = {
    F.relu: nn.ReLU, torch.relu: nn.ReLU, torch.relu_: nn.ReLU, "relu": nn.ReLU, "relu_": nn.ReLU,
    torch.sigmoid: nn.Sigmoid, "sigmoid": nn.Sigmoid, torch.tanh: nn.Tanh, "tanh": nn.Tanh,
    torch.ops.aten.relu.default: nn.ReLU, torch.ops.aten.relu_.default: nn.ReLU,
    torch.ops.aten.sigmoid.default: nn.Sigmoid, torch.ops.aten.tanh.default: nn.Tanh,
}
_INPLACE_OPERATORS = {operator.iadd: operator.add, operator.isub: operator.sub, operator.imul: operator.mul,
                      operator.itruediv: operator.truediv}


def _max_pool(node: fx.Node) -> nn.Module | None:
    """``nn.MaxPool2d`` for a functional or aten 2-d max pooling call (DeepLift has a rule for the
    module, not the function), or None."""
    if node.op != "call_function" or node.target not in (F.max_pool2d, torch.max_pool2d,
                                                           torch.ops.aten.max_pool2d.default):
        return None
    names = ("kernel_size", "stride", "padding", "dilation", "ceil_mode")
    args = dict(zip(names, node.args[1:]), **{k: v for k, v in node.kwargs.items() if k in names})
    if node.kwargs.get("return_indices") or any(isinstance(v, fx.Node) for v in args.values()):
        return None
    if not args.get("stride"):  # aten's default is [], meaning the kernel size
        args["stride"] = None
    return nn.MaxPool2d(**args)


def _out_of_place_aten(target: object) -> object | None:
    """``aten.add_.Tensor`` -> ``aten.add.Tensor`` (None when ``target`` is not an in-place aten op)."""
    packet = getattr(target, "overloadpacket", None)
    name = getattr(packet, "__name__", "")
    if not name.endswith("_") or name.endswith("__"):
        return None
    base = getattr(torch.ops.aten, name[:-1], None)
    overload = getattr(base, getattr(target, "_overloadname", "default"), None) if base is not None else None
    return overload


def rewrite_for_rules(traced: Traced) -> Traced:
    """Rewrite ``traced`` in place (see the module docstring); returns it.  Layer outputs follow."""
    gm, graph = traced.module, traced.module.graph
    seen_modules: set[str] = set()
    replaced: dict[fx.Node, fx.Node] = {}
    count = 0

    def own_module(kind: type[nn.Module] | nn.Module) -> str:
        nonlocal count
        name = f"_xaibench_act{count}"
        count += 1
        module = kind() if isinstance(kind, type) else kind
        gm.add_submodule(name, module)
        return name

    for node in list(graph.nodes):
        new: fx.Node | None = None
        key = node.target if node.op in ("call_function", "call_method") else None
        if key is not None and key in _ACTIVATIONS and node.args:
            with graph.inserting_before(node):
                new = graph.call_module(own_module(_ACTIVATIONS[key]), (node.args[0],))
        elif (pool := _max_pool(node)) is not None:
            with graph.inserting_before(node):
                new = graph.call_module(own_module(pool), (node.args[0],))
        elif node.op == "call_function" and node.target in _INPLACE_OPERATORS:
            node.target = _INPLACE_OPERATORS[node.target]
        elif node.op == "call_function" and _out_of_place_aten(node.target) is not None:
            node.target = _out_of_place_aten(node.target)
        elif node.op == "call_method" and node.target.endswith("_") and not node.target.endswith("__") \
                and hasattr(torch.Tensor, node.target[:-1]):
            node.target = node.target[:-1]
        elif node.op == "call_function" and node.kwargs.get("inplace"):
            node.kwargs = {**node.kwargs, "inplace": False}
        elif node.op == "call_module":
            module = gm.get_submodule(node.target)
            stateless = not list(module.parameters()) and not list(module.buffers()) and not list(module.children())
            if getattr(module, "inplace", False) or (stateless and node.target in seen_modules):
                fresh = copy.deepcopy(module)
                if hasattr(fresh, "inplace"):
                    fresh.inplace = False
                with graph.inserting_before(node):
                    new = graph.call_module(own_module(fresh), node.args, node.kwargs)
            seen_modules.add(node.target)
        if new is not None:
            new.meta = dict(node.meta)
            node.replace_all_uses_with(new)
            graph.erase_node(node)
            replaced[node] = new
    traced.outputs = {p: replaced.get(n, n) if n is not None else None for p, n in traced.outputs.items()}
    graph.lint()
    gm.recompile()
    return traced


# -- cutting --------------------------------------------------------------------------------------
def _descendants(graph: fx.Graph, start: fx.Node) -> set[fx.Node]:
    found = {start}
    for node in graph.nodes:
        if node is not start and any(a in found for a in node.all_input_nodes):
            found.add(node)
    return found


def crossing(traced: Traced, path: str, passthrough: frozenset[str] = frozenset()) -> list[fx.Node]:
    """Nodes the rest of the model reads besides the layer's output (skips over the cut): they
    would have to reach the head from the input.  ``passthrough``: placeholders the head gets too."""
    layer = traced.outputs[path]
    assert layer is not None
    after = _descendants(traced.module.graph, layer)
    out: list[fx.Node] = []
    for node in traced.module.graph.nodes:
        if (node in after and node is not layer) or node.op == "output":
            for arg in node.all_input_nodes:
                if arg not in after and arg.op != "get_attr" and arg.target not in passthrough and arg not in out:
                    out.append(arg)
    return out


def cut_points(traced: Traced, passthrough: frozenset[str] = frozenset()) -> list[str]:
    """Module paths the model can be cut at (their output is the only way from input to output)."""
    return [p for p, n in traced.outputs.items() if p and n is not None and not crossing(traced, p, passthrough)]


def cut(traced: Traced, path: str, passthrough: frozenset[str] = frozenset()) -> tuple[fx.GraphModule, fx.GraphModule]:
    """``(body, head)``: ``body(*inputs)`` -> the output of module ``path``; ``head(features, aux=None)``
    -> the model's output.  ``passthrough``: names of input placeholders (``aux``) the head reads."""
    if path not in traced.outputs:
        raise CutError(f"no module {path!r} is called in the forward pass")
    layer = traced.outputs[path]
    if layer is None:
        raise CutError(f"module {path!r} is called more than once (or returns several values): no single output")
    skipped = crossing(traced, path, passthrough)
    if skipped:
        points = cut_points(traced, passthrough)
        raise CutError(f"tensors computed before {path!r} are used after it ({', '.join(n.name for n in skipped[:4])}: "
                       f"skip connections over the cut); layers that can be cut: {', '.join(points[-12:]) or 'none'}")
    graph = traced.module.graph
    after = _descendants(graph, layer)

    body_graph, env = fx.Graph(), {}
    needed = {layer}
    for node in reversed(list(graph.nodes)):
        if node in needed:
            needed.update(node.all_input_nodes)
    for node in graph.nodes:
        if node.op == "placeholder" or node in needed:
            env[node] = body_graph.node_copy(node, lambda n: env[n])
    body_graph.output(env[layer])

    head_graph = fx.Graph()
    features = head_graph.placeholder("features")
    aux = head_graph.placeholder("aux", default_value=None)
    env = {layer: features}
    for node in graph.nodes:
        if node.op == "placeholder" and node.target in passthrough:
            env[node] = aux
        elif node.op == "get_attr" and any(u in after for u in node.users):
            env[node] = head_graph.node_copy(node, lambda n: env[n])
        elif node.op == "output":
            head_graph.output(fx.map_arg(node.args[0], lambda n: env[n]))
        elif node in after and node is not layer:
            env[node] = head_graph.node_copy(node, lambda n: env[n])
    root = traced.module
    return fx.GraphModule(root, body_graph, "Body"), fx.GraphModule(root, head_graph, "Head")
