"""Built-in plugin: loaders of published Earth-observation datasets and the ``xaibench data`` commands.

Users bring their own copies; nothing is downloaded.  Only light modules are imported here
(pydantic params and tables); numpy and rasterio load inside ``Dataset.load``.
"""

from xaibench import hookimpl

from .bigearthnet import BenGe, BigEarthNet
from .earthnet import EarthNet2021
from .eurosat import EuroSAT
from .opensarurban import OpenSARUrban
from .reben import BigEarthNetV2
from .sen12ms import DFC2020, Sen12ms

DATASETS = (DFC2020, BigEarthNet, BigEarthNetV2, BenGe, EuroSAT, OpenSARUrban, Sen12ms, EarthNet2021)


@hookimpl
def register_datasets(register):
    for dataset in DATASETS:
        register(dataset)


@hookimpl
def register_commands(cli):
    from .check import data_group

    cli.add_command(data_group())
