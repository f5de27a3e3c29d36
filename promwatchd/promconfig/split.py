"""Split a large prometheus.yml at its scrape jobs, so that parts of it can be validated at the same time.

Each chunk is the whole file with the scrape_configs items of the other chunks replaced by
empty lines, so every line keeps its number and column. The sections around the list
(global, alerting, remote_write and the others) stay as they are.

The split reads lines, not YAML, so it only proposes item boundaries. The caller that
parses a chunk confirms them with ``boundaries_hold`` on the parsed list, and validates the
whole file in one piece when they do not hold or when a chunk fails to parse. Files with
anchors or merge keys (an alias may reach into another chunk), and files with line breaks
other than LF and CRLF (libyaml counts them, the split does not), are not split at all.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import yaml

_SCRAPE_CONFIGS_KEY = "scrape_configs:"
_REST_OF_KEY_LINE = re.compile(r"[ \t\r]*(?:#.*)?")
_CONTENT_LINE = re.compile(r"\n( *)([^ \r\n])")
# An anchor is written where a node starts: at the start of a line or after a blank, [, { or ,.
_ANCHOR = re.compile(r"(?:^|[\s\[{,])&[^\s\[\]{},]", re.MULTILINE)
_LONE_CARRIAGE_RETURN = re.compile(r"\r(?!\n)")
_ITEM_LINE = re.compile(r" *-(?:[ \r\n]|\Z)")


@dataclass(frozen=True)
class Chunk:
    """One part of a split file.

    ``text`` is the file with the other chunks' items blanked. Its items have the
    0-based ``item_lines`` (the lines of their dashes), and its item region ends
    before ``end_line``. ``first_index`` is the position of its first item in the
    whole scrape_configs list. ``dash_column`` is the column of the dashes.
    ``tail_line`` is the line where the file goes on after the list, None when
    only blank lines and comments follow it.
    """

    text: str
    first_index: int
    item_lines: tuple[int, ...]
    end_line: int
    dash_column: int
    tail_line: int | None

    def owns_line(self, line: int) -> bool:
        """Return whether the 0-based ``line`` is inside this chunk's item region."""
        return self.item_lines[0] <= line < self.end_line


def split_scrape_configs(text: str, parts: int) -> list[Chunk] | None:
    """Return ``parts`` chunks of about equal size, or None when the file has no list of scrape jobs to split.

    The list must be a block sequence under a ``scrape_configs:`` key at the start of a
    line, with at least ``parts`` items. Each chunk gets whole items, in order.
    """
    if parts < 2:
        return None
    found = find_scrape_config_items(text)
    if found is None:
        return None
    item_offsets, sequence_end, dash_column = found
    if len(item_offsets) < parts:
        return None

    boundaries = _balanced_boundaries(item_offsets, sequence_end, parts)
    line_of = _line_numbers(text, item_offsets + [sequence_end])
    tail_line = line_of[-1] if sequence_end < len(text) else None
    regions = [(boundaries[k], boundaries[k + 1]) for k in range(parts)]
    blanks = ["\n" * text.count("\n", start, end) for start, end in regions]

    chunks = []
    first_item = 0
    for k, (start, end) in enumerate(regions):
        pieces = [text[: regions[0][0]]]
        for j, (other_start, other_end) in enumerate(regions):
            pieces.append(text[other_start:other_end] if j == k else blanks[j])
        pieces.append(text[sequence_end:])

        items = [i for i, offset in enumerate(item_offsets) if start <= offset < end]
        end_line = line_of[items[-1] + 1]
        chunks.append(Chunk("".join(pieces), first_item, tuple(line_of[i] for i in items), end_line, dash_column, tail_line))
        first_item += len(items)
    return chunks


def find_scrape_config_items(text: str) -> tuple[list[int], int, int] | None:
    """Return the offsets of the scrape_configs items' dash lines, the offset where the list ends, and the dash column.

    Returns None when the file has no single block list under a ``scrape_configs:`` key
    at the start of a line. Also returns None when the items cannot be cut by lines alone,
    because the file has anchors, merge keys, or line breaks other than LF and CRLF.
    """
    keys = _key_lines(text)
    if len(keys) != 1 or _has_cross_references(text) or _has_other_line_breaks(text):
        return None
    return _find_items(text, keys[0])


def _has_cross_references(text: str) -> bool:
    """Return whether ``text`` may define an anchor or use a merge key.

    An alias in one chunk may refer to an anchor in another, or to one in the sections
    around the list, where a chunk reports no findings. A match inside a quoted string
    only costs the split.
    """
    return "<<" in text or ("&" in text and _ANCHOR.search(text) is not None)


def _has_other_line_breaks(text: str) -> bool:
    """Return whether ``text`` has line breaks that libyaml counts but a split by newlines does not."""
    if any(separator in text for separator in ("\x85", "\u2028", "\u2029")):
        return True
    return "\r" in text and _LONE_CARRIAGE_RETURN.search(text) is not None


def _key_lines(text: str) -> list[int]:
    """Return the offset after each ``scrape_configs:`` key that starts a line and has no value on it."""
    found = []
    start = text.find(_SCRAPE_CONFIGS_KEY)
    while start >= 0:
        after = start + len(_SCRAPE_CONFIGS_KEY)
        line_end = text.find("\n", after)
        line_end = len(text) if line_end < 0 else line_end
        if (start == 0 or text[start - 1] == "\n") and _REST_OF_KEY_LINE.fullmatch(text, after, line_end):
            found.append(after)
        start = text.find(_SCRAPE_CONFIGS_KEY, after)
    return found


def _find_items(text: str, after: int) -> tuple[list[int], int, int] | None:
    """Return the offsets of the list's item lines, the offset where the list ends, and the dash column.

    The list ends at the first line that is neither blank, a comment, more indented
    than the dashes, nor another item. Returns None when the key's value is not a
    block sequence.
    """
    # The patterns start with the newline before a line. A literal first character lets the
    # regex engine skip ahead, while a multiline ``^`` is tried at every position.
    newline = text.find("\n", after)
    if newline < 0:
        return None
    match = _CONTENT_LINE.search(text, newline)
    while match is not None and match.group(2) == "#":
        match = _CONTENT_LINE.search(text, match.end())
    if match is None or _ITEM_LINE.match(text, match.start() + 1) is None:
        return None
    dash_column = len(match.group(1))

    # A line that ends or continues the list has its first character at or left of the dashes.
    at_or_left = re.compile(rf"\n {{0,{dash_column}}}[^ \r\n#]")
    items = []
    sequence_end = len(text)
    for line in at_or_left.finditer(text, match.start()):
        line_start = line.start() + 1
        if line.end() - 1 - line_start == dash_column and _ITEM_LINE.match(text, line_start) is not None:
            items.append(line_start)
            continue
        sequence_end = line_start
        break
    return items, sequence_end, dash_column


def _balanced_boundaries(item_offsets: list[int], sequence_end: int, parts: int) -> list[int]:
    """Return ``parts + 1`` offsets that cut the items into ``parts`` runs of about equal length in characters."""
    start = item_offsets[0]
    size = sequence_end - start
    boundaries = [start]
    index = 0
    for k in range(1, parts):
        target = start + size * k // parts
        # At least one item per part: never cut before the item after the previous cut.
        index = max(index + 1, _first_at_or_after(item_offsets, target, index))
        index = min(index, len(item_offsets) - (parts - k))
        boundaries.append(item_offsets[index])
    boundaries.append(sequence_end)
    return boundaries


def _first_at_or_after(offsets: list[int], target: int, low: int) -> int:
    high = len(offsets)
    while low < high:
        middle = (low + high) // 2
        if offsets[middle] < target:
            low = middle + 1
        else:
            high = middle
    return low


def _line_numbers(text: str, offsets: list[int]) -> list[int]:
    """Return the 0-based line of each offset; ``offsets`` must be in ascending order."""
    lines = []
    line = 0
    previous = 0
    for offset in offsets:
        line += text.count("\n", previous, offset)
        previous = offset
        lines.append(line)
    return lines


def boundaries_hold(chunk: Chunk, root: yaml.Node) -> bool:
    """Return whether a parsed chunk has exactly the scrape_configs items the split proposed.

    Each item must start on or after its dash line, and its last leaf must lie between
    its dash line and the next one (or the end of the region). The top-level key after
    scrape_configs, if any, must start where the list ended. Then no item reaches into
    another chunk or the sections after the list, so parsing each chunk alone builds
    the same items as parsing the whole file.
    """
    if not isinstance(root, yaml.MappingNode):
        return False
    positions = [i for i, (key, _) in enumerate(root.value) if isinstance(key, yaml.ScalarNode) and key.value == "scrape_configs"]
    if len(positions) != 1:
        return False
    position = positions[0]
    items = root.value[position][1]
    if not isinstance(items, yaml.SequenceNode) or not _items_hold(chunk, items.value):
        return False

    following = root.value[position + 1 :]
    if chunk.tail_line is None:
        return not following
    return bool(following) and following[0][0].start_mark.line == chunk.tail_line


def _items_hold(chunk: Chunk, items: list[yaml.Node]) -> bool:
    if len(items) != len(chunk.item_lines):
        return False
    limits = chunk.item_lines[1:] + (chunk.end_line,)
    for item, dash_line, limit in zip(items, chunk.item_lines, limits):
        # An item that is not a mapping makes the whole list invalid, which turns off the
        # checks that span the file, so every chunk must see it: only one pass can.
        if not isinstance(item, yaml.MappingNode):
            return False
        if not dash_line <= item.start_mark.line < limit:
            return False
        last = _last_leaf(item)
        # An alias shares the node of its anchor, so a leaf that starts before the item is an alias.
        if last.start_mark.line < dash_line:
            return False
        end = last.end_mark
        if end.line > limit or (end.line == limit and end.column > chunk.dash_column):
            return False
    return True


def _last_leaf(node: yaml.Node) -> yaml.Node:
    """Return the last scalar or flow collection of a node in document order.

    The end mark of a block collection is where the next token starts, which may be far
    past its content, so the walk goes down to a node whose end mark is its own.
    """
    for _ in range(1000):
        if isinstance(node, yaml.ScalarNode) or node.flow_style or not node.value:
            return node
        last = node.value[-1]
        node = last[1] if isinstance(node, yaml.MappingNode) else last
    return node
