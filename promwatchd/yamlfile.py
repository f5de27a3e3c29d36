"""Read a YAML file whose top level must be a mapping, with one-line errors that name the file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml


class YamlFileError(Exception):
    """The file cannot be read or parsed; the message names it, and the position when known."""


def read_yaml_mapping(path: Path, what: str, hint: str) -> dict[str, Any]:
    """Return the mapping in ``path`` ({} for an empty file). Blocking.

    ``what`` names the file in messages ("settings file", "Prometheus config");
    ``hint`` is appended to the not-found message to say what to pass instead.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise YamlFileError(f"{what} {str(path)!r} not found; {hint}") from None
    except IsADirectoryError:
        raise YamlFileError(f"{what} {str(path)!r} is a directory; {hint}") from None
    except OSError as error:
        raise YamlFileError(f"cannot read {what} {str(path)!r}: {error.strerror}") from None
    except UnicodeDecodeError as error:
        raise YamlFileError(f"{what} {str(path)!r} is not UTF-8 text (byte {error.start}); save it as UTF-8") from None

    try:
        document = yaml.safe_load(text)
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark
        position = f":{mark.line + 1}:{mark.column + 1}" if mark is not None else ""
        raise YamlFileError(f"{path}{position}: invalid YAML: {error.problem}") from None
    except yaml.YAMLError as error:
        raise YamlFileError(f"{path}: invalid YAML: {error}") from None

    if document is None:
        return {}
    if not isinstance(document, dict):
        raise YamlFileError(f"{path}: expected a mapping at the top level, got {type(document).__name__}")
    return document
