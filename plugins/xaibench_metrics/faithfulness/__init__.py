"""The faithfulness family: does removing what a map ranks highest hurt the model's score most?

One module per family of metric (:mod:`.curves`: deletion / insertion, pixel-flipping, region
perturbation; :mod:`.irof`; :mod:`.road`; :mod:`.correlation`: faithfulness correlation and
estimate) over a shared engine (:mod:`.engine`, torch: features, head and batched scoring;
:mod:`.orders`, numpy: removal orders and steps); :mod:`.figure` draws the deletion / insertion
curves (the report's and each tracked cell's).  Every metric works at the input (the input is
perturbed, the whole model runs) and at any layer the model splits at (the layer's features are
perturbed, only the head runs), for every sample and, with ``target: all``, every class, batched.
All channels of a position (all bands of a pixel) are removed together.  Light at import: torch
loads inside ``evaluate``.
"""

from __future__ import annotations

from .correlation import FaithfulnessCorrelation, FaithfulnessEstimate
from .curves import DeletionInsertion, PixelFlipping, RegionPerturbation
from .irof import Irof
from .road import Road

FAITHFULNESS = (DeletionInsertion, PixelFlipping, RegionPerturbation, Irof, Road, FaithfulnessCorrelation,
                FaithfulnessEstimate)

__all__ = ["FAITHFULNESS", "DeletionInsertion", "FaithfulnessCorrelation", "FaithfulnessEstimate", "Irof",
           "PixelFlipping", "RegionPerturbation", "Road"]
