"""Built-in metrics, registered through the xaibench entry-point group like any third party's.

Only light modules are imported here; torch, sklearn and Quantus load when a metric runs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from xaibench import hookimpl

from .entropy import XaiEntropy
from .faithfulness import FAITHFULNESS
from .quantus_metrics import MaxSensitivity, QuantusMetric
from .sanity import ModelRandomization, RandomLogit
from .segmentation import SegmentationAgreement
from .similarity import OriginalVsHarmonized, PearsonSimilarity

METRICS = (PearsonSimilarity, SegmentationAgreement, OriginalVsHarmonized, MaxSensitivity, XaiEntropy, QuantusMetric,
           ModelRandomization, RandomLogit, *FAITHFULNESS)


@hookimpl
def register_metrics(register):
    for metric in METRICS:
        register(metric)


@hookimpl(optionalhook=True)  # the report plugin's hook: loads whether or not that plugin is installed
def register_report_sections(register):
    from .report_sections import SECTIONS

    for s in SECTIONS:
        register(s)


@hookimpl
def unit_artifacts(unit: dict[str, Any], cache: Any, workdir: Path) -> dict[str, Path] | None:
    """``figures/faithfulness_<alias>.png``: the deletion / insertion curves of each cell's
    ``deletion-insertion`` metrics (see :mod:`.faithfulness.figure`)."""
    from .faithfulness.figure import unit_curve_figures

    return unit_curve_figures(unit, cache, workdir)
