"""Zoo tests run single-threaded: other suites share the CI's two cores."""

import pytest


@pytest.fixture(autouse=True)
def _one_thread(one_thread):
    """Every zoo test on one torch thread."""
