"""The ``data`` stage: a dataset's splits for one data seed, with the dataset's info in the meta."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .graph import Stage

if TYPE_CHECKING:
    from ..bundle import Bundle
    from ..config import ComponentRef
    from .inputs import StageInputs


def data_stage(dataset: ComponentRef, seed: int) -> Stage:
    """``dataset.load(seed)``; ``seed`` is the data seed (0 for datasets that do not vary with the grid seed)."""
    return Stage("data", {"dataset": dataset.identity(), "seed": seed}, label=f"data {dataset.alias} seed{seed}")


def compute_data(stage: Stage, inputs: StageInputs) -> Bundle:
    from ..components import info_to_dict

    dataset = inputs.component(stage.spec["dataset"])
    bundle = dataset.load(stage.spec["seed"])  # type: ignore[attr-defined]
    bundle.meta["info"] = info_to_dict(dataset.info())  # type: ignore[attr-defined]
    return bundle
