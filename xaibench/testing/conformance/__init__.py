"""Conformance checks, one module per component kind (torch is imported when a check runs)."""

from .attribution import check_attribution
from .dataset import check_dataset
from .metric import check_metric
from .model import check_model
from .postprocessor import check_postprocessor
from .report import ConformanceError, ConformanceReport, Failure

__all__ = [
    "ConformanceError",
    "ConformanceReport",
    "Failure",
    "check_attribution",
    "check_dataset",
    "check_metric",
    "check_model",
    "check_postprocessor",
]
