"""Tiny models: one thread avoids OpenMP contention on the CI's two cores."""

import pytest


@pytest.fixture(autouse=True)
def _one_thread(one_thread):
    """Every torch-module test on one torch thread."""
