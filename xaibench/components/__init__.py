"""Typed interfaces every plugin component implements, one module per kind."""

from .attribution import AttributionMethod, AttributionRequest
from .base import Component, Components, Params
from .dataset import Band, Dataset, DatasetInfo, info_from_dict, info_to_dict
from .executor import Executor
from .knn import KnnBackend
from .metric import Metric, MetricContext, MetricValue, Scope
from .model import Model, ModelInfo
from .postprocessor import PostProcessor
from .splittable import SplittableModel
from .tracker import InvocationSummary, RunRecord, Tracker

KINDS: dict[str, type[Component]] = {
    "dataset": Dataset,
    "model": Model,
    "attribution": AttributionMethod,
    "postprocessor": PostProcessor,
    "metric": Metric,
    "tracker": Tracker,
    "executor": Executor,
    "knn_backend": KnnBackend,
}
"""Component kind -> base class."""

__all__ = [
    "KINDS",
    "AttributionMethod",
    "AttributionRequest",
    "Band",
    "Component",
    "Components",
    "Dataset",
    "DatasetInfo",
    "Executor",
    "InvocationSummary",
    "KnnBackend",
    "Metric",
    "MetricContext",
    "MetricValue",
    "Model",
    "ModelInfo",
    "Params",
    "PostProcessor",
    "RunRecord",
    "Scope",
    "SplittableModel",
    "Tracker",
    "info_from_dict",
    "info_to_dict",
]
