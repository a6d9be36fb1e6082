"""The ``prepare`` and ``postprocess`` stages of a post-processor.

``prepare`` does the method-independent work once per (model, seed, layer) from the layer
features (harmonization's neighbour search); ``postprocess`` applies it to one method's
test attributions, with the method's train attributions when the post-processor needs them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .graph import Role, Stage

if TYPE_CHECKING:
    from ..bundle import Bundle
    from ..config import ComponentRef
    from .inputs import StageInputs


def prepare_stage(postprocessor: ComponentRef, seed: int, features: Stage, where: str) -> Stage:
    return Stage("prepare", {"postprocessor": postprocessor.identity(), "seed": seed}, {"features": features},
                 label=f"prepare {postprocessor.alias} {where}")


def postprocess_stage(postprocessor: ComponentRef, seed: int, test: Stage, train: Stage | None,
                      state: Stage | None, label: str) -> Stage:
    """``test``/``train``: the method's attribute stages; ``state``: the prepare stage, when the
    post-processor needs features (otherwise it prepares inline, from nothing)."""
    inputs: dict[Role, Stage] = {"test": test}
    if train is not None:
        inputs["train"] = train
    if state is not None:
        inputs["state"] = state
    return Stage("postprocess", {"postprocessor": postprocessor.identity(), "seed": seed}, inputs, label=label)


def compute_prepare(stage: Stage, inputs: StageInputs) -> Bundle:
    from ..bundle import Bundle

    pp = inputs.component(stage.spec["postprocessor"])
    features = inputs.load(stage.inputs["features"]) if "features" in stage.inputs else None
    return pp.prepare(features, stage.spec["seed"]) or Bundle()  # type: ignore[attr-defined]


def compute_postprocess(stage: Stage, inputs: StageInputs) -> Bundle:
    """A streaming post-processor gets the test maps a chunk at a time; the others whole."""
    import numpy as np

    from ..arrays import LazyArray, RowStream, iter_chunks
    from ..bundle import Bundle

    pp = inputs.component(stage.spec["postprocessor"])
    name = stage.spec["postprocessor"]["name"]
    state = (inputs.load(stage.inputs["state"]) if "state" in stage.inputs
             else pp.prepare(None, stage.spec["seed"]))  # type: ignore[attr-defined]
    test = inputs.load(stage.inputs["test"]).rows("attributions")
    train = None
    if "train" in stage.inputs:
        trained = inputs.load(stage.inputs["train"])
        train = trained["rows"] if "rows" in trained else trained["attributions"]

    def checked(out: np.ndarray, expected: tuple[int, ...]) -> np.ndarray:
        from ..contracts import ContractViolation

        out = np.asarray(out)
        if out.shape != expected:
            raise ContractViolation(f"post-processor {name!r} changed the shape {expected} -> {out.shape}")
        if not np.issubdtype(out.dtype, np.number) or np.issubdtype(out.dtype, np.complexfloating):
            raise ContractViolation(f"post-processor {name!r} returned maps of dtype {out.dtype}; expected real numbers")
        out = out.astype(np.float32, copy=False)
        if not np.isfinite(out).all():
            raise ContractViolation(f"post-processor {name!r} returned {int((~np.isfinite(out)).sum())} non-finite "
                                    f"values in {out.size}")
        return out

    if not getattr(pp, "streams", False):
        whole = np.asarray(test)
        out = checked(pp.apply(state, whole, train), whole.shape)  # type: ignore[attr-defined]
        del whole
        # stored as rows all the same, so that what reads the entry (metrics, the run's figure) reads it lazily
        return Bundle(streams=[RowStream.of({"attributions": out}, max(1, inputs.chunk_rows(out)))])
    # The state's per-sample rows (harmonization's neighbours: 26 MB a 256-px sample at k = 100, twelve
    # times its maps) are read a chunk at a time with the maps, so they count in the chunk's memory.
    per_sample = [] if state is None else [
        a for k in state if isinstance(a := state.rows(k), LazyArray) and len(a) == len(test)]
    chunks = ({"attributions": checked(pp.apply_chunk(state, block, train, start), block.shape)}  # type: ignore[attr-defined]
              for start, block in iter_chunks(test, inputs.chunk_rows(test, *per_sample)))
    return Bundle(streams=[RowStream(chunks, {"attributions": np.asarray(test[:0])})])
