"""Stages: pure functions of their inputs' cache keys, and the runner that computes one.

A :class:`Stage` is plain data (picklable, JSON-able spec) so that any executor,
in-process, in a process pool or on a Ray worker, can compute it: the worker's
:class:`StageRunner` loads the inputs from the shared cache, calls the component,
and stores the output under the stage's key.
"""

from __future__ import annotations

import logging
import random
import time
import traceback
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from .bundle import Bundle
from .cache import Cache, CorruptEntry
from .hashing import stable_hash

log = logging.getLogger("xaibench")

StageKind = Literal["data", "train", "features", "attribute", "prepare", "postprocess", "metric"]


@dataclass(frozen=True, eq=False)
class Stage:
    """One unit of cached work.

    ``spec`` is JSON-able and names components by their identity (kind, name,
    version, params); ``inputs`` maps a role to the stage producing it.  The key
    hashes the kind, the spec and the inputs' keys, so it changes exactly when the
    stage's result could.
    """

    kind: str
    spec: dict[str, Any]
    inputs: dict[str, Stage] = field(default_factory=dict)
    label: str = ""
    resources: dict[str, float] = field(default_factory=lambda: {"num_cpus": 1})
    key: str = field(init=False)

    def __post_init__(self) -> None:
        inputs = {role: s.key for role, s in self.inputs.items()}
        object.__setattr__(self, "key", stable_hash({"kind": self.kind, "spec": self.spec, "inputs": inputs}))

    def __hash__(self) -> int:
        return hash(self.key)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Stage) and other.key == self.key


@dataclass
class StageOutcome:
    key: str
    status: Literal["cached", "computed", "failed"]
    seconds: float = 0.0
    error: str | None = None
    """One line: ``ExceptionType: message``, or ``upstream failed: <label>``."""
    traceback: str | None = None

    @property
    def ok(self) -> bool:
        return self.status != "failed"


class _Memo:
    """A small LRU of decoded cache entries and loaded models, bounded in bytes.

    Cache entries are immutable, so keeping them decoded is always safe; it saves
    re-reading the same data and weights for every metric of a grid."""

    def __init__(self, budget_bytes: int) -> None:
        self.budget, self.used, self.items = budget_bytes, 0, OrderedDict()

    def get(self, key: str) -> Any:
        if key in self.items:
            self.items.move_to_end(key)
            return self.items[key][0]
        return None

    def put(self, key: str, value: Any, nbytes: int) -> None:
        if nbytes > self.budget:
            return
        self.items[key] = (value, nbytes)
        self.used += nbytes
        while self.used > self.budget and self.items:
            _, (_, n) = self.items.popitem(last=False)
            self.used -= n


class StageRunner:
    """Computes stages against a cache.  Picklable: executors ship it to workers.

    Calling the runner never raises; failures come back in the outcome.
    """

    def __init__(self, cache_root: str, memory_budget_mb: int = 2048, memo_mb: int = 3072) -> None:
        self.cache_root = str(cache_root)
        self.memory_budget_mb = memory_budget_mb
        self.memo_mb = memo_mb
        self._setup()

    def _setup(self) -> None:
        self.cache = Cache(self.cache_root)
        self.memo = _Memo(self.memo_mb * 2**20)

    def __getstate__(self) -> dict:
        return {"cache_root": self.cache_root, "memory_budget_mb": self.memory_budget_mb, "memo_mb": self.memo_mb}

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._setup()

    # -- public --------------------------------------------------------------
    def __call__(self, stage: Stage) -> StageOutcome:
        start = time.perf_counter()
        if self.cache.has(stage.key):
            return StageOutcome(stage.key, "cached")
        try:
            self.compute(stage)
        except Exception as exc:
            return StageOutcome(
                stage.key, "failed", time.perf_counter() - start,
                error=f"{type(exc).__name__}: {exc}".splitlines()[0] if str(exc) else type(exc).__name__,
                traceback=traceback.format_exc(),
            )
        return StageOutcome(stage.key, "computed", time.perf_counter() - start)

    def compute(self, stage: Stage) -> Bundle:
        seed_everything(int(stage.key[:8], 16) ^ int(stage.spec.get("seed", 0)))
        bundle = COMPUTE[stage.kind](stage, self)
        self.cache.put(stage.key, bundle)
        self.memo.put(stage.key, bundle, bundle.nbytes())
        return bundle

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
        self.memo.put(stage.key, bundle, bundle.nbytes())
        return bundle

    def component(self, ident: dict[str, Any]) -> Any:
        from .plugins import get_session

        entry = get_session().catalog.get(ident["kind"], ident["name"])
        return entry.cls(entry.cls.Params(**ident["params"]))

    def model(self, model_stage: Stage, data_stage: Stage) -> Any:
        """The trained model object (what ``Model.load`` returns), memoised."""
        memo_key = "model:" + model_stage.key
        hit = self.memo.get(memo_key)
        if hit is not None:
            return hit
        comp = self.component(model_stage.spec["model"])
        state = self.load(model_stage)
        model = comp.load(self.data_info(data_stage), state)
        self.memo.put(memo_key, model, state.nbytes())
        return model

    def data_info(self, data_stage: Stage) -> Any:
        from .components import info_from_dict

        return info_from_dict(self.load(data_stage).meta["info"])


def seed_everything(seed: int) -> None:
    """Seed python, numpy and (if imported) torch from one integer."""
    import sys

    import numpy as np

    seed = seed % 2**32
    random.seed(seed)
    np.random.seed(seed)
    if "torch" in sys.modules:
        sys.modules["torch"].manual_seed(seed)


# -- the stage functions ------------------------------------------------------
def _data(stage: Stage, rt: StageRunner) -> Bundle:
    from .components import info_to_dict

    dataset = rt.component(stage.spec["dataset"])
    bundle = dataset.load(stage.spec["seed"])
    bundle.meta["info"] = info_to_dict(dataset.info())
    return bundle


def _train(stage: Stage, rt: StageRunner) -> Bundle:
    model = rt.component(stage.spec["model"])
    return model.train(rt.load(stage.inputs["data"]), stage.spec["seed"])


def _features(stage: Stage, rt: StageRunner) -> Bundle:
    comp = rt.component(stage.inputs["model"].spec["model"])
    data_stage, model_stage = stage.inputs["data"], stage.inputs["model"]
    model = rt.model(model_stage, data_stage)
    data = rt.load(data_stage)
    layer = stage.spec["layer"]
    return Bundle({split: comp.features(model, data, split, layer) for split in stage.spec["splits"]}, {"layer": layer})


def _attribute(stage: Stage, rt: StageRunner) -> Bundle:
    import numpy as np

    from .components import AttributionRequest

    method = rt.component(stage.spec["method"])
    data_stage = stage.inputs["data"]
    request = AttributionRequest(
        model=rt.model(stage.inputs["model"], data_stage),
        data=rt.load(data_stage),
        data_info=rt.data_info(data_stage),
        split=stage.spec["split"],
        layer=stage.spec["layer"],
        seed=stage.spec["seed"],
        memory_budget_mb=rt.memory_budget_mb,
    )
    attr = np.asarray(method.attribute(request))
    n = len(request.data[f"{request.split}/x"])
    if attr.ndim not in (4, 5) or attr.shape[0] != n or attr.shape[1] != request.data_info.n_classes:
        raise ValueError(
            f"attribution {stage.spec['method']['name']!r} returned shape {attr.shape}; expected "
            f"(N={n}, classes={request.data_info.n_classes}, H, W) or (N, classes, D, H, W)"
        )
    return Bundle({"attributions": attr.astype(np.float32, copy=False)}, {"shape": list(attr.shape)})


def _prepare(stage: Stage, rt: StageRunner) -> Bundle:
    pp = rt.component(stage.spec["postprocessor"])
    features = rt.load(stage.inputs["features"]) if "features" in stage.inputs else None
    return pp.prepare(features, stage.spec["seed"]) or Bundle()


def _postprocess(stage: Stage, rt: StageRunner) -> Bundle:
    import numpy as np

    pp = rt.component(stage.spec["postprocessor"])
    # Post-processors that need no features prepare inline; the others get a cached prepare stage.
    state = rt.load(stage.inputs["state"]) if "state" in stage.inputs else pp.prepare(None, stage.spec["seed"])
    test = rt.load(stage.inputs["test"])["attributions"]
    train = rt.load(stage.inputs["train"])["attributions"] if "train" in stage.inputs else None
    out = np.asarray(pp.apply(state, test, train), dtype=np.float32)
    if out.shape != test.shape:
        raise ValueError(f"post-processor {stage.spec['postprocessor']['name']!r} changed the shape {test.shape} -> {out.shape}")
    return Bundle({"attributions": out}, {"shape": list(out.shape)})


def _metric(stage: Stage, rt: StageRunner) -> Bundle:
    from dataclasses import asdict

    from .components import MetricContext

    metric = rt.component(stage.spec["metric"])
    data_stage, model_stage = stage.inputs["data"], stage.inputs["model"]
    info = rt.data_info(data_stage)
    ctx = MetricContext(
        data=rt.load(data_stage),
        data_info=info,
        model_info=rt.component(model_stage.spec["model"]).info(info),
        seed=stage.spec["seed"],
        load_model=lambda: rt.model(model_stage, data_stage),
        layer=stage.spec.get("layer"),
        memory_budget_mb=rt.memory_budget_mb,
    )
    if rt.cache.has(model_stage.key):
        trained = rt.cache.meta(model_stage.key)
        ctx.training, ctx.history = trained.get("metrics", {}), trained.get("history", [])
    if "method" in stage.spec:
        ctx.method = rt.component(stage.spec["method"])
    if "attributions" in stage.inputs:
        ctx.attributions = rt.load(stage.inputs["attributions"])["attributions"]
    for role, s in stage.inputs.items():
        if role.startswith("group/"):
            ctx.group[role[len("group/"):]] = rt.load(s)["attributions"]
        elif role.startswith("group-model/"):
            ctx.group_info[role[len("group-model/"):]] = rt.component(s.spec["model"]).info(info)
    values = metric.evaluate(ctx)
    return Bundle(meta={"values": [asdict(v) for v in values]})


COMPUTE: dict[str, Callable[[Stage, StageRunner], Bundle]] = {
    "data": _data,
    "train": _train,
    "features": _features,
    "attribute": _attribute,
    "prepare": _prepare,
    "postprocess": _postprocess,
    "metric": _metric,
}
