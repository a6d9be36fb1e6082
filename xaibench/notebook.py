"""xaibench as a library (notebooks, scripts): a registry's data, trained models and attributions.

    from xaibench.notebook import Workbench

    wb = Workbench("registry.yaml")
    train = wb.arrays("landcover", "train")        # {"x": (N, C, H, W) float32, "labels": ...}
    net = wb.model("landcover", "mine")             # what the model component's load() returns
    maps = wb.attributions("landcover", "mine", "ig", layer="deep")  # (N, classes, H_l, W_l)

Names are the registry's aliases.  Every result goes through the registry's cache with the keys
``xaibench run`` uses, so a notebook reuses what a run computed, and a run what a notebook did.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np

    from .bundle import Bundle
    from .config import ComponentRef, RegistryConfig
    from .plugins import PluginSession
    from .stages.graph import Stage


class Workbench:
    """The components of one registry file, computed on demand (``session``: the plugins to use;
    by default the installed ones, as ``xaibench run`` sees them)."""

    def __init__(self, registry: str | Path, session: PluginSession | None = None) -> None:
        from .config import load_registry
        from .plugins import PluginSession
        from .stages.runner import StageRunner

        self.session = session if session is not None else PluginSession()
        self.config: RegistryConfig = load_registry(Path(registry), self.session.catalog)
        self.runner = StageRunner(self.session, self.config.cache, self.config.memory_budget_mb)

    def _ref(self, kind: str, alias: str) -> ComponentRef:
        refs = self.config.of(kind)
        if alias not in refs:
            raise KeyError(f"{self.config.path}: no {kind} {alias!r} (the registry has: {', '.join(refs) or 'none'})")
        return refs[alias]

    def _get(self, stage: Stage) -> Bundle:
        outcome = self.runner(stage)
        if outcome.status == "failed":
            raise RuntimeError(f"{stage.label}: {outcome.error}")
        return self.runner.inputs.load(stage)

    def _data_stage(self, dataset: str, seed: int) -> Stage:
        from .stages.data import data_stage

        ref = self._ref("dataset", dataset)
        varies = self.session.catalog.create("dataset", ref.name, ref.params).varies_with_seed()  # type: ignore[attr-defined]
        return data_stage(ref, seed if varies else 0)

    def _train_stage(self, dataset: str, model: str, seed: int) -> tuple[Stage, Stage]:
        from .stages.train import train_stage

        data = self._data_stage(dataset, seed)
        return train_stage(self._ref("model", model), seed, data, dataset), data

    def data(self, dataset: str, seed: int = 0) -> Bundle:
        """The dataset's splits as one Bundle (``bundle["train/x"]``; ``bundle.meta["info"]``)."""
        return self._get(self._data_stage(dataset, seed))

    def arrays(self, dataset: str, split: str, seed: int = 0) -> dict[str, np.ndarray]:
        """One split's arrays by field name: ``x`` ``(N, C, H, W)`` float32, ``labels`` ``(N, K)`` or
        ``label`` ``(N,)``, and whatever else the dataset provides (``mask``, ``aux``...)."""
        import numpy as np

        bundle = self.data(dataset, seed)
        found = {name: np.asarray(array) for name, array in bundle.split(split).items()}
        if not found:
            splits = sorted({name.split("/", 1)[0] for name in bundle if "/" in name})
            raise KeyError(f"dataset {dataset!r} has no split {split!r} (splits: {', '.join(splits)})")
        return found

    def model(self, dataset: str, model: str, seed: int = 0) -> Any:
        """The model trained (or, for ``torch-module``, checked) on the dataset under ``seed``, loaded."""
        train, data = self._train_stage(dataset, model, seed)
        self._get(train)
        return self.runner.inputs.model(train, data)

    def attributions(self, dataset: str, model: str, method: str, layer: str = "input", split: str = "test",
                     seed: int = 0) -> np.ndarray:
        """Raw maps of every class: ``(N, classes, H_l, W_l)`` float32 (``(N, classes, D_l, H_l, W_l)``
        when the method keeps channels)."""
        import numpy as np

        from .stages.attribute import attribute_stage

        train, data = self._train_stage(dataset, model, seed)
        stage = attribute_stage(self._ref("attribution", method), layer, split, seed, data, train,
                                f"{model}/seed{seed}")
        return np.asarray(self._get(stage)["attributions"])
