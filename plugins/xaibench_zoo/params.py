"""Typed parameters of the zoo models (pydantic, light to import)."""

from __future__ import annotations

from pydantic import Field, model_validator

from xaibench.components import Params


class TrainParams(Params):
    """Training schedule shared by every zoo model (the ``train:`` mapping of a model's params).

    AdamW with a linear warm-up over ``warmup_epochs`` (per step), then the learning rate is
    multiplied by ``lr_factor`` after ``lr_patience`` epochs without validation-loss improvement.
    With ``early_stopping``, training stops after ``patience`` such epochs; the weights of the
    best validation epoch are kept either way.
    """

    epochs: int = Field(20, ge=0)
    lr: float = Field(1e-3, gt=0)
    weight_decay: float = Field(1e-4, ge=0)
    batch_size: int = Field(32, ge=2)
    warmup_epochs: int = Field(1, ge=0)
    patience: int = Field(5, ge=1)
    early_stopping: bool = True
    lr_patience: int = Field(2, ge=0)
    lr_factor: float = Field(0.5, gt=0, lt=1)
    augment: bool = Field(True, description="random flips and 90-degree rotations of square inputs")


class ZooParams(Params):
    """Parameters every zoo model has.

    ``width`` multiplies channel counts (1.0 = the published architecture).
    ``checkpoint``: a state-dict file used as the trained weights (no training).
    ``pretrained_checkpoint``: a state-dict file the weights start from before training.
    Both are read with ``torch.load(weights_only=True)``; a missing file or a key/shape
    mismatch is an error naming the expected and found shapes.
    """

    width: float = Field(0.25, gt=0)
    checkpoint: str | None = None
    pretrained_checkpoint: str | None = None
    train: TrainParams = TrainParams()

    @model_validator(mode="after")
    def _one_checkpoint(self) -> ZooParams:
        if self.checkpoint and self.pretrained_checkpoint:
            raise ValueError("give checkpoint (use as is) or pretrained_checkpoint (train from), not both")
        return self
