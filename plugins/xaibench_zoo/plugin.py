"""Built-in plugin: registered through the xaibench entry-point group like any third party's."""

from xaibench import hookimpl

from .components import MODELS


@hookimpl
def register_models(register):
    for model in MODELS:
        register(model)
