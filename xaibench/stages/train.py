"""The ``train`` stage: a model trained on a dataset's data under a grid seed (its weights as a Bundle)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .graph import Stage

if TYPE_CHECKING:
    from ..bundle import Bundle
    from ..config import ComponentRef
    from .inputs import StageInputs


def train_stage(model: ComponentRef, seed: int, data: Stage, dataset_alias: str) -> Stage:
    return Stage("train", {"model": model.identity(), "seed": seed}, {"data": data},
                 label=f"train {dataset_alias}/{model.alias}/seed{seed}")


def compute_train(stage: Stage, inputs: StageInputs) -> Bundle:
    model = inputs.component(stage.spec["model"])
    return model.train(inputs.load(stage.inputs["data"]), stage.spec["seed"])  # type: ignore[attr-defined]
