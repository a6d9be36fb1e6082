"""The report's sections for this plugin's metrics (read only when ``xaibench report`` runs)."""

from __future__ import annotations

from .faithfulness import faithfulness
from .harmonization import original_vs_harmonized
from .heatmaps import heatmaps
from .methods_table import methods_table
from .sanity import sanity
from .segmentation import segmentation
from .similarity import similarity

SECTIONS = (similarity, segmentation, methods_table, faithfulness, heatmaps, original_vs_harmonized, sanity)
