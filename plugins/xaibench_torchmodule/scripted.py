"""A TorchScript model cut at a submodule's call: its top-level graph interpreted in Python.

``torch.jit`` offers no module hooks and no public way to split a scripted graph, but the
top-level (not inlined) ``forward`` graph keeps ``prim::GetAttr`` chains from ``self`` and a
``prim::CallMethod[name="forward"]`` node per submodule call, so module paths are there.
:class:`ScriptGraph` walks that graph node by node: a ``CallMethod`` runs the scripted submodule
itself, ``aten::*`` nodes run the same operator overload through ``torch.ops``, calls of scripted
functions (``F.relu`` ...) run the compiled function from the file's compilation unit, and a few
``prim::`` nodes (constants, lists, tuples, ``If``) are evaluated by a small table.  The body runs the
nodes up to the layer's call and returns its output; the head runs the nodes after it on its
argument (and the nodes that read no input, such as constants).  Autograd flows through every
step, so the gradient methods run at the layer; the submodules stay ScriptModules (no hooks).
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from .graph import CutError


class ScriptCutError(CutError):
    """The TorchScript graph cannot be cut (unknown layer, skip over the cut, unsupported node)."""


_PRIM: dict[str, Callable[..., Any]] = {
    "prim::ListConstruct": lambda *a: list(a), "prim::TupleConstruct": lambda *a: tuple(a),
    "prim::DictConstruct": lambda *a: dict(zip(a[::2], a[1::2])),
    "prim::ListUnpack": lambda v: tuple(v), "prim::TupleUnpack": lambda v: tuple(v),
    "prim::TupleIndex": operator.getitem, "prim::unchecked_cast": lambda v: v,
    "prim::device": lambda t: t.device, "prim::dtype": lambda t: t.dtype, "prim::NumToTensor": torch.scalar_tensor,
    "prim::min": min, "prim::max": max,
    "aten::__getitem__": operator.getitem, "aten::len": len, "aten::__is__": operator.is_,
    "aten::__isnot__": operator.is_not, "aten::__not__": operator.not_, "aten::Int": int, "aten::Float": float,
    "aten::Bool": bool,
}
_SUPPORTED = {"prim::Constant", "prim::GetAttr", "prim::CallMethod", "prim::CallFunction", "prim::If",
              "prim::RaiseException", *_PRIM}


def _label(node: torch._C.Node) -> str:
    where = node.sourceRange().strip().splitlines()
    return f"{node.kind()}" + (f" ({where[0]})" if where else "")


def _operator(node: torch._C.Node) -> tuple[Callable[..., Any], list[str | None]]:
    """The ``torch.ops`` overload of an ``aten::`` node, and per input its keyword (None: positional)."""
    schema = torch._C.parse_schema(node.schema())
    namespace, name = schema.name.split("::")
    packet = getattr(getattr(torch.ops, namespace), name)
    op = getattr(packet, schema.overload_name or "default")
    return op, [a.name if a.kwarg_only else None for a in schema.arguments]


def _collect(block: torch._C.Block, out: list[torch._C.Node]) -> list[torch._C.Node]:
    for node in block.nodes():
        out.append(node)
        for inner in node.blocks():
            _collect(inner, out)
    return out


class ScriptGraph:
    """The top-level ``forward`` graph of ``module`` (a loaded ``ScriptModule``); ``functions``:
    qualified name -> compiled function (the compilation unit the file was loaded into)."""

    def __init__(self, module: torch.jit.ScriptModule, functions: Callable[[str], Any]) -> None:
        self.module = module
        self.graph = module.graph
        inputs = list(self.graph.inputs())
        self.self_value, self.inputs = inputs[0], inputs[1:]
        self.nodes = list(self.graph.nodes())
        self._paths: dict[torch._C.Value, str] = {self.self_value: ""}
        calls: dict[str, list[torch._C.Node]] = {}
        for node in self.nodes:
            if node.kind() == "prim::GetAttr" and node.input() in self._paths:
                parent = self._paths[node.input()]
                self._paths[node.output()] = f"{parent}.{node.s('name')}" if parent else node.s("name")
            elif node.kind() == "prim::CallMethod" and node.s("name") == "forward" \
                    and node.inputsAt(0) in self._paths and self._paths[node.inputsAt(0)]:
                calls.setdefault(self._paths[node.inputsAt(0)], []).append(node)
        self.calls = calls
        self._ops: dict[torch._C.Node, tuple[Callable[..., Any], list[str | None]]] = {}
        self._functions: dict[torch._C.Node, Any] = {}
        for node in _collect(self.graph.block(), []):
            kind = node.kind()
            if kind == "prim::Constant" and node.output().type().kind() == "FunctionType":
                try:
                    self._functions[node] = functions(str(node.output().type()).removeprefix("__torch__."))
                except ValueError as e:
                    raise ScriptCutError(f"{_label(node)}: {e}") from None
            elif kind.startswith("aten::") and kind not in _PRIM:
                try:
                    self._ops[node] = _operator(node)
                except (AttributeError, RuntimeError):
                    raise ScriptCutError(self._unsupported(node)) from None
            elif kind not in _SUPPORTED:
                raise ScriptCutError(self._unsupported(node))
        # values that depend on no input (constants, submodules, lists of them): the head recomputes them
        self.static: set[torch._C.Node] = set()
        known = {self.self_value}
        for node in self.nodes:
            if all(v in known for v in self._reads(node)) and node.kind() != "prim::CallMethod":
                self.static.add(node)
                known.update(node.outputs())

    @staticmethod
    def _unsupported(node: torch._C.Node) -> str:
        return (f"TorchScript node {_label(node)} cannot be interpreted to cut the model at a layer; save the "
                f"model with torch.export (exported: file.pt2) to cut it there")

    @staticmethod
    def _reads(node: torch._C.Node) -> list[torch._C.Value]:
        """Values defined outside ``node`` that it (or a node in its blocks) reads."""
        inner: set[torch._C.Value] = set()
        reads: list[torch._C.Value] = []
        for n in [node, *_collect_blocks(node)]:
            reads += [v for v in n.inputs() if v not in inner]
            inner.update(n.outputs())
            for b in n.blocks():
                inner.update(b.paramNode().outputs())
        for b in node.blocks():
            reads += [v for v in b.returnNode().inputs() if v not in inner]
        return reads

    def cut_points(self, passthrough_last: bool = False) -> list[str]:
        """Module paths the model can be cut at (one call, one tensor out, no value skipping over it)."""
        out = []
        for path in self.calls:
            try:
                if not self._crossing(path, passthrough_last):
                    out.append(path)
            except ScriptCutError:
                pass
        return out

    def _call(self, path: str) -> torch._C.Node:
        calls = self.calls.get(path)
        if not calls:
            raise ScriptCutError(f"the TorchScript model's forward calls no module {path!r} (modules it calls: "
                                 f"{', '.join(self.calls) or 'none'})")
        if len(calls) > 1:
            raise ScriptCutError(f"module {path!r} is called more than once in forward: no single output")
        if calls[0].output().type().kind() != "TensorType":
            raise ScriptCutError(f"module {path!r} returns {calls[0].output().type()}, not one tensor")
        return calls[0]

    def _crossing(self, path: str, passthrough_last: bool) -> list[str]:
        """Names of values computed before the layer's call (from the inputs) that later nodes read."""
        call = self._call(path)
        at = self.nodes.index(call)
        before = {v for n in self.nodes[:at] if n not in self.static for v in n.outputs()}
        before.update(self.inputs[:-1] if passthrough_last else self.inputs)
        read = [v for n in self.nodes[at + 1:] for v in self._reads(n)] + list(self.graph.return_node().inputs())
        out: list[str] = []
        for v in read:
            if v in before and v.debugName() not in out:
                out.append(v.debugName())
        return out

    def split(self, path: str, passthrough_last: bool = False) -> tuple[nn.Module, nn.Module]:
        """``(body, head)``: ``body(*inputs)`` -> the output of module ``path``; ``head(features,
        aux=None)`` -> the model's output (``aux``: the model's last input, when ``passthrough_last``)."""
        if path not in self.calls:
            self._call(path)  # names the modules forward calls
        points = f"layers that can be cut: {', '.join(self.cut_points(passthrough_last)) or 'none'}"
        try:
            call = self._call(path)
        except ScriptCutError as e:
            raise ScriptCutError(f"{e}; {points}") from None
        skipped = self._crossing(path, passthrough_last)
        if skipped:
            raise ScriptCutError(f"values computed before {path!r} are used after it ({', '.join(skipped[:4])}: "
                                 f"skip connections over the cut); {points}")
        return _Body(self, call), _Head(self, call, passthrough_last)

    # -- interpretation -------------------------------------------------------------------------
    def run_block(self, nodes: list[torch._C.Node], env: dict[torch._C.Value, Any]) -> None:
        for node in nodes:
            self.run(node, env)

    def run(self, node: torch._C.Node, env: dict[torch._C.Value, Any]) -> None:
        kind = node.kind()
        args = [env[v] for v in node.inputs()]
        if kind == "prim::Constant":
            env[node.output()] = self._functions[node] if node in self._functions else node.output().toIValue()
            return
        if kind == "prim::GetAttr":
            result: Any = getattr(args[0], node.s("name"))
        elif kind == "prim::CallMethod":
            result = getattr(args[0], node.s("name"))(*args[1:])
        elif kind == "prim::CallFunction":
            result = args[0](*args[1:])
        elif kind == "prim::If":
            branch = list(node.blocks())[0 if args[0] else 1]
            self.run_block(list(branch.nodes()), env)
            result = tuple(env[v] for v in branch.returnNode().inputs())
        elif kind == "prim::RaiseException":
            raise RuntimeError(f"the TorchScript model raised: {args[0] if args else ''}")
        elif kind in _PRIM:
            result = _PRIM[kind](*args)
        else:
            op, keywords = self._ops[node]
            result = op(*[a for a, k in zip(args, keywords) if k is None],
                        **{k: a for a, k in zip(args, keywords) if k is not None})
        outputs = list(node.outputs())
        if len(outputs) == 1 and kind not in ("prim::If", "prim::ListUnpack", "prim::TupleUnpack"):
            env[outputs[0]] = result
        else:
            for v, r in zip(outputs, result):
                env[v] = r


def _collect_blocks(node: torch._C.Node) -> list[torch._C.Node]:
    out: list[torch._C.Node] = []
    for b in node.blocks():
        _collect(b, out)
    return out


class _Body(nn.Module):
    """The model's inputs -> the output of the layer's module (the nodes before its call)."""

    def __init__(self, graph: ScriptGraph, call: torch._C.Node) -> None:
        super().__init__()
        self.model, self._graph, self._call = graph.module, (graph,), call
        self._nodes = graph.nodes[:graph.nodes.index(call) + 1]

    def forward(self, *inputs: torch.Tensor | None) -> torch.Tensor:
        g = self._graph[0]
        env: dict[torch._C.Value, Any] = {g.self_value: self.model, **dict(zip(g.inputs, inputs))}
        g.run_block(self._nodes, env)
        return env[self._call.output()]


class _Head(nn.Module):
    """The layer's output (and ``aux``) -> the model's output (the nodes after the layer's call)."""

    def __init__(self, graph: ScriptGraph, call: torch._C.Node, passthrough_last: bool) -> None:
        super().__init__()
        self.model, self._graph, self._call, self._aux = graph.module, (graph,), call, passthrough_last
        at = graph.nodes.index(call)
        self._nodes = [n for n in graph.nodes[:at] if n in graph.static] + graph.nodes[at + 1:]
        # an in-place operation (f.relu_(), f += 1) on the features would write into a leaf that
        # requires grad (the methods' features): they get a copy, which autograd maps back
        after = [m for n in graph.nodes[at + 1:] for m in [n, *_collect_blocks(n)]]
        self._copy = any(n.kind().startswith("aten::") and "!" in n.schema() for n in after)

    def forward(self, features: torch.Tensor, aux: torch.Tensor | None = None) -> torch.Tensor:
        g = self._graph[0]
        features = features.clone() if self._copy else features
        env: dict[torch._C.Value, Any] = {g.self_value: self.model, self._call.output(): features}
        if self._aux:
            env[g.inputs[-1]] = aux
        g.run_block(self._nodes, env)
        (out,) = g.graph.return_node().inputs()
        return env[out]
