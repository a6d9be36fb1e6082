"""A plugin whose register hook raises: its components are missing, the others load."""
from xaibench import hookimpl


@hookimpl
def register_datasets(register):
    raise RuntimeError("cannot reach the data server")
