"""Subcommands of ``promwatchd check``: each module has ``add_parser(subparsers)`` and ``run(args) -> int``."""

from __future__ import annotations

import importlib
from types import ModuleType

CHECK_COMMANDS = ("config", "metrics", "targets", "compose")


def load_check_commands(only: str | None = None) -> dict[str, ModuleType]:
    """Import the check subcommand modules that are present, keyed by subcommand name.

    With ``only``, import just that one, so that a check does not pay for the others' imports.
    """
    found: dict[str, ModuleType] = {}
    for name in CHECK_COMMANDS if only not in CHECK_COMMANDS else (only,):
        try:
            found[name] = importlib.import_module(f"promwatchd.commands.check_{name}")
        except ModuleNotFoundError as error:
            if error.name != f"promwatchd.commands.check_{name}":
                raise
    return found
