"""The ``features`` stage: a trained model's feature maps of the train and test splits at a layer."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .graph import Stage

if TYPE_CHECKING:
    from ..bundle import Bundle
    from .inputs import StageInputs

SPLITS = ["train", "test"]


def features_stage(layer: str, data: Stage, model: Stage, where: str) -> Stage:
    """``where`` names the model in the label (``uhnet/seed0``)."""
    return Stage("features", {"layer": layer, "splits": SPLITS}, {"data": data, "model": model},
                 label=f"features {where}/{layer}")


def compute_features(stage: Stage, inputs: StageInputs) -> Bundle:
    from ..bundle import Bundle

    data_stage, model_stage = stage.inputs["data"], stage.inputs["model"]
    component = inputs.component(model_stage.spec["model"])
    model = inputs.model(model_stage, data_stage)
    data = inputs.load(data_stage)
    layer = stage.spec["layer"]
    return Bundle({split: component.features(model, data, split, layer)  # type: ignore[attr-defined]
                   for split in stage.spec["splits"]}, {"layer": layer})
