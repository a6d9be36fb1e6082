"""Built-in plugin: registered through the xaibench entry-point group like any third party's."""

from xaibench import hookimpl

from .component import TorchModuleModel


@hookimpl
def register_models(register):
    register(TorchModuleModel)
