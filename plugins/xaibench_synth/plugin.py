"""Built-in plugin: registered through the xaibench entry-point group like any third party's.

Registers the procedurally generated datasets.  Only light modules are imported here
(pydantic params and band tables); the numpy generators load inside ``Dataset.load``.
"""

from xaibench import hookimpl

from .bioclim import SynthBioclim
from .forecast import SynthWeatherForecast
from .landcover import SynthLandcover
from .sar_optical import SynthSarOptical


@hookimpl
def register_datasets(register):
    register(SynthLandcover)
    register(SynthSarOptical)
    register(SynthBioclim)
    register(SynthWeatherForecast)
