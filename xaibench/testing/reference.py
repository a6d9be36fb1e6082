"""Reference attribution methods the kit hands to metrics under test (plain torch, no plugin).

- :class:`GradientTimesFeatures`: gradient of each logit times the layer's features,
  summed over channels, every class in one pass per class;
- :class:`RandomMaps`: seeded noise of the right shape (a method that ignores model and input).
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from ..components import AttributionMethod, AttributionRequest, Params


def _tensors(request: AttributionRequest):
    import torch

    x = torch.from_numpy(np.ascontiguousarray(request.data[f"{request.split}/x"], dtype=np.float32))
    name = f"{request.split}/aux"
    aux = torch.from_numpy(np.ascontiguousarray(request.data[name], dtype=np.float32)) if name in request.data else None
    return x, aux


class GradientTimesFeatures(AttributionMethod):
    """Gradient x features at the requested layer of a SplittableModel: ``(N, classes, H_l, W_l)`` float32."""

    name: ClassVar[str] = "kit-gradient-x-features"

    class Params(Params):
        pass

    def attribute(self, request: AttributionRequest) -> np.ndarray:
        import torch

        x, aux = _tensors(request)
        model = request.model
        device = next(iter(model.parameters())).device if hasattr(model, "parameters") else torch.device("cpu")
        x, aux = x.to(device), None if aux is None else aux.to(device)
        body, head = model.split(request.layer)
        with torch.no_grad():
            feats = body(x, aux)
        feats = feats.detach().requires_grad_(True)
        logits = head(feats, aux)
        maps = []
        for k in range(logits.shape[1]):
            (grad,) = torch.autograd.grad(logits[:, k].sum(), feats, retain_graph=k + 1 < logits.shape[1])
            maps.append((grad * feats).sum(dim=1))
        return torch.stack(maps, dim=1).detach().float().cpu().numpy()


class RandomMaps(AttributionMethod):
    """Seeded standard-normal maps of the layer's size, ignoring the model's weights and the input."""

    name: ClassVar[str] = "kit-random"

    class Params(Params):
        pass

    def attribute(self, request: AttributionRequest) -> np.ndarray:
        import torch

        x, aux = _tensors(request)
        body, head = request.model.split(request.layer)
        device = next(iter(request.model.parameters())).device
        with torch.no_grad():
            feats = body(x[:1].to(device), None if aux is None else aux[:1].to(device))
            k = head(feats, None if aux is None else aux[:1].to(device)).shape[1]
        rng = np.random.default_rng(request.seed)
        return rng.standard_normal((x.shape[0], k, *feats.shape[-2:])).astype(np.float32)
