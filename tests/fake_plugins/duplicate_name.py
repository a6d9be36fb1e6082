"""A plugin that registers a metric under a name the toy plugin already uses."""
from xaibench import hookimpl
from xaibench.components import Metric


class AnotherMean(Metric):
    name = "toy-mean"


@hookimpl
def register_metrics(register):
    register(AnotherMean)
