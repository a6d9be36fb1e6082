"""Built-in plugin: the 13 attribution methods, registered through the xaibench entry-point group
like any third party's.  Imports stay light: torch and Captum load inside ``attribute``."""

from xaibench import hookimpl

from .methods import METHODS


@hookimpl
def register_attributions(register):
    for method in METHODS:
        register(method)
