"""Built-in tracker: MLflow (SQLite store by default)."""

from xaibench import hookimpl


@hookimpl
def register_trackers(register):
    from .tracker import MlflowTracker

    register(MlflowTracker)
