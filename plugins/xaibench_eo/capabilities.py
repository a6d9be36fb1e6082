"""Capabilities of Earth-observation data beyond the core's (see :mod:`xaibench.capabilities`)."""

from __future__ import annotations

from xaibench.capabilities import Capability

CLOUDS = Capability("clouds", "a cloud mask per sample `<split>/cloud_mask` (N, H, W) (or per frame for time series)")
WEATHER = Capability("weather", "daily weather series per sample (`<split>/weather`), beside the images")
REGIME = Capability("regime", "the weather regime each sample was drawn from (`<split>/regime`)")
LANDCOVER = Capability("landcover", "labels in (or mapped to) the 8 land-cover classes of the harmonization study")
