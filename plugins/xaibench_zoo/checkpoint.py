"""State dicts <-> Bundle arrays, and strict loading of user checkpoints with readable errors."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np
import torch
from torch import nn


class CheckpointError(ValueError):
    """A state dict that does not fit the network (missing/unexpected keys, wrong shapes)."""


def read_state_dict(path: str | Path) -> dict[str, torch.Tensor]:
    """Tensors of a state-dict file (``torch.load(weights_only=True)``).

    A file holding ``{"state_dict": ...}`` or ``{"model": ...}`` (Lightning/trainer
    checkpoints) is unwrapped.
    """
    path = Path(path).expanduser()
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint file not found: {path}")
    raw = torch.load(path, map_location="cpu", weights_only=True)
    for key in ("state_dict", "model"):
        if isinstance(raw, Mapping) and isinstance(raw.get(key), Mapping):
            raw = raw[key]
    if not isinstance(raw, Mapping) or not all(isinstance(v, torch.Tensor) for v in raw.values()):
        raise CheckpointError(f"{path}: not a state dict (expected a mapping of names to tensors)")
    return dict(raw)


def _listing(keys: list[str], limit: int = 5) -> str:
    shown = ", ".join(keys[:limit])
    return shown + (f" (+{len(keys) - limit} more)" if len(keys) > limit else "")


def load_into(net: nn.Module, state: Mapping[str, torch.Tensor | np.ndarray], source: str) -> None:
    """Copy ``state`` into ``net`` strictly; raise one :class:`CheckpointError` line naming every mismatch."""
    expected = net.state_dict()
    # scalars (BN's num_batches_tracked) are stored with shape (1,): see state_arrays
    state = {
        k: v.reshape(()) if k in expected and expected[k].ndim == 0 and tuple(v.shape) == (1,) else v
        for k, v in state.items()
    }
    problems = []
    mismatched = [
        f"{k}: expected {tuple(v.shape)}, found {tuple(state[k].shape)}"
        for k, v in expected.items()
        if k in state and tuple(state[k].shape) != tuple(v.shape)
    ]
    if mismatched:
        problems.append("shape mismatch " + _listing(mismatched))
    missing = [k for k in expected if k not in state]
    if missing:
        problems.append("missing keys " + _listing(missing))
    unexpected = [k for k in state if k not in expected]
    if unexpected:
        problems.append("unexpected keys " + _listing(unexpected))
    if problems:
        raise CheckpointError(f"{source} does not fit {type(net).__name__}: " + "; ".join(problems))
    tensors = {k: torch.as_tensor(np.asarray(v)) if isinstance(v, np.ndarray) else v for k, v in state.items()}
    net.load_state_dict(tensors, strict=True)


def state_arrays(net: nn.Module) -> dict[str, np.ndarray]:
    """The state dict as numpy arrays (names = state-dict keys); scalars get shape ``(1,)``.

    Scalars are stored 1-d because ``Bundle.to_bytes`` turns 0-d arrays into 1-d ones
    (``np.ascontiguousarray``); :func:`load_into` reshapes them back.
    """
    return {k: np.atleast_1d(v.detach().cpu().numpy()).copy() for k, v in net.state_dict().items()}
