"""Stages: the cached units of work of a grid.

This package's ``__init__`` exposes the plain data only (:mod:`.graph`), so that interfaces
can import it without pulling in the code that computes stages.  One module per stage kind
holds the kind's constructor (used by planning) next to the code that reads its inputs and
computes it (used by :class:`~xaibench.stages.runner.StageRunner`).
"""

from .graph import STAGE_KINDS, GroupMember, Role, Shard, Stage, StageKind, StageOutcome, in_order

__all__ = ["STAGE_KINDS", "GroupMember", "Role", "Shard", "Stage", "StageKind", "StageOutcome", "in_order"]
