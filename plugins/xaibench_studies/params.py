"""Param types shared by the studies' metrics (cheap to import)."""

from __future__ import annotations

from typing import Literal

PerformanceName = Literal["accuracy", "f1_micro", "f1_macro", "f2_micro", "f2_macro"]
"""Accuracy (exact match for multi-label), F1 or F2 with micro or macro averaging."""
