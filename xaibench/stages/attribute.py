"""The ``attribute`` stage: one method's raw attributions of a split, every class, at a layer."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .graph import Stage

if TYPE_CHECKING:
    from ..bundle import Bundle
    from ..config import ComponentRef
    from .inputs import StageInputs


def attribute_stage(method: ComponentRef, layer: str, split: str, seed: int, data: Stage, model: Stage,
                    where: str) -> Stage:
    """``where`` names the model in the label (``uhnet/seed0``)."""
    return Stage("attribute", {"method": method.identity(), "layer": layer, "split": split, "seed": seed},
                 {"data": data, "model": model}, label=f"{method.alias} {split} {where}/{layer}")


def compute_attribute(stage: Stage, inputs: StageInputs) -> Bundle:
    import numpy as np

    from ..bundle import Bundle
    from ..components import AttributionRequest

    method = inputs.component(stage.spec["method"])
    data_stage = stage.inputs["data"]
    request = AttributionRequest(
        model=inputs.model(stage.inputs["model"], data_stage),
        data=inputs.load(data_stage),
        data_info=inputs.data_info(data_stage),
        split=stage.spec["split"],
        layer=stage.spec["layer"],
        seed=stage.spec["seed"],
        memory_budget_mb=inputs.memory_budget_mb,
    )
    attr = np.asarray(method.attribute(request))  # type: ignore[attr-defined]
    n = len(request.data[f"{request.split}/x"])
    if attr.ndim not in (4, 5) or attr.shape[0] != n or attr.shape[1] != request.data_info.n_classes:
        raise ValueError(
            f"attribution {stage.spec['method']['name']!r} returned shape {attr.shape}; expected "
            f"(N={n}, classes={request.data_info.n_classes}, H, W) or (N, classes, D, H, W)"
        )
    return Bundle({"attributions": attr.astype(np.float32, copy=False)}, {"shape": list(attr.shape)})
