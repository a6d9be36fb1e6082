"""kNN backends for harmonization.

Every backend module imports its library lazily, so importing this package is cheap.
Backends are components (kind ``knn_backend``): a post-processor finds them by name in
the catalog that created it.  ``get_backend("auto", catalog)`` picks cuML or torch when
CUDA is present, faiss on CPU, and torch when faiss is missing.
"""

from __future__ import annotations

from xaibench.components import Components

from .base import METRICS, KnnBackend, KnnBackendUnavailable, Metric, l2_normalise
from .cuml_backend import CumlBrute
from .faiss_backends import FaissFlat, FaissHNSW, FaissIVF
from .sklearn_backend import SklearnBrute
from .torch_backend import TorchBrute

BUILTIN: tuple[type[KnnBackend], ...] = (FaissFlat, FaissIVF, FaissHNSW, TorchBrute, CumlBrute, SklearnBrute)
"""The backends this plugin registers (``register_knn_backends``); the catalog's ``knn_backend``
kind is the one registry of backends, third parties' included."""

AUTO = "auto"


def backend_names(catalog: Components) -> tuple[str, ...]:
    """``"auto"`` followed by every registered backend name."""
    return (AUTO, *catalog.names("knn_backend"))


def resolve_auto(catalog: Components) -> str:
    """The backend ``"auto"`` stands for here: cuML, else torch, on CUDA; faiss, else torch, on CPU."""
    import torch

    known = set(catalog.names("knn_backend"))

    def usable(name: str) -> bool:
        return name in known and catalog.create("knn_backend", name).available() is None  # type: ignore[attr-defined]

    if torch.cuda.is_available():
        return "cuml" if usable("cuml") else "torch"
    return "faiss" if usable("faiss") else "torch"


def get_backend(name: str, catalog: Components) -> KnnBackend:
    """An instance of the backend called ``name`` (default options); ``"auto"`` is resolved."""
    if name == AUTO:
        name = resolve_auto(catalog)
    if name not in catalog.names("knn_backend"):
        raise ValueError(f"unknown kNN backend {name!r}; known: {', '.join(backend_names(catalog))}")
    return catalog.create("knn_backend", name)  # type: ignore[return-value]


__all__ = [
    "AUTO",
    "BUILTIN",
    "METRICS",
    "CumlBrute",
    "FaissFlat",
    "FaissHNSW",
    "FaissIVF",
    "KnnBackend",
    "KnnBackendUnavailable",
    "Metric",
    "SklearnBrute",
    "TorchBrute",
    "backend_names",
    "get_backend",
    "l2_normalise",
    "resolve_auto",
]
