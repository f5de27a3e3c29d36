"""Comment-preserving YAML round trips with ruamel.yaml, in the indentation style of the input."""

from __future__ import annotations

import io
import re
from collections import Counter
from typing import Any

from ruamel.yaml import YAML

_BLOCK_KEY = re.compile(r"^( *)(?:- +)?[^\s#-][^#]*:\s*(?:#.*)?$")
_LINE_INDENT = re.compile(r"^( *)(- +)?\S")


def detect_indentation(text: str) -> tuple[int, int]:
    """Return (mapping indent, sequence dash offset) most used in ``text``; (2, 2) when it has no nested blocks.

    The dash offset is how far a block sequence's ``-`` sits to the right of its parent key:
    0 for ``key:`` / ``- item`` at the same column, 2 for the indented style.
    """
    mapping_steps: Counter[int] = Counter()
    dash_offsets: Counter[int] = Counter()
    lines = [line for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    for line, following in zip(lines, lines[1:]):
        parent = _BLOCK_KEY.match(line)
        child = _LINE_INDENT.match(following)
        if parent is None or child is None:
            continue
        key_column = _key_column(line)
        child_column = len(child.group(1))
        if child.group(2):
            if child_column >= key_column:
                dash_offsets[child_column - key_column] += 1
        elif child_column > key_column:
            mapping_steps[child_column - key_column] += 1
    mapping = mapping_steps.most_common(1)[0][0] if mapping_steps else 2
    offset = dash_offsets.most_common(1)[0][0] if dash_offsets else 2
    return mapping, offset


def make_yaml(text: str) -> YAML:
    """Return a round-trip loader and dumper that writes new and changed blocks in the style of ``text``."""
    yaml = YAML(typ="rt")
    yaml.preserve_quotes = True
    yaml.width = 4096
    mapping, offset = detect_indentation(text)
    yaml.indent(mapping=mapping, sequence=offset + 2, offset=offset)
    return yaml


def load(yaml: YAML, text: str) -> Any:
    """Parse ``text`` into ruamel's commented tree; raises ruamel's YAMLError on invalid YAML."""
    return yaml.load(text)


def dump(yaml: YAML, document: Any) -> str:
    """Serialize the commented tree back to text."""
    stream = io.StringIO()
    yaml.dump(document, stream)
    return stream.getvalue()


def _key_column(line: str) -> int:
    """Return the column of a line's first key, after the ``- `` that opens a list item."""
    stripped = line.lstrip(" ")
    column = len(line) - len(stripped)
    if stripped.startswith("-"):
        column += len(stripped) - len(stripped[1:].lstrip(" "))
    return column
