"""The ``attribute`` stage: one method's raw attributions of a split, every class, at a layer.

Computed a chunk of samples at a time (unless the method needs the whole split): the maps are
written as they come.  With ``train_subset`` (the train split of a post-processor that reads
only some positions) only those positions' attribution vectors are kept: ``rows`` and ``subset``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .features import chunked, gather_subset, split_rows
from .graph import Stage

if TYPE_CHECKING:
    import numpy as np

    from ..bundle import Bundle
    from ..config import ComponentRef
    from .inputs import StageInputs


def attribute_stage(method: ComponentRef, layer: str, split: str, seed: int, data: Stage, model: Stage,
                    where: str, train_subset: int | None = None) -> Stage:
    """``where`` names the model in the label (``uhnet/seed0``)."""
    spec: dict[str, Any] = {"method": method.identity(), "layer": layer, "split": split, "seed": seed}
    if train_subset is not None:
        spec["train_subset"] = train_subset
    return Stage("attribute", spec, {"data": data, "model": model}, label=f"{method.alias} {split} {where}/{layer}")


def compute_attribute(stage: Stage, inputs: StageInputs, rows: tuple[int, int] | None = None) -> Bundle:
    """The stage's maps; ``rows`` = ``(start, stop)`` computes one shard (those samples only)."""
    import numpy as np

    from ..arrays import RowStream
    from ..bundle import Bundle
    from ..components import AttributionRequest

    method = inputs.component(stage.spec["method"])
    data_stage = stage.inputs["data"]
    model = inputs.model(stage.inputs["model"], data_stage)
    data, info = inputs.load(data_stage), inputs.data_info(data_stage)
    split, name = stage.spec["split"], stage.spec["method"]["name"]
    n = len(split_rows(data, split))

    from ..contracts import AttributionContract

    contract = AttributionContract(name, info.n_classes, None, inputs.limits.attribution_bytes,
                                   stage.spec.get("train_subset"))

    def explain(view: Bundle, start: int) -> np.ndarray:
        request = AttributionRequest(model=model, data=view, data_info=info, split=split, layer=stage.spec["layer"],
                                     seed=stage.spec["seed"], memory_budget_mb=inputs.memory_budget_mb, offset=start)
        attr = method.attribute(request)  # type: ignore[attr-defined]
        if contract.spatial is None:
            contract.spatial = layer_spatial(inputs.component(stage.inputs["model"].spec["model"]), model, data, split,
                                             stage.spec["layer"], start)
        return contract.check(attr, len(split_rows(view, split)))

    step = n if getattr(method, "whole_split", False) else inputs.chunk_rows(split_rows(data, split))
    parts = chunked(data, split, max(step, 1), explain, *(rows or (0, n)))
    meta: dict[str, Any] = {}
    if "train_subset" in stage.spec:
        got = gather_subset(parts, n, stage.spec["train_subset"], stage.spec["seed"], meta)
        return Bundle(got, meta)
    template = {"attributions": np.zeros((0, info.n_classes, 0, 0), np.float32)}
    return Bundle(meta=meta, streams=[RowStream(({"attributions": a} for _, a in parts), template)])


def layer_spatial(component: Any, model: Any, data: Bundle, split: str, layer: str, start: int
                  ) -> tuple[int, int] | None:
    """``(H_l, W_l)`` of ``layer``: the input's for ``"input"``, else the model's feature map of one
    sample; ``None`` when the model cannot compute features (the shape check is then skipped)."""
    import numpy as np

    if layer == "input":
        shape = split_rows(data, split).shape
        return (int(shape[-2]), int(shape[-1])) if len(shape) >= 3 else None
    try:
        feats = np.shape(component.features(model, data.view(split, start, start + 1), split, layer))
    except Exception:  # no features at this layer (a plugin's model may not offer them): no shape to hold maps to
        return None
    return (int(feats[-2]), int(feats[-1])) if len(feats) >= 3 else None
