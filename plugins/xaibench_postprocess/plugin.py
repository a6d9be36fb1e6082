"""Built-in post-processors: ``none`` (identity) and ``harmonize`` (feature-space kNN averaging).

Only light modules are imported here; faiss / torch / sklearn load when a search runs.
"""

from xaibench import hookimpl

from .harmonize import Harmonize
from .identity import NoPostProcess


@hookimpl
def register_postprocessors(register):
    register(NoPostProcess)
    register(Harmonize)


@hookimpl
def register_knn_backends(register):
    from .knn import BUILTIN

    for cls in BUILTIN:
        register(cls)
