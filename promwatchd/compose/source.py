"""Load a compose file into position-carrying YAML data, with variables interpolated.

ruamel.yaml's round-trip loader keeps the 0-based line and column of every key,
value and list item, so each finding can name ``file:line:column``. Merge keys
(``<<: *anchor``) are resolved by the loader.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import YAMLError

from promwatchd.compose.interpolate import InterpolationError, interpolate, read_env_file


class ComposeFileError(Exception):
    """The compose file cannot be read, is not valid YAML, or does not have the shape of a compose file."""


@dataclass
class ComposeFile:
    """A parsed compose file: its path, its project directory and its ``services`` mapping."""

    path: Path
    project_dir: Path
    data: CommentedMap
    services: CommentedMap
    variables: dict[str, str] = field(default_factory=dict)

    @property
    def display_name(self) -> str:
        return str(self.path)

    def service(self, name: str) -> CommentedMap:
        return self.services[name]

    def resolve_host_path(self, source: str) -> Path:
        """Return the host path of a bind-mount source, relative paths taken from the project directory."""
        path = Path(os.path.expanduser(source))
        if not path.is_absolute():
            path = self.project_dir / path
        return Path(os.path.normpath(path))


def position(node: Any, key: Any = None) -> tuple[int, int]:
    """Return the 1-based (line, column) of ``key`` in a mapping or an index in a list, or of the node itself.

    For a mapping key the position is the key's, for a list index the item's.
    Returns (0, 0) when the node has no position, such as a value built in code.
    """
    line_col = getattr(node, "lc", None)
    if line_col is None:
        return (0, 0)
    try:
        if key is None:
            line, column = line_col.line, line_col.col
        elif isinstance(node, CommentedSeq):
            line, column = line_col.item(key)
        else:
            line, column = line_col.key(key)
    except (KeyError, IndexError, TypeError):
        return (0, 0)
    return (line + 1, column + 1)


def value_position(node: CommentedMap, key: str) -> tuple[int, int]:
    """Return the 1-based (line, column) of the value of ``key``, or of the key when the value has none."""
    try:
        line, column = node.lc.value(key)
    except (KeyError, IndexError, TypeError, AttributeError):
        return position(node, key)
    return (line + 1, column + 1)


def load_compose_file(path: Path, environment: Mapping[str, str] | None = None) -> ComposeFile:
    """Read and parse ``path``, interpolating variables from ``environment`` and the project's ``.env`` file.

    ``environment`` defaults to this process's environment, whose values win over
    ``.env``, as with ``docker compose``. Raises ComposeFileError when the file
    cannot be read, is not YAML, or has no ``services`` mapping.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise ComposeFileError(f"cannot read compose file {path}: {error}") from error

    try:
        data = YAML(typ="rt").load(text)
    except YAMLError as error:
        raise ComposeFileError(f"compose file {path} is not valid YAML: {error}") from error

    if not isinstance(data, CommentedMap):
        raise ComposeFileError(f"compose file {path} must contain a mapping at the top level, with a services key")
    services = data.get("services")
    if not isinstance(services, CommentedMap):
        raise ComposeFileError(f"compose file {path} has no services mapping: add 'services:' with one entry per container")
    for name, service in services.items():
        if not isinstance(service, CommentedMap):
            line, _ = position(services, name)
            raise ComposeFileError(f"{path}:{line}: service {name!r} must be a mapping, not {type(service).__name__}")

    project_dir = path.resolve().parent
    variables = read_env_file(project_dir / ".env")
    variables.update(os.environ if environment is None else environment)
    try:
        _interpolate_tree(data, variables)
    except InterpolationError as error:
        raise ComposeFileError(f"compose file {path}: {error}") from error

    return ComposeFile(path=path, project_dir=project_dir, data=data, services=services, variables=variables)


def _interpolate_tree(node: Any, variables: Mapping[str, str]) -> None:
    """Replace each string value in place, which keeps the positions ruamel.yaml stored by key and index."""
    if isinstance(node, CommentedMap):
        for key, value in node.items():
            if isinstance(value, str):
                node[key] = interpolate(value, variables)
            else:
                _interpolate_tree(value, variables)
    elif isinstance(node, CommentedSeq):
        for index, value in enumerate(node):
            if isinstance(value, str):
                node[index] = interpolate(value, variables)
            else:
                _interpolate_tree(value, variables)
