"""Built-in executors: ``local`` (sequential, in-process) and ``process-pool``."""

from xaibench import hookimpl


@hookimpl
def register_executors(register):
    from .local import LocalExecutor
    from .pool import PoolExecutor

    register(LocalExecutor)
    register(PoolExecutor)
