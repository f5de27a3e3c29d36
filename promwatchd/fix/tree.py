"""Navigation and small edits in ruamel.yaml's commented tree, addressed by the validator's field paths."""

from __future__ import annotations

import re
from typing import Any

from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.scalarstring import DoubleQuotedScalarString, SingleQuotedScalarString

_PATH_TOKEN = re.compile(r"([^.\[\]]+)|\[(\d+)\]")


def parse_path(path: str) -> list[str | int]:
    """Split ``scrape_configs[0].params.module`` into ``["scrape_configs", 0, "params", "module"]``."""
    return [int(index) if index else key for key, index in _PATH_TOKEN.findall(path)]


def lookup(document: Any, tokens: list[str | int]) -> Any:
    """Return the node at ``tokens``; raises LookupError when the path does not exist in ``document``."""
    node = document
    for token in tokens:
        if isinstance(token, int) and isinstance(node, list) and token < len(node):
            node = node[token]
        elif isinstance(token, str) and isinstance(node, dict) and token in node:
            node = node[token]
        else:
            raise LookupError(token)
    return node


def line_of(container: Any, key: str | int | None = None) -> int:
    """Return the 1-based input line of ``container`` (or of its item ``key``), 0 for nodes added by a fix."""
    lc = getattr(container, "lc", None)
    if lc is None:
        return 0
    try:
        if key is None:
            return lc.line + 1
        if isinstance(container, CommentedMap):
            return lc.key(key)[0] + 1
        return lc.item(key)[0] + 1
    except (KeyError, IndexError, TypeError):
        return lc.line + 1 if lc.line is not None else 0


def flow_list(items: list[Any]) -> CommentedSeq:
    """Return a list that ruamel writes in flow style, ``[a, b]``."""
    sequence = CommentedSeq(items)
    sequence.fa.set_flow_style()
    return sequence


def as_string_item(value: Any, source_text: str | None = None) -> Any:
    """Return ``value`` as a YAML string, quoted when the plain form would read as a number, bool or null."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        text = "true" if value else "false"
    elif source_text is not None:
        text = source_text
    else:
        text = str(value)
    return SingleQuotedScalarString(text)


def same_style(old: Any, text: str) -> Any:
    """Return ``text`` as a string quoted the way ``old`` was."""
    if isinstance(old, DoubleQuotedScalarString):
        return DoubleQuotedScalarString(text)
    if isinstance(old, SingleQuotedScalarString):
        return SingleQuotedScalarString(text)
    return text


def insert_after(mapping: CommentedMap, after: str, key: str, value: Any) -> None:
    """Insert ``key`` right after the key ``after`` (or at the start when it is missing)."""
    keys = list(mapping.keys())
    position = keys.index(after) + 1 if after in keys else 0
    mapping.insert(position, key, value)


def plain(node: Any) -> Any:
    """Return the tree as plain dicts, lists and scalars, for comparing two subtrees."""
    if isinstance(node, dict):
        return {str(key): plain(value) for key, value in node.items()}
    if isinstance(node, list):
        return [plain(item) for item in node]
    if isinstance(node, str):
        return str(node)
    return node
