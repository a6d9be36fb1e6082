"""Whether a head survives the module hooks that rule-based methods install.

Guided Backprop, Deconvolution, DeepLift and LRP rewrite backward rules through hooks on the
head's leaf modules (forward hooks and full backward hooks), keeping one state per module.  Three
things that forward passes allow break them at run time, each named here with its fix:
modules that take no hooks (TorchScript), an in-place operation on a hooked module's output
(``nn.ReLU(inplace=True)``, ``out += x``), and one module called twice in a forward pass (a
shared ``self.relu``).
"""

from __future__ import annotations

from typing import Any

NO_HOOKS_FIX = ("declare xaibench.capabilities.NO_MODULE_HOOKS in ModelInfo.provides so that hook-based methods "
                "are skipped, or return plain nn.Modules (the torch-module component explains TorchScript files so)")
INPLACE_FIX = ("make activations out of place (nn.ReLU(inplace=False), out = out + x): a backward hook keeps the "
               "module's output, which the in-place operation overwrites (the torch-module component rewrites them)")
REUSE_FIX = "give each use its own module (self.relu1, self.relu2): the rules keep one state per module"
_RESHAPE = ("Identity", "Flatten", "Unflatten")


def hook_problem(head: Any, features: Any, aux: Any) -> tuple[str, str] | None:
    """``(problem, fix)`` when ``head(features, aux)`` cannot run under module hooks, else ``None``."""
    import torch
    from torch import nn

    if not isinstance(head, nn.Module):
        return None
    scripted = [m for m in head.modules() if isinstance(m, torch.jit.ScriptModule)]
    if scripted:  # hooks on them are refused (torch.jit.load) or never called (traced graphs)
        return f"its modules are TorchScript ({type(scripted[0]).__name__}), which run no module hooks", NO_HOOKS_FIX
    leaves = [m for m in head.modules() if not list(m.children())]
    calls: dict[nn.Module, int] = {}
    handles = []
    try:
        try:
            for m in leaves:
                handles.append(m.register_forward_hook(lambda mod, i, o: calls.__setitem__(mod, calls.get(mod, 0) + 1)))
                handles.append(m.register_full_backward_hook(lambda mod, gi, go: None))
        except RuntimeError as e:
            return f"its modules take no hooks ({_first(e)})", NO_HOOKS_FIX
        f = features.detach().clone().requires_grad_(True)
        try:
            out = head(f, aux)
            out.sum().backward()
        except RuntimeError as e:
            if "inplace" in str(e) or "in-place" in str(e):
                return f"an in-place operation on a hooked module's output ({_first(e)})", INPLACE_FIX
            if "ScriptModule" in str(e) or "hook" in str(e):
                return f"its modules take no hooks ({_first(e)})", NO_HOOKS_FIX
            raise
    finally:
        for h in handles:
            h.remove()
    reused = sorted({type(m).__name__ for m, n in calls.items() if n > 1 and type(m).__name__ not in _RESHAPE})
    if reused:
        return f"the head calls {', '.join(reused)} more than once per forward pass", REUSE_FIX
    return None


def _first(e: BaseException) -> str:
    return str(e).splitlines()[0] if str(e) else type(e).__name__
