"""Numpy-only toy components for testing the core without torch: fast and exact."""
