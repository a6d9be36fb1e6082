"""Hook implementations: the only module xaibench imports at start-up (keep it light)."""

from xaibench import hookimpl


@hookimpl
def register_attributions(register):
    from .components import EdgeDetector

    register(EdgeDetector)


@hookimpl
def register_metrics(register):
    from .components import GiniSparsity

    register(GiniSparsity)
