"""kNN backends for harmonization, and a small registry of them.

Every backend module imports its library lazily, so importing this package is
cheap.  ``get_backend("auto")`` picks cuML or torch when CUDA is present, faiss on
CPU, and torch when faiss is missing.
"""

from __future__ import annotations

from .base import METRICS, KnnBackend, KnnBackendUnavailable, Metric, l2_normalise
from .cuml_backend import CumlBrute
from .faiss_backends import FaissFlat, FaissHNSW, FaissIVF
from .sklearn_backend import SklearnBrute
from .torch_backend import TorchBrute

BACKENDS: dict[str, type[KnnBackend]] = {}
"""Registered backends by name (``"auto"`` is resolved by :func:`resolve_auto`)."""

AUTO = "auto"


def register_backend(cls: type[KnnBackend]) -> type[KnnBackend]:
    """Add a backend class under ``cls.name``; a second class with the same name is an error."""
    if not cls.name or cls.name == AUTO:
        raise ValueError(f"{cls.__name__} needs a name other than {AUTO!r}")
    if cls.name in BACKENDS and BACKENDS[cls.name] is not cls:
        raise ValueError(f"kNN backend {cls.name!r} registered twice: {BACKENDS[cls.name].__name__} and {cls.__name__}")
    BACKENDS[cls.name] = cls
    return cls


for _cls in (FaissFlat, FaissIVF, FaissHNSW, TorchBrute, CumlBrute, SklearnBrute):
    register_backend(_cls)


def _catalog_backends() -> dict[str, type]:
    """Backends registered through the ``register_knn_backends`` hook (third parties' included)."""
    from xaibench.plugins import get_session

    return {name: e.cls for name, e in get_session().catalog.entries["knn_backend"].items()}


def backend_names() -> tuple[str, ...]:
    """``"auto"`` followed by every backend name: this package's and those other plugins register."""
    return (AUTO, *dict.fromkeys([*BACKENDS, *_catalog_backends()]))


def resolve_auto() -> str:
    """The backend ``"auto"`` stands for here: cuML, else torch, on CUDA; faiss, else torch, on CPU."""
    import torch

    if torch.cuda.is_available():
        return "cuml" if CumlBrute().available() is None else "torch"
    return "faiss" if FaissFlat().available() is None else "torch"


def get_backend(name: str) -> KnnBackend:
    """An instance of the backend called ``name`` (default options); ``"auto"`` is resolved."""
    if name == AUTO:
        name = resolve_auto()
    cls = BACKENDS.get(name) or _catalog_backends().get(name)
    if cls is None:
        raise ValueError(f"unknown kNN backend {name!r}; known: {', '.join(backend_names())}")
    return cls()


def available_backends() -> dict[str, str | None]:
    """Every registered backend name -> ``None`` if it can run here, else the reason."""
    return {name: cls().available() for name, cls in BACKENDS.items()}


__all__ = [
    "AUTO",
    "BACKENDS",
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
    "available_backends",
    "backend_names",
    "get_backend",
    "l2_normalise",
    "register_backend",
    "resolve_auto",
]
