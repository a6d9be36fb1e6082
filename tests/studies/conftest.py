"""Makes ``xaibench_studies`` importable before its entry point is installed."""

from __future__ import annotations

import sys
from pathlib import Path

PLUGINS = str(Path(__file__).resolve().parents[2] / "plugins")
if PLUGINS not in sys.path:
    sys.path.append(PLUGINS)
