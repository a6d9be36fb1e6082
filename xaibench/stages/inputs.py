"""What the code of a stage reads: cached entries, components and trained models, memoised.

One :class:`StageInputs` lives in each process that computes stages (the driver, a pool
worker, a Ray worker) and keeps a bounded memo of decoded entries and loaded models, so
that the metrics of one model do not re-read its data and weights.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ..cache import Cache, CorruptEntry
from ..limits import Limits

if TYPE_CHECKING:
    from ..bundle import Bundle
    from ..components import Component, DatasetInfo
    from ..plugins import PluginSession
    from .graph import Stage

log = logging.getLogger("xaibench")


class Memo:
    """A small LRU of decoded cache entries and loaded models, bounded in bytes.

    Cache entries are immutable, so keeping them decoded is always safe."""

    def __init__(self, budget_bytes: int) -> None:
        self.budget, self.used = budget_bytes, 0
        self.items: OrderedDict[str, tuple[Any, int]] = OrderedDict()

    def get(self, key: str) -> Any:
        if key in self.items:
            self.items.move_to_end(key)
            return self.items[key][0]
        return None

    def put(self, key: str, value: Any, nbytes: int) -> None:
        if nbytes > self.budget or key in self.items:
            return
        self.items[key] = (value, nbytes)
        self.used += nbytes
        while self.used > self.budget and self.items:
            _, (_, n) = self.items.popitem(last=False)
            self.used -= n


class StageInputs:
    """Reads stage outputs and builds components for the stage being computed.

    ``compute(stage)`` is called for an input that is missing from the cache (or corrupt),
    so that a stage whose inputs were evicted still runs.
    """

    def __init__(self, session: PluginSession, cache: Cache, compute: Callable[[Stage], Bundle],
                 memory_budget_mb: int = 2048, memo_mb: int = 3072) -> None:
        self.session = session
        self.cache = cache
        self.compute = compute
        self.memory_budget_mb = memory_budget_mb
        self.memo = Memo(memo_mb * 2**20)
        self.limits = Limits()
        """The registry's bounds (:mod:`xaibench.limits`), set by the runner."""

    def load(self, stage: Stage) -> Bundle:
        """The output of ``stage``: from memory, the cache, or computed now if missing or corrupt."""
        hit = self.memo.get(stage.key)
        if hit is not None:
            return hit
        try:
            bundle = self.cache.get(stage.key)
        except KeyError:
            bundle = self.compute(stage)
        except CorruptEntry as exc:
            log.warning("%s", exc)
            bundle = self.compute(stage)
        self.remember(stage, bundle)
        return bundle

    def remember(self, stage: Stage, bundle: Bundle) -> None:
        self.memo.put(stage.key, bundle, bundle.nbytes())

    def forget(self, key: str) -> None:
        """Drop ``key`` (and a model loaded from it) from the memo: its entry is being replaced."""
        for k in (key, "model:" + key):
            if k in self.memo.items:
                _, n = self.memo.items.pop(k)
                self.memo.used -= n

    def component(self, ident: dict[str, Any]) -> Component:
        """The component a stage spec names (``{"kind", "name", "params", ...}``), with validated params."""
        return self.session.catalog.create(ident["kind"], ident["name"], ident["params"])

    def model(self, model_stage: Stage, data_stage: Stage) -> Any:
        """The trained model object (what ``Model.load`` returns), memoised."""
        memo_key = "model:" + model_stage.key
        hit = self.memo.get(memo_key)
        if hit is not None:
            return hit
        state = self.load(model_stage)
        model = self.component(model_stage.spec["model"]).load(self.data_info(data_stage), state)  # type: ignore[attr-defined]
        self.memo.put(memo_key, model, state.nbytes())
        return model

    def chunk_rows(self, *arrays: Any) -> int:
        """Samples a stage handles at once: as many rows of ``arrays`` as fit in a quarter of the
        memory budget (the rest is the component's working memory)."""
        from ..arrays import rows_for

        return rows_for(self.memory_budget_mb * 2**20 // 4, *arrays)

    def data_info(self, data_stage: Stage) -> DatasetInfo:
        from ..components import info_from_dict

        return info_from_dict(self.load(data_stage).meta["info"])
