"""A plugin with a misspelled hook name: check_pending must catch it."""
from xaibench import hookimpl


@hookimpl
def register_metric(register):  # should be register_metrics
    pass
