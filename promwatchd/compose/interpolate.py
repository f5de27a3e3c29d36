"""Variable interpolation in compose files, as the Compose specification defines it.

Supported forms: ``$VAR``, ``${VAR}``, ``${VAR:-default}``, ``${VAR-default}``,
``${VAR:?message}``, ``${VAR?message}``, ``${VAR:+replacement}``,
``${VAR+replacement}`` and ``$$`` for a literal dollar sign. An unset variable
without a default becomes the empty string, as Compose does (Compose also warns).

NOTE: a reference inside a default, such as ``${A:-${B}}``, is not expanded,
and the text after it comes out wrong, where Compose expands it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

_NAME = r"[A-Za-z_][A-Za-z0-9_]*"
_PATTERN = re.compile(
    r"\$(?:(?P<escaped>\$)"
    rf"|(?P<bare>{_NAME})"
    rf"|\{{(?P<braced>{_NAME})(?:(?P<operator>:?[-?+])(?P<argument>[^}}]*))?\}})"
)


class InterpolationError(ValueError):
    """A required variable (``${VAR:?message}`` or ``${VAR?message}``) is not set."""


def interpolate(text: str, variables: Mapping[str, str]) -> str:
    """Return ``text`` with every variable reference replaced from ``variables``."""

    def replace(match: re.Match[str]) -> str:
        if match.group("escaped"):
            return "$"
        if match.group("bare"):
            return variables.get(match.group("bare"), "")

        name = match.group("braced")
        operator = match.group("operator")
        argument = match.group("argument") or ""
        value = variables.get(name)
        empty_counts_as_unset = operator is not None and operator.startswith(":")
        is_set = value is not None and (value != "" or not empty_counts_as_unset)

        if operator is None:
            return value or ""
        if operator.endswith("-"):
            return value if is_set else argument
        if operator.endswith("?"):
            if not is_set:
                raise InterpolationError(f"required variable {name} is not set: {argument or 'no message given'}")
            return value
        return argument if is_set else ""

    return _PATTERN.sub(replace, text)


def read_env_file(path: Path) -> dict[str, str]:
    """Read ``KEY=VALUE`` lines from a Compose ``.env`` file; a missing file gives no variables.

    Blank lines and lines starting with ``#`` are skipped, ``export`` before a key is
    allowed, and one pair of matching quotes around a value is removed.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except (FileNotFoundError, NotADirectoryError):
        return {}

    variables: dict[str, str] = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.partition("=")
        key = key.removeprefix("export ").strip()
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        variables[key] = value
    return variables
