"""Registers the ``ray`` executor.  Ray itself is imported only when a run uses it."""

from xaibench import hookimpl


@hookimpl
def register_executors(register):
    from .executor import RayExecutor

    register(RayExecutor)
