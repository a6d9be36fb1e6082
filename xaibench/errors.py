"""Errors the CLI turns into one-line messages (exit code 2 for user input)."""

from __future__ import annotations


class XaibenchError(Exception):
    """An error caused by the user's input or environment; printed without traceback."""

    exit_code = 1


class ConfigError(XaibenchError):
    """One or more problems in a registry file, each ``"<file>: <path>: <message>"``."""

    exit_code = 2

    def __init__(self, problems: list[str]):
        self.problems = list(problems)
        super().__init__("\n".join(self.problems))


class PluginError(XaibenchError):
    """A plugin broke the contract (duplicate component name, wrong base class...)."""

    exit_code = 2
