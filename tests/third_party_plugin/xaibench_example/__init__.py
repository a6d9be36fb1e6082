"""Example third-party xaibench plugin."""
