"""The toy models are tiny: one thread avoids the cost of OpenMP threads contending for the
CI's two cores (measured 10-100x slower per call on a loaded machine)."""

import pytest
import torch
from threadpoolctl import threadpool_limits


@pytest.fixture(autouse=True)
def _single_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    with threadpool_limits(limits=1):
        yield
    torch.set_num_threads(before)
