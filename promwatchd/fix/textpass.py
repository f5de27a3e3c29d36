"""Corrections made on the text before YAML parsing: tabs in indentation and ``-key`` without a space."""

from __future__ import annotations

import re
from collections.abc import Callable

import yaml

from promwatchd.fix.model import Correction
from promwatchd.fix.roundtrip import detect_indentation
from promwatchd.promconfig.compose import ComposeLimitExceeded, compose_first_document
from promwatchd.promconfig.credentials import mask_lines

_LEADING_WHITESPACE = re.compile(r"^[ \t]*")

# Keys that start a list item in prometheus.yml often enough that "-key:" is a missing space, not a key.
_ITEM_KEYS = frozenset(
    {"targets", "labels", "job_name", "files", "source_labels", "target_label", "regex", "replacement", "action", "separator", "url", "names", "static_configs"}
)
_DASH_KEY = re.compile(r"^( *)-([A-Za-z_][A-Za-z0-9_]*):(?=\s|$)")


def expand_tabs(text: str, error_count: Callable[[str], int | None]) -> tuple[str, list[Correction]]:
    """Replace tabs in the indentation of each line with spaces; return the new text and one correction per line.

    The candidate tab widths are the file's own space indentation, then 2, 4 and 8, each
    as a fixed replacement and as tab stops. ``error_count`` returns a candidate's number
    of validation errors, or None when it does not parse. The candidate with the fewest
    errors wins, the earliest on a tie, because the width that nests each key under the
    right parent leaves no unknown fields behind. When none parses, the file's indent unit
    is used, and the caller's re-validation reports what is still wrong.
    """
    lines = text.splitlines(keepends=True)
    tabbed = [index for index, line in enumerate(lines) if "\t" in _LEADING_WHITESPACE.match(line).group(0)]
    if not tabbed:
        return text, []

    unit, _ = detect_indentation(text.replace("\t", ""))
    candidates: list[str] = []
    for width in dict.fromkeys((unit, 2, 4, 8)):
        for expand in (_replace_tabs, _tab_stops):
            candidate = "".join(expand(line, width) if index in tabbed else line for index, line in enumerate(lines))
            if candidate not in candidates:
                candidates.append(candidate)
    chosen = candidates[0]
    fewest: int | None = None
    for candidate in candidates:
        errors = error_count(candidate)
        if errors is not None and (fewest is None or errors < fewest):
            chosen, fewest = candidate, errors
        if fewest == 0:
            break

    # A tab at the start of a block scalar's content line may be part of the value, such as a
    # password, so those lines keep their tabs and the change is only suggested.
    # A line of only blanks there reads as an empty line once its tabs are gone.
    in_block = sorted(index for index in _block_scalar_lines(chosen) & set(tabbed) if lines[index].strip(" \t\r\n"))
    suggested = []
    if in_block:
        chosen_lines = chosen.splitlines(keepends=True)
        chosen = "".join(lines[index] if index in in_block else line for index, line in enumerate(chosen_lines))
        tabbed = [index for index in tabbed if index not in in_block]
        suggested = [
            Correction(
                "tab-indentation",
                index + 1,
                "",
                "this line is the content of a block scalar (| or >), where a tab may belong to the value, such as a password; replace the tab by hand if it is indentation",
                safe=False,
                applied=False,
            )
            for index in in_block
        ]

    # The corrections show lines of the file, so credentials in them are masked.
    shown_before = [_visible(line) for line in mask_lines([line.rstrip("\n") for line in lines])]
    shown_after = mask_lines([line.rstrip("\n") for line in chosen.splitlines(keepends=True)])
    corrections = [
        Correction(
            "tab-indentation",
            index + 1,
            "",
            "YAML indentation must use spaces; the tabs in this line's indentation became spaces",
            safe=True,
            applied=True,
            change=f"{shown_before[index]!r} -> {shown_after[index]!r}",
        )
        for index in tabbed
    ]
    return chosen, corrections + suggested


def _block_scalar_lines(text: str) -> set[int]:
    """Return the 0-based lines that hold the content of a block scalar (``|`` or ``>``) in ``text``."""
    try:
        root, _ = compose_first_document(text, text.splitlines())
    except (yaml.YAMLError, ComposeLimitExceeded, RecursionError):
        return set()
    found: set[int] = set()
    pending = [root] if root is not None else []
    seen: set[int] = set()
    while pending:
        node = pending.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        if isinstance(node, yaml.ScalarNode):
            if node.style in ("|", ">"):
                found.update(range(node.start_mark.line + 1, node.end_mark.line + 1))
        elif isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                pending += [key, value]
        else:
            pending += node.value
    return found


def _replace_tabs(line: str, width: int) -> str:
    leading = _LEADING_WHITESPACE.match(line).group(0)
    return leading.replace("\t", " " * width) + line[len(leading):]


def _tab_stops(line: str, width: int) -> str:
    leading = _LEADING_WHITESPACE.match(line).group(0)
    return leading.expandtabs(width) + line[len(leading):]


def _visible(line: str) -> str:
    return line.rstrip("\n").replace("\t", "→")


def split_dash_keys(text: str) -> tuple[str, list[Correction]]:
    """Turn ``-targets:`` (a key spelled with a dash) into the list item ``- targets:``.

    The other keys of the same mapping, and everything nested under them, move two columns
    right so that they stay in the new list item.
    """
    lines = text.splitlines(keepends=True)
    corrections: list[Correction] = []
    output: list[str] = []
    item_column: int | None = None
    in_sibling = False
    for index, line in enumerate(lines):
        match = _DASH_KEY.match(line)
        indent = len(line) - len(line.lstrip(" "))
        blank = not line.strip() or line.lstrip().startswith("#")
        if item_column is not None and not blank:
            if indent < item_column or (indent == item_column and line.lstrip().startswith("-")):
                item_column = None
            elif indent == item_column:
                in_sibling = True
        if match and match.group(2) in _ITEM_KEYS:
            fixed = f"{match.group(1)}- {match.group(2)}:{line[match.end():]}"
            output.append(fixed)
            item_column = len(match.group(1))
            in_sibling = False
            corrections.append(
                Correction(
                    "dash-without-space",
                    index + 1,
                    "",
                    f"'-{match.group(2)}' is read as a key named '-{match.group(2)}'; a space after the dash makes it a list item",
                    safe=True,
                    applied=True,
                    change=f"{line.strip()!r} -> {fixed.strip()!r}",
                )
            )
            continue
        # Keys at the dash's column are siblings in the new list item, so they and their
        # children move right. Lines already indented past the dash stay where they are.
        if item_column is not None and in_sibling and not blank:
            line = "  " + line
        output.append(line)
    return "".join(output), corrections
