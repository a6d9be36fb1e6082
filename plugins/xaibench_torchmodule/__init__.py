"""Built-in plugin ``torch-module``: explain a PyTorch model the user already has (see docs/own-model.md)."""
