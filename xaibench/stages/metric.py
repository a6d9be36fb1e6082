"""The ``metric`` stage: a metric's values for a model, one cell's attributions, or a group of them.

Scopes (see :class:`xaibench.components.Metric`): ``model`` reads the trained model;
``attribution`` one cell's attributions (``attributions`` input); the group scopes
(``methods``, ``postprocessors``, ``models``) read their members' attributions, and for
``models`` each member's trained model.  The values are stored in the entry's meta.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .graph import GroupMember, Stage

if TYPE_CHECKING:
    from ..bundle import Bundle
    from ..config import ComponentRef
    from .inputs import StageInputs


def model_metric_stage(metric: ComponentRef, seed: int, data: Stage, model: Stage, where: str) -> Stage:
    return Stage("metric", {"metric": metric.identity(), "seed": seed, "scope": "model"},
                 {"data": data, "model": model}, label=f"{metric.alias} {where}")


def attribution_metric_stage(metric: ComponentRef, seed: int, layer: str, method: ComponentRef, data: Stage,
                             model: Stage, attributions: Stage, where: str) -> Stage:
    """``attributions``: the cell's post-processed maps, or the raw ones for ``needs_raw_attributions``."""
    spec = {"metric": metric.identity(), "seed": seed, "scope": "attribution", "layer": layer,
            "method": method.identity()}
    return Stage("metric", spec, {"data": data, "model": model, "attributions": attributions},
                 label=f"{metric.alias} {where}")


def group_metric_stage(metric: ComponentRef, scope: str, seed: int, layer: str, fixed: dict[str, Any],
                       data: Stage, model: Stage, members: list[GroupMember], where: str) -> Stage:
    """``fixed``: the coordinates every member shares besides dataset, seed and layer
    (``{"attribution": a, "postprocessor": None}`` for scope ``postprocessors``...);
    ``model``: the first member's trained model (scope ``models``) or the one model."""
    spec = {"metric": metric.identity(), "seed": seed, "scope": scope, "layer": layer, **fixed}
    return Stage("metric", spec, {"data": data, "model": model}, tuple(members),
                 label=f"{metric.alias} {where} over {len(members)} {scope}")


def compute_metric(stage: Stage, inputs: StageInputs) -> Bundle:
    from ..bundle import Bundle
    from ..components import MetricContext
    from ..contracts import metric_values

    metric = inputs.component(stage.spec["metric"])
    data_stage, model_stage = stage.inputs["data"], stage.inputs["model"]
    info = inputs.data_info(data_stage)
    ctx = MetricContext(
        data=inputs.load(data_stage),
        data_info=info,
        model_info=inputs.component(model_stage.spec["model"]).info(info),  # type: ignore[attr-defined]
        seed=stage.spec["seed"],
        load_model=lambda: inputs.model(model_stage, data_stage),
        layer=stage.spec.get("layer"),
        memory_budget_mb=inputs.memory_budget_mb,
    )
    if inputs.cache.has(model_stage.key):
        trained = inputs.cache.meta(model_stage.key)
        ctx.training, ctx.history = trained.get("metrics", {}), trained.get("history", [])
    if "method" in stage.spec:
        ctx.method = inputs.component(stage.spec["method"])  # type: ignore[assignment]
    def maps(s: Stage) -> Any:  # a streaming metric reads the stored (maybe lazy) array a chunk at a time
        bundle = inputs.load(s)
        return bundle.rows("attributions") if getattr(metric, "streams", False) else bundle["attributions"]

    if "attributions" in stage.inputs:
        ctx.attributions = maps(stage.inputs["attributions"])
    for member in stage.members:
        ctx.group[member.alias] = maps(member.attributions)
        if member.model is not None:
            ctx.group_info[member.alias] = inputs.component(member.model.spec["model"]).info(info)  # type: ignore[attr-defined]
    values = metric.evaluate(ctx)  # type: ignore[attr-defined]
    return Bundle(meta={"values": metric_values(values, stage.spec["metric"]["name"])})
