"""Subcommands of ``promwatchd check``: each module has ``add_parser(subparsers)`` and ``run(args) -> int``."""

from __future__ import annotations

import importlib
from types import ModuleType

CHECK_COMMANDS = ("config", "metrics", "targets", "compose")


def load_check_commands() -> dict[str, ModuleType]:
    """Import the check subcommand modules that are present, keyed by subcommand name."""
    found: dict[str, ModuleType] = {}
    for name in CHECK_COMMANDS:
        try:
            found[name] = importlib.import_module(f"promwatchd.commands.check_{name}")
        except ModuleNotFoundError as error:
            if error.name != f"promwatchd.commands.check_{name}":
                raise
    return found
