"""Reading a user's model: a Python factory (+ state dict), a TorchScript, exported or ONNX file.

Nothing here runs code from the registry beyond the one importable factory the user names
(``module: "package.module:factory"``): checkpoints are read with ``weights_only=True``,
TorchScript and exported programs are graphs, not pickles of arbitrary objects.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn


class SourceError(ValueError):
    """A model source that cannot be read (missing file, bad factory, checkpoint mismatch)."""


def _file(path: str, what: str) -> Path:
    p = Path(path).expanduser()
    if not p.is_file():
        raise SourceError(f"{what} file not found: {p}")
    return p


def _import(name: str):
    """Import ``name``; a module file in the working directory is found too (the ``xaibench``
    command, unlike ``python``, does not put it on ``sys.path``)."""
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as e:
        if e.name != name.split(".")[0]:
            raise
    cwd = str(Path.cwd())
    sys.path.insert(0, cwd)
    try:
        return importlib.import_module(name)
    finally:
        if cwd in sys.path:
            sys.path.remove(cwd)


def factory(spec: str):
    """The callable named by ``"package.module:attribute"`` (a class or a function)."""
    module_name, sep, attr = spec.partition(":")
    if not sep or not module_name or not attr:
        raise SourceError(f"module must be 'package.module:factory', got {spec!r}")
    try:
        module = _import(module_name)
    except ImportError as e:
        raise SourceError(f"module {spec!r}: cannot import {module_name!r} ({e})") from None
    target: Any = module
    for part in attr.split("."):
        if not hasattr(target, part):
            raise SourceError(f"module {spec!r}: {module_name} has no attribute {attr!r}")
        target = getattr(target, part)
    if not callable(target):
        raise SourceError(f"module {spec!r} is not callable")
    return target


def build(spec: str, kwargs: Mapping[str, Any]) -> nn.Module:
    """``factory(**kwargs)``, checked to be an ``nn.Module``."""
    made = factory(spec)(**dict(kwargs))
    if not isinstance(made, nn.Module):
        raise SourceError(f"module {spec!r} returned {type(made).__name__}, not a torch.nn.Module")
    return made


def read_state_dict(path: str) -> dict[str, torch.Tensor]:
    """A state dict file read with ``weights_only=True``: ``{"state_dict": ...}`` or ``{"model": ...}``
    wrappers (Lightning, trainers) unwrapped, the ``module.`` prefix of DataParallel stripped."""
    raw: Any = torch.load(_file(path, "checkpoint"), map_location="cpu", weights_only=True)
    while isinstance(raw, Mapping):
        inner = next((raw[k] for k in ("state_dict", "model") if isinstance(raw.get(k), Mapping)), None)
        if inner is None:
            break
        raw = inner
    if not isinstance(raw, Mapping) or not raw or not all(isinstance(v, torch.Tensor) for v in raw.values()):
        raise SourceError(f"checkpoint {path}: not a state dict (expected a mapping of names to tensors)")
    state = dict(raw)
    if all(k.startswith("module.") for k in state):
        state = {k[len("module."):]: v for k, v in state.items()}
    return state


def load_checkpoint(net: nn.Module, path: str) -> None:
    """Copy the checkpoint into ``net`` strictly; one line naming missing, unexpected and misshapen keys."""
    state = read_state_dict(path)
    expected = net.state_dict()

    def listing(keys: list[str]) -> str:
        return ", ".join(keys[:5]) + (f" (+{len(keys) - 5} more)" if len(keys) > 5 else "")

    problems = []
    missing = [k for k in expected if k not in state]
    unexpected = [k for k in state if k not in expected]
    shapes = [f"{k} {tuple(state[k].shape)} vs {tuple(v.shape)}" for k, v in expected.items()
              if k in state and state[k].shape != v.shape]
    if missing:
        problems.append(f"missing keys {listing(missing)}")
    if unexpected:
        problems.append(f"unexpected keys {listing(unexpected)}")
    if shapes:
        problems.append(f"shape mismatch (checkpoint vs model) {listing(shapes)}")
    if problems:
        raise SourceError(f"checkpoint {path} does not fit {type(net).__name__}: " + "; ".join(problems))
    net.load_state_dict(state, strict=True)


@dataclass
class Script:
    """A loaded TorchScript file: ``module`` and ``function(qualified_name)``, the scripted functions
    its graph calls (``"torch.nn.functional.relu"``), from the compilation unit it was loaded into."""

    module: torch.jit.ScriptModule
    unit: Any

    def function(self, name: str) -> Any:
        found = self.unit.find_function(f"__torch__.{name}")
        if found is None:
            raise SourceError(f"the TorchScript file has no function {name!r}")
        return found


def torchscript(path: str) -> Script:
    # torch.jit.load's own steps, keeping the compilation unit: the public API drops it, and the
    # graph's calls of scripted functions (F.relu ...) are found only there
    from torch.jit._recursive import wrap_cpp_module

    unit = torch._C.CompilationUnit()
    cpp = torch._C.import_ir_module(unit, str(_file(path, "torchscript")), torch.device("cpu"), {}, False)
    return Script(wrap_cpp_module(cpp).eval(), unit)


def exported(path: str) -> torch.export.ExportedProgram:
    return torch.export.load(str(_file(path, "exported")))


def onnx(path: str) -> nn.Module:
    """The ONNX graph converted to an ``nn.Module`` by onnx2torch (an optional dependency)."""
    file = _file(path, "onnx")
    try:
        from onnx2torch import convert
    except ImportError:
        raise SourceError("onnx models need the optional converter onnx2torch: pip install onnx2torch") from None
    return convert(str(file))


def without_inplace(model: nn.Module) -> nn.Module:
    """A copy of ``model`` whose activations are out of place (``inplace=False``): an in-place
    ReLU overwrites the output a backward hook saved ("... is a view and is being modified inplace")."""
    model = _copy(model)
    for module in model.modules():
        if getattr(module, "inplace", False) is True:
            module.inplace = False
    return model


def _copy(model: nn.Module) -> nn.Module:
    import copy

    return copy.deepcopy(model)


def digest(files: dict[str, str]) -> str | None:
    """SHA-256 (24 hex digits) of the files (``{param: path}``), so replacing one recomputes what
    depends on it; a missing file is a :class:`SourceError` naming the param (``xaibench validate``)."""
    import hashlib

    if not files:
        return None
    h = hashlib.sha256()
    for what, path in files.items():
        with open(_file(path, what), "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                h.update(block)
    return h.hexdigest()[:24]
