"""A plugin whose import fails (a missing dependency)."""
import xaibench_this_dependency_does_not_exist  # noqa: F401
